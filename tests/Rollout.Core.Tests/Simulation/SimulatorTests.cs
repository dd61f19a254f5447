using System.Globalization;
using System.Text;
using Rollout.Core.Engine;
using Rollout.Core.Simulation;

namespace Rollout.Core.Tests.Simulation;

[TestClass]
public sealed class SimulatorTests
{
    private static readonly DateTimeOffset T0 = new(2026, 10, 1, 0, 0, 0, TimeSpan.Zero);

    [TestMethod]
    public void Run_HealthyDaysOfData_CompletesThroughEveryStageWithApprovals()
    {
        var result = Simulator.Run(TestPlans.Sample, Metrics(days: 20, interval: TimeSpan.FromMinutes(5)), new SimulationOptions(ApprovalDelay: TimeSpan.FromHours(1)));

        Assert.AreEqual(RolloutStatus.Completed, result.Final.Status, result.Ending);
        var entered = result.Audit.Where(e => e.Type == AuditType.StageEntered).Select(e => e.Details.GetProperty("stage").GetString()).ToArray();
        CollectionAssert.AreEqual(new[] { "internal", "pilot", "one-customer", "10%", "50%", "100%" }, entered);
        Assert.AreEqual(2, result.Audit.Count(e => e.Type == AuditType.Approved));

        // Bake times 8h + 2d + 7d + 2d + 2d before the last stage, plus two one-hour approvals, plus check granularity.
        var expected = TimeSpan.FromHours(8) + TimeSpan.FromDays(13) + TimeSpan.FromHours(2);
        Assert.IsNotNull(result.FullExposureAt);
        var full = result.FullExposureAt.Value - result.Start;
        Assert.IsTrue(full >= expected && full <= expected + TimeSpan.FromMinutes(30), $"full exposure after {full}");
    }

    [TestMethod]
    public void Run_RegressionAtFiftyPercent_RollsBackAfterFailureLimitChecks()
    {
        var regressionAt = T0 + TimeSpan.FromDays(12);
        var result = Simulator.Run(TestPlans.Sample, Metrics(days: 20, interval: TimeSpan.FromMinutes(5), regressionAt), new SimulationOptions());

        Assert.AreEqual(RolloutStatus.RolledBack, result.Final.Status);
        Assert.AreEqual("50%", result.Final.Stage.Name);
        var rolledBack = result.Audit.Single(e => e.Type == AuditType.RolledBack).At;
        Assert.IsTrue(rolledBack > regressionAt && rolledBack <= regressionAt + TimeSpan.FromMinutes(10), $"rolled back at {rolledBack}");
        Assert.AreEqual(2, result.Audit.Count(e => e.Type == AuditType.Evaluated && e.Details.GetProperty("outcome").GetString() == "Fail"));
    }

    [TestMethod]
    public void Run_DataRunsOut_StopsUnfinishedAndSaysWhy()
    {
        var result = Simulator.Run(TestPlans.Sample, Metrics(days: 1, interval: TimeSpan.FromMinutes(5)), new SimulationOptions());
        Assert.IsFalse(result.Final.IsTerminal);
        StringAssert.Contains(result.Ending, "ran out");
    }

    [TestMethod]
    public void Run_GapInData_IsNoDataNeverAPass()
    {
        var csv = new StringBuilder("time,criterion,cohort,value,samples\n");
        for (var t = T0; t < T0 + TimeSpan.FromHours(4); t += TimeSpan.FromMinutes(5))
        {
            foreach (var cohort in new[] { "treatment", "baseline" })
            {
                csv.Append(CultureInfo.InvariantCulture, $"{t:O},error-rate,{cohort},0.004,500\n");
            }
        }

        RecordedMetrics.TryParse(csv.ToString(), out var metrics, out _);
        var result = Simulator.Run(TestPlans.Sample, metrics, new SimulationOptions(StaleAfter: TimeSpan.FromMinutes(10)));
        Assert.IsFalse(result.Audit.Any(e => e.Type == AuditType.ApprovalRequested), "8h bake cannot finish in 4h of data");
        Assert.IsTrue(result.Audit.Where(e => e.Type == AuditType.Evaluated).All(e => e.At <= T0 + TimeSpan.FromHours(4) + TimeSpan.FromMinutes(10)));
    }

    [TestMethod]
    public void Run_SignalListedInStopOn_RollsBackAtThatMoment()
    {
        var at = T0 + TimeSpan.FromHours(3);
        var result = Simulator.Run(TestPlans.Sample, Metrics(days: 2, interval: TimeSpan.FromMinutes(5)), new SimulationOptions(Signals: [(at, "critical-issue")]));
        Assert.AreEqual(RolloutStatus.RolledBack, result.Final.Status);
        Assert.AreEqual(at, result.End);
    }

    private static RecordedMetrics Metrics(int days, TimeSpan interval, DateTimeOffset? regressionAt = null)
    {
        var csv = new StringBuilder("time,criterion,cohort,value,samples\n");
        for (var t = T0; t <= T0 + TimeSpan.FromDays(days); t += interval)
        {
            var treatment = regressionAt is { } r && t >= r ? 0.03 : 0.004;
            csv.Append(CultureInfo.InvariantCulture, $"{t:O},error-rate,treatment,{treatment},500\n");
            csv.Append(CultureInfo.InvariantCulture, $"{t:O},error-rate,baseline,0.005,4500\n");
        }

        Assert.IsTrue(RecordedMetrics.TryParse(csv.ToString(), out var metrics, out var errors), string.Join("; ", errors));
        return metrics;
    }
}
