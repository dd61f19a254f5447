using System.Collections.Immutable;
using System.Globalization;
using System.Text.Json;
using Rollout.Core.Gates;
using Rollout.Core.Plans;

namespace Rollout.Core.Engine;

/// <summary>
/// The rollout state machine as one pure step function: <c>Step(state, input, now) → (state', audit, effects)</c>.
/// It never reads the clock: <c>now</c> is passed in. Every host (local scheduler, Durable orchestrator) drives it.
/// </summary>
public static class RolloutMachine
{
    /// <summary>The actor recorded for the engine's own decisions.</summary>
    public const string SystemActor = "rollout";

    /// <summary>Creates a rollout from a validated plan: enters the first stage and applies its exposure.</summary>
    public static StepResult Start(string id, RolloutPlan plan, string actor, DateTimeOffset now)
    {
        var initial = new RolloutState(
            id, plan, RolloutStatus.Running, 0, now, now + plan.Evaluation.Interval, 0, 0, null, null, false, null, [], 0, now, now);
        var step = new Builder(initial, now);
        step.Record(AuditType.Started, actor, new
        {
            plan = plan.Name,
            plan.Flag,
            plan.Owner,
            stages = plan.Stages.Select(s => s.Name),
            criteria = plan.Criteria.Select(c => c.Name),
        });
        step.EnterStage(0);
        return step.Build(null);
    }

    /// <summary>Applies one input at <paramref name="now"/>.</summary>
    public static StepResult Step(RolloutState state, RolloutInput input, DateTimeOffset now)
    {
        var step = new Builder(state, now);
        switch (input)
        {
            case Tick:
                if (!state.IsTerminal && state.NextEvaluationAt is { } due && due <= now)
                {
                    step.Effects.Add(new EvaluateCriteria(state.StageIndex, state.StageStartedAt));
                }

                return step.Build(null);
            case EvaluationCompleted completed:
                OnEvaluation(step, completed.Evaluation);
                return step.Build(null);
            case ExposureConfirmed confirmed:
                OnExposureConfirmed(step, confirmed);
                return step.Build(null);
            case RolloutCommand command:
                return step.Build(OnCommand(step, command));
            default:
                throw new ArgumentException($"unknown input {input.GetType().Name}", nameof(input));
        }
    }

    private static void OnEvaluation(Builder step, Evaluation evaluation)
    {
        var state = step.State;
        if (state.IsTerminal || evaluation.StageIndex != state.StageIndex)
        {
            return; // A result for a stage the rollout has left is stale evidence; it decides nothing.
        }

        var outcome = evaluation.Outcome;
        step.State = state with
        {
            LastEvaluation = evaluation,
            NextEvaluationAt = step.Now + state.Plan.Evaluation.Interval,
            ConsecutiveFailures = outcome switch
            {
                Outcome.Fail => state.ConsecutiveFailures + 1,
                Outcome.Pass => 0,
                _ => state.ConsecutiveFailures, // NoData neither counts as a failure nor clears a failure streak.
            },
            ConsecutiveNoData = outcome == Outcome.NoData ? state.ConsecutiveNoData + 1 : 0,
        };
        state = step.State;
        step.Record(AuditType.Evaluated, "monitor", new
        {
            stage = state.Stage.Name,
            outcome,
            consecutiveFailures = state.ConsecutiveFailures,
            consecutiveNoData = state.ConsecutiveNoData,
            criteria = evaluation.Criteria,
        });

        var policy = state.Plan.Evaluation;
        if (outcome == Outcome.Fail && state.ConsecutiveFailures >= policy.FailureLimit)
        {
            var failing = evaluation.Criteria.Where(c => c.Outcome == Outcome.Fail).Select(c => $"{c.Name}: {c.Reason}");
            var reason = $"{state.ConsecutiveFailures} consecutive failing evaluation(s) (failureLimit {policy.FailureLimit}): {string.Join("; ", failing)}";
            step.Act(policy.OnFailure, SystemActor, reason);
            return;
        }

        if (outcome == Outcome.NoData && state.ConsecutiveNoData >= policy.NoDataLimit)
        {
            var missing = evaluation.Criteria.Where(c => c.Outcome == Outcome.NoData).Select(c => $"{c.Name}: {c.Reason}");
            var reason = $"{state.ConsecutiveNoData} consecutive evaluation(s) without data (noDataLimit {policy.NoDataLimit}): {string.Join("; ", missing)}";
            step.Act(policy.OnNoData, SystemActor, reason);
            return;
        }

        if (outcome == Outcome.Pass)
        {
            step.TryAdvance();
        }
    }

