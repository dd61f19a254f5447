using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Text;
using System.Text.Json;
using Azure;
using Azure.Core;
using Azure.Core.Pipeline;
using Rollout.Core.Api;
using Rollout.Core.Engine;
using Rollout.Core.Gates;
using Rollout.Core.Storage;
using Rollout.Integrations.Storage.TableStorage;

namespace Rollout.Integrations.Tests.Storage;

/// <summary>
/// The store contract on the Table Storage store against a real Azurite (each test on its own pair of tables), plus
/// what is particular to Table Storage: paging, large values, insert-only audit rows, Shared Key, flag locks.
/// </summary>
[TestClass]
public sealed class TableRolloutStoreTests : RolloutStoreContractTests
{
    private readonly ConcurrentQueue<Uri> requests = new();
    private readonly RecordingHandler recorder;
    private AzuriteFixture azurite = null!;

    public TableRolloutStoreTests() => recorder = new RecordingHandler(requests) { InnerHandler = new SocketsHttpHandler() };
    private TableRolloutStore tableStore = null!;
    private string prefix = null!;

    protected override async Task<IRolloutStore> CreateStoreAsync(CancellationToken cancellationToken)
    {
        azurite = await AzuriteFixture.GetAsync(cancellationToken);
        prefix = NewPrefix();
        tableStore = TableRolloutStore.FromConnectionString(azurite.ConnectionString, prefix, new HttpClientTransport(new HttpClient(recorder)));
        return tableStore;
    }

    protected override Task DeleteStoreAsync() => tableStore.DeleteTablesAsync(CancellationToken.None);

    // ---- paging ----------------------------------------------------------------------------------------------

    [TestMethod]
    public async Task GetAuditAsync_MoreThanAThousandEntries_FollowsContinuationTokens()
    {
        var started = await CreateAsync("r1", "new-checkout", T0);
        var state = started.State;
        var expected = started.Audit.ToList();
        for (var version = 1L; expected.Count <= 1000; version++)
        {
            // 99 entries and the rollout row: a full entity-group transaction.
            ImmutableArray<AuditEvent> batch = [.. Enumerable.Range(1, 99).Select(i => Audit(state.AuditSeq + i, $"note {state.AuditSeq + i}"))];
            state = state with { AuditSeq = state.AuditSeq + 99, UpdatedAt = state.UpdatedAt.AddSeconds(1) };
            Assert.IsTrue(await Store.SaveAsync(new Checkpoint(state, version, batch, null, false), Ct));
            expected.AddRange(batch);
        }

        requests.Clear();
        var audit = await Store.GetAuditAsync("r1", 0, Ct);

        AssertSameAudit(expected, audit);
        Assert.IsGreaterThan(1000, audit.Count);
        Assert.IsTrue(requests.Any(u => u.Query.Contains("NextPartitionKey=", StringComparison.Ordinal)), "no request followed a continuation token");
        Assert.HasCount(expected.Count - 500, await Store.GetAuditAsync("r1", 500, Ct));
    }

    [TestMethod]
    public async Task QueryAsync_SmallPageSize_ReturnsEveryEntityAcrossPages()
    {
        foreach (var i in Enumerable.Range(0, 23))
        {
            await Store.AcceptCommandAsync(new StoredCommand($"r{i % 4}", $"cmd-{i}", "pause", "{}", T0.AddSeconds(i), null), Ct);
        }

        requests.Clear();
        var rows = new List<TableEntity>();
        await foreach (var row in tableStore.RolloutsTable.QueryAsync("Answered eq false", null, maxPerPage: 5, Ct))
        {
            rows.Add(row);
        }

        CollectionAssert.AreEquivalent(Enumerable.Range(0, 23).Select(i => $"cmd-{i}").ToArray(), rows.Select(r => r.GetString("CommandId")).ToArray());
        Assert.AreEqual(5, requests.Count, string.Join("\n", requests));
        Assert.AreEqual(4, requests.Count(u => u.Query.Contains("NextPartitionKey=", StringComparison.Ordinal)));
    }

    // ---- large values ----------------------------------------------------------------------------------------

    [TestMethod]
    public async Task CreateAsync_StateLargerThan64KiB_RoundTripsSpreadOverProperties()
    {
        var started = RolloutMachine.Start("big", TestPlans.Parse(PlanWithUsers("big-flag", 4000)), "alice@contoso.com", T0);
        var json = JsonSerializer.Serialize(started.State, RolloutJson.Options);
        Assert.IsGreaterThan(64 * 1024 / 2, json.Length, "the state must not fit one string property");

        await Store.CreateAsync(started.State, started.Audit, Ct);
        var paused = TestPlans.Paused(started.State, T0.AddMinutes(1));
        Assert.IsTrue(await Store.SaveAsync(new Checkpoint(paused.State, 1, paused.Audit, null, false), Ct));

        AssertSameState(paused.State, (await Store.GetAsync("big", Ct))?.State);
        var row = await tableStore.RolloutsTable.GetEntityAsync("big", "rollout", Ct);
        Assert.IsNotNull(row);
        Assert.IsTrue(row.Contains("State1"), string.Join(", ", row.PropertyNames));
        Assert.HasCount(4000, (await Store.ListAsync(null, 10, Ct)).Single().State.Plan.Stages[0].Audience.Users);
    }

