using System.Collections.Concurrent;
using System.Security.Cryptography;
using Azure;
using Azure.Core;
using Azure.Core.Pipeline;
using Rollout.Core.Storage;
using Rollout.Integrations.Storage.TableStorage;

namespace Rollout.Integrations.Tests.Storage;

/// <summary>
/// The integration store contract on the Table Storage store against a real Azurite (each test on its own tables),
/// plus what is particular to Table Storage: the due index (what DueAsync reads, and how index rows left by a crash
/// heal), answers lost and retried by the pipeline, the table prefix, and values too large for an entity.
/// </summary>
[TestClass]
public sealed class TableIntegrationStoreTests : IntegrationStoreContractTests
{
    private readonly ConcurrentQueue<(HttpMethod Method, Uri Uri)> requests = new();
    private readonly RecordingHandler recorder;
    private AzuriteFixture azurite = null!;
    private TableIntegrationStore tableStore = null!;

    public TableIntegrationStoreTests() => recorder = new RecordingHandler(requests) { InnerHandler = new SocketsHttpHandler() };

    protected override async Task<IntegrationStores> CreateStoresAsync(CancellationToken cancellationToken)
    {
        azurite = await AzuriteFixture.GetAsync(cancellationToken);
        tableStore = TableIntegrationStore.FromConnectionString(azurite.ConnectionString, NewPrefix(), new HttpClientTransport(new HttpClient(recorder)));
        return new IntegrationStores(tableStore);
    }

    protected override Task DeleteStoresAsync() => tableStore.DeleteTablesAsync(CancellationToken.None);

    // ---- the due index ---------------------------------------------------------------------------------------

    [TestMethod]
    public async Task DueAsync_MostlyCompletedOutbox_QueriesOnlyTheDuePartitionAndReadsOnlyDueRecords()
    {
        for (var i = 0; i < 40; i++)
        {
            await Deliveries.EnqueueAsync(Pending($"done-{i:D2}", created: T0.AddSeconds(i)), Ct);
            await Deliveries.CompleteAsync($"done-{i:D2}", DeliveryStatus.Delivered, 1, null, T0.AddMinutes(1), Ct);
        }

        await Deliveries.EnqueueAsync(Pending("pending-1"), Ct);
        await Deliveries.EnqueueAsync(Pending("pending-2", next: T0.AddMinutes(1)), Ct);
        await Deliveries.EnqueueAsync(Pending("later", next: T0.AddHours(1)), Ct);
        requests.Clear();

        var due = await Deliveries.DueAsync(T0.AddMinutes(30), 10, Ct);

        Assert.AreSequenceEqual(new[] { "pending-1", "pending-2" }, due.Select(d => d.Id).ToArray());
        var sent = requests.ToArray();
        var query = Assert.ContainsSingle(sent.Where(r => r.Uri.AbsolutePath.EndsWith("deliveries()", StringComparison.Ordinal)));
        Assert.Contains("PartitionKey eq '|due' and NextAttemptAtMs le", Uri.UnescapeDataString(query.Uri.Query));
        Assert.HasCount(3, sent, string.Join("\n", sent.Select(r => $"{r.Method} {Uri.UnescapeDataString(r.Uri.PathAndQuery)}")));
        Assert.IsTrue(sent.All(r => r.Method == HttpMethod.Get));
    }

    [TestMethod]
    public async Task DueAsync_DueRowLeftByACrashAfterCompletion_IsSkippedAndRemoved()
    {
        await Deliveries.EnqueueAsync(Pending("d1"), Ct);
        await Deliveries.CompleteAsync("d1", DeliveryStatus.Delivered, 1, null, T0.AddMinutes(1), Ct);
        await tableStore.DeliveriesTable.AddEntityAsync(DueRow("d1", T0, DateTimeOffset.UtcNow), Ct);

        var due = await Deliveries.DueAsync(T0.AddMinutes(5), 10, Ct);

        Assert.IsEmpty(due);
        Assert.IsNull(await tableStore.DeliveriesTable.GetEntityAsync(TableIntegrationStore.DuePartition, "d1", Ct));
    }

