using System.Collections.Immutable;
using System.Text.Json;
using Rollout.Core.Api;
using Rollout.Core.Engine;
using Rollout.Core.Gates;
using Rollout.Core.Storage;

namespace Rollout.Integrations.Tests.Storage;

/// <summary>
/// What every <see cref="IRolloutStore"/> must do. A store runs this contract by subclassing with a
/// <see cref="CreateStoreAsync"/> that returns a fresh, empty store (and a cleanup that removes it).
/// </summary>
public abstract class RolloutStoreContractTests
{
    protected static readonly DateTimeOffset T0 = TestPlans.T0;
    private IRolloutStore? store;

    public TestContext TestContext { get; set; } = null!;

    protected IRolloutStore Store => store ?? throw new InvalidOperationException("the store is not created yet");

    protected CancellationToken Ct => TestContext.CancellationToken;

    /// <summary>Creates a fresh, empty store of the implementation under test (not yet initialized).</summary>
    protected abstract Task<IRolloutStore> CreateStoreAsync(CancellationToken cancellationToken);

    /// <summary>Removes what <see cref="CreateStoreAsync"/> made.</summary>
    protected abstract Task DeleteStoreAsync();

    [TestInitialize]
    public async Task CreateAndInitializeStoreAsync()
    {
        store = await CreateStoreAsync(Ct);
        await store.InitializeAsync(Ct);
    }

    [TestCleanup]
    public Task CleanupStoreAsync() => DeleteStoreAsync();

    // ---- create / get ----------------------------------------------------------------------------------------

    [TestMethod]
    public async Task CreateAsync_FullState_GetAsyncReturnsItAtVersionOne()
    {
        // A state with every part filled: plan, last evaluation, counters, status reason, remembered command ids.
        var started = TestPlans.Start("r1", "new-checkout", T0);
        var evaluated = TestPlans.Evaluated(started.State, Outcome.Fail, T0.AddMinutes(1));
        var paused = TestPlans.Paused(evaluated.State, T0.AddMinutes(2), commandId: "cmd-1");
        var audit = started.Audit.AddRange(evaluated.Audit).AddRange(paused.Audit);

        await Store.CreateAsync(paused.State, audit, Ct);
        var stored = await Store.GetAsync("r1", Ct);

        Assert.IsNotNull(stored);
        Assert.AreEqual(1L, stored.Version);
        AssertSameState(paused.State, stored.State);
        Assert.AreEqual(RolloutStatus.Paused, stored.State.Status);
        Assert.AreEqual("canary 5%", stored.State.Plan.Stages[1].Name);
        Assert.AreEqual("$.data[0].value", stored.State.Plan.Criteria[0].Source.Get("value"));
        Assert.AreEqual(TimeSpan.FromMinutes(1), stored.State.Plan.Evaluation.Interval);
        Assert.AreEqual(Outcome.Fail, stored.State.LastEvaluation?.Outcome);
        Assert.AreEqual(1, stored.State.ConsecutiveFailures);
        Assert.AreSequenceEqual(new[] { "cmd-1" }, stored.State.RecentCommandIds.ToArray());
        Assert.AreEqual(T0.AddMinutes(2), stored.State.NextEvaluationAt, "an evaluation at +1m schedules the next one a 1m interval later");
        AssertSameAudit(audit, await Store.GetAuditAsync("r1", 0, Ct));
    }

    [TestMethod]
    public async Task GetAsync_UnknownId_ReturnsNull()
    {
        await CreateAsync("r1", "new-checkout", T0);

        Assert.IsNull(await Store.GetAsync("r2", Ct));
    }

    [TestMethod]
    public async Task CreateAsync_SecondUnfinishedRolloutForSameFlag_ThrowsFlagBusyAndStoresNothing()
    {
        await CreateAsync("r1", "new-checkout", T0);
        var second = TestPlans.Start("r2", "new-checkout", T0.AddMinutes(1));

        var busy = await Assert.ThrowsAsync<FlagBusyException>(() => Store.CreateAsync(second.State, second.Audit, Ct));

        Assert.AreEqual("new-checkout", busy.Flag);
        Assert.AreEqual("r1", busy.ActiveRolloutId);
        Assert.IsNull(await Store.GetAsync("r2", Ct));
        Assert.IsEmpty(await Store.GetAuditAsync("r2", 0, Ct));
    }

    [TestMethod]
    public async Task CreateAsync_FirstRolloutPausedOrAwaitingApproval_StillThrowsFlagBusy()
    {
        var first = await CreateAsync("r1", "new-checkout", T0);
        await SaveAsync(TestPlans.Paused(first.State, T0.AddMinutes(1)), 1);
        var awaiting = await CreateAsync("r2", "other-flag", T0);
        var state = awaiting.State;
        long version = 1;
        while (state.Status != RolloutStatus.AwaitingApproval)
        {
            var step = TestPlans.Evaluated(state, Outcome.Pass, T0.AddMinutes(1));
            await SaveAsync(step, version++);
            state = step.State;
        }

        var third = TestPlans.Start("r3", "new-checkout", T0.AddMinutes(2));
        var fourth = TestPlans.Start("r4", "other-flag", T0.AddMinutes(2));
        await Assert.ThrowsAsync<FlagBusyException>(() => Store.CreateAsync(third.State, third.Audit, Ct));
        await Assert.ThrowsAsync<FlagBusyException>(() => Store.CreateAsync(fourth.State, fourth.Audit, Ct));
    }

