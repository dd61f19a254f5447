using Rollout.Core.Engine;
using Rollout.Core.Storage;
using Rollout.Integrations.AzureDevOps;
using Rollout.Integrations.Outbox;


namespace Rollout.Cli.Hosting.Integrations;

/// <summary>How often the delivery loop looks for work, how deliveries are retried, and (for tests) a timeout for every peer.</summary>
internal sealed record DeliveryServiceOptions(TimeSpan PollInterval, DeliveryOptions Delivery, TimeSpan? PeerTimeout = null)
{
    public static DeliveryServiceOptions Default { get; } = new(TimeSpan.FromMilliseconds(250), DeliveryOptions.Default);
}

/// <summary>
/// The local host's delivery loop. Each pass (1) resolves Azure DevOps gate waiters whose rollout reached or missed
/// its target, putting the <c>TaskCompleted</c> event in the outbox; (2) derives the outbox from the checkpointed
/// rollouts (notifications from the audit log, external exposure from the state), so nothing is lost when the process
/// dies between a checkpoint and its effects; (3) starts the due deliveries. Nothing here can block or fail a rollout:
/// the scheduler never waits on it.
/// </summary>
internal sealed class DeliveryService(
    RolloutRuntime runtime,
    IGateWaiterStore waiters,
    IDeliveryStore outbox,
    DeliveryWorker worker,
    OutboxComposer composer,
    TimeProvider time,
    DeliveryServiceOptions options,
    ILogger<DeliveryService> log) : BackgroundService
{
    private readonly Dictionary<string, long> notifiedUpTo = new(StringComparer.Ordinal);
    private DateTimeOffset? lastScan;

    /// <summary>One pass; public for tests.</summary>
    public async Task RunOnceAsync(CancellationToken ct)
    {
        await ResolveWaitersAsync(ct);
        await ReconcileAsync(ct);
        await worker.StartDueAsync(ct);
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
        CallbackGate.ResolveAsync(waiters, outbox, async (id, c) => (await runtime.Store.GetAsync(id, c))?.State, time.GetUtcNow(), log, ct);

    private async Task ReconcileAsync(CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var since = lastScan is { } last ? last - TimeSpan.FromSeconds(5) : DateTimeOffset.UnixEpoch;
        foreach (var rollout in await runtime.Store.ListChangedSinceAsync(since, ct))
        {
            var state = rollout.State;
            if (!state.Plan.Notify.IsDefaultOrEmpty)
            {
                var after = notifiedUpTo.GetValueOrDefault(state.Id);
                if (state.AuditSeq > after)
                {
                    foreach (var entry in await runtime.Store.GetAuditAsync(state.Id, after, ct))
                    {
                        if (NotifyChannels.For(state, entry) is { } notify)
                        {
                            foreach (var delivery in composer.Notifications(state, notify, now))
                            {
                                await outbox.EnqueueAsync(delivery, ct);
                            }
                        }

                        notifiedUpTo[state.Id] = entry.Seq;
                    }
                }
            }

            if (state.ExposurePending)
            {
                await outbox.EnqueueAsync(composer.Exposure(state, now), ct);
            }
        }

        lastScan = now;
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