    [TestMethod]
    public async Task DueAsync_DueRowBehindARetry_IsCorrectedFromTheRecord()
    {
        await Deliveries.EnqueueAsync(Pending("d1"), Ct);
        await Deliveries.RetryLaterAsync("d1", 1, T0.AddMinutes(10), "503", Ct);
        // A crash between the record's update and its due row's: the row still says T0.
        var row = await tableStore.DeliveriesTable.GetEntityAsync(TableIntegrationStore.DuePartition, "d1", Ct);
        await tableStore.DeliveriesTable.UpdateEntityAsync(DueRow("d1", T0, DateTimeOffset.UtcNow), row!.RequireETag(), TableUpdateMode.Replace, Ct);

        Assert.IsEmpty(await Deliveries.DueAsync(T0.AddMinutes(1), 10, Ct));

        var corrected = await tableStore.DeliveriesTable.GetEntityAsync(TableIntegrationStore.DuePartition, "d1", Ct);
        Assert.AreEqual(T0.AddMinutes(10).ToUnixTimeMilliseconds(), corrected?.GetInt64("NextAttemptAtMs"));
        Assert.AreEqual("d1", Assert.ContainsSingle(await Deliveries.DueAsync(T0.AddMinutes(10), 10, Ct)).Id);
    }

    [TestMethod]
    public async Task DueAsync_DueRowWithoutRecord_IsKeptWhileYoungAndRemovedWhenOld()
    {
        // An enqueue that died between its due row and its record.
        await tableStore.DeliveriesTable.AddEntityAsync(DueRow("young", T0, DateTimeOffset.UtcNow), Ct);
        await tableStore.DeliveriesTable.AddEntityAsync(DueRow("old", T0, DateTimeOffset.UtcNow - TableIntegrationStore.OrphanIndexAge - TimeSpan.FromMinutes(1)), Ct);

        Assert.IsEmpty(await Deliveries.DueAsync(T0, 10, Ct));

        Assert.IsNotNull(await tableStore.DeliveriesTable.GetEntityAsync(TableIntegrationStore.DuePartition, "young", Ct));
        Assert.IsNull(await tableStore.DeliveriesTable.GetEntityAsync(TableIntegrationStore.DuePartition, "old", Ct));
        Assert.IsTrue(await Deliveries.EnqueueAsync(Pending("young"), Ct), "the retried enqueue completes");
        Assert.AreEqual("young", Assert.ContainsSingle(await Deliveries.DueAsync(T0, 10, Ct)).Id);
    }

    [TestMethod]
    public async Task EnqueueAsync_StaleDueRowOfADeadEnqueue_IsCorrectedToTheNewDelivery()
    {
        await tableStore.DeliveriesTable.AddEntityAsync(DueRow("d1", T0.AddHours(1), DateTimeOffset.UtcNow), Ct);

        Assert.IsTrue(await Deliveries.EnqueueAsync(Pending("d1"), Ct));

        Assert.AreEqual("d1", Assert.ContainsSingle(await Deliveries.DueAsync(T0, 10, Ct)).Id);
    }

    [TestMethod]
    public async Task ListAsync_IndexRowsOfOtherRolloutsOrMissingRecords_AreIgnored()
    {
        await Deliveries.EnqueueAsync(Pending("d1", "r1"), Ct);
        await tableStore.DeliveriesTable.AddEntityAsync(new TableEntity(TableIntegrationStore.RolloutPartitionPrefix + "r2", "d1") { ["DeliveryId"] = "d1" }, Ct);
        await tableStore.DeliveriesTable.AddEntityAsync(new TableEntity(TableIntegrationStore.RolloutPartitionPrefix + "r2", "ghost") { ["DeliveryId"] = "ghost" }, Ct);

        Assert.IsEmpty(await Deliveries.ListAsync("r2", Ct));
        Assert.AreEqual("d1", Assert.ContainsSingle(await Deliveries.ListAsync("r1", Ct)).Id);
    }

    [TestMethod]
    public async Task WaitingAsync_WaitingRowLeftByACrashAfterResolve_IsSkippedAndRemoved()
    {
        await Waiters.RegisterAsync(Waiter("w1"), Ct);
        await Waiters.ResolveAsync("w1", "succeeded", T0.AddMinutes(1), Ct);
        await tableStore.WaitersTable.AddEntityAsync(
            new TableEntity(TableIntegrationStore.WaitingPartition, "w1") { ["WaiterId"] = "w1", ["CreatedAtMs"] = T0.ToUnixTimeMilliseconds(), ["IndexedAtMs"] = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() },
            Ct);

        Assert.IsEmpty(await Waiters.WaitingAsync(Ct));

        Assert.IsNull(await tableStore.WaitersTable.GetEntityAsync(TableIntegrationStore.WaitingPartition, "w1", Ct));
    }