    [TestMethod]
    public async Task CreateAsync_FirstRolloutRolledBack_AllowsNewRollout()
    {
        var first = await CreateAsync("r1", "new-checkout", T0);
        await SaveAsync(TestPlans.RolledBack(first.State, T0.AddMinutes(1)), 1);

        var second = await CreateAsync("r2", "new-checkout", T0.AddMinutes(2));

        Assert.AreEqual(RolloutStatus.RolledBack, (await Store.GetAsync("r1", Ct))?.State.Status);
        AssertSameState(second.State, (await Store.GetAsync("r2", Ct))?.State);
    }

    [TestMethod]
    public async Task CreateAsync_FirstRolloutCompleted_AllowsNewRollout()
    {
        var first = await CreateAsync("r1", "new-checkout", T0);
        var completed = TestPlans.Completed(first.State, T0.AddMinutes(1));
        Assert.AreEqual(RolloutStatus.Completed, completed.State.Status);
        await SaveAsync(completed, 1);

        var second = await CreateAsync("r2", "new-checkout", T0.AddMinutes(2));

        Assert.AreEqual(RolloutStatus.Completed, (await Store.GetAsync("r1", Ct))?.State.Status);
        AssertSameState(second.State, (await Store.GetAsync("r2", Ct))?.State);
    }

    [TestMethod]
    public async Task CreateAsync_OtherFlag_IsIndependent()
    {
        await CreateAsync("r1", "new-checkout", T0);

        await CreateAsync("r2", "search-v2", T0);

        Assert.IsNotNull(await Store.GetAsync("r2", Ct));
    }

    [TestMethod]
    public async Task CreateAsync_RacingForSameFlag_ExactlyOneWinsAndTheOtherIsFlagBusy()
    {
        for (var round = 0; round < 5; round++)
        {
            var flag = $"race-{round}";
            var a = TestPlans.Start($"a{round}", flag, T0);
            var b = TestPlans.Start($"b{round}", flag, T0);
            var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            async Task<Exception?> CreateAfterGateAsync(StepResult s)
            {
                await gate.Task;
                try
                {
                    await Store.CreateAsync(s.State, s.Audit, Ct);
                    return null;
                }
                catch (Exception ex)
                {
                    return ex;
                }
            }

            var racers = new[] { Task.Run(() => CreateAfterGateAsync(a)), Task.Run(() => CreateAfterGateAsync(b)) };
            gate.SetResult();
            var outcomes = await Task.WhenAll(racers);

            Assert.AreEqual(1, outcomes.Count(o => o is null), $"round {round}: {string.Join(" | ", outcomes.Select(o => o?.Message ?? "created"))}");
            Assert.IsInstanceOfType<FlagBusyException>(outcomes.Single(o => o is not null));
            Assert.HasCount(1, (await Store.ListAsync(null, 100, Ct)).Where(r => r.State.Plan.Flag == flag));
        }
    }

    [TestMethod]
    public async Task InitializeAsync_Again_KeepsEverything()
    {
        var first = await CreateAsync("r1", "new-checkout", T0);

        await Store.InitializeAsync(Ct);

        AssertSameState(first.State, (await Store.GetAsync("r1", Ct))?.State);
        Assert.HasCount(first.Audit.Length, await Store.GetAuditAsync("r1", 0, Ct));
    }

    // ---- save ------------------------------------------------------------------------------------------------

    [TestMethod]
    public async Task SaveAsync_CurrentVersion_SucceedsAndBumpsVersion()
    {
        var started = await CreateAsync("r1", "new-checkout", T0);
        var promoted = TestPlans.Evaluated(started.State, Outcome.Pass, T0.AddMinutes(1));
        var paused = TestPlans.Paused(promoted.State, T0.AddMinutes(2));

        Assert.IsTrue(await SaveAsync(promoted, 1));
        var afterFirst = await Store.GetAsync("r1", Ct);
        Assert.IsTrue(await SaveAsync(paused, 2));
        var afterSecond = await Store.GetAsync("r1", Ct);

        Assert.AreEqual(2L, afterFirst?.Version);
        AssertSameState(promoted.State, afterFirst?.State);
        Assert.AreEqual(3L, afterSecond?.Version);
        AssertSameState(paused.State, afterSecond?.State);
        AssertSameAudit(started.Audit.AddRange(promoted.Audit).AddRange(paused.Audit), await Store.GetAuditAsync("r1", 0, Ct));
    }

