using Rollout.Core.Storage;
using Rollout.Integrations.Hosting;

namespace Rollout.Integrations.Outbox;

/// <summary>
/// How long both hosts keep what the integration store no longer needs, and the prune they run periodically (the local
/// host's delivery loop at most hourly, the Functions app's <c>PruneOutbox</c> timer daily):
/// <list type="bullet">
/// <item>final deliveries and resolved gate waiters completed more than <see cref="IntegrationSettings.OutboxRetention"/>
/// (<c>Outbox:RetentionDays</c>, default 30) ago;</item>
/// <item>approval nonces consumed more than that ago, and never sooner than <see cref="IntegrationSettings.LinkLifetime"/>
/// plus <see cref="NonceMargin"/> after: a link expires its lifetime after it was issued and its nonce is consumed
/// after it was issued, so a nonce consumed longer ago than that belongs to an expired link, which is refused as
/// expired whatever the store says.</item>
/// </list>
/// A pruned delivery id is forgotten: enqueued again, it is a new delivery and is sent again. Hosts therefore compose
/// nothing for audit entries older than <see cref="ComposeHorizon"/>: every delivery pruned so far completed before it
/// (it is the prune's own cut-off, which only moves forward while the retention is not raised), and a delivery
/// completes after it was composed, which is after its audit entry was written. (Raising the retention moves the
/// horizon back over deliveries the shorter one pruned; a host restarted then may notify those entries again.)
/// </summary>
public static class OutboxRetention
{
    /// <summary>Rows of each kind one store call removes at most.</summary>
    public const int Batch = 1000;

    /// <summary>Store calls one prune makes at most; a larger backlog is finished by the next prune.</summary>
    public const int MaxCalls = 20;

    /// <summary>What nonces are kept beyond the links' lifetime: room for clocks that disagree between instances.</summary>
    public static readonly TimeSpan NonceMargin = TimeSpan.FromHours(1);

    /// <summary>Final deliveries completed and gate waiters resolved before this instant are pruned at <paramref name="now"/>.</summary>
    public static DateTimeOffset CompletedBefore(IntegrationSettings settings, DateTimeOffset now) => now - settings.OutboxRetention;

    /// <summary>Approval nonces consumed before this instant are pruned at <paramref name="now"/>: the retention, and at least a link lifetime (plus <see cref="NonceMargin"/>) ago.</summary>
    public static DateTimeOffset NoncesConsumedBefore(IntegrationSettings settings, DateTimeOffset now)
    {
        var keep = settings.LinkLifetime + NonceMargin;
        return now - (settings.OutboxRetention > keep ? settings.OutboxRetention : keep);
    }

    /// <summary>
    /// The oldest audit entry a host re-deriving its outbox (after a restart) still composes notifications for at
    /// <paramref name="now"/>: the deliveries of older entries may have been pruned, and composing them again would send
    /// old cards again. An entry older than this that was never enqueued (a host down for longer than the retention)
    /// is not notified any more: its card would be that old.
    /// </summary>
    public static DateTimeOffset ComposeHorizon(IntegrationSettings settings, DateTimeOffset now) => CompletedBefore(settings, now);

    /// <summary>
    /// Prunes <paramref name="store"/> as of <paramref name="now"/>: <see cref="Batch"/> rows of each kind per call,
    /// again while the store says there may be more (at most <see cref="MaxCalls"/> calls). Returns the sums.
    /// </summary>
    public static async Task<PruneResult> PruneAsync(IIntegrationStore store, IntegrationSettings settings, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var completedBefore = CompletedBefore(settings, now);
        var noncesBefore = NoncesConsumedBefore(settings, now);
        var total = default(PruneResult);
        for (var call = 0; call < MaxCalls; call++)
        {
            var result = await store.PruneAsync(completedBefore, noncesBefore, Batch, cancellationToken);
            total = new PruneResult(total.Deliveries + result.Deliveries, total.GateWaiters + result.GateWaiters, total.Nonces + result.Nonces, result.More);
            if (!result.More || result.Total == 0)
            {
                break;
            }
        }

        return total;
    }
}