    // ---- prune -----------------------------------------------------------------------------------------------

    [TestMethod]
    public async Task PruneAsync_EverythingFinished_LeavesNoIndexRowsBehind()
    {
        for (var i = 0; i < 6; i++)
        {
            await Deliveries.EnqueueAsync(Pending($"d{i}", i % 2 == 0 ? "r1" : "r2", T0.AddSeconds(i)), Ct);
        }

        await Deliveries.CompleteAsync("d0", DeliveryStatus.Delivered, 1, null, T0.AddMinutes(1), Ct);
        await Deliveries.CompleteAsync("d1", DeliveryStatus.Superseded, 1, null, T0.AddMinutes(1), Ct);
        await Deliveries.RetryLaterAsync("d2", 1, T0.AddMinutes(5), "503", Ct);
        await Deliveries.CompleteAsync("d2", DeliveryStatus.Failed, 2, "gave up", T0.AddMinutes(6), Ct);
        await Deliveries.CompleteAsync("d3", DeliveryStatus.Delivered, 1, null, T0.AddMinutes(2), Ct);
        await Deliveries.RetryLaterAsync("d4", 1, T0.AddDays(90), "503", Ct); // pending, stays
        await Deliveries.CompleteAsync("d5", DeliveryStatus.Delivered, 1, null, T0.AddDays(40), Ct); // newer, stays
        await Waiters.RegisterAsync(Waiter("w-resolved"), Ct);
        await Waiters.ResolveAsync("w-resolved", "succeeded", T0.AddMinutes(1), Ct);
        await Waiters.RegisterAsync(Waiter("w-waiting"), Ct);
        // A due row left by a crash between a completion and its index update, long ago.
        await tableStore.DeliveriesTable.AddEntityAsync(DueRow("d3", T0, T0), Ct);
        requests.Clear();

        var pruned = await Store.PruneAsync(T0.AddDays(30), T0.AddDays(30), 100, Ct);
        var sent = requests.ToArray();

        Assert.AreEqual(new PruneResult(4, 1, 0), pruned);
        var rows = (await tableStore.DeliveriesTable.QueryListAsync(null, ["PartitionKey", "RowKey"], Ct)).Select(r => $"{r.PartitionKey}/{r.RowKey}").ToArray();
        CollectionAssert.AreEquivalent(
            new[] { "d4/delivery", "d5/delivery", "|due/d4", "|rollout|r1/d4", "|rollout|r2/d5" },
            rows,
            "only the records kept and their index rows");
        var waiterRows = (await tableStore.WaitersTable.QueryListAsync(null, ["PartitionKey", "RowKey"], Ct)).Select(r => $"{r.PartitionKey}/{r.RowKey}").ToArray();
        CollectionAssert.AreEquivalent(new[] { "w-waiting/waiter", "|waiting/w-waiting" }, waiterRows);
        var query = Uri.UnescapeDataString(sent.Single(r => r.Method == HttpMethod.Get && r.Uri.AbsolutePath.EndsWith("deliveries()", StringComparison.Ordinal)).Uri.Query);
        Assert.Contains("Status eq 'Delivered' or Status eq 'Superseded' or Status eq 'Failed'", query);
        Assert.Contains($"CompletedAtMs lt {T0.AddDays(30).ToUnixTimeMilliseconds()}L", query);
        Assert.AreSequenceEqual(new[] { "d4" }, (await Deliveries.ListAsync("r1", Ct)).Select(d => d.Id).ToArray());
        Assert.AreSequenceEqual(new[] { "d5" }, (await Deliveries.ListAsync("r2", Ct)).Select(d => d.Id).ToArray());
        Assert.AreEqual("d4", Assert.ContainsSingle(await Deliveries.DueAsync(T0.AddDays(90), 10, Ct)).Id);
    }

