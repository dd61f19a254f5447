using System.Collections.Immutable;
using Rollout.Core.Engine;
using Rollout.Core.Gates;

namespace Rollout.Core.Api;

/// <summary>The rollout as <c>GET /api/rollouts/{id}</c> returns it, on every host.</summary>
public sealed record RolloutView(
    string Id,
    string Name,
    string Flag,
    RolloutStatus Status,
    string? StatusReason,
    int StageIndex,
    string Stage,
    int StageCount,
    decimal Percent,
    DateTimeOffset StageStartedAt,
    DateTimeOffset? NextEvaluationAt,
    int ConsecutiveFailures,
    int ConsecutiveNoData,
    EvaluationView? LastEvaluation,
    ImmutableArray<string> Approvers,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt)
{
    /// <summary>Projects a state.</summary>
    public static RolloutView From(RolloutState s) => new(
        s.Id,
        s.Plan.Name,
        s.Plan.Flag,
        s.Status,
        s.StatusReason,
        s.StageIndex,
        s.Stage.Name,
        s.Plan.Stages.Length,
        s.ExposedPercent,
        s.StageStartedAt,
        s.NextWakeAt,
        s.ConsecutiveFailures,
        s.ConsecutiveNoData,
        s.LastEvaluation is { } e ? new EvaluationView(e.At, e.Outcome, e.Criteria) : null,
        s.Stage.Approval?.Approvers ?? [],
        s.CreatedAt,
        s.UpdatedAt);
}

/// <summary>The latest evaluation as the API returns it.</summary>
public sealed record EvaluationView(DateTimeOffset At, Outcome Outcome, ImmutableArray<CriterionResult> Criteria);

/// <summary>The answer of the Azure DevOps gate: <c>succeeded</c>, <c>pending</c> or <c>failed</c>.</summary>
public sealed record GateView(string Status, string Until, string Message, string RolloutStatus, string Stage)
{
    /// <summary>
    /// Whether the rollout has reached <paramref name="until"/>: a stage name (reached once that stage is
    /// entered) or <c>completed</c>.
    /// </summary>
    public static GateView From(RolloutState s, string? until)
    {
        var target = string.IsNullOrWhiteSpace(until) ? "completed" : until.Trim();
        string status;
        string message;
        if (s.Status == Engine.RolloutStatus.RolledBack)
        {
            (status, message) = ("failed", $"rolled back: {s.StatusReason}");
        }
        else if (string.Equals(target, "completed", StringComparison.OrdinalIgnoreCase))
        {
            (status, message) = s.Status == Engine.RolloutStatus.Completed
                ? ("succeeded", "the rollout completed")
                : ("pending", $"in stage '{s.Stage.Name}' ({s.Status})");
        }
        else
        {
            var index = s.Plan.Stages.IndexOf(s.Plan.Stages.FirstOrDefault(x => string.Equals(x.Name, target, StringComparison.OrdinalIgnoreCase))!);
            (status, message) = index < 0
                ? ("failed", $"the plan has no stage '{target}'")
                : s.StageIndex >= index
                    ? ("succeeded", $"stage '{s.Plan.Stages[index].Name}' reached")
                    : ("pending", $"in stage '{s.Stage.Name}' ({s.Status}); waiting for '{s.Plan.Stages[index].Name}'");
        }

        return new GateView(status, target, message, s.Status.ToString(), s.Stage.Name);
    }
}