    [TestMethod]
    public async Task SaveAsync_ManyAtOnce_EachIsAllOrNothingOnItsOwn()
    {
        // Concurrent checkpoints (which the SQLite store commits as one group): a stale one and one whose audit replays a
        // stored sequence number fail alone; the others are written whole.
        var started = new List<StepResult>();
        for (var i = 0; i < 24; i++)
        {
            started.Add(await CreateAsync($"r{i}", $"flag-{i}", T0));
        }

        var steps = started.Select(s => TestPlans.Evaluated(s.State, Outcome.Pass, T0.AddMinutes(1))).ToList();
        var replayed = steps[7] with { Audit = [.. started[7].Audit] }; // sequence numbers already stored
        var saves = steps.Select((step, i) => i switch
        {
            3 => Store.SaveAsync(new Checkpoint(step.State, 5, step.Audit, null, false), Ct), // stale version
            7 => Store.SaveAsync(new Checkpoint(replayed.State, 1, replayed.Audit, null, false), Ct),
            _ => Store.SaveAsync(new Checkpoint(step.State, 1, step.Audit, null, false), Ct),
        }).ToList();
        var outcomes = new List<bool?>();
        foreach (var save in saves)
        {
            try
            {
                outcomes.Add(await save);
            }
            catch (Exception)
            {
                outcomes.Add(null);
            }
        }

        for (var i = 0; i < steps.Count; i++)
        {
            var stored = await Store.GetAsync($"r{i}", Ct);
            if (i is 3 or 7)
            {
                Assert.AreNotEqual(true, outcomes[i], $"r{i}");
                Assert.AreEqual(1L, stored?.Version, $"r{i}");
                AssertSameState(started[i].State, stored?.State);
                AssertSameAudit(started[i].Audit, await Store.GetAuditAsync($"r{i}", 0, Ct));
            }
            else
            {
                Assert.AreEqual(true, outcomes[i], $"r{i}");
                Assert.AreEqual(2L, stored?.Version, $"r{i}");
                AssertSameState(steps[i].State, stored?.State);
                AssertSameAudit(started[i].Audit.AddRange(steps[i].Audit), await Store.GetAuditAsync($"r{i}", 0, Ct));
            }
        }
    }

    [TestMethod]
    public async Task SaveAsync_StaleVersion_ReturnsFalseAndWritesNothing()
    {
        var started = await CreateAsync("r1", "new-checkout", T0);
        var promoted = TestPlans.Evaluated(started.State, Outcome.Pass, T0.AddMinutes(1));
        Assert.IsTrue(await SaveAsync(promoted, 1));
        var command = await Store.AcceptCommandAsync(new StoredCommand("r1", "cmd-1", "rollback", "{}", T0.AddMinutes(2), null), Ct);
        var competing = TestPlans.RolledBack(started.State, T0.AddMinutes(2), "cmd-1");
        var auditBefore = await Store.GetAuditAsync("r1", 0, Ct);

        var saved = await Store.SaveAsync(new Checkpoint(competing.State, 1, competing.Audit, command with { Result = competing.Command }, true), Ct);

        Assert.IsFalse(saved);
        var stored = await Store.GetAsync("r1", Ct);
        Assert.AreEqual(2L, stored?.Version);
        AssertSameState(promoted.State, stored?.State);
        AssertSameAudit(auditBefore, await Store.GetAuditAsync("r1", 0, Ct));
        Assert.IsNull((await Store.GetCommandAsync("r1", "cmd-1", Ct))?.Result, "a refused checkpoint answered its command");
        Assert.ContainsSingle(await Store.PendingCommandsAsync(T0.AddHours(1), Ct));
        await Assert.ThrowsAsync<FlagBusyException>(() => CreateAsync("r2", "new-checkout", T0.AddMinutes(3)));
    }

    [TestMethod]
    public async Task SaveAsync_UnknownRollout_ReturnsFalseAndCreatesNothing()
    {
        var ghost = TestPlans.Start("ghost", "new-checkout", T0);

        Assert.IsFalse(await Store.SaveAsync(new Checkpoint(ghost.State, 1, ghost.Audit, null, false), Ct));

        Assert.IsNull(await Store.GetAsync("ghost", Ct));
        Assert.IsEmpty(await Store.GetAuditAsync("ghost", 0, Ct));
    }

    [TestMethod]
    public async Task SaveAsync_CheckpointRepeatingAnAuditSeq_FailsAsAWhole()
    {
        var started = await CreateAsync("r1", "new-checkout", T0);
        var paused = TestPlans.Paused(started.State, T0.AddMinutes(1));
        Assert.IsTrue(await SaveAsync(paused, 1));

        // A replayed transition computed from the old state: its audit reuses seq 4 (and adds 5), at the current version.
        var replay = TestPlans.RolledBack(started.State, T0.AddMinutes(2));
        Assert.AreEqual(paused.Audit[0].Seq, replay.Audit[0].Seq);
        bool saved;
        try
        {
            saved = await Store.SaveAsync(new Checkpoint(replay.State, 2, replay.Audit, null, false), Ct);
        }
        catch (Exception)
        {
            saved = false;
        }

        Assert.IsFalse(saved, "a checkpoint repeating an audit seq was written");
        var stored = await Store.GetAsync("r1", Ct);
        Assert.AreEqual(2L, stored?.Version);
        AssertSameState(paused.State, stored?.State);
        AssertSameAudit(started.Audit.AddRange(paused.Audit), await Store.GetAuditAsync("r1", 0, Ct));
    }

