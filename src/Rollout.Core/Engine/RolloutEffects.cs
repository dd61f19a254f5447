using System.Collections.Immutable;
using System.Text.Json;

namespace Rollout.Core.Engine;

/// <summary>Work the engine asks its host to do after a step; hosts run each at least once, and each is idempotent.</summary>
public abstract record RolloutEffect;

/// <summary>Set the flag's exposure to the given stage's, or to nothing when <paramref name="StageIndex"/> is null.</summary>
public sealed record ApplyExposure(string Flag, int? StageIndex) : RolloutEffect;

/// <summary>Read every criterion for the stage since it began, then feed <see cref="EvaluationCompleted"/> back.</summary>
public sealed record EvaluateCriteria(int StageIndex, DateTimeOffset Since) : RolloutEffect;

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
