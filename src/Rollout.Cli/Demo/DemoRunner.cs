using System.Diagnostics;
using System.Text.Json;
using Rollout.Cli.Client;
using Rollout.Cli.Hosting;
using Rollout.Core.Api;
using Rollout.Core.Engine;

namespace Rollout.Cli.Demo;

/// <summary>
/// <c>rollout demo</c>: starts a real local host (SQLite store, scheduler, API) on a free loopback port, starts
/// the sample plan against the demo metrics, approves where the plan asks, and prints every decision.
/// </summary>
internal static class DemoRunner
{
    private const int SampleUsers = 1000;

    public static async Task<int> RunAsync(string scenario, string? dataDirectory, TextWriter output, CancellationToken ct)
    {
        var temporary = dataDirectory is null;
        var data = Path.GetFullPath(dataDirectory ?? Path.Combine(Path.GetTempPath(), $"rollout-demo-{Guid.NewGuid():N}"));
        var apiKey = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16));
        var (app, address) = await LocalHost.StartAsync(new LocalHostOptions("http://127.0.0.1:0", data, apiKey, DemoMetrics: true, LogLevel: LogLevel.Warning), ct);
        try
        {
            var client = RolloutClient.Create(address.ToString(), apiKey);
            var plan = ReadSamplePlan().Replace("127.0.0.1:7071", $"{address.Host}:{address.Port}", StringComparison.Ordinal);
            if (scenario == "regression")
            {
                plan = plan.Replace("cohort={{cohort}}", "cohort={{cohort}}&regressAt=50", StringComparison.Ordinal);
            }

            await output.WriteLineAsync($"Local host on {address} (SQLite store in {data}); scenario: {scenario}");
            var started = JsonDocument.Parse(await client.PostAsync("api/rollouts", plan, "application/json", ct)).RootElement.GetProperty("id").GetString()!;
            await output.WriteLineAsync($"Started rollout {started}: 6 stages, checked every second; the error rate must stay under 1% and within 1.5x the baseline.\n");

            var clock = Stopwatch.StartNew();
            TimeSpan? regressionAt = null;
            var final = await Watcher.WatchAsync(client, started, output, TimeSpan.FromMilliseconds(250), async (view, entry) =>
            {
                if (entry.Type == AuditType.ApprovalRequested)
                {
                    await output.WriteLineAsync("          → approving as alex@contoso.com (in a real rollout: 'rollout approve <id> --approver ...' or the Teams card)");
                    await client.PostJsonAsync($"api/rollouts/{started}/approve", new CommandBody(Approver: "alex@contoso.com", Comment: "demo"), ct);
                }
                else if (entry.Type == AuditType.ExposureApplied)
                {
                    var on = await CountExposedAsync(client, view.Flag, ct);
                    await output.WriteLineAsync($"          → flag '{view.Flag}' is on for {on} of {SampleUsers} sample users (plus the named group, user and tenant)");
                    if (scenario == "regression" && entry.Details.TryGetProperty("percent", out var p) && p.GetDecimal() >= 50)
                    {
                        regressionAt ??= clock.Elapsed;
                    }
                }
            }, ct);

            await output.WriteLineAsync();
            await output.WriteLineAsync(Printer.Summary(final));
            await output.WriteLineAsync();
            if (final.Status == RolloutStatus.Completed)
            {
                await output.WriteLineAsync($"Completed in {clock.Elapsed.TotalSeconds:0.0} s. Try 'rollout demo --scenario regression' to see a rollback.");
                return ExitCodes.Ok;
            }

            var zero = await CountExposedAsync(client, final.Flag, ct);
            var detected = regressionAt is { } at ? $" {(clock.Elapsed - at).TotalSeconds:0.0} s after the regression reached users," : string.Empty;
            await output.WriteLineAsync($"Rolled back{detected} with exposure now {zero} of {SampleUsers} sample users.");
            return scenario == "regression" && zero == 0 ? ExitCodes.Ok : ExitCodes.RolledBack;
        }
        finally
        {
            await app.StopAsync(CancellationToken.None);
            await app.DisposeAsync();
            if (temporary)
            {
                Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
                try
                {
                    Directory.Delete(data, recursive: true);
                }
                catch (IOException)
                {
                }
            }
        }
    }

    public static string ReadSamplePlan()
    {
        using var stream = typeof(DemoRunner).Assembly.GetManifestResourceStream("demo-plan.json")
            ?? throw new InvalidOperationException("the demo plan is not embedded in this build");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    private static async Task<int> CountExposedAsync(RolloutClient client, string flag, CancellationToken ct)
    {
        var on = 0;
        for (var i = 0; i < SampleUsers; i++)
        {
            var answer = await client.GetAsync<JsonElement>($"api/flags/{flag}/evaluate?subject=user-{i}", ct);
            if (answer.GetProperty("enabled").GetBoolean())
            {
                on++;
            }
        }

        return on;
    }
}
