using System.Collections.Immutable;
using Rollout.Core.Engine;
using Rollout.Core.Storage;

namespace Rollout.Functions.Orchestration;

/// <summary>
/// The orchestrator's input, and so the whole of what one generation carries to the next through ContinueAsNew.
/// </summary>
/// <param name="State">The rollout as last checkpointed in the store.</param>
/// <param name="Generation">How many steps ran before this one (0 for the first generation).</param>
/// <param name="ExposureOwed">The last step's exposure is not applied yet (the first generation's always is).</param>
/// <param name="PendingCommand">A command that arrived while the last step ran, applied first.</param>
/// <param name="RetryAt">The last step could not be checkpointed; nothing happens before this time.</param>
/// <param name="NotifyOwed">Checkpointed audit entries whose Teams messages are not in the outbox yet (the store was down).</param>
/// <remarks>
/// <see cref="ExposureOwed"/> false while <see cref="RolloutState.ExposurePending"/> is true means the plan's external
/// target took the write and its confirmation is the next generation's input.
/// </remarks>
public sealed record RolloutCheckpoint(RolloutState State, long Generation, bool ExposureOwed, CommandEnvelope? PendingCommand, DateTimeOffset? RetryAt, IReadOnlyList<AuditEvent>? NotifyOwed = null)
{
    /// <summary>
    /// The first generation of a rollout: its first stage's exposure is owed, and so are the messages of the start's audit
    /// entries (<paramref name="startAudit"/>; none when an orchestration is started again from the stored state).
    /// </summary>
    public static RolloutCheckpoint First(RolloutState state, ImmutableArray<AuditEvent> startAudit = default) =>
        new(state, 0, ExposureOwed: true, PendingCommand: null, RetryAt: null, startAudit.IsDefaultOrEmpty ? null : startAudit);
}

/// <summary>
/// The payload of the <see cref="RolloutOrchestrator.CommandEvent"/> external event: a command as the HTTP trigger
/// stored it. The orchestrator decodes it with the shared <see cref="Core.Api.CommandCodec"/>.
/// </summary>
/// <param name="CommandId">The command id (given by the client or assigned by the trigger).</param>
/// <param name="Kind">The command kind (pause, resume, rollback, approve, signal).</param>
/// <param name="Body">The request body as received.</param>
/// <param name="ReceivedAt">When the trigger received it.</param>
public sealed record CommandEnvelope(string CommandId, string Kind, string Body, DateTimeOffset ReceivedAt);

/// <summary>The orchestration's custom status: where the rollout stands, for status queries and diagnosis.</summary>
/// <param name="Generation">The generation that set it.</param>
/// <param name="Status">The rollout's status.</param>
/// <param name="StageIndex">The current stage.</param>
/// <param name="NextWakeAt">When the orchestrator next wakes by itself.</param>
/// <param name="LastCommandId">The last command it applied, if any.</param>
public sealed record OrchestratorStatus(long Generation, RolloutStatus Status, int StageIndex, DateTimeOffset? NextWakeAt, string? LastCommandId);

/// <summary>Input of <see cref="RolloutActivities.EvaluateCriteria"/>.</summary>
/// <param name="State">The rollout (its plan names the criteria and sources).</param>
/// <param name="StageIndex">The stage being evaluated.</param>
/// <param name="Since">The stage's start (the metric window).</param>
public sealed record EvaluateRequest(RolloutState State, int StageIndex, DateTimeOffset Since);

/// <summary>Input of <see cref="RolloutActivities.ApplyExposure"/>.</summary>
/// <param name="State">The rollout whose current exposure is applied.</param>
public sealed record ExposureRequest(RolloutState State);

/// <summary>Input of <see cref="RolloutActivities.Notify"/>.</summary>
/// <param name="RolloutId">The rollout.</param>
/// <param name="Flag">Its flag.</param>
/// <param name="Events">The audit entries worth telling people about.</param>
public sealed record NotifyRequest(string RolloutId, string Flag, ImmutableArray<AuditEvent> Events);

/// <summary>Input of <see cref="RolloutActivities.EnqueueNotifications"/>.</summary>
/// <param name="State">The rollout after the step (its plan names the channels).</param>
/// <param name="Events">Checkpointed audit entries; those the plan's channels are told about become messages.</param>
public sealed record EnqueueNotificationsRequest(RolloutState State, ImmutableArray<AuditEvent> Events);

/// <summary>Input of <see cref="RolloutActivities.AppendAudit"/>: one checkpoint, written atomically.</summary>
/// <param name="State">The state after the step.</param>
/// <param name="Audit">The audit entries the step adds.</param>
/// <param name="AnsweredCommand">The command the step answers, with its result.</param>
/// <param name="StateChanged">False when only a command's answer is recorded (a refusal or a no-op).</param>
public sealed record AppendAuditRequest(RolloutState State, ImmutableArray<AuditEvent> Audit, StoredCommand? AnsweredCommand, bool StateChanged);