    private static void OnExposureConfirmed(Builder step, ExposureConfirmed confirmed)
    {
        var state = step.State;
        if (!state.ExposurePending || confirmed.StageIndex != state.DesiredExposureStage)
        {
            return; // Already confirmed, or the confirmation of an exposure the rollout has moved past.
        }

        step.State = state with { ConfirmedExposure = new ExposureConfirmation(confirmed.StageIndex, step.Now) };
        step.Record(AuditType.ExposureConfirmed, SystemActor, new
        {
            stage = confirmed.StageIndex is { } index ? state.Plan.Stages[index].Name : null,
            percent = state.ExposedPercent,
            target = confirmed.Target,
        });
    }

    private static CommandResult OnCommand(Builder step, RolloutCommand command)
    {
        var state = step.State;
        if (command.CommandId is { } id && state.RecentCommandIds.Contains(id))
        {
            return new CommandResult(CommandStatus.Duplicate, $"command '{id}' was already applied");
        }

        if (state.IsTerminal)
        {
            return new CommandResult(CommandStatus.Conflict, $"the rollout is {state.Status}; it takes no more commands");
        }

        var result = command switch
        {
            PauseCommand pause => state.Status == RolloutStatus.Paused
                ? new CommandResult(CommandStatus.Accepted, "already paused")
                : step.Pause(pause.Actor, pause.Reason),
            ResumeCommand resume => Resume(step, resume),
            RollbackCommand rollback => step.RollBack(rollback.Actor, rollback.Reason),
            ApproveCommand approve => Approve(step, approve),
            SignalCommand signal => Signal(step, signal),
            _ => throw new ArgumentException($"unknown command {command.GetType().Name}", nameof(command)),
        };

        if (result.Succeeded && command.CommandId is { } applied)
        {
            var ids = step.State.RecentCommandIds.Add(applied);
            step.State = step.State with
            {
                RecentCommandIds = ids.Length > RolloutState.CommandIdMemory ? ids.RemoveRange(0, ids.Length - RolloutState.CommandIdMemory) : ids,
            };
        }

        return result;
    }

    private static CommandResult Resume(Builder step, ResumeCommand resume)
    {
        if (step.State.Status != RolloutStatus.Paused)
        {
            return new CommandResult(CommandStatus.Conflict, $"the rollout is {step.State.Status}, not Paused");
        }

        step.State = step.State with { Status = RolloutStatus.Running, StatusReason = null, ConsecutiveFailures = 0, ConsecutiveNoData = 0 };
        step.Record(AuditType.Resumed, resume.Actor, new { stage = step.State.Stage.Name, reason = resume.Reason });
        return new CommandResult(CommandStatus.Accepted, $"resumed in stage '{step.State.Stage.Name}'; the next passing evaluation promotes");
    }

    private static CommandResult Approve(Builder step, ApproveCommand approve)
    {
        var state = step.State;
        if (state.Stage.Approval is not { } approval)
        {
            return new CommandResult(CommandStatus.Conflict, $"stage '{state.Stage.Name}' needs no approval");
        }

        if (!approval.Allows(approve.Actor))
        {
            return new CommandResult(CommandStatus.Forbidden, $"'{approve.Actor}' is not an approver of stage '{state.Stage.Name}'");
        }

        if (state.Status != RolloutStatus.AwaitingApproval)
        {
            return new CommandResult(CommandStatus.Conflict, $"stage '{state.Stage.Name}' is not awaiting approval (the rollout is {state.Status})");
        }

        step.State = state with { ApprovedBy = approve.Actor.Trim(), Status = RolloutStatus.Running };
        step.Record(AuditType.Approved, approve.Actor.Trim(), new { stage = state.Stage.Name, comment = approve.Comment });
        var before = step.State.StageIndex;
        step.TryAdvance();
        return step.State.StageIndex != before || step.State.Status == RolloutStatus.Completed
            ? new CommandResult(CommandStatus.Accepted, $"stage '{state.Stage.Name}' approved")
            : new CommandResult(CommandStatus.Accepted, $"stage '{state.Stage.Name}' approved; it is promoted at the next passing evaluation");
    }

    private static CommandResult Signal(Builder step, SignalCommand signal)
    {
        var rule = step.State.Plan.StopOn.FirstOrDefault(r => string.Equals(r.Signal, signal.Signal, StringComparison.OrdinalIgnoreCase));
        step.Record(AuditType.SignalReceived, signal.Source, new
        {
            signal = signal.Signal,
            source = signal.Source,
            message = signal.Message,
            action = rule?.Action.ToString().ToLowerInvariant() ?? "none (not in stopOn)",
        });
        if (rule is null)
        {
            return new CommandResult(CommandStatus.Accepted, $"signal '{signal.Signal}' recorded; the plan does not stop on it");
        }

        var reason = $"signal '{signal.Signal}' from {signal.Source}" + (string.IsNullOrWhiteSpace(signal.Message) ? string.Empty : $": {signal.Message}");
        if (rule.Action == LimitAction.Pause && step.State.Status == RolloutStatus.Paused)
        {
            return new CommandResult(CommandStatus.Accepted, $"signal '{signal.Signal}' recorded; already paused");
        }

        step.Act(rule.Action, signal.Source, reason);
        return new CommandResult(CommandStatus.Accepted, $"signal '{signal.Signal}' applied: {rule.Action.ToString().ToLowerInvariant()}");
    }

