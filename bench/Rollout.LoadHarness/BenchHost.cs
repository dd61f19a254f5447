using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Data.Sqlite;
using Rollout.Cli.Hosting;
using Rollout.Core.Plans;
using Rollout.Integrations.Exposure;

namespace Rollout.LoadHarness;

/// <summary>The real local host (Kestrel, SQLite store under a temporary directory, scheduler) on a loopback port, in this process.</summary>
internal sealed class BenchHost : IAsyncDisposable
{
    public const string Key = "bench-key";

    private BenchHost(WebApplication app, Uri address, string data)
    {
        App = app;
        Address = address;
        DataDirectory = data;
        Runtime = app.Services.GetRequiredService<RolloutRuntime>();
        Client = new HttpClient { BaseAddress = address };
        Client.DefaultRequestHeaders.Add(Api.KeyHeader, Key);
    }

    public WebApplication App { get; }

    public Uri Address { get; }

    public string DataDirectory { get; }

    public RolloutRuntime Runtime { get; }

    public FlagStore Flags => Runtime.Flags;

    public HttpClient Client { get; }

    /// <summary>Starts a host; <paramref name="map"/> adds endpoints (e.g. a controllable metric source) before it starts.</summary>
    public static async Task<BenchHost> StartAsync(SchedulerOptions? scheduler = null, Action<WebApplication>? map = null)
    {
        var data = Path.Combine(Path.GetTempPath(), $"rollout-bench-{Guid.NewGuid():N}");
        var options = new LocalHostOptions("http://127.0.0.1:0", data, Key, DemoMetrics: true, scheduler, LogLevel.Warning);
        var app = LocalHost.Build(options);
        map?.Invoke(app);
        await app.Services.GetRequiredService<RolloutRuntime>().InitializeAsync(CancellationToken.None);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new BenchHost(app, new Uri(address), data);
    }

    public RolloutPlan Plan(string json) =>
        PlanParser.Parse(json, isYaml: false, Runtime.Catalog) is { IsValid: true } parsed
            ? parsed.Plan!
            : throw new InvalidOperationException("invalid benchmark plan: " + string.Join("; ", PlanParser.Parse(json, false, Runtime.Catalog).Errors.SelectMany(e => e.Value.Select(v => $"{e.Key}: {v}"))));

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await App.StopAsync();
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
