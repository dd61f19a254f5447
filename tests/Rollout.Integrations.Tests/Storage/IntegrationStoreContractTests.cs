using System.Text;
using Rollout.Core.Storage;

namespace Rollout.Integrations.Tests.Storage;

/// <summary>The three integration ports one store implements (the delivery outbox, gate waiters and approval nonces), and its prune.</summary>
public sealed record IntegrationStores(IIntegrationStore Store)
{
    public IDeliveryStore Deliveries => Store;

    public IGateWaiterStore Waiters => Store;

    public IApprovalNonceStore Nonces => Store;
}

/// <summary>
/// What every store of <see cref="IDeliveryStore"/>, <see cref="IGateWaiterStore"/> and <see cref="IApprovalNonceStore"/>
/// (with <see cref="IIntegrationStore.PruneAsync"/>) must do. A store runs this contract by subclassing with a <see cref="CreateStoresAsync"/> that returns a fresh, empty
/// store (and a cleanup that removes it).
/// </summary>
public abstract class IntegrationStoreContractTests
{
    protected static readonly DateTimeOffset T0 = TestPlans.T0;

    /// <summary>Ids (and rollout ids) with what Table Storage keys may not hold, a quote, non-ASCII and a long one.</summary>
    protected static readonly string[] AwkwardIds =
    [
        "notify:r/1#2?x:teams",
        @"back\slash",
        "tab\tand\u007fdel",
        "it's 'quoted'",
        "exposure:ünïcödé:😀",
        "%2F encoded %3F",
        new string('x', 600) + "/tail",
        new string('x', 600) + "/tall",
    ];

    private IntegrationStores? stores;

    public TestContext TestContext { get; set; } = null!;

    protected IDeliveryStore Deliveries => Stores.Deliveries;

    protected IGateWaiterStore Waiters => Stores.Waiters;

    protected IApprovalNonceStore Nonces => Stores.Nonces;

    protected IIntegrationStore Store => Stores.Store;

    protected CancellationToken Ct => TestContext.CancellationToken;

    private IntegrationStores Stores => stores ?? throw new InvalidOperationException("the store is not created yet");

    /// <summary>Creates a fresh, empty store of the implementation under test (not yet initialized).</summary>
    protected abstract Task<IntegrationStores> CreateStoresAsync(CancellationToken cancellationToken);

    /// <summary>Removes what <see cref="CreateStoresAsync"/> made.</summary>
    protected abstract Task DeleteStoresAsync();

    [TestInitialize]
    public async Task CreateAndInitializeStoresAsync()
    {
        stores = await CreateStoresAsync(Ct);
        await stores.Deliveries.InitializeAsync(Ct);
    }

    [TestCleanup]
    public Task CleanupStoresAsync() => DeleteStoresAsync();

    // ---- enqueue ---------------------------------------------------------------------------------------------

    [TestMethod]
    public async Task EnqueueAsync_NewDelivery_ReturnsTrueAndStoresEveryFieldPending()
    {
        var delivery = new Delivery("notify:r1:3:teams", DeliveryKind.Notification, "r1", "teams", """{"type":"message"}""", T0, T0.AddSeconds(5));

        Assert.IsTrue(await Deliveries.EnqueueAsync(delivery, Ct));

        var stored = Assert.ContainsSingle(await Deliveries.ListAsync("r1", Ct));
        Assert.AreEqual(delivery, stored);
        Assert.AreEqual(DeliveryStatus.Pending, stored.Status);
        Assert.AreEqual(0, stored.Attempts);
        Assert.IsNull(stored.LastError);
        Assert.IsNull(stored.CompletedAt);
    }

    [TestMethod]
    public async Task EnqueueAsync_SameIdTwice_ReturnsFalseAndKeepsTheFirst()
    {
        var first = Pending("d1", payload: "first");
        Assert.IsTrue(await Deliveries.EnqueueAsync(first, Ct));

        var again = await Deliveries.EnqueueAsync(first with { Kind = DeliveryKind.Exposure, Target = "other", Payload = "second", CreatedAt = T0.AddHours(1) }, Ct);

        Assert.IsFalse(again);
        Assert.AreEqual(first, Assert.ContainsSingle(await Deliveries.ListAsync("r1", Ct)));
        Assert.AreEqual(first, Assert.ContainsSingle(await Deliveries.DueAsync(T0.AddDays(1), 10, Ct)));
    }

    [TestMethod]
    public async Task EnqueueAsync_SameIdForAnotherRollout_ReturnsFalseAndListsItOnlyUnderTheFirst()
    {
        Assert.IsTrue(await Deliveries.EnqueueAsync(Pending("d1", "r1"), Ct));

        Assert.IsFalse(await Deliveries.EnqueueAsync(Pending("d1", "r2"), Ct));

        Assert.HasCount(1, await Deliveries.ListAsync("r1", Ct));
        Assert.IsEmpty(await Deliveries.ListAsync("r2", Ct));
        Assert.HasCount(1, await Deliveries.DueAsync(T0, 10, Ct));
    }

    [TestMethod]
    public async Task EnqueueAsync_DeliveryCarryingEarlierAttempts_StoresItNewAndPending()
    {
        var carried = Pending("d1") with { Attempts = 4, Status = DeliveryStatus.Failed, LastError = "boom", CompletedAt = T0 };

        Assert.IsTrue(await Deliveries.EnqueueAsync(carried, Ct));

        Assert.AreEqual(Pending("d1"), Assert.ContainsSingle(await Deliveries.DueAsync(T0, 10, Ct)));
    }

    [TestMethod]
    public async Task EnqueueAsync_SameIdAfterCompletion_ReturnsFalseAndStaysCompleted()
    {
        await Deliveries.EnqueueAsync(Pending("d1"), Ct);
        await Deliveries.CompleteAsync("d1", DeliveryStatus.Delivered, 1, null, T0.AddMinutes(1), Ct);

        Assert.IsFalse(await Deliveries.EnqueueAsync(Pending("d1"), Ct));

        Assert.IsEmpty(await Deliveries.DueAsync(T0.AddDays(1), 10, Ct));
        Assert.AreEqual(DeliveryStatus.Delivered, Assert.ContainsSingle(await Deliveries.ListAsync("r1", Ct)).Status);
    }

