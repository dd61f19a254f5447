using System.Collections.Immutable;
using System.Text.Json;

namespace Rollout.Core.Engine;

/// <summary>Work the engine asks its host to do after a step; hosts run each at least once, and each is idempotent.</summary>
public abstract record RolloutEffect;

/// <summary>Set the flag's exposure to the given stage's, or to nothing when <paramref name="StageIndex"/> is null.</summary>
public sealed record ApplyExposure(string Flag, int? StageIndex) : RolloutEffect;

/// <summary>Read every criterion for the stage since it began, then feed <see cref="EvaluationCompleted"/> back.</summary>
public sealed record EvaluateCriteria(int StageIndex, DateTimeOffset Since) : RolloutEffect;

/// <summary>
/// Tell the plan's notification channels (<see cref="Plans.RolloutPlan.Notify"/>) about an audit entry worth a
/// message: a stage entered, an approval requested, a pause, a rollback or the completion. Delivery is at least once;
/// <see cref="DedupeKey"/> (rollout id and audit sequence number) is the same on every retry and after a restart.
/// </summary>
public sealed record NotifyChannels(string RolloutId, string Flag, ImmutableArray<string> Channels, AuditEvent Event) : RolloutEffect
{
    /// <summary>The audit entries that are notified.</summary>
    public static ImmutableArray<AuditType> NotifiedTypes { get; } =
        [AuditType.StageEntered, AuditType.ApprovalRequested, AuditType.Paused, AuditType.RolledBack, AuditType.Completed];

    /// <summary>The same for every delivery of this event: <c>{rolloutId}:{seq}</c>.</summary>
    public string DedupeKey => $"{RolloutId}:{Event.Seq}";

    /// <summary>
    /// The notification an audit entry of <paramref name="state"/>'s rollout calls for, or null. The engine emits
    /// exactly these; a host that lost effects in a crash derives them again from the checkpointed audit log.
    /// </summary>
    public static NotifyChannels? For(RolloutState state, AuditEvent entry) =>
        !state.Plan.Notify.IsDefaultOrEmpty && NotifiedTypes.Contains(entry.Type)
            ? new NotifyChannels(state.Id, state.Plan.Flag, state.Plan.Notify, entry)
            : null;
}

/// <summary>The kinds of entry in a rollout's audit log.</summary>
public enum AuditType
{
    /// <summary>The rollout was created from its plan.</summary>
    Started,

    /// <summary>A stage began.</summary>
    StageEntered,

    /// <summary>The flag's exposure changed.</summary>
    ExposureApplied,

    /// <summary>Criteria were read and judged.</summary>
    Evaluated,

    /// <summary>A stage is done and waits for sign-off.</summary>
    ApprovalRequested,

    /// <summary>An approver signed the stage off.</summary>
    Approved,

    /// <summary>The rollout was paused.</summary>
    Paused,

    /// <summary>The rollout was resumed.</summary>
    Resumed,

    /// <summary>A stop signal arrived.</summary>
    SignalReceived,

    /// <summary>Exposure was set to nothing and the rollout ended.</summary>
    RolledBack,

    /// <summary>Every stage is done.</summary>
    Completed,

    /// <summary>An external exposure target (webhook, App Configuration) confirmed it applied the stage's exposure.</summary>
    ExposureConfirmed,
}

/// <summary>One append-only entry of a rollout's audit log, with its evidence in <paramref name="Details"/>.</summary>
public sealed record AuditEvent(long Seq, DateTimeOffset At, AuditType Type, string Actor, JsonElement Details);

/// <summary>The outcome of one step: the new state, the audit entries it adds, the effects to run, a command's answer.</summary>
/// <param name="State">The state after the step.</param>
/// <param name="Audit">The audit entries the step adds.</param>
/// <param name="Effects">The effects to run once the step is persisted.</param>
/// <param name="Command">The answer, when the input was a command.</param>
/// <param name="Changed">True when the state changed and so must be persisted.</param>
public sealed record StepResult(
    RolloutState State,
    ImmutableArray<AuditEvent> Audit,
    ImmutableArray<RolloutEffect> Effects,
    CommandResult? Command,
    bool Changed);
