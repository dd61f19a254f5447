using Rollout.Core.Engine;
using Rollout.Core.Storage;
using Rollout.Integrations.AzureDevOps;
using Rollout.Integrations.Hosting;
using Rollout.Integrations.Outbox;


namespace Rollout.Cli.Hosting.Integrations;

/// <summary>
/// How often the delivery loop looks for work, how deliveries are retried, (for tests) a timeout for every peer, and
/// how often it prunes the outbox (at most; default hourly).
/// </summary>
internal sealed record DeliveryServiceOptions(TimeSpan PollInterval, DeliveryOptions Delivery, TimeSpan? PeerTimeout = null, TimeSpan? PruneInterval = null)
{
    public static DeliveryServiceOptions Default { get; } = new(TimeSpan.FromMilliseconds(250), DeliveryOptions.Default);

    /// <summary>The least time between two prunes.</summary>
    public TimeSpan PruneEvery => PruneInterval ?? TimeSpan.FromHours(1);
}

/// <summary>
/// The local host's delivery loop. Each pass (1) resolves Azure DevOps gate waiters whose rollout reached or missed
/// its target, putting the <c>TaskCompleted</c> event in the outbox; (2) derives the outbox from the checkpointed
/// rollouts (notifications from the audit log, external exposure from the state), so nothing is lost when the process
/// dies between a checkpoint and its effects; (3) starts the due deliveries; (4) at most once an hour, prunes what the
/// store no longer needs (<see cref="OutboxRetention"/>; a failing prune is logged and tried again an hour later).
/// Nothing here can block or fail a rollout: the scheduler never waits on it.
/// </summary>
internal sealed class DeliveryService(
    RolloutRuntime runtime,
    IIntegrationStore store,
    DeliveryWorker worker,
    OutboxComposer composer,
    IntegrationSettings settings,
    TimeProvider time,
    DeliveryServiceOptions options,
    ILogger<DeliveryService> log) : BackgroundService
{
    private readonly Dictionary<string, long> notifiedUpTo = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> reconciled = new(StringComparer.Ordinal);
    private DateTimeOffset? lastScan;
    private DateTimeOffset? lastPrune;

    /// <summary>One pass; public for tests.</summary>
    public async Task RunOnceAsync(CancellationToken ct)
    {
        await ResolveWaitersAsync(ct);
        await ReconcileAsync(ct);
        await worker.StartDueAsync(ct);
        await PruneIfDueAsync(ct);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.PollInterval, time);
        do
        {
            try
            {
                await RunOnceAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex)
            {
                log.LogError(ex, "Delivery pass failed; retrying");
            }
        }
        while (await WaitAsync(timer, stoppingToken));
    }

    private Task ResolveWaitersAsync(CancellationToken ct) =>
        CallbackGate.ResolveAsync(store, store, async (id, c) => (await runtime.Store.GetAsync(id, c))?.State, time.GetUtcNow(), log, ct);

    /// <summary>
    /// Enqueues what the checkpointed rollouts call for; the store drops what it already has (stable ids). After a
    /// start, <see cref="notifiedUpTo"/> and <see cref="lastScan"/> are empty, so this re-derives every audit entry of
    /// every rollout: entries older than <see cref="OutboxRetention.ComposeHorizon"/> are skipped, because their
    /// deliveries may have been pruned, and enqueueing a pruned id again would send an old card again.
    /// </summary>
    private async Task ReconcileAsync(CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var horizon = OutboxRetention.ComposeHorizon(settings, now);
        var since = lastScan is { } last ? last - TimeSpan.FromSeconds(5) : DateTimeOffset.UnixEpoch;
        // The 5 s overlap re-lists recent rollouts on every pass: those already reconciled at their stored version are
        // not read again, and those whose (immutable) plan has neither channels nor an external target never are.
        foreach (var rollout in await runtime.Store.ListChangedSinceAsync(since, reconciled, ct))
        {
            var state = rollout.State;
            if (!state.Plan.Notify.IsDefaultOrEmpty)
            {
                var after = notifiedUpTo.GetValueOrDefault(state.Id);
                if (state.AuditSeq > after)
                {
                    foreach (var entry in await runtime.Store.GetAuditAsync(state.Id, after, ct))
                    {
                        if (entry.At >= horizon && NotifyChannels.For(state, entry) is { } notify)
                        {
                            foreach (var delivery in composer.Notifications(state, notify, now))
                            {
                                await store.EnqueueAsync(delivery, ct);
                            }
                        }

                        notifiedUpTo[state.Id] = entry.Seq;
                    }
                }
            }

            if (state.ExposurePending)
            {
                // Still owed: enqueued again even if an older delivery of it was pruned (writing an exposure is idempotent).
                await store.EnqueueAsync(composer.Exposure(state, now), ct);
            }

            reconciled[state.Id] = state.Plan.Notify.IsDefaultOrEmpty && !state.Plan.HasExternalExposure ? long.MaxValue : rollout.Version;
        }

        lastScan = now;
    }

    /// <summary>Prunes the store when the last prune is <see cref="DeliveryServiceOptions.PruneEvery"/> old (or on the first pass); never throws but for cancellation.</summary>
    private async Task PruneIfDueAsync(CancellationToken ct)
    {
        var now = time.GetUtcNow();
        if (lastPrune is { } last && now - last < options.PruneEvery)
        {
            return;
        }

        lastPrune = now; // A failed prune waits for the next interval too, rather than running on every pass.
        try
        {
            var pruned = await OutboxRetention.PruneAsync(store, settings, now, ct);
            if (pruned.Total > 0)
            {
                log.LogInformation(
                    "Outbox pruned: {Deliveries} delivery(ies), {Waiters} gate waiter(s), {Nonces} approval nonce(s)",
                    pruned.Deliveries, pruned.GateWaiters, pruned.Nonces);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception ex)
        {
            log.LogWarning(ex, "Pruning the outbox failed; deliveries go on, and the next prune is in {Interval}", options.PruneEvery);
        }
    }

    private static async Task<bool> WaitAsync(PeriodicTimer timer, CancellationToken ct)
    {
        try
        {
            return await timer.WaitForNextTickAsync(ct);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }
}
