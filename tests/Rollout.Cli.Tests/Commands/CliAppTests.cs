using System.Text.Json;
using Rollout.Cli.Client;
using Rollout.Cli.Commands;
using Rollout.Core.Engine;

namespace Rollout.Cli.Tests.Commands;

[TestClass]
public sealed class CliAppTests
{
    private static TestHost host = null!;
    private static string planDirectory = null!;

    [ClassInitialize]
    public static async Task StartHostAsync(TestContext _)
    {
        host = await TestHost.StartAsync();
        planDirectory = Directory.CreateTempSubdirectory("rollout-cli-").FullName;
    }

    [ClassCleanup]
    public static async Task StopHostAsync()
    {
        await host.DisposeAsync();
        Directory.Delete(planDirectory, recursive: true);
    }

    [TestMethod]
    public async Task Start_PlanFile_PrintsIdAndGetShowsIt()
    {
        var plan = WritePlan("cli-start", host.QuickPlan("cli-start", firstStageApproval: """, "approval": { "approvers": ["alex@contoso.com"] }"""));
        var (code, output, _) = await RunAsync("start", plan);
        Assert.AreEqual(ExitCodes.Ok, code);
        var id = output.Trim();
        StringAssert.StartsWith(id, "r-");

        (code, output, _) = await RunAsync("get", id);
        Assert.AreEqual(ExitCodes.Ok, code);
        StringAssert.Contains(output, "cli-start plan");
        StringAssert.Contains(output, "'internal'");

        (code, output, _) = await RunAsync("list", "--status", "AwaitingApproval");
        Assert.AreEqual(ExitCodes.Ok, code);

        (code, output, _) = await RunAsync("brief", id);
        Assert.AreEqual(ExitCodes.Ok, code);
        StringAssert.Contains(output, "# Release brief: cli-start plan");

        (code, _, _) = await RunAsync("rollback", id, "--reason", "done testing", "--actor", "cli-test");
        Assert.AreEqual(ExitCodes.Ok, code);
        Assert.AreEqual(RolloutStatus.RolledBack, (await host.GetAsync(id)).Status);
    }

    [TestMethod]
    public async Task PauseResumeSignalApprove_DriveTheRollout_AndAuditShowsThem()
    {
        var id = await host.StartRolloutAsync(host.QuickPlan("cli-commands", firstStageApproval: """, "approval": { "approvers": ["alex@contoso.com"] }"""));
        await host.WaitForAsync(id, v => v.Status == RolloutStatus.AwaitingApproval);

        var (code, output, error) = await RunAsync("approve", id, "--approver", "eve@contoso.com");
        Assert.AreEqual(ExitCodes.Unauthorized, code);
        StringAssert.Contains(error, "not an approver");

        (code, output, _) = await RunAsync("approve", id, "--approver", "alex@contoso.com", "--comment", "looks good");
        Assert.AreEqual(ExitCodes.Ok, code, output);
        (code, _, _) = await RunAsync("pause", id, "--reason", "lunch", "--actor", "sam");
        Assert.AreEqual(ExitCodes.Ok, code);
        Assert.AreEqual(RolloutStatus.Paused, (await host.GetAsync(id)).Status);
        (code, _, _) = await RunAsync("resume", id, "--actor", "sam");
        Assert.AreEqual(ExitCodes.Ok, code);
        (code, output, _) = await RunAsync("signal", id, "oncall-paged", "--source", "pagerduty", "--message", "p2");
        Assert.AreEqual(ExitCodes.Ok, code);
        StringAssert.Contains(output, "recorded");

        (code, output, _) = await RunAsync("audit", id);
        Assert.AreEqual(ExitCodes.Ok, code);
        foreach (var expected in new[] { "Approved", "Paused", "Resumed", "SignalReceived" })
        {
            StringAssert.Contains(output, expected);
        }

        (code, output, _) = await RunAsync("audit", id, "--json");
        Assert.AreEqual(JsonValueKind.Array, JsonDocument.Parse(output).RootElement.ValueKind);
        await RunAsync("rollback", id, "--reason", "cleanup");
    }