    private sealed class Builder(RolloutState state, DateTimeOffset now)
    {
        private readonly RolloutState initial = state;
        private readonly ImmutableArray<AuditEvent>.Builder audit = ImmutableArray.CreateBuilder<AuditEvent>();

        public RolloutState State { get; set; } = state;

        public DateTimeOffset Now { get; } = now;

        public List<RolloutEffect> Effects { get; } = [];

        public void Record(AuditType type, string actor, object details)
        {
            State = State with { AuditSeq = State.AuditSeq + 1, UpdatedAt = Now };
            var entry = new AuditEvent(State.AuditSeq, Now, type, actor, JsonSerializer.SerializeToElement(details, Api.RolloutJson.Options));
            audit.Add(entry);
            if (NotifyChannels.For(State, entry) is { } notify)
            {
                Effects.Add(notify);
            }
        }

        public StepResult Build(CommandResult? command) => new(State, audit.ToImmutable(), [.. Effects], command, !ReferenceEquals(State, initial));

        public void Act(LimitAction action, string actor, string reason)
        {
            if (action == LimitAction.Rollback)
            {
                RollBack(actor, reason);
            }
            else if (State.Status != RolloutStatus.Paused)
            {
                Pause(actor, reason);
            }
        }

        public CommandResult Pause(string actor, string reason)
        {
            State = State with { Status = RolloutStatus.Paused, StatusReason = reason };
            Record(AuditType.Paused, actor, new { stage = State.Stage.Name, reason });
            return new CommandResult(CommandStatus.Accepted, $"paused in stage '{State.Stage.Name}'");
        }

        public CommandResult RollBack(string actor, string reason)
        {
            State = State with { Status = RolloutStatus.RolledBack, StatusReason = reason, NextEvaluationAt = null };
            Record(AuditType.RolledBack, actor, new { stage = State.Stage.Name, reason, evidence = State.LastEvaluation });
            Record(AuditType.ExposureApplied, SystemActor, new { stage = (string?)null, percent = 0m, audience = "nobody" });
            Effects.Add(new ApplyExposure(State.Plan.Flag, null));
            return new CommandResult(CommandStatus.Accepted, $"rolled back from stage '{State.Stage.Name}'; exposure is nothing");
        }

        /// <summary>Promotes when the stage is done: bake time elapsed, latest evaluation passing, signed off if required.</summary>
        public void TryAdvance()
        {
            var s = State;
            if (s.Status != RolloutStatus.Running || s.LastEvaluation?.Outcome != Outcome.Pass || s.ExposurePending || Now - BakeStart(s) < s.Stage.MinDuration)
            {
                return; // With an external target, a stage bakes from the moment its exposure was confirmed applied.
            }

            if (s.Stage.Approval is { } approval && s.ApprovedBy is null)
            {
                State = s with { Status = RolloutStatus.AwaitingApproval };
                if (!s.ApprovalRequested)
                {
                    State = State with { ApprovalRequested = true };
                    Record(AuditType.ApprovalRequested, SystemActor, new { stage = s.Stage.Name, approvers = approval.Approvers, evidence = s.LastEvaluation });
                }

                return;
            }

            if (s.StageIndex == s.Plan.Stages.Length - 1)
            {
                State = s with { Status = RolloutStatus.Completed, NextEvaluationAt = null, StatusReason = null };
                Record(AuditType.Completed, SystemActor, new { stage = s.Stage.Name, percent = s.ExposedPercent, duration = (Now - s.CreatedAt).ToString("c", CultureInfo.InvariantCulture) });
                return;
            }

            EnterStage(s.StageIndex + 1);
        }

        private static DateTimeOffset BakeStart(RolloutState s) =>
            s.Plan.HasExternalExposure && s.ConfirmedExposure is { } confirmed && confirmed.StageIndex == s.StageIndex && confirmed.At > s.StageStartedAt
                ? confirmed.At
                : s.StageStartedAt;

        public void EnterStage(int index)
        {
            var plan = State.Plan;
            State = State with
            {
                StageIndex = index,
                StageStartedAt = Now,
                NextEvaluationAt = Now + plan.Evaluation.Interval,
                ConsecutiveFailures = 0,
                ConsecutiveNoData = 0,
                LastEvaluation = null,
                ApprovedBy = null,
                ApprovalRequested = false,
            };
            var stage = State.Stage;
            Record(AuditType.StageEntered, SystemActor, new
            {
                stage = stage.Name,
                index,
                minDuration = Durations.ToIso(stage.MinDuration),
                approvalRequired = stage.Approval is not null,
            });
            Record(AuditType.ExposureApplied, SystemActor, new { stage = stage.Name, percent = State.ExposedPercent, audience = stage.Audience });
            Effects.Add(new ApplyExposure(plan.Flag, index));
        }
    }
}
