using System.Text.Json;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.Logging;
using Rollout.Core.Api;
using Rollout.Core.Engine;
using Rollout.Core.Gates;
using Rollout.Core.Storage;
using Rollout.Functions.Effects;
using Rollout.Integrations.Metrics;
using Rollout.Integrations.Outbox;

namespace Rollout.Functions.Orchestration;

/// <summary>
/// The activities that run every effect of a step. The runtime executes each at least once, so each is idempotent:
/// a retried checkpoint that already landed writes nothing, exposure is a state not a delta, notifications carry a
/// dedupe key.
/// </summary>
public sealed class RolloutActivities(
    IRolloutStore store,
    CriteriaEvaluator evaluator,
    IExposureWriter exposure,
    INotifier notifier,
    IDeliveryStore outbox,
    OutboxComposer composer,
    TimeProvider time,
    ILogger<RolloutActivities> log)
{
    /// <summary>Reads and judges every criterion of the plan for the stage (metric sources over the network).</summary>
    [Function(nameof(EvaluateCriteria))]
    public Task<Evaluation> EvaluateCriteria([ActivityTrigger] EvaluateRequest request, CancellationToken cancellationToken) =>
        evaluator.EvaluateAsync(request.State, new Core.Engine.EvaluateCriteria(request.StageIndex, request.Since), cancellationToken);

    /// <summary>Makes the flag's exposure the rollout's current one (and writes it to the plan's external target, if any).</summary>
    [Function(nameof(ApplyExposure))]
    public Task ApplyExposure([ActivityTrigger] ExposureRequest request, CancellationToken cancellationToken) =>
        exposure.ApplyAsync(request.State, cancellationToken);

    /// <summary>Tells people about stage changes, approvals, pauses, rollbacks and completion.</summary>
    [Function(nameof(Notify))]
    public Task Notify([ActivityTrigger] NotifyRequest request, CancellationToken cancellationToken) =>
        notifier.NotifyAsync(request, cancellationToken);

    /// <summary>
    /// Puts the Teams messages of the plan's channels (<c>"notify"</c>) for these audit entries in the outbox, where the
    /// <see cref="Integrations.DeliveryFunctions"/> timer delivers them with retries. Each message's id is its rollout, audit
    /// sequence number and channel, so a retried activity enqueues nothing twice.
    /// </summary>
    [Function(nameof(EnqueueNotifications))]
    public async Task EnqueueNotifications([ActivityTrigger] EnqueueNotificationsRequest request, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var added = 0;
        foreach (var entry in request.Events)
        {
            if (NotifyChannels.For(request.State, entry) is { } notify)
            {
                foreach (var delivery in composer.Notifications(request.State, notify, now))
                {
                    added += await outbox.EnqueueAsync(delivery, cancellationToken) ? 1 : 0;
                }
            }
        }

        log.LogInformation("Rollout {Id}: {Added} notification(s) queued for delivery", request.State.Id, added);
    }

    /// <summary>
    /// Writes one checkpoint atomically: the state, its audit entries and the answer to the command that caused it.
    /// The orchestrator is the only writer of a started rollout, so the expected version is the stored one; a retry
    /// of a checkpoint that already landed (or of an older one) writes nothing.
    /// </summary>
    [Function(nameof(AppendAudit))]
    public async Task AppendAudit([ActivityTrigger] AppendAuditRequest request, CancellationToken cancellationToken)
    {
        var state = request.State;
        if (!request.StateChanged)
        {
            if (request.AnsweredCommand is { } refused)
            {
                await store.AnswerCommandAsync(refused, cancellationToken);
            }

            return;
        }

        var current = await store.GetAsync(state.Id, cancellationToken)
            ?? throw new InvalidOperationException($"rollout {state.Id} is not in the store");
        if (IsAheadOrSame(current.State, state))
        {
            log.LogInformation("Rollout {Id}: checkpoint at audit #{Seq} already stored; nothing written", state.Id, state.AuditSeq);
            return;
        }

        if (!await store.SaveAsync(new Checkpoint(state, current.Version, request.Audit, request.AnsweredCommand, ReleaseLease: false), cancellationToken))
        {
            // Someone wrote in between (which only a duplicate execution of this activity does): let the retry look again.
            throw new InvalidOperationException($"rollout {state.Id} changed while its checkpoint was written (version {current.Version})");
        }
    }

    // The stored state already is this one (a retried execution landed), or is a later one (a stale duplicate).
    private static bool IsAheadOrSame(RolloutState stored, RolloutState incoming) =>
        stored.AuditSeq > incoming.AuditSeq
        || stored.UpdatedAt > incoming.UpdatedAt
        || JsonSerializer.Serialize(stored, RolloutJson.Options) == JsonSerializer.Serialize(incoming, RolloutJson.Options);
}