    [TestMethod]
    public async Task Deliveries_RolloutWithAWebhookTarget_ListsEachWriteAndItsStatus()
    {
        await using var target = await Rollout.Testing.PeerFixture.StartAsync(new Rollout.Testing.PeerReply(503, "down"));
        var id = await host.StartRolloutAsync(host.QuickPlan("cli-deliveries", stopOn: $$""", "exposure": { "type": "webhook", "url": "{{target.Address}}flags" }"""));
        await host.WaitForAsync(id, v => v.Status == RolloutStatus.Completed);

        var (code, output, _) = await RunAsync("deliveries", id);

        Assert.AreEqual(ExitCodes.Ok, code, output);
        var first = output.Split('\n').Single(l => l.Contains($"exposure:{id}:0", StringComparison.Ordinal));
        StringAssert.StartsWith(first, "Delivered  Exposure     webhook");
        StringAssert.Contains(first, " 2 attempt(s)", "the 503 and the write that succeeded");
        (code, output, _) = await RunAsync("deliveries", id, "--json");
        Assert.IsGreaterThanOrEqualTo(2, JsonDocument.Parse(output).RootElement.GetArrayLength());
        (_, output, _) = await RunAsync("audit", id);
        StringAssert.Contains(output, "webhook target took the exposure of 'internal'");
        (code, _, _) = await RunAsync("deliveries", "r-nope");
        Assert.AreEqual(ExitCodes.NotFound, code);
    }

    [TestMethod]
    public async Task GetWatch_CompletingRollout_ExitsZero_RolledBackExitsSeven()
    {
        var completing = await host.StartRolloutAsync(host.QuickPlan("cli-watch-ok"));
        var (code, output, _) = await RunAsync("get", completing, "--watch");
        Assert.AreEqual(ExitCodes.Ok, code);
        StringAssert.Contains(output, "Completed");

        var failing = await host.StartRolloutAsync(host.QuickPlan("cli-watch-bad", extraQuery: "&regressAt=0"));
        (code, output, _) = await RunAsync("get", failing, "--watch");
        Assert.AreEqual(ExitCodes.RolledBack, code);
        StringAssert.Contains(output, "RolledBack");
    }

    [TestMethod]
    public async Task Commands_OnFinishedRollout_ExitFive()
    {
        var id = await host.StartRolloutAsync(host.QuickPlan("cli-finished"));
        await RunAsync("rollback", id, "--reason", "stop");
        var (code, _, error) = await RunAsync("pause", id, "--reason", "too late");
        Assert.AreEqual(ExitCodes.Conflict, code);
        StringAssert.Contains(error, "RolledBack");
    }

    [TestMethod]
    public async Task BadInput_ExitCodesAndMessages()
    {
        var (code, _, error) = await RunAsync("start", Path.Combine(planDirectory, "missing.json"));
        Assert.AreEqual(ExitCodes.InvalidInput, code);
        StringAssert.Contains(error, "does not exist");

        var invalid = WritePlan("invalid", """{"name":"x","flag":"x","stages":[{"name":"a","percent":120,"minDuration":"1h"}]}""");
        (code, _, error) = await RunAsync("start", invalid);
        Assert.AreEqual(ExitCodes.InvalidInput, code);
        StringAssert.Contains(error, "$.stages[0].percent");

        (code, _, error) = await RunAsync("validate", invalid);
        Assert.AreEqual(ExitCodes.InvalidInput, code);
        StringAssert.Contains(error, "$.stages[0].percent");

        (code, _, error) = await RunAsync("get", "r-does-not-exist");
        Assert.AreEqual(ExitCodes.NotFound, code);

        (code, _, error) = await RunAsync("pause", "r-x");
        Assert.AreEqual(ExitCodes.InvalidInput, code);
        StringAssert.Contains(error, "--reason");

        (code, _, error) = await CliAppRunAsync(["pause", "r-x", "--reason", "r", "--url", host.Address.ToString(), "--key", "wrong"]);
        Assert.AreEqual(ExitCodes.Unauthorized, code);
        StringAssert.Contains(error, "401");

        (code, _, error) = await CliAppRunAsync(["list", "--url", "http://127.0.0.1:1"]);
        Assert.AreEqual(ExitCodes.Unreachable, code);
        StringAssert.Contains(error, "cannot reach");
    }