    [TestMethod]
    public async Task SaveAsync_RacingOnSameVersion_ExactlyOneWins()
    {
        for (var round = 0; round < 5; round++)
        {
            var id = $"r{round}";
            var started = await CreateAsync(id, $"flag-{round}", T0);
            var pause = TestPlans.Paused(started.State, T0.AddMinutes(1));
            var rollback = TestPlans.RolledBack(started.State, T0.AddMinutes(1));
            var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            async Task<bool> SaveAfterGateAsync(StepResult step)
            {
                await gate.Task;
                return await Store.SaveAsync(new Checkpoint(step.State, 1, step.Audit, null, false), Ct);
            }

            var racers = new[] { Task.Run(() => SaveAfterGateAsync(pause)), Task.Run(() => SaveAfterGateAsync(rollback)) };
            gate.SetResult();
            var results = await Task.WhenAll(racers);

            Assert.AreEqual(1, results.Count(r => r), $"round {round}: {string.Join(", ", results)}");
            var winner = results[0] ? pause : rollback;
            var stored = await Store.GetAsync(id, Ct);
            Assert.AreEqual(2L, stored?.Version);
            AssertSameState(winner.State, stored?.State);
            AssertSameAudit(started.Audit.AddRange(winner.Audit), await Store.GetAuditAsync(id, 0, Ct));
        }
    }

    // ---- audit -----------------------------------------------------------------------------------------------

    [TestMethod]
    public async Task GetAuditAsync_AfterCreateAndSaves_ReturnsEntriesInSeqOrderWithDetails()
    {
        var started = await CreateAsync("r1", "new-checkout", T0);
        var evaluated = TestPlans.Evaluated(started.State, Outcome.Fail, T0.AddMinutes(1));
        var paused = TestPlans.Paused(evaluated.State, T0.AddMinutes(2));
        await SaveAsync(evaluated, 1);
        await SaveAsync(paused, 2);

        var audit = await Store.GetAuditAsync("r1", 0, Ct);

        AssertSameAudit(started.Audit.AddRange(evaluated.Audit).AddRange(paused.Audit), audit);
        Assert.AreSequenceEqual(
            new[] { AuditType.Started, AuditType.StageEntered, AuditType.ExposureApplied, AuditType.Evaluated, AuditType.Paused },
            audit.Select(e => e.Type).ToArray());
        Assert.AreSequenceEqual(new long[] { 1, 2, 3, 4, 5 }, audit.Select(e => e.Seq).ToArray());
        Assert.AreEqual("canary 5%", audit[0].Details.GetProperty("stages")[1].GetString());
        Assert.AreEqual("on-call asked to hold, \"ünïcode\" reason", audit[4].Details.GetProperty("reason").GetString());
        Assert.AreEqual("bob@contoso.com", audit[4].Actor);
        Assert.AreEqual(T0.AddMinutes(2), audit[4].At);
        Assert.AreEqual(0.004, audit[3].Details.GetProperty("criteria")[0].GetProperty("value").GetDouble());
    }

    [TestMethod]
    public async Task GetAuditAsync_AfterSeq_ReturnsOnlyLaterEntries()
    {
        var started = await CreateAsync("r1", "new-checkout", T0);
        var paused = TestPlans.Paused(started.State, T0.AddMinutes(1));
        await SaveAsync(paused, 1);
        await CreateAsync("other", "other-flag", T0);

        var afterTwo = await Store.GetAuditAsync("r1", 2, Ct);
        var afterLast = await Store.GetAuditAsync("r1", 4, Ct);

        AssertSameAudit(started.Audit.Skip(2).Concat(paused.Audit).ToArray(), afterTwo);
        Assert.IsEmpty(afterLast);
    }

    [TestMethod]
    public async Task GetAuditAsync_EntriesWrittenOutOfOrder_ReturnsThemInSeqOrder()
    {
        var started = await CreateAsync("r1", "new-checkout", T0);
        var later = started.State with { AuditSeq = 6, UpdatedAt = T0.AddMinutes(1) };
        ImmutableArray<AuditEvent> reversed = [Audit(6, "six"), Audit(5, "five"), Audit(4, "four")];

        Assert.IsTrue(await Store.SaveAsync(new Checkpoint(later, 1, reversed, null, false), Ct));
        var audit = await Store.GetAuditAsync("r1", 3, Ct);

        Assert.AreSequenceEqual(new long[] { 4, 5, 6 }, audit.Select(e => e.Seq).ToArray());
        Assert.AreSequenceEqual(new[] { "four", "five", "six" }, audit.Select(e => e.Details.GetProperty("note").GetString()).ToArray());
    }

    // ---- commands --------------------------------------------------------------------------------------------

