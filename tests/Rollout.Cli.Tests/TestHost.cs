using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Rollout.Cli.Hosting;
using Rollout.Core.Api;
using Rollout.Core.Engine;

namespace Rollout.Cli.Tests;

/// <summary>
/// A real local host (the one <c>rollout serve</c> runs: API, dashboard, SQLite, scheduler, demo metrics) on a loopback
/// port with its own data directory, stopped and deleted on dispose. Rollout.Dashboard.Tests compiles this file too.
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

    public bool KeepData { get; init; }

    /// <summary>Starts a host; with <paramref name="dataDirectory"/> on existing data (a restart), with settings and delivery options for integrations.</summary>
    public static async Task<TestHost> StartAsync(
        IReadOnlyDictionary<string, string?>? settings = null,
        global::Rollout.Cli.Hosting.Integrations.DeliveryServiceOptions? deliveries = null,
        string? dataDirectory = null,
        bool keepData = false,
        string? tableStorage = null)
    {
        var data = dataDirectory ?? Path.Combine(Path.GetTempPath(), $"rollout-test-{Guid.NewGuid():N}");
        var options = new LocalHostOptions("http://127.0.0.1:0", data, Key, DemoMetrics: true, new SchedulerOptions(TimeSpan.FromMilliseconds(50), TimeSpan.FromMinutes(1), 16), LogLevel.Warning, Settings: settings, Deliveries: deliveries)
        {
            Store = tableStorage is null ? LocalHost.SqliteStore : LocalHost.AzureTablesStore,
            StoreConnection = tableStorage,
        };
        var (app, address) = await LocalHost.StartAsync(options, CancellationToken.None);
        return new TestHost(app, address, data) { KeepData = keepData };
    }

    /// <summary>A plan with three quick stages (no bake time) checked every second against the demo metrics.</summary>
    public string QuickPlan(string flag = "quick", string extraQuery = "", string firstStageApproval = "", string stopOn = "") => $$"""
        {
          "name": "{{flag}} plan", "flag": "{{flag}}", "owner": "alex@contoso.com",
          "stages": [
            { "name": "internal", "audience": { "groups": ["internal"] }, "minDuration": "0s"{{firstStageApproval}} },
            { "name": "10%", "percent": 10, "minDuration": "0s" },
            { "name": "100%", "percent": 100, "minDuration": "0s" }
          ],
          "criteria": [
            { "name": "error-rate",
              "source": { "type": "http", "url": "{{Address}}demo/metrics/error-rate?flag={{"{{flag}}"}}&cohort={{"{{cohort}}"}}{{extraQuery}}",
                          "value": "$.value", "samples": "$.count", "timeout": "2s" },
              "max": 0.01, "maxBaselineRatio": 1.5, "minSamples": 100 }
          ],
          "evaluation": { "interval": "1s", "failureLimit": 2, "noDataLimit": 3 }{{stopOn}}
        }
        """;

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

    public Task<HttpResponseMessage> PostJsonAsync(string path, object body, HttpClient? client = null) =>
        (client ?? Client).PostAsync(path, new StringContent(JsonSerializer.Serialize(body, RolloutJson.Options), Encoding.UTF8, "application/json"));

    /// <summary>Stops the host (clients then see it as down); idempotent.</summary>
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
        if (KeepData)
        {
            return;
        }

        try
        {
            Directory.Delete(DataDirectory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
