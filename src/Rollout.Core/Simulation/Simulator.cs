using System.Collections.Immutable;
using Rollout.Core.Engine;
using Rollout.Core.Gates;
using Rollout.Core.Metrics;
using Rollout.Core.Plans;

namespace Rollout.Core.Simulation;

/// <summary>How a simulation runs: when it starts, how long approvals take, which signals arrive when.</summary>
/// <param name="Start">The virtual start; null for the first recorded point.</param>
/// <param name="ApprovalDelay">Time from an approval request to the first approver approving.</param>
/// <param name="StaleAfter">A recorded point older than this is missing data; null for twice the evaluation interval.</param>
/// <param name="Signals">Stop signals sent at given moments.</param>
public sealed record SimulationOptions(
    DateTimeOffset? Start = null,
    TimeSpan ApprovalDelay = default,
    TimeSpan? StaleAfter = null,
    ImmutableArray<(DateTimeOffset At, string Signal)> Signals = default);

/// <summary>The replay of a plan: the audit log it would have written and how it ended.</summary>
/// <param name="Final">The state when the simulation stopped.</param>
/// <param name="Audit">Every audit entry, in order.</param>
/// <param name="Start">The virtual start.</param>
/// <param name="End">The virtual moment the simulation stopped.</param>
/// <param name="Ending">Why it stopped, in words.</param>
/// <param name="FullExposureAt">When the last stage was entered, if it was.</param>
public sealed record SimulationResult(
    RolloutState Final,
    ImmutableArray<AuditEvent> Audit,
    DateTimeOffset Start,
    DateTimeOffset End,
    string Ending,
    DateTimeOffset? FullExposureAt);

/// <summary>
/// Backtesting: replays a plan against recorded metric series on a virtual clock, through the same state
/// machine and gate evaluator as a live rollout. Pure and fast: a plan of days runs in milliseconds.
/// </summary>
public static class Simulator
{
    private const int MaxSteps = 1_000_000;

    /// <summary>Runs <paramref name="plan"/> until it ends or the recorded data runs out.</summary>
    public static SimulationResult Run(RolloutPlan plan, RecordedMetrics metrics, SimulationOptions options)
    {
        var start = options.Start ?? metrics.First;
        var staleAfter = options.StaleAfter ?? (plan.Evaluation.Interval * 2);
        var signals = (options.Signals.IsDefault ? [] : options.Signals).OrderBy(s => s.At).ToList();
        var audit = ImmutableArray.CreateBuilder<AuditEvent>();
        var step = RolloutMachine.Start("simulation", plan, "simulator", start);
        audit.AddRange(step.Audit);
        var state = ConfirmExposure(step.State, start, audit);
        DateTimeOffset? approvalDueAt = null;
        DateTimeOffset? fullExposureAt = plan.Stages.Length == 1 ? start : null;
        var now = start;
        var dataEnd = metrics.Last + staleAfter;

        for (var i = 0; i < MaxSteps && !state.IsTerminal; i++)
        {
            // The next moment anything happens: an evaluation, an approval, or a signal.
            var next = state.NextEvaluationAt ?? DateTimeOffset.MaxValue;
            if (approvalDueAt is { } due && due < next)
            {
                next = due;
            }

            if (signals.Count > 0 && signals[0].At < next)
            {
                next = signals[0].At;
            }

            if (next == DateTimeOffset.MaxValue || next > dataEnd)
            {
                return new SimulationResult(state, audit.ToImmutable(), start, now, $"the recorded data ran out in stage '{state.Stage.Name}' ({state.Status})", fullExposureAt);
            }

            now = next;
            if (signals.Count > 0 && signals[0].At <= now)
            {
                step = RolloutMachine.Step(state, new SignalCommand(signals[0].Signal, "simulation"), now);
                signals.RemoveAt(0);
            }
            else if (approvalDueAt is { } approvalAt && approvalAt <= now)
            {
                approvalDueAt = null;
                step = RolloutMachine.Step(state, new ApproveCommand(state.Stage.Approval!.Approvers[0], "simulated approval"), now);
            }
            else
            {
                var evaluate = RolloutMachine.Step(state, new Tick(), now).Effects.OfType<EvaluateCriteria>().Single();
                var results = plan.Criteria.Select(c => c.ErrorBudget is { } budget
                    ? GateEvaluator.EvaluateErrorBudget(c, budget.Windows.Select(w => w.Window).Concat(budget.BudgetWindow is { } b ? [b] : []).Distinct()
                        .ToDictionary(w => w, w => metrics.ReadingAt($"{c.Name}@{MetricTemplate.WindowText(w)}", Cohort.Treatment, now, staleAfter)))
                    : GateEvaluator.Evaluate(
                        c,
                        metrics.ReadingAt(c.Name, Cohort.Treatment, now, staleAfter),
                        c.ComparesWithBaseline ? metrics.ReadingAt(c.Name, Cohort.Baseline, now, staleAfter) : null));
                step = RolloutMachine.Step(state, new EvaluationCompleted(new Evaluation(now, evaluate.StageIndex, [.. results])), now);
            }

            audit.AddRange(step.Audit);
            if (step.State.StageIndex != state.StageIndex && step.State.StageIndex == plan.Stages.Length - 1)
            {
                fullExposureAt = now;
            }

            if (step.State.Status == RolloutStatus.AwaitingApproval && state.Status != RolloutStatus.AwaitingApproval)
            {
                approvalDueAt = now + options.ApprovalDelay;
            }

            state = ConfirmExposure(step.State, now, audit);
        }

        var ending = state.Status switch
        {
            RolloutStatus.Completed => "completed",
            RolloutStatus.RolledBack => $"rolled back in stage '{state.Stage.Name}': {state.StatusReason}",
            _ => $"stopped after {MaxSteps} steps in stage '{state.Stage.Name}'",
        };
        return new SimulationResult(state, audit.ToImmutable(), start, now, ending, fullExposureAt);
    }

    // A plan with an external exposure target is simulated as if the target applied every exposure at once.
    private static RolloutState ConfirmExposure(RolloutState state, DateTimeOffset now, ImmutableArray<AuditEvent>.Builder audit)
    {
        if (!state.ExposurePending)
        {
            return state;
        }

        var confirmed = RolloutMachine.Step(state, new ExposureConfirmed(state.DesiredExposureStage, "simulation"), now);
        audit.AddRange(confirmed.Audit);
        return confirmed.State;
    }
}