    [TestMethod]
    public async Task AcceptCommandAsync_SameIdTwice_KeepsAndReturnsTheFirst()
    {
        var first = new StoredCommand("r1", "cmd-1", "pause", """{"reason":"first"}""", T0, null);

        var accepted = await Store.AcceptCommandAsync(first, Ct);
        var retried = await Store.AcceptCommandAsync(first with { Kind = "rollback", Body = """{"reason":"retry"}""", ReceivedAt = T0.AddMinutes(1) }, Ct);

        Assert.AreEqual(first, accepted);
        Assert.AreEqual(first, retried);
        Assert.AreEqual(first, await Store.GetCommandAsync("r1", "cmd-1", Ct));
        Assert.ContainsSingle(await Store.PendingCommandsAsync(T0.AddHours(1), Ct));
    }

    [TestMethod]
    public async Task AcceptCommandAsync_AfterAnswer_ReturnsTheStoredAnswer()
    {
        var command = new StoredCommand("r1", "cmd-1", "resume", "{}", T0, null);
        await Store.AcceptCommandAsync(command, Ct);
        var answer = new CommandResult(CommandStatus.Conflict, "the rollout is Running, not Paused");
        await Store.AnswerCommandAsync(command with { Result = answer }, Ct);

        var retried = await Store.AcceptCommandAsync(command, Ct);

        Assert.AreEqual(command with { Result = answer }, retried);
        Assert.IsEmpty(await Store.PendingCommandsAsync(T0.AddHours(1), Ct));
    }

    [TestMethod]
    public async Task AnswerCommandAsync_AlreadyAnswered_KeepsTheFirstAnswer()
    {
        var command = new StoredCommand("r1", "cmd-1", "approve", "{}", T0, null);
        await Store.AcceptCommandAsync(command, Ct);
        var first = new CommandResult(CommandStatus.Forbidden, "'eve' is not an approver of stage 'everyone'");

        await Store.AnswerCommandAsync(command with { Result = first }, Ct);
        await Store.AnswerCommandAsync(command with { Result = new CommandResult(CommandStatus.Accepted, "approved") }, Ct);

        Assert.AreEqual(first, (await Store.GetCommandAsync("r1", "cmd-1", Ct))?.Result);
    }

    [TestMethod]
    public async Task AcceptCommandAsync_SameCommandIdForOtherRollout_IsAnotherCommand()
    {
        await Store.AcceptCommandAsync(new StoredCommand("r1", "cmd-1", "pause", "{}", T0, null), Ct);

        var other = await Store.AcceptCommandAsync(new StoredCommand("r2", "cmd-1", "rollback", "{}", T0, null), Ct);

        Assert.AreEqual("rollback", other.Kind);
        Assert.AreEqual("pause", (await Store.GetCommandAsync("r1", "cmd-1", Ct))?.Kind);
        Assert.AreEqual("rollback", (await Store.GetCommandAsync("r2", "cmd-1", Ct))?.Kind);
        Assert.IsNull(await Store.GetCommandAsync("r3", "cmd-1", Ct));
    }

    [TestMethod]
    public async Task PendingCommandsAsync_ListsOnlyUnansweredReceivedBeforeCutOff()
    {
        var answered = new StoredCommand("r1", "c1", "pause", "{}", T0, null);
        var pending = new StoredCommand("r1", "c2", "resume", """{"reason":"ok"}""", T0.AddSeconds(1), null);
        var otherRollout = new StoredCommand("r2", "c1", "rollback", "{}", T0.AddMilliseconds(500), null);
        var atCutOff = new StoredCommand("r1", "c3", "approve", "{}", T0.AddSeconds(2), null);
        var afterCutOff = new StoredCommand("r1", "c4", "approve", "{}", T0.AddSeconds(3), null);
        foreach (var command in new[] { answered, pending, otherRollout, atCutOff, afterCutOff })
        {
            await Store.AcceptCommandAsync(command, Ct);
        }

        await Store.AnswerCommandAsync(answered with { Result = new CommandResult(CommandStatus.Accepted, "paused") }, Ct);

        var listed = await Store.PendingCommandsAsync(T0.AddSeconds(2), Ct);

        CollectionAssert.AreEquivalent(new[] { otherRollout, pending }, listed.ToArray());
    }

    [TestMethod]
    public async Task SaveAsync_WithAnsweredCommand_CommandIsAnsweredAndNoLongerPending()
    {
        var started = await CreateAsync("r1", "new-checkout", T0);
        var command = await Store.AcceptCommandAsync(new StoredCommand("r1", "cmd-1", "pause", "{}", T0.AddMinutes(1), null), Ct);
        var paused = TestPlans.Paused(started.State, T0.AddMinutes(1), "cmd-1");
        Assert.IsNotNull(paused.Command);

        Assert.IsTrue(await Store.SaveAsync(new Checkpoint(paused.State, 1, paused.Audit, command with { Result = paused.Command }, false), Ct));

        Assert.IsEmpty(await Store.PendingCommandsAsync(T0.AddHours(1), Ct));
        Assert.AreEqual(paused.Command, (await Store.GetCommandAsync("r1", "cmd-1", Ct))?.Result);
        Assert.AreEqual(paused.Command, (await Store.AcceptCommandAsync(command, Ct)).Result);
    }

