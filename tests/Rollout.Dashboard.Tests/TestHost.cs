using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Rollout.Cli.Hosting;
using Rollout.Core.Api;
using Rollout.Core.Engine;

namespace Rollout.Dashboard.Tests;

/// <summary>
/// A real local host (the one <c>rollout serve</c> runs: API, dashboard, SQLite, scheduler, demo metrics) on a loopback
/// port with its own data directory, stopped and deleted on dispose. The pattern of Rollout.Cli.Tests' TestHost.
/// </summary>
internal sealed class TestHost : IAsyncDisposable
{
    public const string Key = "test-key-1234";

    private bool stopped;

    private TestHost(WebApplication app, Uri address, string data)
    {
        App = app;
        Address = address;
        DataDirectory = data;
        Client = new HttpClient { BaseAddress = address };
        Client.DefaultRequestHeaders.Add(Api.KeyHeader, Key);
        Anonymous = new HttpClient { BaseAddress = address };
    }

    public WebApplication App { get; }

    public Uri Address { get; }

    public string DataDirectory { get; }

    public HttpClient Client { get; }

    public HttpClient Anonymous { get; }

    public static async Task<TestHost> StartAsync()
    {
        var data = Path.Combine(Path.GetTempPath(), $"rollout-dashboard-test-{Guid.NewGuid():N}");
        var options = new LocalHostOptions("http://127.0.0.1:0", data, Key, DemoMetrics: true, new SchedulerOptions(TimeSpan.FromMilliseconds(50), TimeSpan.FromMinutes(1), 16), LogLevel.Warning);
        var (app, address) = await LocalHost.StartAsync(options, CancellationToken.None);
        return new TestHost(app, address, data);
    }

    /// <summary>
    /// A plan checked every second against the demo metrics. <paramref name="bake"/> is every stage's bake time;
    /// <paramref name="regressAt"/> makes the demo's error rate jump once exposure reaches that percent;
    /// <paramref name="approvalOnFirstStage"/> asks alex@contoso.com to sign off the first stage.
    /// </summary>
    public string Plan(string flag, string bake = "0s", decimal? regressAt = null, bool approvalOnFirstStage = false)
    {
        var regress = regressAt is { } r ? $"&regressAt={r.ToString(System.Globalization.CultureInfo.InvariantCulture)}" : string.Empty;
        var approval = approvalOnFirstStage ? """, "approval": { "approvers": ["alex@contoso.com"] }""" : string.Empty;
        return $$"""
            {
              "name": "{{flag}}", "flag": "{{flag}}", "owner": "alex@contoso.com",
              "description": "Dashboard test plan for {{flag}}.",
              "stages": [
                { "name": "internal", "audience": { "groups": ["internal"] }, "minDuration": "{{bake}}"{{approval}} },
                { "name": "10%", "percent": 10, "minDuration": "{{bake}}" },
                { "name": "50%", "percent": 50, "minDuration": "{{bake}}" },
                { "name": "100%", "percent": 100, "minDuration": "{{bake}}" }
              ],
              "criteria": [
                { "name": "error-rate",
                  "source": { "type": "http", "url": "{{Address}}demo/metrics/error-rate?flag={{"{{flag}}"}}&cohort={{"{{cohort}}"}}{{regress}}",
                              "value": "$.value", "samples": "$.count", "timeout": "2s" },
                  "max": 0.01, "maxBaselineRatio": 1.5, "minSamples": 100 }
              ],
              "evaluation": { "interval": "1s", "failureLimit": 2, "noDataLimit": 3 },
              "stopOn": [ { "signal": "critical-issue", "action": "rollback" } ]
            }
            """;
    }

    public async Task<string> StartRolloutAsync(string plan)
    {
        using var response = await Client.PostAsync("api/rollouts", new StringContent(plan, Encoding.UTF8, "application/json"));
        var body = await response.Content.ReadAsStringAsync();
        Assert.AreEqual(System.Net.HttpStatusCode.Accepted, response.StatusCode, body);
        return JsonDocument.Parse(body).RootElement.GetProperty("id").GetString()!;
    }

    public async Task<RolloutView> GetAsync(string id) =>
        (await Client.GetFromJsonAsync<RolloutView>($"api/rollouts/{id}", RolloutJson.Options))!;

    public async Task<List<AuditEvent>> AuditAsync(string id) =>
        (await Client.GetFromJsonAsync<List<AuditEvent>>($"api/rollouts/{id}/audit", RolloutJson.Options))!;

    public async Task<RolloutView> WaitForAsync(string id, Func<RolloutView, bool> condition, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(60));
        while (true)
        {
            var view = await GetAsync(id);
            if (condition(view))
            {
                return view;
            }

            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"rollout {id} did not reach the expected state; it is {view.Status} in stage {view.Stage}");
            }

            await Task.Delay(100);
        }
    }

    /// <summary>Stops the host (the dashboard then sees it as down); idempotent.</summary>
    public async Task StopAsync()
    {
        if (!stopped)
        {
            stopped = true;
            await App.StopAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        Anonymous.Dispose();
        await StopAsync();
        await App.DisposeAsync();
        SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(DataDirectory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
