using Rollout.Cli.Commands;

namespace Rollout.Cli.Tests.Commands;

/// <summary>The README's demos, run as a user runs them.</summary>
[TestClass]
public sealed class DemoTests
{
    [TestMethod]
    [Timeout(120_000, CooperativeCancellation = true)]
    public async Task Demo_RegressionScenario_RollsBackAndReportsZeroExposure()
    {
        var (code, output) = await RunAsync("demo", "--scenario", "regression");
        Assert.AreEqual(0, code, output);
        StringAssert.Contains(output, "RolledBack");
        StringAssert.Contains(output, "exposure now 0 of 1000 sample users");
    }

    [TestMethod]
    [Timeout(180_000, CooperativeCancellation = true)]
    public async Task Demo_PrometheusScenario_RealPrometheusCatchesTheRegressionAtFiftyPercent()
    {
        var (code, output) = await RunAsync("demo", "--scenario", "prometheus");
        Assert.AreEqual(0, code, output);
        StringAssert.Contains(output, "stage '50%'");
        StringAssert.Contains(output, "Time from the regression reaching users to zero exposure:");
    }

    private static async Task<(int Code, string Output)> RunAsync(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var code = await CliApp.RunAsync(args, output, error);
        return (code, output + error.ToString());
    }
}
