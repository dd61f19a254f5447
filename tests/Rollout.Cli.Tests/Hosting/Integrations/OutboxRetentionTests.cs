using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Rollout.Cli.Hosting.Integrations;
using Rollout.Core.Engine;
using Rollout.Core.Storage;
using Rollout.Testing;

namespace Rollout.Cli.Tests.Hosting.Integrations;

/// <summary>
/// The local host's prune of the outbox (<c>Outbox:RetentionDays</c>, default 30): a delivery loop created from the
/// running host's services with its own clock stands for the host later on, or restarted (nothing in memory).
/// </summary>
[TestClass]
public sealed class OutboxRetentionTests
{
    private const string Notify = """, "notify": ["release-team"]""";

    public TestContext TestContext { get; set; } = null!;

    private CancellationToken Ct => TestContext.CancellationToken;

    [TestMethod]
    public async Task RunOnceAsync_OldFinishedRows_ArePrunedAtMostHourlyAndPendingOnesStay()
    {
        await using var host = await TestHost.StartAsync(deliveries: IntegrationTestHost.FastDeliveries);
        var store = host.App.Services.GetRequiredService<IIntegrationStore>();
        var now = DateTimeOffset.UtcNow;
        await FinishedAsync(store, "old-delivered", now.AddDays(-40), DeliveryStatus.Delivered);
        await FinishedAsync(store, "old-failed", now.AddDays(-31), DeliveryStatus.Failed);
        await FinishedAsync(store, "recent-delivered", now.AddDays(-29), DeliveryStatus.Delivered);
        await store.EnqueueAsync(Delivery("old-pending", now.AddDays(-40)), Ct);
        await store.RetryLaterAsync("old-pending", 11, now.AddDays(1), "503", Ct); // pending for 40 days, not due yet
        await ResolvedWaiterAsync(host, "old-resolved", now.AddDays(-31));
        await ResolvedWaiterAsync(host, "recent-resolved", now.AddDays(-29));
        await store.TryConsumeAsync("old-nonce", "r-prune", "alex@contoso.com", now.AddDays(-31), Ct);
        await store.TryConsumeAsync("recent-nonce", "r-prune", "alex@contoso.com", now.AddDays(-29), Ct);
        var clock = new ManualClock(now);
        var loop = DeliveryLoop(host, clock);

        await loop.RunOnceAsync(Ct);

        Assert.AreSequenceEqual(new[] { "old-pending", "recent-delivered" }, await IdsAsync(store));
        Assert.AreSequenceEqual(new[] { "recent-resolved" }, await WaiterIdsAsync(host));
        Assert.IsFalse(await store.IsConsumedAsync("old-nonce", Ct));
        Assert.IsTrue(await store.IsConsumedAsync("recent-nonce", Ct));

        // Within the hour: no second prune, even with something to prune.
        await FinishedAsync(store, "old-2", now.AddDays(-40), DeliveryStatus.Superseded);
        clock.Now += TimeSpan.FromMinutes(59);
        await loop.RunOnceAsync(Ct);
        Assert.AreSequenceEqual(new[] { "old-2", "old-pending", "recent-delivered" }, await IdsAsync(store));

        clock.Now += TimeSpan.FromMinutes(2);
        await loop.RunOnceAsync(Ct);
        Assert.AreSequenceEqual(new[] { "old-pending", "recent-delivered" }, await IdsAsync(store));
        Assert.AreEqual(DeliveryStatus.Pending, (await store.ListAsync("r-prune", Ct))[0].Status);
    }

    [TestMethod]
    public async Task RunOnceAsync_RestartAfterTheCardsWerePruned_DoesNotSendThemAgain()
    {
        await using var teams = await PeerFixture.StartAsync();
        teams.Fallback = new PeerReply(202);
        await using var host = await TestHost.StartAsync(TeamsNotificationTests.Settings(teams), IntegrationTestHost.FastDeliveries);
        var store = host.App.Services.GetRequiredService<IIntegrationStore>();
        var id = await host.StartRolloutAsync(host.QuickPlan("prune-restart", stopOn: Notify));
        await host.WaitForAsync(id, v => v.Status == RolloutStatus.Completed);
        await WaitAsync(async () => await store.ListAsync(id, Ct) is { Count: 4 } list && list.All(d => d.Status == DeliveryStatus.Delivered));
        Assert.HasCount(4, teams.Requests, "three stages entered and the completion");

        // 31 days later the loop prunes the delivered cards...
        var later = new ManualClock(DateTimeOffset.UtcNow.AddDays(31));
        await DeliveryLoop(host, later).RunOnceAsync(Ct);
        Assert.IsEmpty(await store.ListAsync(id, Ct));

        // ...and a restart, which re-derives the outbox from every audit entry, composes none of them again.
        await DeliveryLoop(host, later).RunOnceAsync(Ct);
        Assert.IsEmpty(await store.ListAsync(id, Ct), "a pruned card was enqueued again");
        await Task.Delay(300, Ct);
        Assert.HasCount(4, teams.Requests);

        // What the horizon protects against: a restart within the retention re-derives them (that is how a crash
        // between a checkpoint and its cards loses nothing), and a pruned id is a new delivery.
        await DeliveryLoop(host, new ManualClock(DateTimeOffset.UtcNow)).RunOnceAsync(Ct);
        Assert.HasCount(4, await store.ListAsync(id, Ct));
    }