    // ---- leases ----------------------------------------------------------------------------------------------

    [TestMethod]
    public async Task ClaimDueAsync_ClaimsOnlyDueRolloutsWithAFreeLease()
    {
        await CreateAsync("due", "flag-a", T0);                         // wakes at T0+1m
        await CreateAsync("not-due", "flag-b", T0.AddMinutes(10));      // wakes at T0+11m
        var ended = await CreateAsync("ended", "flag-c", T0);           // wakes at T0+1m, then rolled back: never again
        await SaveAsync(TestPlans.RolledBack(ended.State, T0.AddSeconds(30)), 1);

        var claimed = await Store.ClaimDueAsync("owner-1", T0.AddMinutes(2), T0.AddMinutes(3), 10, Ct);

        Assert.AreSequenceEqual(new[] { "due" }, claimed.ToArray());
    }

    [TestMethod]
    public async Task ClaimDueAsync_LiveLease_IsNotClaimedAgainByAnyone()
    {
        await CreateAsync("due", "flag-a", T0);
        Assert.ContainsSingle(await Store.ClaimDueAsync("owner-1", T0.AddMinutes(2), T0.AddMinutes(3), 10, Ct));

        var bySecond = await Store.ClaimDueAsync("owner-2", T0.AddMinutes(2).AddSeconds(30), T0.AddMinutes(4), 10, Ct);
        var byFirstAgain = await Store.ClaimDueAsync("owner-1", T0.AddMinutes(2).AddSeconds(31), T0.AddMinutes(4), 10, Ct);

        Assert.IsEmpty(bySecond);
        Assert.IsEmpty(byFirstAgain);
        Assert.AreSequenceEqual(new[] { "owner-1" }, (await Store.LeaseOwnersAsync(Ct)).ToArray());
    }

    [TestMethod]
    public async Task ClaimDueAsync_LeaseExpired_CanBeClaimedAgain()
    {
        await CreateAsync("due", "flag-a", T0);
        Assert.ContainsSingle(await Store.ClaimDueAsync("owner-1", T0.AddMinutes(2), T0.AddMinutes(3), 10, Ct));

        var claimed = await Store.ClaimDueAsync("owner-2", T0.AddMinutes(3).AddSeconds(1), T0.AddMinutes(4), 10, Ct);

        Assert.AreSequenceEqual(new[] { "due" }, claimed.ToArray());
        Assert.AreSequenceEqual(new[] { "owner-2" }, (await Store.LeaseOwnersAsync(Ct)).ToArray());
        Assert.IsEmpty(await Store.ClaimDueAsync("owner-3", T0.AddMinutes(3).AddSeconds(2), T0.AddMinutes(5), 10, Ct));
    }

    [TestMethod]
    public async Task ReleaseAsync_ByOwner_FreesTheLease()
    {
        await CreateAsync("due", "flag-a", T0);
        await Store.ClaimDueAsync("owner-1", T0.AddMinutes(2), T0.AddMinutes(30), 10, Ct);

        await Store.ReleaseAsync("due", "owner-1", Ct);

        Assert.IsEmpty(await Store.LeaseOwnersAsync(Ct));
        Assert.AreSequenceEqual(new[] { "due" }, (await Store.ClaimDueAsync("owner-2", T0.AddMinutes(2).AddSeconds(1), T0.AddMinutes(30), 10, Ct)).ToArray());
    }

    [TestMethod]
    public async Task ReleaseAsync_ByAnotherOwner_KeepsTheLease()
    {
        await CreateAsync("due", "flag-a", T0);
        await Store.ClaimDueAsync("owner-1", T0.AddMinutes(2), T0.AddMinutes(30), 10, Ct);

        await Store.ReleaseAsync("due", "owner-2", Ct);

        Assert.IsEmpty(await Store.ClaimDueAsync("owner-2", T0.AddMinutes(3), T0.AddMinutes(30), 10, Ct));
        Assert.AreSequenceEqual(new[] { "owner-1" }, (await Store.LeaseOwnersAsync(Ct)).ToArray());
    }

    [TestMethod]
    public async Task ClaimDueAsync_Max_ClaimsTheEarliestDueFirst()
    {
        await CreateAsync("third", "flag-c", T0.AddMinutes(2));
        await CreateAsync("first", "flag-a", T0);
        await CreateAsync("second", "flag-b", T0.AddMinutes(1));

        var claimed = await Store.ClaimDueAsync("owner-1", T0.AddMinutes(10), T0.AddMinutes(11), 2, Ct);
        var rest = await Store.ClaimDueAsync("owner-2", T0.AddMinutes(10), T0.AddMinutes(11), 2, Ct);

        CollectionAssert.AreEquivalent(new[] { "first", "second" }, claimed.ToArray());
        Assert.AreSequenceEqual(new[] { "third" }, rest.ToArray());
    }

