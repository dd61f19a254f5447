using System.Collections.Immutable;
using Rollout.Core.Engine;
using Rollout.Core.Gates;
using Rollout.Core.Metrics;
using Rollout.Core.Plans;

namespace Rollout.Integrations.Tests;

/// <summary>Plans parsed the way the product parses them, and a small driver for the real state machine.</summary>
internal static class TestPlans
{
    /// <summary>A fixed, millisecond-aligned start time (stores keep times in milliseconds).</summary>
    public static readonly DateTimeOffset T0 = new(2026, 3, 1, 10, 0, 0, TimeSpan.Zero);

    public const string Approver = "alex@contoso.com";

    public static MetricSourceCatalog HttpCatalog { get; } = new([MetricSourceSchema.Http]);

    /// <summary>
    /// Three stages (named audience, "canary 5%", everyone with approval), one http criterion comparing with
    /// the baseline, a 1-minute evaluation interval and a stop rule: every part of a plan a store must keep.
    /// </summary>
    public static RolloutPlan Checkout(string flag) => Parse($$$"""
        {
          "name": "checkout plan",
          "flag": "{{{flag}}}",
          "description": "the new checkout, ünïcode \"quoted\"",
          "owner": "{{{Approver}}}",
          "stages": [
            { "name": "internal", "audience": { "users": ["alice@contoso.com"], "groups": ["internal"], "tenants": ["flagship"] }, "minDuration": "0s" },
            { "name": "canary 5%", "percent": 5, "minDuration": "0s" },
            { "name": "everyone", "percent": 100, "minDuration": "0s", "approval": { "approvers": ["{{{Approver}}}"] } }
          ],
          "criteria": [
            { "name": "error-rate",
              "source": { "type": "http", "url": "http://127.0.0.1:9/m?flag={{flag}}&cohort={{cohort}}&since={{since}}",
                          "value": "$.data[0].value", "samples": "$.data[0].count", "timeout": "2s" },
              "max": 0.01, "maxBaselineRatio": 1.5, "minSamples": 100 }
          ],
          "evaluation": { "interval": "1m", "failureLimit": 2, "noDataLimit": 3, "onFailure": "rollback", "onNoData": "pause" },
          "stopOn": [ { "signal": "critical-issue", "action": "rollback" } ]
        }
        """);

    public static RolloutPlan Parse(string json, MetricSourceCatalog? catalog = null)
    {
        var result = PlanParser.Parse(json, false, catalog ?? HttpCatalog);
        Assert.IsTrue(result.IsValid, "test plan is invalid: " + string.Join("; ", result.Errors.Select(e => $"{e.Key}: {string.Join(", ", e.Value)}")));
        return result.Plan!;
    }

    public static StepResult Start(string id, string flag, DateTimeOffset at) => RolloutMachine.Start(id, Checkout(flag), "alice@contoso.com", at);

    /// <summary>An evaluation of every criterion of the state's plan with one outcome.</summary>
    public static Evaluation EvaluationOf(RolloutState state, Outcome outcome, DateTimeOffset at) =>
        new(at, state.StageIndex, [.. state.Plan.Criteria.Select(c => new CriterionResult(c.Name, outcome, 0.004, 0.005, 500, 800, $"judged {outcome}"))]);

    public static StepResult Evaluated(RolloutState state, Outcome outcome, DateTimeOffset at) =>
        Step(state, new EvaluationCompleted(EvaluationOf(state, outcome, at)), at);

    public static StepResult Paused(RolloutState state, DateTimeOffset at, string? commandId = null) =>
        Step(state, new PauseCommand("bob@contoso.com", "on-call asked to hold, \"ünïcode\" reason", commandId), at);

    public static StepResult RolledBack(RolloutState state, DateTimeOffset at, string? commandId = null) =>
        Step(state, new RollbackCommand("bob@contoso.com", "errors in the canary", commandId), at);

    /// <summary>Passes every stage (and signs off the last) until the rollout is Completed; returns every audit entry on the way.</summary>
    public static StepResult Completed(RolloutState state, DateTimeOffset at)
    {
        var audit = ImmutableArray.CreateBuilder<AuditEvent>();
        for (var guard = 0; state.Status != RolloutStatus.Completed; guard++)
        {
            Assert.IsLessThan(20, guard, "the rollout did not complete");
            var step = state.Status == RolloutStatus.AwaitingApproval
                ? Step(state, new ApproveCommand(Approver), at)
                : Evaluated(state, Outcome.Pass, at);
            audit.AddRange(step.Audit);
            state = step.State;
        }

        return new StepResult(state, audit.ToImmutable(), [], null, Changed: true);
    }

    public static StepResult Step(RolloutState state, RolloutInput input, DateTimeOffset at)
    {
        var step = RolloutMachine.Step(state, input, at);
        Assert.IsTrue(step.Changed, $"{input.GetType().Name} changed nothing");
        return step;
    }

    public static ImmutableSortedDictionary<string, string> Settings(params (string Key, string? Value)[] settings) =>
        settings.Where(s => s.Value is not null).ToImmutableSortedDictionary(s => s.Key, s => s.Value!, StringComparer.Ordinal);
}