    [TestMethod]
    public async Task CreateAsync_StateLargerThanAnEntityAsText_RoundTripsCompressed()
    {
        // Two stages of 10,000 users each: over a million characters, more than 1 MiB of UTF-16.
        var started = RolloutMachine.Start("huge", TestPlans.Parse(PlanWithUsers("huge-flag", 10_000, stages: 2)), "alice@contoso.com", T0);
        Assert.IsGreaterThan(TableValues.CharsPerProperty * TableValues.MaxPropertiesPerValue, JsonSerializer.Serialize(started.State, RolloutJson.Options).Length);

        await Store.CreateAsync(started.State, started.Audit, Ct);

        AssertSameState(started.State, (await Store.GetAsync("huge", Ct))?.State);
        var row = await tableStore.RolloutsTable.GetEntityAsync("huge", "rollout", Ct);
        Assert.IsNotNull(row);
        Assert.IsTrue(row.Contains("StateGz") && !row.Contains("State"), string.Join(", ", row.PropertyNames));
    }

    [TestMethod]
    public async Task AcceptCommandAsync_BodyLargerThan64KiBAndOddIds_RoundTrips()
    {
        var body = JsonSerializer.Serialize(new { reason = new string('ü', 70_000) + "😀" });
        var command = new StoredCommand("r/1#?'x", "cmd/ünï#?%'\\ 1", "pause", body, T0, null);

        await Store.AcceptCommandAsync(command, Ct);

        Assert.AreEqual(command, await Store.GetCommandAsync(command.RolloutId, command.CommandId, Ct));
        Assert.IsNull(await Store.GetCommandAsync(command.RolloutId, "cmd/ünï#?%'\\ 2", Ct));
        Assert.IsNull(await Store.GetAsync(command.RolloutId, Ct));
        Assert.AreEqual(command, (await Store.PendingCommandsAsync(T0.AddMinutes(1), Ct)).Single());
    }

    // ---- audit rows ------------------------------------------------------------------------------------------

    [TestMethod]
    public async Task AuditRow_InsertOverAnExistingSeq_IsRefusedAndTheRowIsUnchanged()
    {
        var started = await CreateAsync("r1", "new-checkout", T0);
        var forged = new TableEntity("r1", "audit|0000000000000000001") { ["Seq"] = 1L, ["Actor"] = "mallory", ["Type"] = "Started", ["At"] = "2026-03-01T10:00:00.0000000+00:00", ["Details"] = "{}" };

        var refused = await Assert.ThrowsAsync<RequestFailedException>(() => tableStore.RolloutsTable.AddEntityAsync(forged, Ct));

        Assert.AreEqual(409, refused.Status);
        AssertSameAudit(started.Audit, await Store.GetAuditAsync("r1", 0, Ct));
    }

    [TestMethod]
    public async Task SaveAsync_CheckpointRepeatingAnAuditSeq_ThrowsAndKeepsTheFirstEntry()
    {
        var started = await CreateAsync("r1", "new-checkout", T0);
        var later = started.State with { AuditSeq = 4, UpdatedAt = T0.AddMinutes(1) };
        ImmutableArray<AuditEvent> repeating = [Audit(4, "new"), Audit(3, "rewritten")];

        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => Store.SaveAsync(new Checkpoint(later, 1, repeating, null, false), Ct));

