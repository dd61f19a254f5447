using System.Collections.Immutable;
using System.Text.Json.Serialization;
using Rollout.Core.Gates;
using Rollout.Core.Plans;

namespace Rollout.Core.Engine;

/// <summary>Where a rollout stands.</summary>
public enum RolloutStatus
{
    /// <summary>Baking in a stage; evaluations run and promote when the stage is done.</summary>
    Running,

    /// <summary>The stage is done and waits for one of its approvers; exposure is held, evaluations go on.</summary>
    AwaitingApproval,

    /// <summary>Held by a person or a limit; exposure is held, evaluations go on, nothing is promoted.</summary>
    Paused,

    /// <summary>Every stage is done; exposure stays at the final stage. Terminal.</summary>
    Completed,

    /// <summary>Exposure is nothing. Terminal.</summary>
    RolledBack,
}

/// <summary>
/// Everything the engine knows of one rollout. The only input besides commands and evaluations;
/// persisted as a whole at each checkpoint.
/// </summary>
public sealed record RolloutState(
    string Id,
    RolloutPlan Plan,
    RolloutStatus Status,
    int StageIndex,
    DateTimeOffset StageStartedAt,
    DateTimeOffset? NextEvaluationAt,
    int ConsecutiveFailures,
    int ConsecutiveNoData,
    Evaluation? LastEvaluation,
    string? ApprovedBy,
    bool ApprovalRequested,
    string? StatusReason,
    ImmutableArray<string> RecentCommandIds,
    long AuditSeq,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt)
{
    /// <summary>How many command ids are remembered for idempotency.</summary>
    public const int CommandIdMemory = 256;

    /// <summary>The exposure an external target last confirmed it applied, or null when none was confirmed yet.</summary>
    public ExposureConfirmation? ConfirmedExposure { get; init; }

    /// <summary>The stage whose exposure the flag should have now: the current one, or none after a rollback.</summary>
    [JsonIgnore]
    public int? DesiredExposureStage => Status == RolloutStatus.RolledBack ? null : StageIndex;

    /// <summary>True when the plan writes exposure to an external target that has not confirmed the desired exposure yet.</summary>
    [JsonIgnore]
    public bool ExposurePending => Plan.HasExternalExposure && (ConfirmedExposure is not { } confirmed || confirmed.StageIndex != DesiredExposureStage);

    /// <summary>True for <see cref="RolloutStatus.Completed"/> and <see cref="RolloutStatus.RolledBack"/>.</summary>
    [JsonIgnore]
    public bool IsTerminal => Status is RolloutStatus.Completed or RolloutStatus.RolledBack;

    /// <summary>The current stage.</summary>
    [JsonIgnore]
    public StagePlan Stage => Plan.Stages[StageIndex];

    /// <summary>When the rollout next needs a step, or null when it never does again.</summary>
    [JsonIgnore]
    public DateTimeOffset? NextWakeAt => IsTerminal ? null : NextEvaluationAt;

    /// <summary>The percentage exposed by bucketing now (0 after a rollback).</summary>
    [JsonIgnore]
    public decimal ExposedPercent => Status == RolloutStatus.RolledBack
        ? 0m
        : Plan.Stages.Take(StageIndex + 1).Select(s => s.Percent ?? 0m).Max();
}

/// <summary>An external target applied the exposure of <paramref name="StageIndex"/> (null: nobody) at <paramref name="At"/>.</summary>
public sealed record ExposureConfirmation(int? StageIndex, DateTimeOffset At);