    [TestMethod]
    public async Task Validate_GoodPlan_PrintsBrief_AndHelpListsVerbs()
    {
        var plan = WritePlan("good", host.QuickPlan("cli-validate"));
        var (code, output, _) = await RunAsync("validate", plan);
        Assert.AreEqual(ExitCodes.Ok, code);
        StringAssert.Contains(output, "## Exit criteria");

        (code, output, _) = await CliAppRunAsync(["--help"]);
        Assert.AreEqual(ExitCodes.Ok, code);
        foreach (var verb in new[] { "serve", "demo", "start", "list", "get", "pause", "resume", "rollback", "approve", "signal", "audit", "brief", "deliveries", "validate" })
        {
            StringAssert.Contains(output, verb);
        }
    }

    [TestMethod]
    public async Task Simulate_SampleBacktest_CompletesOrRollsBackWithTimeline()
    {
        var samples = Path.Combine(RepositoryRoot(), "samples", "backtest");
        var plan = Path.Combine(samples, "checkout-v2.json");
        var (code, output, error) = await CliAppRunAsync(["simulate", plan, "--metrics", Path.Combine(samples, "metrics-healthy.csv"), "--approval-delay", "2h"]);
        Assert.AreEqual(ExitCodes.Ok, code, error);
        StringAssert.Contains(output, "Outcome: completed.");
        StringAssert.Contains(output, "Time to full exposure: 13 days 12 hours.");

        (code, output, _) = await CliAppRunAsync(["simulate", plan, "--metrics", Path.Combine(samples, "metrics-regression.csv"), "--approval-delay", "2h"]);
        Assert.AreEqual(ExitCodes.RolledBack, code);
        StringAssert.Contains(output, "rolled back in stage '50%'");

        var badMetrics = WritePlan("bad-metrics", "time,criterion,value\nnot-a-time,error-rate,1\n");
        (code, _, error) = await CliAppRunAsync(["simulate", plan, "--metrics", badMetrics]);
        Assert.AreEqual(ExitCodes.InvalidInput, code);
        StringAssert.Contains(error, "line 2");
    }

    private static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Rollout.Functions.sln")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? throw new InvalidOperationException("the repository root (Rollout.Functions.sln) was not found above the test output");
    }

    [TestMethod]
    public async Task Serve_AzureTablesWithoutOrWithMalformedConnection_ExitsWithInvalidInputNamingNoSecret()
    {
        if (Environment.GetEnvironmentVariable("ROLLOUT_STORE_CONNECTION") is { Length: > 0 })
        {
            Assert.Inconclusive("ROLLOUT_STORE_CONNECTION is set in this environment");
        }

        var data = Path.Combine(planDirectory, "serve-data");
        var (code, _, error) = await CliAppRunAsync(["serve", "--store", "azure-tables", "--data", data]);
        Assert.AreEqual(ExitCodes.InvalidInput, code);
        StringAssert.Contains(error, "--store azure-tables needs a connection string");

        (code, _, error) = await CliAppRunAsync(["serve", "--store", "azure-tables", "--data", data, "--connection", "AccountName=contoso;AccountKey=c2VjcmV0LWtleQ==;TableEndpoint=ftp://x"]);
        Assert.AreEqual(ExitCodes.InvalidInput, code);
        StringAssert.Contains(error, "not an http(s) URL");
        Assert.DoesNotContain("c2VjcmV0LWtleQ==", error);

        (code, _, error) = await CliAppRunAsync(["serve", "--store", "cosmos"]);
        Assert.AreEqual(ExitCodes.InvalidInput, code);
    }

    private static string WritePlan(string name, string text)
    {
        var path = Path.Combine(planDirectory, name + ".json");
        File.WriteAllText(path, text);
        return path;
    }

    private static Task<(int Code, string Output, string Error)> RunAsync(params string[] args) =>
        CliAppRunAsync([.. args, "--url", host.Address.ToString(), "--key", TestHost.Key]);

    private static async Task<(int Code, string Output, string Error)> CliAppRunAsync(string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var code = await CliApp.RunAsync(args, output, error);
        return (code, output.ToString(), error.ToString());
    }
}
