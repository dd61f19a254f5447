using Rollout.Core.Gates;
using Rollout.Core.Metrics;
using Rollout.Core.Plans;

namespace Rollout.Core.Tests.Gates;

[TestClass]
public sealed class GateEvaluatorTests
{
    /// <summary>The sample plan's criterion: max 0.01, at most 1.5× the baseline, at least 100 samples.</summary>
    private static readonly CriterionPlan ErrorRate = TestPlans.Sample.Criteria[0];

    private static readonly CriterionPlan Availability = TestPlans.Criterion("""
        { "name": "availability", "source": { "type": "http", "url": "http://127.0.0.1:9000/a", "value": "$.value" }, "min": 0.99 }
        """);

    private static readonly CriterionPlan LatencyRatio = TestPlans.Criterion("""
        { "name": "p95-latency", "source": { "type": "http", "url": "http://127.0.0.1:9000/l", "value": "$.value" }, "maxBaselineRatio": 1.5 }
        """);

    private static readonly MetricReading GoodBaseline = new(0.005, 5000, null);

    private static MetricReading Reading(double? value, long? samples = 500) => new(value, samples, null);

    [TestMethod]
    public void Evaluate_TreatmentError_NoDataWithTheError()
    {
        var result = GateEvaluator.Evaluate(ErrorRate, MetricReading.Failed("HTTP 503 from monitoring"), GoodBaseline);

        AssertVerdict(result, Outcome.NoData, "HTTP 503 from monitoring");
        Assert.AreEqual("error-rate", result.Name);
    }

    [TestMethod]
    public void Evaluate_ErrorWithAValue_NeverUsesTheValue()
    {
        var result = GateEvaluator.Evaluate(ErrorRate, new MetricReading(0.001, 500, "partial response"), GoodBaseline);

        AssertVerdict(result, Outcome.NoData, "partial response");
    }

    [TestMethod]
    public void Evaluate_NullValue_NoData()
    {
        AssertVerdict(GateEvaluator.Evaluate(ErrorRate, Reading(null), GoodBaseline), Outcome.NoData, "no value");
    }

    [TestMethod]
    public void Evaluate_NaN_NoDataAndNoValueReported()
    {
        var result = GateEvaluator.Evaluate(ErrorRate, Reading(double.NaN), GoodBaseline);

        AssertVerdict(result, Outcome.NoData, "NaN");
        Assert.IsNull(result.Value);
    }

    [TestMethod]
    [DataRow(double.PositiveInfinity)]
    [DataRow(double.NegativeInfinity)]
    public void Evaluate_Infinity_NoData(double value)
    {
        var result = GateEvaluator.Evaluate(ErrorRate, Reading(value), GoodBaseline);

        AssertVerdict(result, Outcome.NoData, "infinite");
        Assert.IsNull(result.Value);
    }

    [TestMethod]
    public void Evaluate_ZeroSamples_NoDataEvenWithoutMinSamples()
    {
        AssertVerdict(GateEvaluator.Evaluate(Availability, Reading(0.999, samples: 0), null), Outcome.NoData, "no samples");
    }

    [TestMethod]
    public void Evaluate_SamplesBelowMinSamples_NoData()
    {
        var result = GateEvaluator.Evaluate(ErrorRate, Reading(0.001, samples: 99), GoodBaseline);

        AssertVerdict(result, Outcome.NoData, "99 samples, below minSamples 100");
        Assert.AreEqual(99L, result.Samples);
    }

    [TestMethod]
    public void Evaluate_SamplesExactlyMinSamples_Judged()
    {
        AssertVerdict(GateEvaluator.Evaluate(ErrorRate, Reading(0.005, samples: 100), GoodBaseline), Outcome.Pass, "1x the baseline");
    }

    [TestMethod]
    public void Evaluate_NoSampleCountWhileMinSamplesSet_NoData()
    {
        AssertVerdict(GateEvaluator.Evaluate(ErrorRate, Reading(0.001, samples: null), GoodBaseline), Outcome.NoData, "no sample count, and minSamples is 100");
    }

    [TestMethod]
    public void Evaluate_NoSampleCountWithoutMinSamples_Judged()
    {
        AssertVerdict(GateEvaluator.Evaluate(Availability, Reading(0.995, samples: null), null), Outcome.Pass, "0.995 is at or above min 0.99");
    }

    [TestMethod]
    public void Evaluate_BaselineNotQueriedWhileRatioSet_NoData()
    {
        AssertVerdict(GateEvaluator.Evaluate(ErrorRate, Reading(0.001), null), Outcome.NoData, "baseline: not queried");
    }

    [TestMethod]
    public void Evaluate_BaselineErrored_NoData()
    {
        var result = GateEvaluator.Evaluate(ErrorRate, Reading(0.001), MetricReading.Failed("timeout after 10s"));

        AssertVerdict(result, Outcome.NoData, "baseline: timeout after 10s");
        Assert.IsNull(result.Baseline);
    }

    [TestMethod]
    public void Evaluate_BaselineNaN_NoData()
    {
        AssertVerdict(GateEvaluator.Evaluate(ErrorRate, Reading(0.001), Reading(double.NaN, 5000)), Outcome.NoData, "baseline: value is NaN");
    }

