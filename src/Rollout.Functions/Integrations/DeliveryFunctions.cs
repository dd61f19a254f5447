using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.Logging;
using Rollout.Core.Storage;
using Rollout.Integrations.AzureDevOps;
using Rollout.Integrations.Outbox;

namespace Rollout.Functions.Integrations;

/// <summary>
/// The delivery loop on Azure, a timer every ten seconds (timer triggers run on one instance at a time): it resolves the
/// Azure DevOps gate waiters whose rollout reached or missed its target, then attempts the due deliveries of the outbox
/// (Teams messages queued by <see cref="Orchestration.RolloutActivities.EnqueueNotifications"/>, gate callbacks) and waits
/// for them. A failing or slow peer only delays its own deliveries, retried with backoff; no rollout waits on this.
/// </summary>
public sealed class DeliveryFunctions(IRolloutStore store, IGateWaiterStore waiters, IDeliveryStore outbox, DeliveryWorker worker, TimeProvider time, ILogger<DeliveryFunctions> log)
{
    /// <summary>The timer's NCRONTAB schedule: every ten seconds.</summary>
    public const string Schedule = "*/10 * * * * *";

    /// <summary>One pass.</summary>
    [Function(nameof(DeliverOutbox))]
    public async Task DeliverOutbox([TimerTrigger(Schedule)] TimerInfo timer, CancellationToken cancellationToken)
    {
        await CallbackGate.ResolveAsync(waiters, outbox, async (id, ct) => (await store.GetAsync(id, ct))?.State, time.GetUtcNow(), log, cancellationToken);
        var started = await worker.StartDueAsync(cancellationToken);
        await worker.DrainAsync();
        if (started > 0)
        {
            log.LogInformation("Delivery pass: {Started} delivery attempt(s){Late}", started, timer.IsPastDue ? " (the timer ran late)" : string.Empty);
        }
    }
}