    [TestMethod]
    public async Task PruneAsync_RecordChangedAfterTheQuery_IsKept()
    {
        await Deliveries.EnqueueAsync(Pending("d1"), Ct);
        await Deliveries.CompleteAsync("d1", DeliveryStatus.Delivered, 1, null, T0.AddMinutes(1), Ct);
        await Nonces.TryConsumeAsync("n1", "r1", "alice@contoso.com", T0, Ct);
        recorder.BeforeSend = async request =>
        {
            // Between the query and the delete, someone writes the record: its ETag changes, so the delete is refused (412).
            if (request.Method == HttpMethod.Delete && Uri.UnescapeDataString(request.RequestUri!.AbsolutePath).Contains("PartitionKey='d1',RowKey='delivery'", StringComparison.Ordinal))
            {
                recorder.BeforeSend = null;
                await tableStore.DeliveriesTable.UpdateEntityAsync(new TableEntity("d1", TableIntegrationStore.DeliveryRow) { ["Touched"] = true }, "*", TableUpdateMode.Merge, Ct);
            }
        };

        var pruned = await Store.PruneAsync(T0.AddDays(30), T0.AddDays(30), 100, Ct);

        Assert.IsNull(recorder.BeforeSend, "the delete was attempted");
        Assert.AreEqual(new PruneResult(0, 0, 1), pruned);
        Assert.AreEqual(DeliveryStatus.Delivered, Assert.ContainsSingle(await Deliveries.ListAsync("r1", Ct)).Status);
        Assert.AreEqual(new PruneResult(1, 0, 0), await Store.PruneAsync(T0.AddDays(30), T0.AddDays(30), 100, Ct), "the next prune takes it");
    }

    [TestMethod]
    public async Task EnqueueAsync_RolloutRowLeftByAPruneThatDied_IsRefreshedAndListsTheNewDelivery()
    {
        await Deliveries.EnqueueAsync(Pending("d1"), Ct);
        await Deliveries.CompleteAsync("d1", DeliveryStatus.Delivered, 1, null, T0.AddMinutes(1), Ct);
        // A prune that deleted the record and died before its index rows; the row is as old as the delivery.
        var listed = await tableStore.DeliveriesTable.GetEntityAsync(TableIntegrationStore.RolloutPartitionPrefix + "r1", "d1", Ct);
        await tableStore.DeliveriesTable.UpdateEntityAsync(new TableEntity(listed!.PartitionKey, listed.RowKey) { ["DeliveryId"] = "d1" }, listed.RequireETag(), TableUpdateMode.Replace, Ct);
        await tableStore.DeliveriesTable.DeleteEntityAsync("d1", TableIntegrationStore.DeliveryRow, "*", Ct);

        Assert.IsTrue(await Deliveries.EnqueueAsync(Pending("d1", created: T0.AddDays(31)), Ct));
        await Store.PruneAsync(T0.AddDays(31), T0.AddDays(31), 100, Ct);

        var refreshed = await tableStore.DeliveriesTable.GetEntityAsync(TableIntegrationStore.RolloutPartitionPrefix + "r1", "d1", Ct);
        Assert.IsNotNull(refreshed?.GetInt64("IndexedAtMs"), "the enqueue refreshed the row it relies on");
        Assert.AreEqual(Pending("d1", created: T0.AddDays(31)), Assert.ContainsSingle(await Deliveries.ListAsync("r1", Ct)));
    }

    [TestMethod]
    public async Task ListAsync_RolloutRowWithoutRecord_IsRemovedWhenOldAndKeptWhileYoung()
    {
        var partition = TableIntegrationStore.RolloutPartitionPrefix + "r1";
        await tableStore.DeliveriesTable.AddEntityAsync(new TableEntity(partition, "old") { ["DeliveryId"] = "old" }, Ct);
        await tableStore.DeliveriesTable.AddEntityAsync(new TableEntity(partition, "young") { ["DeliveryId"] = "young", ["IndexedAtMs"] = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() }, Ct);

        Assert.IsEmpty(await Deliveries.ListAsync("r1", Ct));

        Assert.IsNull(await tableStore.DeliveriesTable.GetEntityAsync(partition, "old", Ct));
        Assert.IsNotNull(await tableStore.DeliveriesTable.GetEntityAsync(partition, "young", Ct), "an enqueue under way writes its record next");
    }

    // ---- answers lost and retried ----------------------------------------------------------------------------

