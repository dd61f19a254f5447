using Rollout.Core.Gates;
using Rollout.Core.Metrics;

namespace Rollout.Core.Tests.Gates;

[TestClass]
public sealed class BaselineComparisonTests
{
    private const string Source = """ "source": { "type": "http", "url": "http://127.0.0.1:9/m?cohort={{cohort}}", "value": "$.v", "samples": "$.n", "values": "$.all" } """;

    [TestMethod]
    public void Evaluate_RatioBreachConfirmedByTwoProportionTest_Fails()
    {
        var criterion = TestPlans.Criterion($$"""{ "name": "errors", {{Source}}, "maxBaselineRatio": 1.2, "test": { "kind": "two-proportion", "confidence": 0.95 } }""");
        var result = GateEvaluator.Evaluate(criterion, new MetricReading(0.02, 5000, null), new MetricReading(0.01, 5000, null));
        Assert.AreEqual(Outcome.Fail, result.Outcome, result.Reason);
        StringAssert.Contains(result.Reason, "significant by two-proportion test");
    }

    [TestMethod]
    public void Evaluate_RatioBreachNotSignificant_HoldsAsNoData()
    {
        var criterion = TestPlans.Criterion($$"""{ "name": "errors", {{Source}}, "maxBaselineRatio": 1.2, "test": { "kind": "two-proportion" } }""");
        var result = GateEvaluator.Evaluate(criterion, new MetricReading(0.013, 1000, null), new MetricReading(0.01, 1000, null));
        Assert.AreEqual(Outcome.NoData, result.Outcome);
        StringAssert.Contains(result.Reason, "not yet significant");
    }

    [TestMethod]
    public void Evaluate_TooFewEventsForTest_HoldsAsNoData()
    {
        var criterion = TestPlans.Criterion($$"""{ "name": "errors", {{Source}}, "maxBaselineRatio": 1.2, "test": { "kind": "two-proportion" } }""");
        var result = GateEvaluator.Evaluate(criterion, new MetricReading(0.02, 200, null), new MetricReading(0.01, 200, null));
        Assert.AreEqual(Outcome.NoData, result.Outcome);
        StringAssert.Contains(result.Reason, "too few events");
    }

    [TestMethod]
    public void Evaluate_WithinRatioWithTest_Passes()
    {
        var criterion = TestPlans.Criterion($$"""{ "name": "errors", {{Source}}, "maxBaselineRatio": 1.2, "test": { "kind": "two-proportion" } }""");
        Assert.AreEqual(Outcome.Pass, GateEvaluator.Evaluate(criterion, new MetricReading(0.011, 5000, null), new MetricReading(0.01, 5000, null)).Outcome);
    }

    [TestMethod]
    public void Evaluate_MinBaselineRatioForConversion_FailsWhenBelow()
    {
        var criterion = TestPlans.Criterion($$"""{ "name": "conversion", {{Source}}, "minBaselineRatio": 0.95 }""");
        var fail = GateEvaluator.Evaluate(criterion, new MetricReading(0.09, 5000, null), new MetricReading(0.10, 5000, null));
        Assert.AreEqual(Outcome.Fail, fail.Outcome);
        StringAssert.Contains(fail.Reason, "below minBaselineRatio 0.95");
        Assert.AreEqual(Outcome.Pass, GateEvaluator.Evaluate(criterion, new MetricReading(0.098, 5000, null), new MetricReading(0.10, 5000, null)).Outcome);
    }

    [TestMethod]
    public void Evaluate_MaxBaselineDifference_FailsWhenExceeded()
    {
        var criterion = TestPlans.Criterion($$"""{ "name": "errors", {{Source}}, "maxBaselineDifference": 0.002 }""");
        Assert.AreEqual(Outcome.Fail, GateEvaluator.Evaluate(criterion, new MetricReading(0.015, 100, null), new MetricReading(0.01, 100, null)).Outcome);
        Assert.AreEqual(Outcome.Pass, GateEvaluator.Evaluate(criterion, new MetricReading(0.011, 100, null), new MetricReading(0.01, 100, null)).Outcome);
    }

    [TestMethod]
    public void Evaluate_MannWhitneyOnLatencies_FailsOnlyWhenSlowerSignificantly()
    {
        var criterion = TestPlans.Criterion($$"""{ "name": "latency", {{Source}}, "maxBaselineRatio": 1.1, "test": { "kind": "mann-whitney", "confidence": 0.99 } }""");
        var baseline = new MetricReading(200, 40, null, [.. Enumerable.Range(0, 40).Select(i => 180d + i)]);
        var slower = new MetricReading(260, 40, null, [.. Enumerable.Range(0, 40).Select(i => 240d + i)]);
        var fail = GateEvaluator.Evaluate(criterion, slower, baseline);
        Assert.AreEqual(Outcome.Fail, fail.Outcome, fail.Reason);
        StringAssert.Contains(fail.Reason, "Mann-Whitney");

        var noisy = new MetricReading(230, 40, null, [.. Enumerable.Range(0, 40).Select(i => i % 2 == 0 ? 150d + i : 250d + i)]);
        Assert.AreEqual(Outcome.NoData, GateEvaluator.Evaluate(criterion, noisy, baseline).Outcome);

        var few = new MetricReading(260, 40, null, [240, 250]);
        StringAssert.Contains(GateEvaluator.Evaluate(criterion, few, baseline).Reason, "too few values");
    }
}
