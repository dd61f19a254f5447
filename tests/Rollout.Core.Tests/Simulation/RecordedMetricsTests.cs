using Rollout.Core.Metrics;
using Rollout.Core.Simulation;

namespace Rollout.Core.Tests.Simulation;

[TestClass]
public sealed class RecordedMetricsTests
{
    private static readonly DateTimeOffset T0 = new(2026, 10, 1, 0, 0, 0, TimeSpan.Zero);

    [TestMethod]
    public void TryParse_Csv_ReadsPointsByCriterionAndCohort()
    {
        Assert.IsTrue(RecordedMetrics.TryParse("""
            time,criterion,cohort,value,samples
            2026-10-01T00:00:00Z,error-rate,treatment,0.004,400
            2026-10-01T01:00:00Z,error-rate,treatment,0.006,410
            2026-10-01T00:00:00Z,error-rate,baseline,0.005,3600
            """, out var metrics, out var errors), string.Join("; ", errors));
        var reading = metrics.ReadingAt("error-rate", Cohort.Treatment, T0.AddMinutes(90), TimeSpan.FromHours(1));
        Assert.AreEqual(0.006, reading.Value);
        Assert.AreEqual(410L, reading.Samples);
        Assert.AreEqual(0.005, metrics.ReadingAt("error-rate", Cohort.Baseline, T0.AddMinutes(30), TimeSpan.FromHours(1)).Value);
        Assert.AreEqual(T0, metrics.First);
        Assert.AreEqual(T0.AddHours(1), metrics.Last);
    }

    [TestMethod]
    public void TryParse_Json_ReadsTheSamePoints()
    {
        Assert.IsTrue(RecordedMetrics.TryParse("""
            [ { "time": "2026-10-01T00:00:00Z", "criterion": "p95", "value": 210.5, "samples": 90 } ]
            """, out var metrics, out _));
        var reading = metrics.ReadingAt("p95", Cohort.Treatment, T0, TimeSpan.FromMinutes(5));
        Assert.AreEqual(210.5, reading.Value);
        Assert.AreEqual(90L, reading.Samples);
    }

    [TestMethod]
    public void ReadingAt_BeforeFirstOrStaleOrUnknown_FailsWithReason()
    {
        RecordedMetrics.TryParse("time,criterion,value\n2026-10-01T01:00:00Z,c,1\n", out var metrics, out _);
        StringAssert.Contains(metrics.ReadingAt("c", Cohort.Treatment, T0, TimeSpan.FromHours(1)).Error, "no recorded point yet");
        StringAssert.Contains(metrics.ReadingAt("c", Cohort.Treatment, T0.AddHours(5), TimeSpan.FromHours(1)).Error, "stale");
        StringAssert.Contains(metrics.ReadingAt("c", Cohort.Baseline, T0.AddHours(1), TimeSpan.FromHours(1)).Error, "no recorded series");
    }

    [TestMethod]
    public void TryParse_EmptyValueCell_IsMissingDataAtThatMoment()
    {
        RecordedMetrics.TryParse("time,criterion,value\n2026-10-01T00:00:00Z,c,1\n2026-10-01T01:00:00Z,c,\n", out var metrics, out _);
        Assert.IsTrue(double.IsNaN(metrics.ReadingAt("c", Cohort.Treatment, T0.AddHours(1), TimeSpan.FromHours(2)).Value!.Value));
    }

    [TestMethod]
    public void TryParse_BadRows_ListsEveryProblemByLine()
    {
        Assert.IsFalse(RecordedMetrics.TryParse("""
            time,criterion,cohort,value,samples
            yesterday,c,treatment,1,1
            2026-10-01T00:00:00Z,c,control,1,1
            2026-10-01T00:00:00Z,c,treatment,high,1
            2026-10-01T00:00:00Z,c,treatment,1,-4
            """, out _, out var errors));
        CollectionAssert.AreEqual(new[] { "line 2", "line 3", "line 4", "line 5" }, errors.Select(e => e.Split(':')[0]).ToArray());
    }

    [TestMethod]
    public void TryParse_HeaderWithoutRequiredColumns_Fails()
    {
        Assert.IsFalse(RecordedMetrics.TryParse("when,what\n1,2\n", out _, out var errors));
        StringAssert.Contains(errors[0], "time, criterion and value");
    }
}