    [TestMethod]
    public async Task EnqueueAsync_ConcurrentSameId_ExactlyOneReturnsTrue()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var racers = Enumerable.Range(0, 12).Select(i => Task.Run(async () =>
        {
            await gate.Task;
            return await Deliveries.EnqueueAsync(Pending("d1", payload: $"racer {i}"), Ct);
        })).ToArray();

        gate.SetResult();
        var outcomes = await Task.WhenAll(racers);

        Assert.AreEqual(1, outcomes.Count(o => o));
        var stored = Assert.ContainsSingle(await Deliveries.ListAsync("r1", Ct));
        Assert.AreEqual($"racer {Array.IndexOf(outcomes, true)}", stored.Payload, "the one told it was new is the one stored");
        Assert.HasCount(1, await Deliveries.DueAsync(T0, 10, Ct));
    }

    [TestMethod]
    [DataRow(100_000)]
    [DataRow(700_000)]
    public async Task EnqueueAsync_LargePayload_RoundTripsExactly(int length)
    {
        var payload = CardJson(length);
        await Deliveries.EnqueueAsync(Pending("d1", payload: payload), Ct);

        var due = Assert.ContainsSingle(await Deliveries.DueAsync(T0, 10, Ct));
        var listed = Assert.ContainsSingle(await Deliveries.ListAsync("r1", Ct));

        Assert.AreEqual(payload.Length, due.Payload.Length);
        Assert.AreEqual(payload, due.Payload);
        Assert.AreEqual(payload, listed.Payload);
    }

    [TestMethod]
    public async Task EnqueueAsync_TimesWithAnOffsetAndSubMilliseconds_ComeBackAsTheSameInstantToTheMillisecond()
    {
        var created = new DateTimeOffset(2026, 3, 1, 12, 0, 0, TimeSpan.FromHours(2)).AddTicks(1_234_567);
        var next = created.AddTicks(5_000_999);
        await Deliveries.EnqueueAsync(Pending("d1") with { CreatedAt = created, NextAttemptAt = next }, Ct);

        var stored = Assert.ContainsSingle(await Deliveries.ListAsync("r1", Ct));

        Assert.AreEqual(created.ToUnixTimeMilliseconds(), stored.CreatedAt.ToUnixTimeMilliseconds());
        Assert.AreEqual(DateTimeOffset.FromUnixTimeMilliseconds(created.ToUnixTimeMilliseconds()), stored.CreatedAt);
        Assert.AreEqual(DateTimeOffset.FromUnixTimeMilliseconds(next.ToUnixTimeMilliseconds()), stored.NextAttemptAt);
        Assert.IsEmpty(await Deliveries.DueAsync(DateTimeOffset.FromUnixTimeMilliseconds(next.ToUnixTimeMilliseconds() - 1), 10, Ct));
        Assert.HasCount(1, await Deliveries.DueAsync(DateTimeOffset.FromUnixTimeMilliseconds(next.ToUnixTimeMilliseconds()), 10, Ct));
    }

    [TestMethod]
    public async Task EnqueueAsync_IdsWithReservedCharacters_StayDistinctAndRoundTrip()
    {
        for (var i = 0; i < AwkwardIds.Length; i++)
        {
            Assert.IsTrue(await Deliveries.EnqueueAsync(Pending(AwkwardIds[i], AwkwardIds[(i + 1) % AwkwardIds.Length], T0.AddSeconds(i)), Ct), AwkwardIds[i]);
        }

        var due = await Deliveries.DueAsync(T0.AddMinutes(1), 100, Ct);
        await Deliveries.CompleteAsync(AwkwardIds[0], DeliveryStatus.Delivered, 1, null, T0.AddMinutes(1), Ct);
        await Deliveries.RetryLaterAsync(AwkwardIds[6], 1, T0.AddHours(1), "later", Ct);

        Assert.AreSequenceEqual(AwkwardIds, due.Select(d => d.Id).ToArray());
        for (var i = 0; i < AwkwardIds.Length; i++)
        {
            var listed = Assert.ContainsSingle(await Deliveries.ListAsync(AwkwardIds[(i + 1) % AwkwardIds.Length], Ct));
            Assert.AreEqual(AwkwardIds[i], listed.Id);
        }

        Assert.AreSequenceEqual(
            AwkwardIds.Except([AwkwardIds[0], AwkwardIds[6]]).ToArray(),
            (await Deliveries.DueAsync(T0.AddMinutes(1), 100, Ct)).Select(d => d.Id).ToArray());
        Assert.IsFalse(await Deliveries.EnqueueAsync(Pending(AwkwardIds[7], "other"), Ct), "the two long ids sharing a prefix are still told apart");
    }

    // ---- due -------------------------------------------------------------------------------------------------

    [TestMethod]
    public async Task DueAsync_PendingDeliveries_ReturnsThemOldestFirstThenById()
    {
        // Enqueued out of order; b and a share a creation time.
        await Deliveries.EnqueueAsync(Pending("c", created: T0.AddSeconds(2)), Ct);
        await Deliveries.EnqueueAsync(Pending("b", created: T0.AddSeconds(1)), Ct);
        await Deliveries.EnqueueAsync(Pending("d", "r2", created: T0), Ct);
        await Deliveries.EnqueueAsync(Pending("a", created: T0.AddSeconds(1)), Ct);

        var due = await Deliveries.DueAsync(T0.AddMinutes(1), 10, Ct);

        Assert.AreSequenceEqual(new[] { "d", "a", "b", "c" }, due.Select(d => d.Id).ToArray());
    }

    [TestMethod]
    public async Task DueAsync_MoreDueThanMax_ReturnsTheOldestMax()
    {
        for (var i = 4; i >= 0; i--)
        {
            await Deliveries.EnqueueAsync(Pending($"d{i}", created: T0.AddSeconds(i)), Ct);
        }

        Assert.AreSequenceEqual(new[] { "d0", "d1" }, (await Deliveries.DueAsync(T0.AddMinutes(1), 2, Ct)).Select(d => d.Id).ToArray());
        Assert.HasCount(5, await Deliveries.DueAsync(T0.AddMinutes(1), 5, Ct));
        Assert.IsEmpty(await Deliveries.DueAsync(T0.AddMinutes(1), 0, Ct));
    }

    [TestMethod]
    public async Task DueAsync_NextAttemptLater_IsNotDueUntilThen()
    {
        await Deliveries.EnqueueAsync(Pending("later", next: T0.AddMinutes(5)), Ct);
        await Deliveries.EnqueueAsync(Pending("now", next: T0), Ct);

        Assert.AreSequenceEqual(new[] { "now" }, (await Deliveries.DueAsync(T0, 10, Ct)).Select(d => d.Id).ToArray());
        Assert.AreSequenceEqual(new[] { "now" }, (await Deliveries.DueAsync(T0.AddMinutes(5).AddMilliseconds(-1), 10, Ct)).Select(d => d.Id).ToArray());
        Assert.HasCount(2, await Deliveries.DueAsync(T0.AddMinutes(5), 10, Ct), "due at exactly its next attempt");
    }

    [TestMethod]
    public async Task DueAsync_MostlyCompletedOutbox_ReturnsOnlyThePendingOnes()
    {
        for (var i = 0; i < 30; i++)
        {
            await Deliveries.EnqueueAsync(Pending($"done-{i:D2}", created: T0.AddSeconds(i)), Ct);
        }

        await Deliveries.EnqueueAsync(Pending("pending-1", created: T0.AddSeconds(10)), Ct);
        await Deliveries.EnqueueAsync(Pending("pending-2", "r2", created: T0.AddSeconds(40)), Ct);
        for (var i = 0; i < 30; i++)
        {
            await Deliveries.CompleteAsync($"done-{i:D2}", (DeliveryStatus)(1 + (i % 3)), 1, i % 3 == 2 ? "gave up" : null, T0.AddMinutes(1), Ct);
        }

        var due = await Deliveries.DueAsync(T0.AddHours(1), 10, Ct);

        Assert.AreSequenceEqual(new[] { "pending-1", "pending-2" }, due.Select(d => d.Id).ToArray());
        Assert.HasCount(31, await Deliveries.ListAsync("r1", Ct));
    }

    // ---- complete --------------------------------------------------------------------------------------------

    [TestMethod]
    public async Task CompleteAsync_Delivered_RecordsStatusAttemptsAndTimeAndIsNoLongerDue()
    {
        var delivery = Pending("d1");
        await Deliveries.EnqueueAsync(delivery, Ct);

        await Deliveries.CompleteAsync("d1", DeliveryStatus.Delivered, 2, null, T0.AddMinutes(3), Ct);

        Assert.IsEmpty(await Deliveries.DueAsync(T0.AddDays(1), 10, Ct));
        var stored = Assert.ContainsSingle(await Deliveries.ListAsync("r1", Ct));
        Assert.AreEqual(delivery with { Status = DeliveryStatus.Delivered, Attempts = 2, CompletedAt = T0.AddMinutes(3) }, stored);
    }

    [TestMethod]
    [DataRow(DeliveryStatus.Superseded, null)]
    [DataRow(DeliveryStatus.Failed, "channel 'ops' is not configured")]
    public async Task CompleteAsync_FinalStatus_RecordsItWithTheError(DeliveryStatus status, string? error)
    {
        await Deliveries.EnqueueAsync(Pending("d1"), Ct);

        await Deliveries.CompleteAsync("d1", status, 7, error, T0.AddMinutes(1), Ct);

        var stored = Assert.ContainsSingle(await Deliveries.ListAsync("r1", Ct));
        Assert.AreEqual(status, stored.Status);
        Assert.AreEqual(7, stored.Attempts);
        Assert.AreEqual(error, stored.LastError);
        Assert.AreEqual(T0.AddMinutes(1), stored.CompletedAt);
        Assert.IsEmpty(await Deliveries.DueAsync(T0.AddDays(1), 10, Ct));
    }

    [TestMethod]
    public async Task CompleteAsync_AfterAFailedAttemptWithoutError_ClearsTheLastError()
    {
        await Deliveries.EnqueueAsync(Pending("d1"), Ct);
        await Deliveries.RetryLaterAsync("d1", 1, T0.AddMinutes(1), "503 Service Unavailable", Ct);

        await Deliveries.CompleteAsync("d1", DeliveryStatus.Delivered, 2, null, T0.AddMinutes(2), Ct);

        var stored = Assert.ContainsSingle(await Deliveries.ListAsync("r1", Ct));
        Assert.IsNull(stored.LastError);
        Assert.AreEqual(T0.AddMinutes(1), stored.NextAttemptAt, "completing keeps the last schedule");
    }

    [TestMethod]
    public async Task CompleteAsync_AlreadyCompleted_KeepsTheFirstCompletion()
    {
        await Deliveries.EnqueueAsync(Pending("d1"), Ct);
        await Deliveries.CompleteAsync("d1", DeliveryStatus.Delivered, 1, null, T0.AddMinutes(1), Ct);

        await Deliveries.CompleteAsync("d1", DeliveryStatus.Failed, 5, "late", T0.AddMinutes(2), Ct);

        var stored = Assert.ContainsSingle(await Deliveries.ListAsync("r1", Ct));
        Assert.AreEqual(DeliveryStatus.Delivered, stored.Status);
        Assert.AreEqual(1, stored.Attempts);
        Assert.IsNull(stored.LastError);
        Assert.AreEqual(T0.AddMinutes(1), stored.CompletedAt);
    }

    [TestMethod]
    public async Task CompleteAsync_ConcurrentWorkers_OneCompletionStaysWhole()
    {
        await Deliveries.EnqueueAsync(Pending("d1"), Ct);
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var workers = Enumerable.Range(1, 8).Select(i => Task.Run(async () =>
        {
            await gate.Task;
            await Deliveries.CompleteAsync("d1", i % 2 == 0 ? DeliveryStatus.Delivered : DeliveryStatus.Failed, i, $"worker {i}", T0.AddMinutes(i), Ct);
        })).ToArray();

        gate.SetResult();
        await Task.WhenAll(workers);

        var stored = Assert.ContainsSingle(await Deliveries.ListAsync("r1", Ct));
        var worker = stored.Attempts;
        Assert.IsTrue(worker is >= 1 and <= 8);
        Assert.AreEqual(worker % 2 == 0 ? DeliveryStatus.Delivered : DeliveryStatus.Failed, stored.Status);
        Assert.AreEqual($"worker {worker}", stored.LastError);
        Assert.AreEqual(T0.AddMinutes(worker), stored.CompletedAt);
        Assert.IsEmpty(await Deliveries.DueAsync(T0.AddDays(1), 10, Ct));
    }

    [TestMethod]
    public async Task CompleteAsync_UnknownId_ChangesNothing()
    {
        await Deliveries.EnqueueAsync(Pending("d1"), Ct);

        await Deliveries.CompleteAsync("d2", DeliveryStatus.Delivered, 1, null, T0, Ct);

        Assert.AreEqual(Pending("d1"), Assert.ContainsSingle(await Deliveries.DueAsync(T0, 10, Ct)));
    }

    [TestMethod]
    public async Task CompleteAsync_PendingStatus_ThrowsAndChangesNothing()
    {
        await Deliveries.EnqueueAsync(Pending("d1"), Ct);

        await Assert.ThrowsAsync<ArgumentException>(() => Deliveries.CompleteAsync("d1", DeliveryStatus.Pending, 1, null, T0, Ct));

        Assert.AreEqual(Pending("d1"), Assert.ContainsSingle(await Deliveries.DueAsync(T0, 10, Ct)));
    }

    // ---- retry later -----------------------------------------------------------------------------------------

    [TestMethod]
    public async Task RetryLaterAsync_Pending_RecordsTheAttemptAndIsDueAgainAtTheNextAttempt()
    {
        var delivery = Pending("d1");
        await Deliveries.EnqueueAsync(delivery, Ct);

        await Deliveries.RetryLaterAsync("d1", 1, T0.AddSeconds(30), "HttpRequestException: connection refused", Ct);

        Assert.IsEmpty(await Deliveries.DueAsync(T0.AddSeconds(29), 10, Ct));
        var due = Assert.ContainsSingle(await Deliveries.DueAsync(T0.AddSeconds(30), 10, Ct));
        Assert.AreEqual(delivery with { Attempts = 1, NextAttemptAt = T0.AddSeconds(30), LastError = "HttpRequestException: connection refused" }, due);
        Assert.AreEqual(due, Assert.ContainsSingle(await Deliveries.ListAsync("r1", Ct)));
    }

    [TestMethod]
    public async Task RetryLaterAsync_RescheduledEarlier_IsDueAtTheLatestSchedule()
    {
        await Deliveries.EnqueueAsync(Pending("d1"), Ct);
        await Deliveries.RetryLaterAsync("d1", 1, T0.AddMinutes(10), "first", Ct);

        await Deliveries.RetryLaterAsync("d1", 2, T0.AddMinutes(1), "retry-after 60", Ct);

        var due = Assert.ContainsSingle(await Deliveries.DueAsync(T0.AddMinutes(1), 10, Ct));
        Assert.AreEqual(2, due.Attempts);
        Assert.AreEqual("retry-after 60", due.LastError);
    }

    [TestMethod]
    public async Task RetryLaterAsync_Completed_ChangesNothing()
    {
        await Deliveries.EnqueueAsync(Pending("d1"), Ct);
        await Deliveries.CompleteAsync("d1", DeliveryStatus.Superseded, 1, null, T0.AddMinutes(1), Ct);

        await Deliveries.RetryLaterAsync("d1", 2, T0.AddMinutes(2), "late worker", Ct);

        var stored = Assert.ContainsSingle(await Deliveries.ListAsync("r1", Ct));
        Assert.AreEqual(DeliveryStatus.Superseded, stored.Status);
        Assert.AreEqual(1, stored.Attempts);
        Assert.IsNull(stored.LastError);
        Assert.IsEmpty(await Deliveries.DueAsync(T0.AddDays(1), 10, Ct));
    }

    [TestMethod]
    public async Task RetryLaterAsync_UnknownId_ChangesNothing()
    {
        await Deliveries.RetryLaterAsync("d1", 1, T0, "nothing there", Ct);

        Assert.IsEmpty(await Deliveries.DueAsync(T0.AddDays(1), 10, Ct));
        Assert.IsEmpty(await Deliveries.ListAsync("r1", Ct));
    }

    // ---- list ------------------------------------------------------------------------------------------------

    [TestMethod]
    public async Task ListAsync_Rollout_ReturnsItsDeliveriesInEveryStatusOldestFirst()
    {
        await Deliveries.EnqueueAsync(Pending("r1-c", created: T0.AddSeconds(3)), Ct);
        await Deliveries.EnqueueAsync(Pending("r1-a", created: T0.AddSeconds(1)), Ct);
        await Deliveries.EnqueueAsync(Pending("r2-a", "r2", created: T0), Ct);
        await Deliveries.EnqueueAsync(Pending("r1-b", created: T0.AddSeconds(2)), Ct);
        await Deliveries.CompleteAsync("r1-a", DeliveryStatus.Delivered, 1, null, T0.AddMinutes(1), Ct);
        await Deliveries.RetryLaterAsync("r1-b", 1, T0.AddMinutes(5), "timeout", Ct);

        var list = await Deliveries.ListAsync("r1", Ct);

        Assert.AreSequenceEqual(new[] { "r1-a", "r1-b", "r1-c" }, list.Select(d => d.Id).ToArray());
        Assert.AreSequenceEqual(
            new[] { DeliveryStatus.Delivered, DeliveryStatus.Pending, DeliveryStatus.Pending },
            list.Select(d => d.Status).ToArray());
        Assert.AreEqual("r2-a", Assert.ContainsSingle(await Deliveries.ListAsync("r2", Ct)).Id);
    }

    [TestMethod]
    public async Task ListAsync_UnknownRollout_ReturnsEmpty()
    {
        await Deliveries.EnqueueAsync(Pending("d1"), Ct);

        Assert.IsEmpty(await Deliveries.ListAsync("r9", Ct));
    }

    [TestMethod]
    public async Task InitializeAsync_Again_KeepsEverything()
    {
        await Deliveries.EnqueueAsync(Pending("d1"), Ct);
        await Waiters.RegisterAsync(Waiter("w1"), Ct);
        await Nonces.TryConsumeAsync("n1", "r1", "alice@contoso.com", T0, Ct);

        await Deliveries.InitializeAsync(Ct);

        Assert.HasCount(1, await Deliveries.DueAsync(T0, 10, Ct));
        Assert.HasCount(1, await Waiters.WaitingAsync(Ct));
        Assert.IsTrue(await Nonces.IsConsumedAsync("n1", Ct));
    }

    // ---- gate waiters ----------------------------------------------------------------------------------------

    [TestMethod]
    public async Task RegisterAsync_NewWaiter_ReturnsItWaitingWithTheWholeCallback()
    {
        var callback = Callback("plan-1", token: "eyJ0eXAiOiJKV1Qi.secret-job-token");
        var waiter = new GateWaiter(callback.WaiterId, "r1", "canary 5%", callback, T0);

        var registered = await Waiters.RegisterAsync(waiter, Ct);

        Assert.AreEqual(waiter, registered);
        var waiting = Assert.ContainsSingle(await Waiters.WaitingAsync(Ct));
        Assert.AreEqual(waiter, waiting);
        Assert.AreEqual("eyJ0eXAiOiJKV1Qi.secret-job-token", waiting.Callback.AuthToken);
        Assert.AreEqual("timeline-1", waiting.Callback.TimelineId);
        Assert.AreEqual(GateWaiterStatus.Waiting, waiting.Status);
        Assert.IsNull(waiting.Result);
        Assert.IsNull(waiting.ResolvedAt);
    }

    [TestMethod]
    public async Task RegisterAsync_SameIdAgain_ReturnsTheFirstAndKeepsOne()
    {
        var first = Waiter("w1");
        await Waiters.RegisterAsync(first, Ct);

        var again = await Waiters.RegisterAsync(Waiter("w1", "r2", "canary 5%", T0.AddMinutes(5)) with { Callback = Callback("plan-2", token: "newer-token") }, Ct);

        Assert.AreEqual(first, again);
        Assert.AreEqual(first, Assert.ContainsSingle(await Waiters.WaitingAsync(Ct)));
    }

    [TestMethod]
    public async Task RegisterAsync_AfterResolve_ReturnsTheResolvedWaiterAndDoesNotWaitAgain()
    {
        await Waiters.RegisterAsync(Waiter("w1"), Ct);
        await Waiters.ResolveAsync("w1", "succeeded", T0.AddMinutes(2), Ct);

        var again = await Waiters.RegisterAsync(Waiter("w1"), Ct);

        Assert.AreEqual(Waiter("w1") with { Status = GateWaiterStatus.Resolved, Result = "succeeded", ResolvedAt = T0.AddMinutes(2) }, again);
        Assert.IsEmpty(await Waiters.WaitingAsync(Ct));
    }

    [TestMethod]
    public async Task RegisterAsync_ResolvedFieldsOnANewWaiter_StoresItWaiting()
    {
        var registered = await Waiters.RegisterAsync(Waiter("w1") with { Status = GateWaiterStatus.Resolved, Result = "failed", ResolvedAt = T0 }, Ct);

        Assert.AreEqual(Waiter("w1"), registered);
        Assert.AreEqual(Waiter("w1"), Assert.ContainsSingle(await Waiters.WaitingAsync(Ct)));
    }

    [TestMethod]
    public async Task RegisterAsync_ConcurrentSameId_AllGetTheSameWaiter()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var racers = Enumerable.Range(0, 10).Select(i => Task.Run(async () =>
        {
            await gate.Task;
            return await Waiters.RegisterAsync(Waiter("w1", until: $"stage-{i}"), Ct);
        })).ToArray();

        gate.SetResult();
        var registered = await Task.WhenAll(racers);

        var stored = Assert.ContainsSingle(await Waiters.WaitingAsync(Ct));
        Assert.IsTrue(registered.All(w => w == stored), string.Join(", ", registered.Select(w => w.Until)));
    }

    [TestMethod]
    public async Task WaitingAsync_SeveralWaiters_ReturnsTheWaitingOnesOldestFirst()
    {
        await Waiters.RegisterAsync(Waiter("w3", created: T0.AddSeconds(3)), Ct);
        await Waiters.RegisterAsync(Waiter("w1", created: T0.AddSeconds(1)), Ct);
        await Waiters.RegisterAsync(Waiter("w2", "r2", created: T0.AddSeconds(2)), Ct);
        await Waiters.RegisterAsync(Waiter("w0", created: T0), Ct);
        await Waiters.ResolveAsync("w0", "failed", T0.AddMinutes(1), Ct);

        var waiting = await Waiters.WaitingAsync(Ct);

        Assert.AreSequenceEqual(new[] { "w1", "w2", "w3" }, waiting.Select(w => w.Id).ToArray());
    }

    [TestMethod]
    public async Task ResolveAsync_Waiting_RecordsTheResultAndStopsWaiting()
    {
        await Waiters.RegisterAsync(Waiter("w1"), Ct);
        await Waiters.RegisterAsync(Waiter("w2"), Ct);

        await Waiters.ResolveAsync("w1", "succeeded", T0.AddMinutes(4), Ct);

        Assert.AreEqual("w2", Assert.ContainsSingle(await Waiters.WaitingAsync(Ct)).Id);
        var resolved = await Waiters.RegisterAsync(Waiter("w1"), Ct);
        Assert.AreEqual(GateWaiterStatus.Resolved, resolved.Status);
        Assert.AreEqual("succeeded", resolved.Result);
        Assert.AreEqual(T0.AddMinutes(4), resolved.ResolvedAt);
    }

    [TestMethod]
    public async Task ResolveAsync_Twice_KeepsTheFirstResult()
    {
        await Waiters.RegisterAsync(Waiter("w1"), Ct);
        await Waiters.ResolveAsync("w1", "failed", T0.AddMinutes(1), Ct);

        await Waiters.ResolveAsync("w1", "succeeded", T0.AddMinutes(2), Ct);

        var stored = await Waiters.RegisterAsync(Waiter("w1"), Ct);
        Assert.AreEqual("failed", stored.Result);
        Assert.AreEqual(T0.AddMinutes(1), stored.ResolvedAt);
    }

    [TestMethod]
    public async Task ResolveAsync_UnknownId_ChangesNothing()
    {
        await Waiters.RegisterAsync(Waiter("w1"), Ct);

        await Waiters.ResolveAsync("w2", "succeeded", T0, Ct);

        Assert.AreEqual(Waiter("w1"), Assert.ContainsSingle(await Waiters.WaitingAsync(Ct)));
    }

    [TestMethod]
    public async Task RegisterAndResolveAsync_IdsWithReservedCharacters_StayDistinct()
    {
        for (var i = 0; i < AwkwardIds.Length; i++)
        {
            await Waiters.RegisterAsync(Waiter(AwkwardIds[i], AwkwardIds[i], created: T0.AddSeconds(i)), Ct);
        }

        await Waiters.ResolveAsync(AwkwardIds[6], "succeeded", T0.AddMinutes(1), Ct);

        var waiting = await Waiters.WaitingAsync(Ct);
        Assert.AreSequenceEqual(AwkwardIds.Where((_, i) => i != 6).ToArray(), waiting.Select(w => w.Id).ToArray());
        Assert.IsTrue(waiting.All(w => w.RolloutId == w.Id));
        Assert.AreEqual(GateWaiterStatus.Resolved, (await Waiters.RegisterAsync(Waiter(AwkwardIds[6]), Ct)).Status);
        Assert.AreEqual(GateWaiterStatus.Waiting, (await Waiters.RegisterAsync(Waiter(AwkwardIds[7]), Ct)).Status);
    }

    // ---- approval nonces -------------------------------------------------------------------------------------

    [TestMethod]
    public async Task TryConsumeAsync_FirstTime_ReturnsTrueAndThenFalseForEveryReplay()
    {
        Assert.IsFalse(await Nonces.IsConsumedAsync("n1", Ct));

        Assert.IsTrue(await Nonces.TryConsumeAsync("n1", "r1", "alice@contoso.com", T0, Ct));

        Assert.IsTrue(await Nonces.IsConsumedAsync("n1", Ct));
        Assert.IsFalse(await Nonces.TryConsumeAsync("n1", "r1", "alice@contoso.com", T0, Ct), "the same request replayed");
        Assert.IsFalse(await Nonces.TryConsumeAsync("n1", "r2", "mallory@contoso.com", T0.AddMinutes(1), Ct), "another approver");
    }

    [TestMethod]
    public async Task TryConsumeAsync_OtherNonces_AreIndependent()
    {
        await Nonces.TryConsumeAsync("n1", "r1", "alice@contoso.com", T0, Ct);

        Assert.IsFalse(await Nonces.IsConsumedAsync("n2", Ct));
        Assert.IsFalse(await Nonces.IsConsumedAsync("N1", Ct), "nonces are case-sensitive");
        Assert.IsTrue(await Nonces.TryConsumeAsync("n2", "r1", "alice@contoso.com", T0, Ct));
        Assert.IsTrue(await Nonces.TryConsumeAsync("N1", "r1", "alice@contoso.com", T0, Ct));
    }

    [TestMethod]
    public async Task TryConsumeAsync_ManyConcurrentTries_ExactlyOneReturnsTrue()
    {
        for (var round = 0; round < 3; round++)
        {
            var nonce = $"race-{round}";
            var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var racers = Enumerable.Range(0, 24).Select(i => Task.Run(async () =>
            {
                await gate.Task;
                return await Nonces.TryConsumeAsync(nonce, "r1", $"approver-{i}@contoso.com", T0, Ct);
            })).ToArray();

            gate.SetResult();
            var outcomes = await Task.WhenAll(racers);

            Assert.AreEqual(1, outcomes.Count(o => o), $"round {round}");
            Assert.IsTrue(await Nonces.IsConsumedAsync(nonce, Ct));
        }
    }

    [TestMethod]
    public async Task TryConsumeAsync_NoncesWithReservedCharacters_StayDistinct()
    {
        foreach (var nonce in AwkwardIds)
        {
            Assert.IsTrue(await Nonces.TryConsumeAsync(nonce, "r1", "alice@contoso.com", T0, Ct), nonce);
        }

        foreach (var nonce in AwkwardIds)
        {
            Assert.IsTrue(await Nonces.IsConsumedAsync(nonce, Ct), nonce);
            Assert.IsFalse(await Nonces.TryConsumeAsync(nonce, "r1", "alice@contoso.com", T0, Ct), nonce);
        }

        Assert.IsFalse(await Nonces.IsConsumedAsync(new string('x', 600) + "/tale", Ct));
    }

    // ---- prune -----------------------------------------------------------------------------------------------

    [TestMethod]
    public async Task PruneAsync_FinalDeliveriesCompletedBeforeTheCutoff_RemovesThemAndKeepsPendingAndNewerOnes()
    {
        var cutoff = T0.AddDays(30);
        await Deliveries.EnqueueAsync(Pending("old-delivered", created: T0), Ct);
        await Deliveries.EnqueueAsync(Pending("old-superseded", created: T0.AddSeconds(1)), Ct);
        await Deliveries.EnqueueAsync(Pending("old-failed", "r2", created: T0.AddSeconds(2)), Ct);
        await Deliveries.EnqueueAsync(Pending("at-cutoff", created: T0.AddSeconds(3)), Ct);
        await Deliveries.EnqueueAsync(Pending("new-delivered", created: T0.AddSeconds(4)), Ct);
        await Deliveries.EnqueueAsync(Pending("old-pending", created: T0.AddSeconds(5)), Ct);
        await Deliveries.EnqueueAsync(Pending("old-retrying", "r2", created: T0.AddSeconds(6)), Ct);
        await Deliveries.CompleteAsync("old-delivered", DeliveryStatus.Delivered, 1, null, T0.AddMinutes(1), Ct);
        await Deliveries.CompleteAsync("old-superseded", DeliveryStatus.Superseded, 1, null, T0.AddMinutes(1), Ct);
        await Deliveries.CompleteAsync("old-failed", DeliveryStatus.Failed, 12, "gave up", T0.AddDays(2), Ct);
        await Deliveries.CompleteAsync("at-cutoff", DeliveryStatus.Delivered, 1, null, cutoff, Ct);
        await Deliveries.CompleteAsync("new-delivered", DeliveryStatus.Delivered, 1, null, cutoff.AddDays(1), Ct);
        await Deliveries.RetryLaterAsync("old-retrying", 3, T0.AddDays(60), "503", Ct);

        var pruned = await Store.PruneAsync(cutoff, cutoff, 100, Ct);

        Assert.AreEqual(new PruneResult(3, 0, 0, More: false), pruned);
        Assert.AreSequenceEqual(new[] { "at-cutoff", "new-delivered", "old-pending" }, (await Deliveries.ListAsync("r1", Ct)).Select(d => d.Id).ToArray());
        Assert.AreEqual("old-retrying", Assert.ContainsSingle(await Deliveries.ListAsync("r2", Ct)).Id);
        Assert.AreSequenceEqual(new[] { "old-pending", "old-retrying" }, (await Deliveries.DueAsync(T0.AddDays(90), 10, Ct)).Select(d => d.Id).ToArray());
        Assert.AreEqual(default, await Store.PruneAsync(cutoff, cutoff, 100, Ct), "nothing more to prune");
    }

    [TestMethod]
    public async Task PruneAsync_ResolvedWaitersResolvedBeforeTheCutoff_RemovesOnlyThem()
    {
        await Waiters.RegisterAsync(Waiter("old-resolved", created: T0), Ct);
        await Waiters.RegisterAsync(Waiter("new-resolved", created: T0.AddSeconds(1)), Ct);
        await Waiters.RegisterAsync(Waiter("old-waiting", created: T0.AddSeconds(2)), Ct);
        await Waiters.RegisterAsync(Waiter("new-waiting", "r2", created: T0.AddDays(20)), Ct);
        await Waiters.ResolveAsync("old-resolved", "succeeded", T0.AddDays(1), Ct);
        await Waiters.ResolveAsync("new-resolved", "failed", T0.AddDays(40), Ct);

        var pruned = await Store.PruneAsync(T0.AddDays(30), T0.AddDays(30), 100, Ct);

        Assert.AreEqual(new PruneResult(0, 1, 0), pruned);
        Assert.AreSequenceEqual(new[] { "old-waiting", "new-waiting" }, (await Waiters.WaitingAsync(Ct)).Select(w => w.Id).ToArray());
        Assert.AreEqual(GateWaiterStatus.Resolved, (await Waiters.RegisterAsync(Waiter("new-resolved"), Ct)).Status, "a newer resolved waiter stays");
        Assert.AreEqual(
            Waiter("old-resolved", created: T0.AddDays(31)),
            await Waiters.RegisterAsync(Waiter("old-resolved", created: T0.AddDays(31)), Ct),
            "a pruned waiter is forgotten: registered again, it is a new waiter");
    }

    [TestMethod]
    public async Task PruneAsync_NoncesConsumedBeforeTheirCutoff_RemovesOnlyThemWhateverTheOtherCutoff()
    {
        await Nonces.TryConsumeAsync("old", "r1", "alice@contoso.com", T0, Ct);
        await Nonces.TryConsumeAsync("at-cutoff", "r1", "alice@contoso.com", T0.AddDays(3), Ct);
        await Nonces.TryConsumeAsync("new", "r1", "alice@contoso.com", T0.AddDays(5), Ct);

        var pruned = await Store.PruneAsync(T0.AddDays(30), T0.AddDays(3), 100, Ct);

        Assert.AreEqual(new PruneResult(0, 0, 1), pruned);
        Assert.IsFalse(await Nonces.IsConsumedAsync("old", Ct));
        Assert.IsTrue(await Nonces.IsConsumedAsync("at-cutoff", Ct));
        Assert.IsTrue(await Nonces.IsConsumedAsync("new", Ct));
        Assert.IsFalse(await Nonces.TryConsumeAsync("new", "r1", "alice@contoso.com", T0.AddDays(6), Ct));
        Assert.IsTrue(await Nonces.TryConsumeAsync("old", "r1", "alice@contoso.com", T0.AddDays(6), Ct), "a pruned nonce is forgotten (its link expired long ago)");
    }

    [TestMethod]
    public async Task PruneAsync_MoreThanMax_RemovesMaxOfEachKindPerCallAndSaysMore()
    {
        for (var i = 0; i < 3; i++)
        {
            await Deliveries.EnqueueAsync(Pending($"d{i}", created: T0.AddSeconds(i)), Ct);
            await Deliveries.CompleteAsync($"d{i}", DeliveryStatus.Delivered, 1, null, T0.AddMinutes(i), Ct);
            await Waiters.RegisterAsync(Waiter($"w{i}", created: T0.AddSeconds(i)), Ct);
            await Waiters.ResolveAsync($"w{i}", "succeeded", T0.AddMinutes(i), Ct);
            await Nonces.TryConsumeAsync($"n{i}", "r1", "alice@contoso.com", T0.AddMinutes(i), Ct);
        }

        var first = await Store.PruneAsync(T0.AddDays(1), T0.AddDays(1), 2, Ct);
        var second = await Store.PruneAsync(T0.AddDays(1), T0.AddDays(1), 2, Ct);
        var third = await Store.PruneAsync(T0.AddDays(1), T0.AddDays(1), 2, Ct);

        Assert.AreEqual(new PruneResult(2, 2, 2, More: true), first);
        Assert.AreEqual(new PruneResult(1, 1, 1, More: false), second);
        Assert.AreEqual(default, third);
        Assert.IsEmpty(await Deliveries.ListAsync("r1", Ct));
        Assert.AreEqual(default, await Store.PruneAsync(T0.AddDays(1), T0.AddDays(1), 0, Ct), "max 0 removes nothing");
    }

    [TestMethod]
    public async Task PruneAsync_PrunedDeliveryEnqueuedAgain_IsANewPendingDelivery()
    {
        // Why hosts never compose deliveries for audit entries older than the retention: the id is forgotten.
        await Deliveries.EnqueueAsync(Pending("notify:r1:3:teams"), Ct);
        await Deliveries.CompleteAsync("notify:r1:3:teams", DeliveryStatus.Delivered, 1, null, T0.AddMinutes(1), Ct);
        await Store.PruneAsync(T0.AddDays(31), T0.AddDays(31), 100, Ct);

        Assert.IsTrue(await Deliveries.EnqueueAsync(Pending("notify:r1:3:teams", created: T0.AddDays(31)), Ct));

        var again = Assert.ContainsSingle(await Deliveries.ListAsync("r1", Ct));
        Assert.AreEqual(Pending("notify:r1:3:teams", created: T0.AddDays(31)), again);
        Assert.AreEqual(again, Assert.ContainsSingle(await Deliveries.DueAsync(T0.AddDays(31), 10, Ct)));
        Assert.IsFalse(await Deliveries.EnqueueAsync(Pending("notify:r1:3:teams"), Ct), "and is deduplicated as before");
    }

    [TestMethod]
    public async Task PruneAsync_IdsWithReservedCharacters_RemovesEachFromItsRollout()
    {
        for (var i = 0; i < AwkwardIds.Length; i++)
        {
            await Deliveries.EnqueueAsync(Pending(AwkwardIds[i], AwkwardIds[(i + 1) % AwkwardIds.Length], T0.AddSeconds(i)), Ct);
            await Deliveries.CompleteAsync(AwkwardIds[i], DeliveryStatus.Delivered, 1, null, T0.AddMinutes(1), Ct);
            await Waiters.RegisterAsync(Waiter(AwkwardIds[i], AwkwardIds[i], created: T0.AddSeconds(i)), Ct);
            await Waiters.ResolveAsync(AwkwardIds[i], "succeeded", T0.AddMinutes(1), Ct);
            await Nonces.TryConsumeAsync(AwkwardIds[i], "r1", "alice@contoso.com", T0, Ct);
        }

        var pruned = await Store.PruneAsync(T0.AddDays(1), T0.AddDays(1), 100, Ct);

        Assert.AreEqual(new PruneResult(AwkwardIds.Length, AwkwardIds.Length, AwkwardIds.Length), pruned);
        foreach (var id in AwkwardIds)
        {
            Assert.IsEmpty(await Deliveries.ListAsync(id, Ct), id);
            Assert.IsFalse(await Nonces.IsConsumedAsync(id, Ct), id);
            Assert.IsTrue(await Deliveries.EnqueueAsync(Pending(id, id), Ct), id);
        }
    }

    [TestMethod]
    public async Task PruneAsync_EmptyStore_RemovesNothing()
    {
        Assert.AreEqual(default, await Store.PruneAsync(T0.AddYears(1), T0.AddYears(1), 100, Ct));
    }

    // ---- helpers ---------------------------------------------------------------------------------------------

    protected static Delivery Pending(string id, string rolloutId = "r1", DateTimeOffset? created = null, DateTimeOffset? next = null, string payload = "{}") =>
        new(id, DeliveryKind.Notification, rolloutId, "teams", payload, created ?? T0, next ?? created ?? T0);

    protected static GateCallback Callback(string planId, string token = "job-token") =>
        new("https://dev.azure.com/contoso/", "project-1", "build", planId, "job-1", "task-1", token, "timeline-1");

    protected static GateWaiter Waiter(string id, string rolloutId = "r1", string until = "completed", DateTimeOffset? created = null) =>
        new(id, rolloutId, until, Callback("plan-" + id.Length), created ?? T0);

    /// <summary>An Adaptive Card-like JSON of <paramref name="length"/> characters: quotes, escapes, non-ASCII and surrogate pairs.</summary>
    protected static string CardJson(int length)
    {
        var random = new Random(length);
        var text = new StringBuilder("""{"type":"message","attachments":[{"contentType":"application/vnd.microsoft.card.adaptive","content":{"body":[""");
        while (text.Length < length - 4)
        {
            text.Append("""{"type":"TextBlock","text":"stage \"canary\" → 5% ✅ 😀 """)
                .Append(random.Next().ToString("x8", System.Globalization.CultureInfo.InvariantCulture))
                .Append("\\n\"},");
        }

        var cut = Math.Min(text.Length, length - 4);
        return text.ToString(0, char.IsHighSurrogate(text[cut - 1]) ? cut - 1 : cut) + "]}}]";
    }
}