    [TestMethod]
    public void Evaluate_BaselineTooFewSamples_NoData()
    {
        AssertVerdict(GateEvaluator.Evaluate(ErrorRate, Reading(0.001), Reading(0.001, 10)), Outcome.NoData, "baseline: 10 samples, below minSamples 100");
    }

    [TestMethod]
    public void Evaluate_AboveMax_Fail()
    {
        var result = GateEvaluator.Evaluate(ErrorRate, Reading(0.02), GoodBaseline);

        AssertVerdict(result, Outcome.Fail, "0.02 is above max 0.01");
        Assert.AreEqual(0.02, result.Value);
        Assert.AreEqual(0.005, result.Baseline);
        Assert.AreEqual(500L, result.Samples);
        Assert.AreEqual(5000L, result.BaselineSamples);
    }

    [TestMethod]
    public void Evaluate_BelowMin_Fail()
    {
        AssertVerdict(GateEvaluator.Evaluate(Availability, Reading(0.98), null), Outcome.Fail, "0.98 is below min 0.99");
    }

    [TestMethod]
    public void Evaluate_AboveBaselineRatio_Fail()
    {
        // 0.009 is under max 0.01 but 1.8× the baseline 0.005.
        AssertVerdict(GateEvaluator.Evaluate(ErrorRate, Reading(0.009), GoodBaseline), Outcome.Fail, "above maxBaselineRatio 1.5");
    }

    [TestMethod]
    public void Evaluate_ZeroBaselineNonZeroTreatment_Fail()
    {
        AssertVerdict(GateEvaluator.Evaluate(ErrorRate, Reading(0.001), Reading(0, 5000)), Outcome.Fail, "baseline is 0");
    }

    [TestMethod]
    public void Evaluate_ZeroBaselineZeroTreatment_Pass()
    {
        AssertVerdict(GateEvaluator.Evaluate(ErrorRate, Reading(0), Reading(0, 5000)), Outcome.Pass, "both 0");
    }

    [TestMethod]
    [DataRow(0.0075)]
    [DataRow(0.001)]
    [DataRow(0.01 * 0.5)]
    public void Evaluate_WithinMaxAndRatio_Pass(double value)
    {
        var result = GateEvaluator.Evaluate(ErrorRate, Reading(value), GoodBaseline);

        Assert.AreEqual(Outcome.Pass, result.Outcome, result.Reason);
        StringAssert.Contains(result.Reason, "at or below max 0.01", StringComparison.Ordinal);
    }

    [TestMethod]
    public void Evaluate_RatioExactlyAtLimit_Pass()
    {
        AssertVerdict(GateEvaluator.Evaluate(LatencyRatio, Reading(1.5), Reading(1.0)), Outcome.Pass, "1.5x the baseline 1 (max 1.5x)");
        AssertVerdict(GateEvaluator.Evaluate(LatencyRatio, Reading(1.5001), Reading(1.0)), Outcome.Fail, "above maxBaselineRatio 1.5");
    }

    [TestMethod]
    public void Evaluate_ValueExactlyAtMaxOrMin_Pass()
    {
        AssertVerdict(GateEvaluator.Evaluate(ErrorRate, Reading(0.01), Reading(0.01, 5000)), Outcome.Pass, "at or below max 0.01");
        AssertVerdict(GateEvaluator.Evaluate(Availability, Reading(0.99), null), Outcome.Pass, "at or above min 0.99");
    }

    [TestMethod]
    public void Evaluate_AboveMaxWhileBaselineMissing_FailNotNoData()
    {
        AssertVerdict(GateEvaluator.Evaluate(ErrorRate, Reading(0.5), null), Outcome.Fail, "above max 0.01");
        AssertVerdict(GateEvaluator.Evaluate(ErrorRate, Reading(0.5), MetricReading.Failed("down")), Outcome.Fail, "above max 0.01");
    }

    [TestMethod]
    public void Evaluate_WithoutRatio_IgnoresBaseline()
    {
        AssertVerdict(GateEvaluator.Evaluate(Availability, Reading(0.995), MetricReading.Failed("down")), Outcome.Pass, "at or above min 0.99");
    }

    [TestMethod]
    public void Outcome_OfCriteria_FailBeatsNoDataBeatsPass()
    {
        CriterionResult Of(Outcome o) => new("c", o, null, null, null, null, o.ToString());
        Evaluation With(params Outcome[] outcomes) => new(TestTime.Start, 0, [.. outcomes.Select(Of)]);

        Assert.AreEqual(Outcome.Pass, With().Outcome);
        Assert.AreEqual(Outcome.Pass, With(Outcome.Pass, Outcome.Pass).Outcome);
        Assert.AreEqual(Outcome.NoData, With(Outcome.Pass, Outcome.NoData).Outcome);
        Assert.AreEqual(Outcome.Fail, With(Outcome.NoData, Outcome.Fail, Outcome.Pass).Outcome);
    }

    private static void AssertVerdict(CriterionResult result, Outcome expected, string reasonFragment)
    {
        Assert.AreEqual(expected, result.Outcome, result.Reason);
        StringAssert.Contains(result.Reason, reasonFragment, StringComparison.Ordinal);
    }
}