    [TestMethod]
    public async Task EnqueueAsync_AnswerLostAndRetriedByThePipeline_ReturnsTrueOnce()
    {
        recorder.LoseAnswerOfInsert(TableIntegrationStore.DeliveryRow);

        Assert.IsTrue(await Deliveries.EnqueueAsync(Pending("d1"), Ct));

        Assert.AreEqual(0, recorder.AnswersToLose, "the insert's answer was lost and the pipeline retried it");
        Assert.IsFalse(await Deliveries.EnqueueAsync(Pending("d1"), Ct));
        Assert.HasCount(1, await Deliveries.ListAsync("r1", Ct));
        Assert.HasCount(1, await Deliveries.DueAsync(T0, 10, Ct));
    }

    [TestMethod]
    public async Task TryConsumeAsync_AnswerLostAndRetriedByThePipeline_ReturnsTrueOnce()
    {
        recorder.LoseAnswerOfInsert(TableIntegrationStore.NonceRow);

        Assert.IsTrue(await Nonces.TryConsumeAsync("n1", "r1", "alice@contoso.com", T0, Ct));

        Assert.AreEqual(0, recorder.AnswersToLose, "the insert's answer was lost and the pipeline retried it");
        Assert.IsFalse(await Nonces.TryConsumeAsync("n1", "r1", "alice@contoso.com", T0, Ct));
    }

    [TestMethod]
    public async Task RegisterAsync_AnswerLostAndRetriedByThePipeline_ReturnsTheWaiterWaiting()
    {
        recorder.LoseAnswerOfInsert(TableIntegrationStore.WaiterRow);

        var registered = await Waiters.RegisterAsync(Waiter("w1"), Ct);

        Assert.AreEqual(0, recorder.AnswersToLose);
        Assert.AreEqual(Waiter("w1"), registered);
        Assert.AreEqual(Waiter("w1"), Assert.ContainsSingle(await Waiters.WaitingAsync(Ct)));
    }

    // ---- values ----------------------------------------------------------------------------------------------

    [TestMethod]
    public async Task EnqueueAsync_PayloadLargerThanAnEntityHolds_ThrowsWithoutThePayloadAndWritesNothing()
    {
        // Random bytes do not compress: about 1.5 MB of text stays over 900 KB as gzip.
        var payload = Convert.ToBase64String(RandomNumberGenerator.GetBytes(1_100_000));
        requests.Clear();

        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => Deliveries.EnqueueAsync(Pending("d1", payload: payload), Ct));

