using System.Collections.Immutable;
using Rollout.Core.Engine;
using Rollout.Core.Gates;
using Rollout.Core.Plans;

namespace Rollout.Core.Tests;

/// <summary>Evaluations as a host would feed them back to the engine.</summary>
internal static class TestEvaluations
{
    public static Evaluation Of(int stageIndex, DateTimeOffset at, Outcome outcome) => new(at, stageIndex, [Result(outcome)]);

    private static CriterionResult Result(Outcome outcome) => outcome switch
    {
        Outcome.Pass => new("error-rate", Outcome.Pass, 0.002, 0.002, 500, 5000, "0.002 is at or below max 0.01"),
        Outcome.Fail => new("error-rate", Outcome.Fail, 0.05, 0.002, 500, 5000, "0.05 is above max 0.01"),
        _ => new("error-rate", Outcome.NoData, null, null, null, null, "timeout"),
    };
}

/// <summary>
/// One rollout driven through <see cref="RolloutMachine"/> on a hand-advanced clock, keeping the whole audit log
/// and every effect the way a host would.
/// </summary>
internal sealed class TestRollout
{
    private readonly List<AuditEvent> audit = [];
    private readonly List<RolloutEffect> effects = [];

    public TestRollout(RolloutPlan plan, string id = "r-1", string actor = "alex@contoso.com")
    {
        Now = TestTime.Start;
        Last = RolloutMachine.Start(id, plan, actor, Now);
        State = Last.State;
        audit.AddRange(Last.Audit);
        effects.AddRange(Last.Effects);
    }

    public DateTimeOffset Now { get; private set; }

    public RolloutState State { get; private set; }

    public StepResult Last { get; private set; }

    public IReadOnlyList<AuditEvent> Audit => audit;

    public IReadOnlyList<RolloutEffect> Effects => effects;

    public TimeSpan Interval => State.Plan.Evaluation.Interval;

    public void Advance(TimeSpan by) => Now += by;

    public StepResult Step(RolloutInput input)
    {
        Last = RolloutMachine.Step(State, input, Now);
        State = Last.State;
        audit.AddRange(Last.Audit);
        effects.AddRange(Last.Effects);
        return Last;
    }

    /// <summary>Feeds an evaluation of the current stage with the given outcome, at the current time.</summary>
    public StepResult Evaluate(Outcome outcome) => Step(new EvaluationCompleted(TestEvaluations.Of(State.StageIndex, Now, outcome)));

    /// <summary>Waits one interval, ticks, and answers the requested evaluation with <paramref name="outcome"/>.</summary>
    public StepResult Cycle(Outcome outcome)
    {
        Advance(Interval);
        var tick = Step(new Tick());
        var request = tick.Effects.OfType<EvaluateCriteria>().Single();
        return Step(new EvaluationCompleted(TestEvaluations.Of(request.StageIndex, Now, outcome)));
    }

    /// <summary>At least one passing cycle, more until the current stage's bake time has elapsed (a cycle lands on it exactly).</summary>
    public StepResult Bake()
    {
        var stage = State.StageIndex;
        var until = State.StageStartedAt + State.Stage.MinDuration;
        StepResult result;
        do
        {
            result = Cycle(Outcome.Pass);
        }
        while (Now < until && State.StageIndex == stage && State.Status == RolloutStatus.Running);

        return result;
    }

    /// <summary>Bakes the current stage and reaches <see cref="RolloutStatus.AwaitingApproval"/>.</summary>
    public void BakeUntilAwaitingApproval()
    {
        Bake();
        Assert.AreEqual(RolloutStatus.AwaitingApproval, State.Status, "setup: expected the stage to await approval");
    }

    public ImmutableArray<AuditType> AuditTypes => [.. audit.Select(a => a.Type)];
}