    [TestMethod]
    public async Task SaveAsync_ReleaseLease_FreesTheLeaseOnlyWhenAsked()
    {
        var a = await CreateAsync("a", "flag-a", T0);
        var b = await CreateAsync("b", "flag-b", T0);
        Assert.HasCount(2, await Store.ClaimDueAsync("owner-1", T0.AddMinutes(2), T0.AddMinutes(30), 10, Ct));

        // Both stay due (their next evaluation is before "now" below); only a's lease is released.
        var aPaused = TestPlans.Paused(a.State, T0.AddMinutes(2));
        var bPaused = TestPlans.Paused(b.State, T0.AddMinutes(2));
        Assert.IsTrue(await Store.SaveAsync(new Checkpoint(aPaused.State, 1, aPaused.Audit, null, ReleaseLease: true), Ct));
        Assert.IsTrue(await Store.SaveAsync(new Checkpoint(bPaused.State, 1, bPaused.Audit, null, ReleaseLease: false), Ct));

        var claimed = await Store.ClaimDueAsync("owner-2", T0.AddMinutes(5), T0.AddMinutes(30), 10, Ct);

        Assert.AreSequenceEqual(new[] { "a" }, claimed.ToArray());
    }

    [TestMethod]
    public async Task ClaimDueAsync_RacingOwners_NeverClaimTheSameRolloutTwice()
    {
        var ids = Enumerable.Range(0, 12).Select(i => $"r{i}").ToArray();
        foreach (var id in ids)
        {
            await CreateAsync(id, $"flag-{id}", T0);
        }

        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        async Task<IReadOnlyList<string>> ClaimAfterGateAsync(string owner)
        {
            await gate.Task;
            var all = new List<string>();
            for (var i = 0; i < 6; i++)
            {
                all.AddRange(await Store.ClaimDueAsync(owner, T0.AddMinutes(2), T0.AddMinutes(30), 2, Ct));
            }

            return all;
        }

        var racers = new[] { Task.Run(() => ClaimAfterGateAsync("owner-1")), Task.Run(() => ClaimAfterGateAsync("owner-2")) };
        gate.SetResult();
        var claims = await Task.WhenAll(racers);

        var everything = claims[0].Concat(claims[1]).ToArray();
        CollectionAssert.AreEquivalent(ids, everything, $"owner-1: {string.Join(",", claims[0])}; owner-2: {string.Join(",", claims[1])}");
    }

    [TestMethod]
    public async Task LeaseOwnersAsync_ListsEachOwnerOnce_ReleaseAllAsyncFreesOnlyThatOwner()
    {
        foreach (var id in new[] { "a", "b", "c" })
        {
            await CreateAsync(id, $"flag-{id}", T0);
        }

        Assert.HasCount(2, await Store.ClaimDueAsync("owner-1", T0.AddMinutes(2), T0.AddMinutes(30), 2, Ct));
        var ofSecond = await Store.ClaimDueAsync("owner-2", T0.AddMinutes(2), T0.AddMinutes(30), 2, Ct);
        Assert.HasCount(1, ofSecond);
        CollectionAssert.AreEquivalent(new[] { "owner-1", "owner-2" }, (await Store.LeaseOwnersAsync(Ct)).ToArray());

        await Store.ReleaseAllAsync("owner-1", Ct);

        Assert.AreSequenceEqual(new[] { "owner-2" }, (await Store.LeaseOwnersAsync(Ct)).ToArray());
        var reclaimed = await Store.ClaimDueAsync("owner-3", T0.AddMinutes(3), T0.AddMinutes(30), 10, Ct);
        CollectionAssert.AreEquivalent(new[] { "a", "b", "c" }.Except(ofSecond).ToArray(), reclaimed.ToArray());
    }

    // ---- lists -----------------------------------------------------------------------------------------------

    [TestMethod]
    public async Task ListAsync_NoFilter_NewestFirstWithinLimit()
    {
        await CreateAsync("oldest", "flag-a", T0);
        await CreateAsync("newest", "flag-c", T0.AddMinutes(2));
        await CreateAsync("middle", "flag-b", T0.AddMinutes(1));

        var all = await Store.ListAsync(null, 10, Ct);
        var two = await Store.ListAsync(null, 2, Ct);

        Assert.AreSequenceEqual(new[] { "newest", "middle", "oldest" }, all.Select(r => r.State.Id).ToArray());
        Assert.AreSequenceEqual(new[] { "newest", "middle" }, two.Select(r => r.State.Id).ToArray());
        Assert.IsTrue(all.All(r => r.Version == 1));
    }