        Assert.DoesNotContain(payload[..32], refused.Message);
        Assert.IsTrue(requests.All(r => r.Method == HttpMethod.Get), "nothing was written");
        Assert.IsEmpty(await Deliveries.ListAsync("r1", Ct));
        Assert.IsEmpty(await Deliveries.DueAsync(T0, 10, Ct));
    }

    [TestMethod]
    public async Task CompleteAsync_ErrorLongerThanAProperty_KeepsItsFirst30000Characters()
    {
        var error = string.Concat(Enumerable.Repeat("0123456789", 4_000));
        await Deliveries.EnqueueAsync(Pending("d1"), Ct);

        await Deliveries.CompleteAsync("d1", DeliveryStatus.Failed, 3, error, T0, Ct);

        Assert.AreEqual(error[..30_000], Assert.ContainsSingle(await Deliveries.ListAsync("r1", Ct)).LastError);
    }

    // ---- construction ----------------------------------------------------------------------------------------

    [TestMethod]
    public async Task InitializeAsync_LongestPrefix_CreatesThreeTablesNamedFromIt()
    {
        var prefix = "p" + new string('9', 49);
        var store = TableIntegrationStore.FromConnectionString(azurite.ConnectionString, prefix);
        try
        {
            await store.InitializeAsync(Ct);

            Assert.IsTrue(await store.EnqueueAsync(Pending("d1"), Ct));
            await store.RegisterAsync(Waiter("w1"), Ct);
            Assert.IsTrue(await store.TryConsumeAsync("n1", "r1", "alice@contoso.com", T0, Ct));
            Assert.AreSequenceEqual(
                new[] { prefix + "deliveries", prefix + "gatewaiters", prefix + "nonces" },
                new[] { store.DeliveriesTable.Name, store.WaitersTable.Name, store.NoncesTable.Name });
            Assert.IsTrue(new[] { store.DeliveriesTable.Name, store.WaitersTable.Name, store.NoncesTable.Name }.All(n => n.Length <= 63));
            Assert.IsNotNull(await store.DeliveriesTable.GetEntityAsync("d1", TableIntegrationStore.DeliveryRow, Ct));
        }
        finally
        {
            await store.DeleteTablesAsync(CancellationToken.None);
        }
    }

    [TestMethod]
    [DataRow("1starts-with-a-digit")]
    [DataRow("has-dash")]
    [DataRow("")]
    [DataRow("p12345678901234567890123456789012345678901234567890")]
    public void FromConnectionString_InvalidPrefix_IsRefused(string prefix)
    {
        var refused = Assert.Throws<ArgumentException>(() => TableIntegrationStore.FromConnectionString(azurite.ConnectionString, prefix));

        Assert.Contains("prefix", refused.Message);
    }

    [TestMethod]
    public void Constructor_TokenCredentialOverHttp_IsRefused()
    {
        var refused = Assert.Throws<ArgumentException>(() => new TableIntegrationStore(azurite.TableEndpoint, new FixedTokenCredential()));

        Assert.Contains("https", refused.Message);
    }

    [TestMethod]
    public async Task InitializeAsync_WrongAccountKey_IsRejectedWith403()
    {
        var wrongKey = Convert.ToBase64String("not the development account's key, 64 bytes long......."u8.ToArray());
        var impostor = TableIntegrationStore.FromConnectionString($"AccountName=devstoreaccount1;AccountKey={wrongKey};TableEndpoint={azurite.TableEndpoint}", NewPrefix());

        var refused = await Assert.ThrowsAsync<RequestFailedException>(() => impostor.InitializeAsync(Ct));

        Assert.AreEqual(403, refused.Status);
        Assert.DoesNotContain(wrongKey, refused.Message);
    }

    // ---- helpers ---------------------------------------------------------------------------------------------

    private static string NewPrefix() => "t" + Guid.NewGuid().ToString("N");

    private static TableEntity DueRow(string key, DateTimeOffset next, DateTimeOffset indexedAt) =>
        new(TableIntegrationStore.DuePartition, key)
        {
            ["DeliveryId"] = key,
            ["CreatedAtMs"] = T0.ToUnixTimeMilliseconds(),
            ["NextAttemptAtMs"] = next.ToUnixTimeMilliseconds(),
            ["IndexedAtMs"] = indexedAt.ToUnixTimeMilliseconds(),
        };

    private sealed class FixedTokenCredential : TokenCredential
    {
        public override AccessToken GetToken(TokenRequestContext requestContext, CancellationToken cancellationToken) => new("token", DateTimeOffset.UtcNow.AddHours(1));

        public override ValueTask<AccessToken> GetTokenAsync(TokenRequestContext requestContext, CancellationToken cancellationToken) => new(GetToken(requestContext, cancellationToken));
    }

    /// <summary>Records requests; can deliver an insert of a record to the service and lose its answer (a 503 instead).</summary>
    private sealed class RecordingHandler(ConcurrentQueue<(HttpMethod, Uri)> requests) : DelegatingHandler
    {
        private string? loseInsertOfRow;

        public int AnswersToLose { get; private set; }

        /// <summary>Runs before each request is sent (and may clear itself).</summary>
        public Func<HttpRequestMessage, Task>? BeforeSend { get; set; }

        /// <summary>Loses the answer of the next insert whose RowKey is <paramref name="rowKey"/>.</summary>
        public void LoseAnswerOfInsert(string rowKey)
        {
            loseInsertOfRow = rowKey;
            AnswersToLose = 1;
        }

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            requests.Enqueue((request.Method, request.RequestUri!));
            if (BeforeSend is { } before)
            {
                await before(request);
            }

            var lose = false;
            if (AnswersToLose > 0 && request.Method == HttpMethod.Post && request.Content is { } content)
            {
                var body = await content.ReadAsStringAsync(cancellationToken);
                lose = body.Contains($"\"RowKey\":\"{loseInsertOfRow}\"", StringComparison.Ordinal);
            }

            var response = await base.SendAsync(request, cancellationToken);
            if (lose && AnswersToLose > 0)
            {
                AnswersToLose--;
                response.Dispose();
                return new HttpResponseMessage(System.Net.HttpStatusCode.ServiceUnavailable) { RequestMessage = request };
            }

            return response;
        }
    }
}