        Assert.Contains("append-only", refused.Message);
        AssertSameAudit(started.Audit, await Store.GetAuditAsync("r1", 0, Ct));
        Assert.AreEqual(1L, (await Store.GetAsync("r1", Ct))?.Version);
    }

    // ---- retries ---------------------------------------------------------------------------------------------

    [TestMethod]
    public async Task CreateAndSaveAsync_AnswerLostAndRetriedByThePipeline_SucceedOnceWithEachWrittenOnce()
    {
        // The service commits the transaction, the answer is lost (503), Azure.Core retries: the retry meets its own write.
        var started = TestPlans.Start("r1", "new-checkout", T0);
        recorder.LostTransactionAnswers = 1;
        await Store.CreateAsync(started.State, started.Audit, Ct);
        var paused = TestPlans.Paused(started.State, T0.AddMinutes(1));
        recorder.LostTransactionAnswers = 1;
        var saved = await Store.SaveAsync(new Checkpoint(paused.State, 1, paused.Audit, null, false), Ct);

        Assert.IsTrue(saved);
        Assert.AreEqual(0, recorder.LostTransactionAnswers);
        Assert.AreEqual(2L, (await Store.GetAsync("r1", Ct))?.Version);
        AssertSameAudit(started.Audit.AddRange(paused.Audit), await Store.GetAuditAsync("r1", 0, Ct));
        Assert.IsFalse(await Store.SaveAsync(new Checkpoint(paused.State, 1, paused.Audit, null, false), Ct), "a real second writer at the old version still loses");
    }

    // ---- authentication --------------------------------------------------------------------------------------

    [TestMethod]
    public async Task InitializeAsync_WrongAccountKey_IsRejectedWith403()
    {
        var wrongKey = Convert.ToBase64String(Encoding.UTF8.GetBytes("not the development account's key, 64 bytes long......."));
        var connection = $"AccountName=devstoreaccount1;AccountKey={wrongKey};TableEndpoint={azurite.TableEndpoint}";
        var impostor = TableRolloutStore.FromConnectionString(connection, NewPrefix());

        var refused = await Assert.ThrowsAsync<RequestFailedException>(() => impostor.InitializeAsync(Ct));

        Assert.AreEqual(403, refused.Status);
        Assert.DoesNotContain(wrongKey, refused.Message);
        await Assert.ThrowsAsync<RequestFailedException>(() => impostor.GetAsync("r1", Ct));
    }

    [TestMethod]
    public void Constructor_TokenCredentialOverHttp_IsRefused()
    {
        var refused = Assert.Throws<ArgumentException>(() => new TableRolloutStore(azurite.TableEndpoint, new FixedTokenCredential()));

        Assert.Contains("https", refused.Message);
    }

    // ---- flag locks ------------------------------------------------------------------------------------------

    [TestMethod]
    public async Task CreateAsync_FlagLockLeftByAFinishedRollout_IsTakenOver()
    {
        // A crash between the checkpoint that finished r1 and the lock's removal leaves the lock pointing at r1.
        var first = await CreateAsync("r1", "new-checkout", T0);
        await SaveAsync(TestPlans.RolledBack(first.State, T0.AddMinutes(1)), 1);
        await tableStore.FlagsTable.AddEntityAsync(Lock("new-checkout", "r1", DateTimeOffset.UtcNow), Ct);

        await CreateAsync("r2", "new-checkout", T0.AddMinutes(2));

        Assert.AreEqual("r2", (await tableStore.FlagsTable.GetEntityAsync("new-checkout", "lock", Ct))?.GetString("RolloutId"));
        await Assert.ThrowsAsync<FlagBusyException>(() => CreateAsync("r3", "new-checkout", T0.AddMinutes(3)));
    }

    [TestMethod]
    public async Task CreateAsync_FlagLockOfARolloutNeverCreated_IsRespectedWhileYoungAndTakenOverWhenOld()
    {
        // A crash between taking the lock and the rollout's transaction leaves a lock for a rollout that does not exist.
        await tableStore.FlagsTable.AddEntityAsync(Lock("young", "ghost-1", DateTimeOffset.UtcNow), Ct);
        await tableStore.FlagsTable.AddEntityAsync(Lock("old", "ghost-2", DateTimeOffset.UtcNow - TableRolloutStore.OrphanLockAge - TimeSpan.FromSeconds(5)), Ct);

        var busy = await Assert.ThrowsAsync<FlagBusyException>(() => CreateAsync("r1", "young", T0));
        await CreateAsync("r2", "old", T0);

        Assert.AreEqual("ghost-1", busy.ActiveRolloutId);
        Assert.IsNull(await Store.GetAsync("r1", Ct));
        Assert.IsNotNull(await Store.GetAsync("r2", Ct));
    }

    [TestMethod]
    public async Task SaveAsync_FinishingCheckpoint_RemovesTheFlagLock()
    {
        var first = await CreateAsync("r1", "new-checkout", T0);
        Assert.IsNotNull(await tableStore.FlagsTable.GetEntityAsync("new-checkout", "lock", Ct));

        await SaveAsync(TestPlans.Completed(first.State, T0.AddMinutes(1)), 1);

        Assert.IsNull(await tableStore.FlagsTable.GetEntityAsync("new-checkout", "lock", Ct));
    }

    [TestMethod]
    public async Task CreateAsync_SameIdTwice_RefusesTheSecondAndKeepsTheFlagLock()
    {
        var first = await CreateAsync("r1", "new-checkout", T0);
        var again = TestPlans.Start("r1", "other-flag", T0.AddMinutes(1));

        await Assert.ThrowsAsync<InvalidOperationException>(() => Store.CreateAsync(again.State, again.Audit, Ct));

        AssertSameState(first.State, (await Store.GetAsync("r1", Ct))?.State);
        Assert.IsNull(await tableStore.FlagsTable.GetEntityAsync("other-flag", "lock", Ct), "the refused create kept the other flag");
        await Assert.ThrowsAsync<FlagBusyException>(() => CreateAsync("r2", "new-checkout", T0));
    }

    // ---- the due index ---------------------------------------------------------------------------------------

    [TestMethod]
    public async Task ClaimDueAsync_500FinishedAnd3Due_ReadsOnlyTheIndexAndTheDueRollouts()
    {
        await Parallel.ForEachAsync(Enumerable.Range(0, 500), new ParallelOptions { MaxDegreeOfParallelism = 16, CancellationToken = Ct }, async (i, ct) =>
        {
            var started = TestPlans.Start($"done-{i:D3}", $"flag-done-{i:D3}", T0.AddMinutes(-30));
            await Store.CreateAsync(started.State, started.Audit, ct);
            var finished = i % 2 == 0 ? TestPlans.RolledBack(started.State, T0.AddMinutes(-20)) : TestPlans.Completed(started.State, T0.AddMinutes(-20));
            Assert.IsTrue(await Store.SaveAsync(new Checkpoint(finished.State, 1, finished.Audit, null, false), ct));
        });
        foreach (var id in new[] { "due-a", "due-b", "due-c" })
        {
            await CreateAsync(id, $"flag-{id}", T0);
        }

        CollectionAssert.AreEquivalent(new[] { "due-a", "due-b", "due-c" }, (await IndexRowsAsync()).Select(r => r.GetString("RolloutId")).ToArray());
        Assert.IsEmpty(await Store.ClaimDueAsync("owner-1", T0, T0.AddMinutes(6), 10, Ct), "nothing is due yet (this first claim also runs the store's first full scan)");

        requests.Clear();
        var claimed = await Store.ClaimDueAsync("owner-1", T0.AddMinutes(2), T0.AddMinutes(8), 10, Ct);
        var claim = requests.ToArray();
        requests.Clear();
        var idle = await Store.ClaimDueAsync("owner-2", T0.AddMinutes(2).AddSeconds(1), T0.AddMinutes(8), 10, Ct);
        var idlePoll = requests.ToArray();

        TestContext.WriteLine($"claim of 3 due among 503: {claim.Length} requests; idle poll: {idlePoll.Length} requests; entities in the table: {(await tableStore.RolloutsTable.QueryListAsync(null, ["RowKey"], Ct)).Count}");
        foreach (var uri in claim.Concat(idlePoll))
        {
            TestContext.WriteLine(Uri.UnescapeDataString(uri.PathAndQuery));
        }

        Assert.AreSequenceEqual(new[] { "due-a", "due-b", "due-c" }, claimed.ToArray());
        Assert.IsEmpty(idle);

        // The claim: one query of the index partition, then per due rollout a read of its lease columns, the lease
        // Merge and the index row's lease copy. No request touches a finished rollout or scans the table.
        var allowed = new[] { "|due", "due-a", "due-b", "due-c" };
        Assert.HasCount(10, claim, string.Join("\n", claim.Select(u => Uri.UnescapeDataString(u.PathAndQuery))));
        Assert.AreEqual(1, claim.Count(u => PartitionOf(u) == "|due" && IsQuery(u)));
        Assert.IsTrue(claim.All(u => PartitionOf(u) is { } p && allowed.Contains(p)), "a request left the index and the due rollouts");

        // The next poll reads the index only: the lease copies hide the leased rows.
        Assert.HasCount(1, idlePoll);
        Assert.AreEqual("|due", PartitionOf(idlePoll[0]));
    }

    [TestMethod]
    public async Task CreateAndSaveAsync_WakeUpMovesThenFinishes_KeepOneIndexRowAtTheWakeUpThenNone()
    {
        var started = await CreateAsync("r1", "new-checkout", T0);
        AssertIndex(await IndexRowsAsync(), ("r1", started.State.NextWakeAt!.Value, 1));

        var evaluated = TestPlans.Evaluated(started.State, Outcome.Pass, T0.AddMinutes(1));
        await SaveAsync(evaluated, 1);
        AssertIndex(await IndexRowsAsync(), ("r1", evaluated.State.NextWakeAt!.Value, 2));

        await SaveAsync(TestPlans.Completed(evaluated.State, T0.AddMinutes(2)), 2);
        Assert.IsEmpty(await IndexRowsAsync());

        var finishedAtCreation = TestPlans.RolledBack(TestPlans.Start("r2", "other", T0).State, T0);
        await Store.CreateAsync(finishedAtCreation.State, finishedAtCreation.Audit, Ct);
        Assert.IsEmpty(await IndexRowsAsync());
    }

    [TestMethod]
    public async Task SaveAsync_RacingOnSameVersion_LeavesOnlyTheWinnersIndexRow()
    {
        for (var round = 0; round < 5; round++)
        {
            var id = $"r{round}";
            var started = await CreateAsync(id, $"flag-{round}", T0);
            var early = TestPlans.Evaluated(started.State, Outcome.Pass, T0.AddMinutes(1));
            var late = TestPlans.Evaluated(started.State, Outcome.Pass, T0.AddMinutes(7));
            var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            async Task<bool> SaveAfterGateAsync(StepResult step)
            {
                await gate.Task;
                return await Store.SaveAsync(new Checkpoint(step.State, 1, step.Audit, null, false), Ct);
            }

            var racers = new[] { Task.Run(() => SaveAfterGateAsync(early)), Task.Run(() => SaveAfterGateAsync(late)) };
            gate.SetResult();
            var results = await Task.WhenAll(racers);

            Assert.AreEqual(1, results.Count(r => r), $"round {round}");
            var winner = results[0] ? early : late;
            AssertIndex([.. (await IndexRowsAsync()).Where(r => r.GetString("RolloutId") == id)], (id, winner.State.NextWakeAt!.Value, 2));
        }
    }

    [TestMethod]
    public async Task ClaimDueAsync_IndexRowLeftAtAnOldWakeUp_IsSkippedAndDeletedAndTheRolloutIsClaimedOnceWhenDue()
    {
        // A crash between a checkpoint that moved the wake-up (to +6m) and the deletion of the old row (+1m).
        var started = await CreateAsync("r1", "new-checkout", T0);
        var oldRow = (await IndexRowsAsync()).Single();
        var evaluated = TestPlans.Evaluated(started.State, Outcome.Pass, T0.AddMinutes(5));
        await SaveAsync(evaluated, 1);
        await tableStore.RolloutsTable.AddEntityAsync(IndexRow("r1", T0.AddMinutes(1), 1, DateTimeOffset.UtcNow), Ct);
        Assert.HasCount(2, await IndexRowsAsync());

        var early = await Store.ClaimDueAsync("owner-1", T0.AddMinutes(2), T0.AddMinutes(3), 10, Ct);

        Assert.IsEmpty(early, "the stale row made a rollout that is not due claimed");
        AssertIndex(await IndexRowsAsync(), ("r1", evaluated.State.NextWakeAt!.Value, 2));
        Assert.IsNull(await tableStore.RolloutsTable.GetEntityAsync(TableRolloutStore.DuePartition, oldRow.RowKey, Ct));

        var racers = await Task.WhenAll(
            Task.Run(() => Store.ClaimDueAsync("owner-1", T0.AddMinutes(6), T0.AddMinutes(12), 10, Ct)),
            Task.Run(() => Store.ClaimDueAsync("owner-2", T0.AddMinutes(6), T0.AddMinutes(12), 10, Ct)));
        Assert.AreSequenceEqual(new[] { "r1" }, racers.SelectMany(c => c).ToArray());
    }

    [TestMethod]
    public async Task ClaimDueAsync_RolloutWhoseIndexRowIsMissing_IsFoundByTheFullScanAndIndexedAgain()
    {
        await Store.ClaimDueAsync("owner-1", T0, T0.AddMinutes(1), 10, Ct); // the store's first full scan, on an empty table
        await CreateAsync("r1", "new-checkout", T0);
        var row = (await IndexRowsAsync()).Single();
        await tableStore.RolloutsTable.DeleteEntityAsync(TableRolloutStore.DuePartition, row.RowKey, "*", Ct);

        var fromIndex = await Store.ClaimDueAsync("owner-1", T0.AddMinutes(2), T0.AddMinutes(8), 10, Ct);
        tableStore.ScanOnNextClaim(); // FullScanInterval later
        var afterScan = await Store.ClaimDueAsync("owner-1", T0.AddMinutes(2), T0.AddMinutes(8), 10, Ct);

        Assert.IsEmpty(fromIndex, "the claim read more than the index");
        Assert.AreSequenceEqual(new[] { "r1" }, afterScan.ToArray());
        var healed = (await IndexRowsAsync()).Single();
        Assert.AreEqual(row.RowKey, healed.RowKey);
        Assert.AreEqual(T0.AddMinutes(8).ToUnixTimeMilliseconds(), healed.GetInt64("LeaseUntilMs"), "the claim copied its lease into the row");
        Assert.IsEmpty(await Store.ClaimDueAsync("owner-2", T0.AddMinutes(3), T0.AddMinutes(9), 10, Ct));
    }

    [TestMethod]
    public async Task ClaimDueAsync_StaleRowPointingAtADueRolloutWithoutItsOwnRow_ClaimsItOnceAndHealsBothRows()
    {
        var started = await CreateAsync("r1", "new-checkout", T0);
        var own = (await IndexRowsAsync()).Single();
        await tableStore.RolloutsTable.DeleteEntityAsync(TableRolloutStore.DuePartition, own.RowKey, "*", Ct);
        await tableStore.RolloutsTable.AddEntityAsync(IndexRow("r1", T0.AddSeconds(30), 0, DateTimeOffset.UtcNow), Ct);

        var claimed = await Store.ClaimDueAsync("owner-1", T0.AddMinutes(2), T0.AddMinutes(8), 10, Ct);

        Assert.AreSequenceEqual(new[] { "r1" }, claimed.ToArray());
        AssertIndex(await IndexRowsAsync(), ("r1", started.State.NextWakeAt!.Value, 1));
        Assert.AreEqual(T0.AddMinutes(8).ToUnixTimeMilliseconds(), (await IndexRowsAsync()).Single().GetInt64("LeaseUntilMs"));
        Assert.IsEmpty(await Store.ClaimDueAsync("owner-2", T0.AddMinutes(3), T0.AddMinutes(9), 10, Ct));
    }

    [TestMethod]
    public async Task ClaimDueAsync_IndexRowOfAWriteUnderWay_IsLeftAloneUntilOrphanIndexAge()
    {
        // Rows written before a transaction that has not landed (yet): a checkpoint to version 2, a creation.
        await CreateAsync("r1", "new-checkout", T0); // due at +1m
        var young = DateTimeOffset.UtcNow;
        var old = young - TableRolloutStore.OrphanIndexAge - TimeSpan.FromSeconds(5);
        await tableStore.RolloutsTable.AddEntityAsync(IndexRow("r1", T0.AddSeconds(10), 2, young), Ct);
        await tableStore.RolloutsTable.AddEntityAsync(IndexRow("r1", T0.AddSeconds(20), 3, old), Ct);
        await tableStore.RolloutsTable.AddEntityAsync(IndexRow("ghost-young", T0.AddSeconds(10), 1, young), Ct);
        await tableStore.RolloutsTable.AddEntityAsync(IndexRow("ghost-old", T0.AddSeconds(10), 1, old), Ct);

        var claimed = await Store.ClaimDueAsync("owner-1", T0.AddSeconds(30), T0.AddMinutes(5), 10, Ct);

        Assert.IsEmpty(claimed);
        var left = await IndexRowsAsync();
        CollectionAssert.AreEquivalent(
            new[] { $"r1@{T0.AddSeconds(10).ToUnixTimeMilliseconds()}", $"r1@{T0.AddMinutes(1).ToUnixTimeMilliseconds()}", $"ghost-young@{T0.AddSeconds(10).ToUnixTimeMilliseconds()}" },
            left.Select(r => $"{r.GetString("RolloutId")}@{r.GetInt64("WakeAtMs")}").ToArray());
    }

    [TestMethod]
    public async Task SaveAsync_TransactionNeverReachesTheService_RolloutIsStillClaimedAtItsStoredWakeUp()
    {
        // A crash between the new index row and the checkpoint: the row of the stored wake-up is still there.
        var started = await CreateAsync("r1", "new-checkout", T0);
        var later = TestPlans.Evaluated(started.State, Outcome.Pass, T0.AddMinutes(30));
        recorder.DroppedTransactions = 1;

        await Assert.ThrowsAsync<RequestFailedException>(() => Store.SaveAsync(new Checkpoint(later.State, 1, later.Audit, null, false), Ct));

        Assert.AreEqual(1L, (await Store.GetAsync("r1", Ct))?.Version);
        Assert.HasCount(2, await IndexRowsAsync());
        Assert.AreSequenceEqual(new[] { "r1" }, (await Store.ClaimDueAsync("owner-1", T0.AddMinutes(2), T0.AddMinutes(3), 10, Ct)).ToArray());
        Assert.IsEmpty(await Store.ClaimDueAsync("owner-2", T0.AddMinutes(2), T0.AddMinutes(3), 10, Ct));
    }

    [TestMethod]
    public async Task ReleaseAsync_IndexRowMissing_AddsItWithAFreeLeaseCopySoTheNextClaimFindsIt()
    {
        await CreateAsync("r1", "new-checkout", T0);
        Assert.ContainsSingle(await Store.ClaimDueAsync("owner-1", T0.AddMinutes(2), T0.AddMinutes(30), 10, Ct));
        var row = (await IndexRowsAsync()).Single();
        Assert.AreEqual(T0.AddMinutes(30).ToUnixTimeMilliseconds(), row.GetInt64("LeaseUntilMs"));
        await tableStore.RolloutsTable.DeleteEntityAsync(TableRolloutStore.DuePartition, row.RowKey, "*", Ct);

        await Store.ReleaseAsync("r1", "owner-1", Ct);

        var healed = (await IndexRowsAsync()).Single();
        Assert.AreEqual(row.RowKey, healed.RowKey);
        Assert.AreEqual(0L, healed.GetInt64("LeaseUntilMs"));
        Assert.AreSequenceEqual(new[] { "r1" }, (await Store.ClaimDueAsync("owner-2", T0.AddMinutes(3), T0.AddMinutes(30), 10, Ct)).ToArray());
    }

    [TestMethod]
    public async Task ClaimDueAsync_TwoStoresRacingWithStaleRows_NeverClaimTheSameRolloutTwice()
    {
        var ids = Enumerable.Range(0, 30).Select(i => $"r{i:D2}").ToArray();
        foreach (var id in ids)
        {
            await CreateAsync(id, $"flag-{id}", T0);
        }

        foreach (var id in ids.Where((_, i) => i % 3 == 0))
        {
            // Rows a crash left behind, pointing at rollouts that have their own rows too.
            await tableStore.RolloutsTable.AddEntityAsync(IndexRow(id, T0.AddSeconds(5), 0, DateTimeOffset.UtcNow), Ct);
        }

        var other = TableRolloutStore.FromConnectionString(azurite.ConnectionString, prefix);
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        async Task<List<string>> ClaimAfterGateAsync(IRolloutStore store, string owner)
        {
            await gate.Task;
            var all = new List<string>();
            for (var i = 0; i < 12; i++)
            {
                var batch = await store.ClaimDueAsync(owner, T0.AddMinutes(2), T0.AddMinutes(30), 3, Ct);
                Assert.IsLessThanOrEqualTo(3, batch.Count);
                all.AddRange(batch);
            }

            return all;
        }

        var racers = new[] { Task.Run(() => ClaimAfterGateAsync(Store, "owner-1")), Task.Run(() => ClaimAfterGateAsync(other, "owner-2")) };
        gate.SetResult();
        var claims = await Task.WhenAll(racers);

        var everything = claims[0].Concat(claims[1]).ToArray();
        CollectionAssert.AreEquivalent(ids, everything, $"owner-1: {string.Join(",", claims[0])}; owner-2: {string.Join(",", claims[1])}");
        Assert.HasCount(ids.Length, await IndexRowsAsync(), "the stale rows were not healed");
    }

    // ---- connection strings ----------------------------------------------------------------------------------

    [TestMethod]
    public void ConnectionString_UseDevelopmentStorage_PointsAtAzuriteWithTheDevelopmentAccount()
    {
        var parsed = TableConnectionString.Parse("UseDevelopmentStorage=true");
        var withPort = TableConnectionString.Parse("UseDevelopmentStorage=true;TableEndpoint=http://127.0.0.1:12345/devstoreaccount1/");

        Assert.AreEqual(new Uri("http://127.0.0.1:10002/devstoreaccount1"), parsed.TableEndpoint);
        Assert.AreEqual("devstoreaccount1", parsed.AccountName);
        Assert.AreEqual(TableConnectionString.DevelopmentAccountKey, parsed.AccountKey);
        Assert.AreEqual(new Uri("http://127.0.0.1:12345/devstoreaccount1"), withPort.TableEndpoint);
    }

    [TestMethod]
    public void ConnectionString_AccountAndSuffix_BuildsTheHttpsTableEndpoint()
    {
        var parsed = TableConnectionString.Parse("DefaultEndpointsProtocol=https;AccountName=contoso;AccountKey=a2V5PQ==;EndpointSuffix=core.windows.net");

        Assert.AreEqual(new Uri("https://contoso.table.core.windows.net"), parsed.TableEndpoint);
        Assert.AreEqual("a2V5PQ==", parsed.AccountKey, "a key ending in '=' is kept whole");
        Assert.DoesNotContain("a2V5PQ==", parsed.ToString());
    }

    [TestMethod]
    [DataRow("AccountName=contoso", "AccountKey")]
    [DataRow("AccountKey=c2VjcmV0", "AccountName")]
    [DataRow("AccountName=contoso;AccountKey=c2VjcmV0;SharedAccessSignature=sv=1", "SAS")]
    [DataRow("AccountName=contoso;AccountKey=c2VjcmV0;TableEndpoint=ftp://x", "http(s)")]
    public void ConnectionString_Incomplete_SaysWhatIsWrongWithoutTheSecret(string connectionString, string expected)
    {
        var refused = Assert.Throws<Exception>(() => TableConnectionString.Parse(connectionString));

        Assert.Contains(expected, refused.Message);
        Assert.DoesNotContain("c2VjcmV0", refused.Message);
    }

    // ---- helpers ---------------------------------------------------------------------------------------------

    private static string NewPrefix() => "t" + Guid.NewGuid().ToString("N");

    private async Task<List<TableEntity>> IndexRowsAsync() =>
        await tableStore.RolloutsTable.QueryListAsync($"PartitionKey eq '{TableRolloutStore.DuePartition}'", null, Ct);

    private static TableEntity IndexRow(string id, DateTimeOffset wakeAt, long version, DateTimeOffset indexedAt) =>
        new(TableRolloutStore.DuePartition, TableRolloutStore.DueKey(wakeAt.ToUnixTimeMilliseconds(), id))
        {
            ["RolloutId"] = id,
            ["WakeAtMs"] = wakeAt.ToUnixTimeMilliseconds(),
            ["Version"] = version,
            ["LeaseUntilMs"] = 0L,
            ["IndexedAtMs"] = indexedAt.ToUnixTimeMilliseconds(),
        };

    private static void AssertIndex(IReadOnlyList<TableEntity> rows, params (string Id, DateTimeOffset WakeAt, long Version)[] expected) =>
        Assert.AreSequenceEqual(
            expected.Select(e => $"{e.Id}@{e.WakeAt.ToUnixTimeMilliseconds()}v{e.Version}").ToArray(),
            rows.Select(r => $"{r.GetString("RolloutId")}@{r.GetInt64("WakeAtMs")}v{r.GetInt64("Version")}").ToArray());

    /// <summary>The partition a request addresses: the entity's, or the one its query filters on (null for neither).</summary>
    private static string? PartitionOf(Uri request)
    {
        var text = Uri.UnescapeDataString(request.PathAndQuery);
        var match = System.Text.RegularExpressions.Regex.Match(text, "PartitionKey(?:=| eq )'((?:[^']|'')*)'");
        return match.Success ? match.Groups[1].Value.Replace("''", "'", StringComparison.Ordinal) : null;
    }

    private static bool IsQuery(Uri request) => request.AbsolutePath.EndsWith("()", StringComparison.Ordinal);

    private static TableEntity Lock(string flag, string rolloutId, DateTimeOffset at) =>
        new(flag, "lock") { ["Flag"] = flag, ["RolloutId"] = rolloutId, ["LockedAtMs"] = at.ToUnixTimeMilliseconds() };

    private static string PlanWithUsers(string flag, int users, int stages = 1)
    {
        var stageJson = Enumerable.Range(0, stages).Select(s =>
            $$"""{ "name": "stage-{{s}}", "audience": { "users": [{{string.Join(",", Enumerable.Range(0, users).Select(i => $"\"user-{s}-{i:D5}-{Guid.NewGuid():N}@contoso.com\""))}}] }, "minDuration": "0s" }""");
        return $$"""
            { "name": "big plan", "flag": "{{flag}}", "owner": "alice@contoso.com",
              "stages": [{{string.Join(",", stageJson)}}],
              "criteria": [ { "name": "error-rate", "source": { "type": "http", "url": "http://127.0.0.1:9/m", "value": "$.v" }, "max": 0.01 } ] }
            """;
    }

    private sealed class FixedTokenCredential : TokenCredential
    {
        public override AccessToken GetToken(TokenRequestContext requestContext, CancellationToken cancellationToken) => new("token", DateTimeOffset.UtcNow.AddHours(1));

        public override ValueTask<AccessToken> GetTokenAsync(TokenRequestContext requestContext, CancellationToken cancellationToken) => new(GetToken(requestContext, cancellationToken));
    }

    /// <summary>Records request URIs; can deliver the next transaction to the service and lose its answer (a 503 instead).</summary>
    private sealed class RecordingHandler(ConcurrentQueue<Uri> requests) : DelegatingHandler
    {
        public int LostTransactionAnswers { get; set; }

        /// <summary>Transactions to answer 400 without sending them (the process died before its transaction).</summary>
        public int DroppedTransactions { get; set; }

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            requests.Enqueue(request.RequestUri!);
            if (request.RequestUri!.AbsolutePath.EndsWith("/$batch", StringComparison.Ordinal) && DroppedTransactions > 0)
            {
                DroppedTransactions--;
                return new HttpResponseMessage(System.Net.HttpStatusCode.BadRequest) { RequestMessage = request };
            }

            var response = await base.SendAsync(request, cancellationToken);
            if (request.RequestUri!.AbsolutePath.EndsWith("/$batch", StringComparison.Ordinal) && LostTransactionAnswers > 0)
            {
                LostTransactionAnswers--;
                response.Dispose();
                return new HttpResponseMessage(System.Net.HttpStatusCode.ServiceUnavailable) { RequestMessage = request };
            }

            return response;
        }
    }
}