    [TestMethod]
    public async Task ListAsync_StatusFilter_ReturnsOnlyThatStatus()
    {
        var a = await CreateAsync("a", "flag-a", T0);
        await CreateAsync("b", "flag-b", T0.AddMinutes(1));
        var c = await CreateAsync("c", "flag-c", T0.AddMinutes(2));
        await CreateAsync("d", "flag-d", T0.AddMinutes(3));
        await SaveAsync(TestPlans.RolledBack(a.State, T0.AddMinutes(5)), 1);
        await SaveAsync(TestPlans.RolledBack(c.State, T0.AddMinutes(5)), 1);

        var rolledBack = await Store.ListAsync(RolloutStatus.RolledBack, 10, Ct);
        var running = await Store.ListAsync(RolloutStatus.Running, 10, Ct);
        var oneRunning = await Store.ListAsync(RolloutStatus.Running, 1, Ct);
        var paused = await Store.ListAsync(RolloutStatus.Paused, 10, Ct);

        Assert.AreSequenceEqual(new[] { "c", "a" }, rolledBack.Select(r => r.State.Id).ToArray());
        Assert.IsTrue(rolledBack.All(r => r.State.Status == RolloutStatus.RolledBack && r.Version == 2));
        Assert.AreSequenceEqual(new[] { "d", "b" }, running.Select(r => r.State.Id).ToArray());
        Assert.AreSequenceEqual(new[] { "d" }, oneRunning.Select(r => r.State.Id).ToArray());
        Assert.IsEmpty(paused);
    }

    [TestMethod]
    public async Task ListChangedSinceAsync_ReturnsOnlyRolloutsUpdatedAtOrAfter()
    {
        var a = await CreateAsync("a", "flag-a", T0);
        await CreateAsync("b", "flag-b", T0.AddMinutes(1));
        await CreateAsync("c", "flag-c", T0.AddMinutes(2));
        var aPaused = TestPlans.Paused(a.State, T0.AddMinutes(3));
        await SaveAsync(aPaused, 1);

        var changed = await Store.ListChangedSinceAsync(T0.AddMinutes(2), Ct);
        var none = await Store.ListChangedSinceAsync(T0.AddMinutes(3).AddMilliseconds(1), Ct);

        CollectionAssert.AreEquivalent(new[] { "a", "c" }, changed.Select(r => r.State.Id).ToArray());
        AssertSameState(aPaused.State, changed.Single(r => r.State.Id == "a").State);
        Assert.AreEqual(2L, changed.Single(r => r.State.Id == "a").Version);
        Assert.IsEmpty(none);
    }

    [TestMethod]
    public async Task ListChangedSinceAsync_KnownVersions_LeavesOutWhatTheCallerHasOrNewer()
    {
        var a = await CreateAsync("a", "flag-a", T0);
        await CreateAsync("b", "flag-b", T0);
        await CreateAsync("c", "flag-c", T0);
        await SaveAsync(TestPlans.Paused(a.State, T0.AddMinutes(1)), 1);

        // a is at version 2 but the caller has 1; b is known at its version; c is "never again".
        var changed = await Store.ListChangedSinceAsync(T0, new Dictionary<string, long> { ["a"] = 1, ["b"] = 1, ["c"] = long.MaxValue }, Ct);
        var unknown = await Store.ListChangedSinceAsync(T0, new Dictionary<string, long>(), Ct);

        Assert.AreEqual("a", changed.Single().State.Id);
        Assert.AreEqual(2L, changed.Single().Version);
        CollectionAssert.AreEquivalent(new[] { "a", "b", "c" }, unknown.Select(r => r.State.Id).ToArray());
    }

    // ---- helpers ---------------------------------------------------------------------------------------------

    protected async Task<StepResult> CreateAsync(string id, string flag, DateTimeOffset at)
    {
        var started = TestPlans.Start(id, flag, at);
        await Store.CreateAsync(started.State, started.Audit, Ct);
        return started;
    }

    protected async Task<bool> SaveAsync(StepResult step, long expectedVersion)
    {
        var saved = await Store.SaveAsync(new Checkpoint(step.State, expectedVersion, step.Audit, null, false), Ct);
        Assert.IsTrue(saved, $"saving {step.State.Id} at version {expectedVersion} was refused");
        return saved;
    }

    protected static AuditEvent Audit(long seq, string note) =>
        new(seq, T0.AddMinutes(1), AuditType.Evaluated, "monitor", JsonSerializer.SerializeToElement(new { note }, RolloutJson.Options));

    protected static void AssertSameState(RolloutState expected, RolloutState? actual)
    {
        Assert.IsNotNull(actual);
        Assert.AreEqual(JsonSerializer.Serialize(expected, RolloutJson.Options), JsonSerializer.Serialize(actual, RolloutJson.Options));
    }

    protected static void AssertSameAudit(IReadOnlyList<AuditEvent> expected, IReadOnlyList<AuditEvent> actual)
    {
        Assert.AreSequenceEqual(expected.Select(e => e.Seq).ToArray(), actual.Select(e => e.Seq).ToArray());
        for (var i = 0; i < expected.Count; i++)
        {
            Assert.AreEqual(expected[i].At, actual[i].At, $"seq {expected[i].Seq}");
            Assert.AreEqual(expected[i].Type, actual[i].Type, $"seq {expected[i].Seq}");
            Assert.AreEqual(expected[i].Actor, actual[i].Actor, $"seq {expected[i].Seq}");
            Assert.IsTrue(JsonElement.DeepEquals(expected[i].Details, actual[i].Details), $"seq {expected[i].Seq}: {expected[i].Details} != {actual[i].Details}");
        }
    }
}
