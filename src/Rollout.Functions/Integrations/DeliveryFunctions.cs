using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.Logging;
using Rollout.Core.Storage;
using Rollout.Integrations.AzureDevOps;
using Rollout.Integrations.Hosting;
using Rollout.Integrations.Outbox;

namespace Rollout.Functions.Integrations;

/// <summary>
/// The delivery loop on Azure, a timer every ten seconds (timer triggers run on one instance at a time): it resolves the
/// Azure DevOps gate waiters whose rollout reached or missed its target, then attempts the due deliveries of the outbox
/// (Teams messages queued by <see cref="Orchestration.RolloutActivities.EnqueueNotifications"/>, gate callbacks) and waits
/// for them. A failing or slow peer only delays its own deliveries, retried with backoff; no rollout waits on this.
/// A second, daily timer prunes what the store no longer needs (<see cref="OutboxRetention"/>).
/// </summary>
public sealed class DeliveryFunctions(
    IRolloutStore store,
    IIntegrationStore integrations,
    DeliveryWorker worker,
    IntegrationSettings settings,
    TimeProvider time,
    ILogger<DeliveryFunctions> log)
{
    /// <summary>The delivery timer's NCRONTAB schedule: every ten seconds.</summary>
    public const string Schedule = "*/10 * * * * *";

    /// <summary>The prune timer's NCRONTAB schedule: daily at 03:17:00 UTC (off the hour, when little else runs).</summary>
    public const string PruneSchedule = "0 17 3 * * *";

    /// <summary>One pass.</summary>
    [Function(nameof(DeliverOutbox))]
    public async Task DeliverOutbox([TimerTrigger(Schedule)] TimerInfo timer, CancellationToken cancellationToken)
    {
        await CallbackGate.ResolveAsync(integrations, integrations, async (id, ct) => (await store.GetAsync(id, ct))?.State, time.GetUtcNow(), log, cancellationToken);
        var started = await worker.StartDueAsync(cancellationToken);
        await worker.DrainAsync();
        if (started > 0)
        {
            log.LogInformation("Delivery pass: {Started} delivery attempt(s){Late}", started, timer.IsPastDue ? " (the timer ran late)" : string.Empty);
        }
    }

    /// <summary>
    /// Removes final deliveries and resolved gate waiters older than <c>Outbox:RetentionDays</c>, and consumed approval
    /// nonces older than that and than a link's lifetime. Scans the Table Storage tables (once a day); a failure is
    /// logged and tried again the next day, and never touches a pending delivery or a waiting waiter.
    /// </summary>
    [Function(nameof(PruneOutbox))]
    public async Task PruneOutbox([TimerTrigger(PruneSchedule)] TimerInfo timer, CancellationToken cancellationToken)
    {
        var pruned = await OutboxRetention.PruneAsync(integrations, settings, time.GetUtcNow(), cancellationToken);
        log.LogInformation(
            "Outbox pruned: {Deliveries} delivery(ies), {Waiters} gate waiter(s), {Nonces} approval nonce(s) older than {Days} day(s){More}{Late}",
            pruned.Deliveries, pruned.GateWaiters, pruned.Nonces, settings.OutboxRetention.TotalDays,
            pruned.More ? "; more remain for the next run" : string.Empty, timer.IsPastDue ? " (the timer ran late)" : string.Empty);
    }
}
