using Rollout.Core.Gates;
using Rollout.Core.Metrics;
using Rollout.Core.Plans;

namespace Rollout.Core.Tests.Gates;

[TestClass]
public sealed class ErrorBudgetTests
{
    private static readonly TimeSpan OneHour = TimeSpan.FromHours(1);
    private static readonly TimeSpan SixHours = TimeSpan.FromHours(6);
    private static readonly TimeSpan ThirtyDays = TimeSpan.FromDays(30);

    private static CriterionPlan Slo => TestPlans.Criterion("""
        { "name": "availability", "kind": "error-budget",
          "source": { "type": "http", "url": "http://127.0.0.1:9/errors?window={{window}}", "value": "$.ratio" },
          "slo": 0.999, "windows": [ { "window": "1h", "maxBurnRate": 14.4 }, { "window": "6h", "maxBurnRate": 6 } ],
          "budget": { "window": "30d", "maxSpent": 1.0 } }
        """);

    [TestMethod]
    public void Parse_ErrorBudgetCriterion_ReadsPolicy()
    {
        var budget = Slo.ErrorBudget!;
        Assert.AreEqual(0.999, budget.Slo);
        CollectionAssert.AreEqual(new[] { new BurnRateWindow(OneHour, 14.4), new BurnRateWindow(SixHours, 6) }, budget.Windows.ToArray());
        Assert.AreEqual(ThirtyDays, budget.BudgetWindow);
    }

    [TestMethod]
    public void EvaluateErrorBudget_EveryWindowBurningTooFast_Fails()
    {
        var result = GateEvaluator.EvaluateErrorBudget(Slo, Readings(0.02, 0.008, 0.0004));
        Assert.AreEqual(Outcome.Fail, result.Outcome, result.Reason);
        StringAssert.Contains(result.Reason, "1h burns 20x (above 14.4x)");
    }

    [TestMethod]
    public void EvaluateErrorBudget_OnlyShortWindowBurning_Holds()
    {
        var result = GateEvaluator.EvaluateErrorBudget(Slo, Readings(0.02, 0.003, 0.0004));
        Assert.AreEqual(Outcome.NoData, result.Outcome);
        StringAssert.StartsWith(result.Reason, "hold:");
    }

    [TestMethod]
    public void EvaluateErrorBudget_BudgetSpent_Fails()
    {
        var result = GateEvaluator.EvaluateErrorBudget(Slo, Readings(0.0005, 0.0005, 0.0011));
        Assert.AreEqual(Outcome.Fail, result.Outcome);
        StringAssert.Contains(result.Reason, "error budget spent: 110%");
    }

    [TestMethod]
    public void EvaluateErrorBudget_Healthy_Passes()
    {
        var result = GateEvaluator.EvaluateErrorBudget(Slo, Readings(0.0005, 0.0005, 0.0004));
        Assert.AreEqual(Outcome.Pass, result.Outcome, result.Reason);
        StringAssert.Contains(result.Reason, "40% of the 30d budget spent");
    }

    [TestMethod]
    public void EvaluateErrorBudget_WindowWithoutData_IsNoDataNeverPass()
    {
        var readings = Readings(0.0005, double.NaN, 0.0004);
        var result = GateEvaluator.EvaluateErrorBudget(Slo, readings);
        Assert.AreEqual(Outcome.NoData, result.Outcome);
        StringAssert.Contains(result.Reason, "6h window");
    }

    [TestMethod]
    [DataRow("""{ "name": "a", "kind": "error-budget", "source": { "type": "http", "url": "http://127.0.0.1:9/e?w={{window}}", "value": "$.v" }, "windows": [ { "window": "1h", "maxBurnRate": 14 } ] }""", "$.criteria[0].slo")]
    [DataRow("""{ "name": "a", "kind": "error-budget", "source": { "type": "http", "url": "http://127.0.0.1:9/e", "value": "$.v" }, "slo": 0.99, "windows": [ { "window": "1h", "maxBurnRate": 14 } ] }""", "$.criteria[0].source")]
    [DataRow("""{ "name": "a", "kind": "error-budget", "source": { "type": "http", "url": "http://127.0.0.1:9/e?w={{window}}", "value": "$.v" }, "slo": 0.99, "windows": [ { "window": "soon", "maxBurnRate": 14 } ] }""", "$.criteria[0].windows[0].window")]
    [DataRow("""{ "name": "a", "kind": "error-budget", "source": { "type": "http", "url": "http://127.0.0.1:9/e?w={{window}}", "value": "$.v" }, "slo": 0.99, "windows": [ { "window": "1h", "maxBurnRate": 14 } ], "max": 1 }""", "$.criteria[0].max")]
    [DataRow("""{ "name": "a", "source": { "type": "http", "url": "http://127.0.0.1:9/e", "value": "$.v" }, "max": 1, "slo": 0.99 }""", "$.criteria[0].slo")]
    [DataRow("""{ "name": "a", "kind": "canary", "source": { "type": "http", "url": "http://127.0.0.1:9/e", "value": "$.v" }, "max": 1 }""", "$.criteria[0].kind")]
    [DataRow("""{ "name": "a", "source": { "type": "http", "url": "http://127.0.0.1:9/e", "value": "$.v" }, "maxBaselineRatio": 1.2, "test": { "kind": "t-test" } }""", "$.criteria[0].test.kind")]
    [DataRow("""{ "name": "a", "source": { "type": "http", "url": "http://127.0.0.1:9/e", "value": "$.v" }, "maxBaselineRatio": 1.2, "test": { "kind": "mann-whitney" } }""", "$.criteria[0].source.values")]
    [DataRow("""{ "name": "a", "source": { "type": "http", "url": "http://127.0.0.1:9/e", "value": "$.v" }, "maxBaselineRatio": 1.2, "test": { "kind": "two-proportion", "confidence": 1.5 } }""", "$.criteria[0].test.confidence")]
    public void Parse_InvalidNewCriterionFields_ErrorAtPath(string criterion, string path)
    {
        var result = TestPlans.Parse($$"""
            { "name": "c", "flag": "c", "stages": [ { "name": "all", "percent": 100, "minDuration": "PT1M" } ], "criteria": [ {{criterion}} ] }
            """);
        Assert.IsFalse(result.IsValid);
        Assert.IsTrue(result.Errors.ContainsKey(path), TestPlans.Describe(result));
    }

    private static Dictionary<TimeSpan, MetricReading> Readings(double oneHour, double sixHours, double thirtyDays) => new()
    {
        [OneHour] = new MetricReading(oneHour, null, null),
        [SixHours] = new MetricReading(sixHours, null, null),
        [ThirtyDays] = new MetricReading(thirtyDays, null, null),
    };
}