    [TestMethod]
    public async Task RunOnceAsync_PruneFails_PassCompletesAndPruneIsTriedAgainAnHourLater()
    {
        await using var host = await TestHost.StartAsync(deliveries: IntegrationTestHost.FastDeliveries);
        var store = new PruneFails(host.App.Services.GetRequiredService<IIntegrationStore>());
        var clock = new ManualClock(DateTimeOffset.UtcNow);
        var loop = ActivatorUtilities.CreateInstance<DeliveryService>(host.App.Services, clock, (IIntegrationStore)store);

        await loop.RunOnceAsync(Ct);
        clock.Now += TimeSpan.FromMinutes(30);
        await loop.RunOnceAsync(Ct);

        Assert.AreEqual(1, store.Prunes, "a failed prune is not retried on every pass");
        Assert.AreEqual(2, store.Waits, "both passes ran their other steps");

        clock.Now += TimeSpan.FromMinutes(31);
        await loop.RunOnceAsync(Ct);
        Assert.AreEqual(2, store.Prunes);
    }

    private static DeliveryService DeliveryLoop(TestHost host, TimeProvider clock) =>
        ActivatorUtilities.CreateInstance<DeliveryService>(host.App.Services, clock);

    private async Task FinishedAsync(IIntegrationStore store, string id, DateTimeOffset at, DeliveryStatus status)
    {
        await store.EnqueueAsync(Delivery(id, at), Ct);
        await store.CompleteAsync(id, status, 1, null, at.AddMinutes(1), Ct);
    }

    private async Task<string[]> IdsAsync(IIntegrationStore store) =>
        [.. (await store.ListAsync("r-prune", Ct)).Select(d => d.Id).Order(StringComparer.Ordinal)];

    // Never due while the test runs, so the host's own loop leaves it alone.
    private static Delivery Delivery(string id, DateTimeOffset at) =>
        new(id, DeliveryKind.Notification, "r-prune", "release-team", "{}", at, DateTimeOffset.UtcNow.AddDays(1));

    // Written resolved at once: a waiting waiter of a rollout that does not exist would be resolved by the host's own loop.
    private async Task ResolvedWaiterAsync(TestHost host, string id, DateTimeOffset resolvedAt)
    {
        await using var connection = await OpenAsync(host);
        await using var insert = connection.CreateCommand();
        insert.CommandText = """
            INSERT INTO gate_waiters (id, rollout_id, until, callback, created_at, status, result, resolved_at)
            VALUES ($id, 'r-prune', 'completed', '{}', $at, 'Resolved', 'succeeded', $at)
            """;
        insert.Parameters.AddWithValue("$id", id);
        insert.Parameters.AddWithValue("$at", resolvedAt.ToUnixTimeMilliseconds());
        await insert.ExecuteNonQueryAsync(Ct);
    }

    private async Task<string[]> WaiterIdsAsync(TestHost host)
    {
        await using var connection = await OpenAsync(host);
        await using var select = connection.CreateCommand();
        select.CommandText = "SELECT id FROM gate_waiters ORDER BY id";
        await using var reader = await select.ExecuteReaderAsync(Ct);
        var ids = new List<string>();
        while (await reader.ReadAsync(Ct))
        {
            ids.Add(reader.GetString(0));
        }

        return [.. ids];
    }

    private async Task<SqliteConnection> OpenAsync(TestHost host)
    {
        var connection = new SqliteConnection($"Data Source={Path.Combine(host.DataDirectory, "rollout.db")}");
        await connection.OpenAsync(Ct);
        return connection;
    }

    private async Task WaitAsync(Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail("timed out");
            }

            await Task.Delay(50, Ct);
        }
    }

    /// <summary>The real store, whose prune fails as an unreachable or locked database would.</summary>
    private sealed class PruneFails(IIntegrationStore inner) : DelegatingIntegrationStore(inner)
    {
        public int Prunes { get; private set; }

        public int Waits { get; private set; }

        public override Task<PruneResult> PruneAsync(DateTimeOffset completedBefore, DateTimeOffset noncesConsumedBefore, int max, CancellationToken cancellationToken)
        {
            Prunes++;
            throw new IOException("database is locked");
        }

        public override Task<IReadOnlyList<GateWaiter>> WaitingAsync(CancellationToken cancellationToken)
        {
            Waits++;
            return base.WaitingAsync(cancellationToken);
        }
    }

    private sealed class ManualClock(DateTimeOffset start) : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = start;

        public override DateTimeOffset GetUtcNow() => Now;
    }
}
