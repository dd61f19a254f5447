using System.Diagnostics;
using System.Text.Json;
using Rollout.Cli.Client;
using Rollout.Cli.Hosting;
using Rollout.Core.Engine;

namespace Rollout.Cli.Demo;

/// <summary>
/// <c>rollout demo --scenario prometheus</c>: a sample service whose new checkout path is behind the flag, a real
/// Prometheus scraping it every second, a load generator, and a rollout gated on Prometheus queries. The new
/// path regresses once it reaches 50% of users; the rollout detects it and rolls back. Prints the time from
/// the regression reaching users to zero exposure.
/// </summary>
internal static class PrometheusDemo
{
    public const string Flag = "new-checkout";
    private const string Interval = "2s";
    private const int FailureLimit = 2;

    public static async Task<int> RunAsync(TextWriter output, CancellationToken ct)
    {
        if (PrometheusProcess.FindBinary() is not { } binary)
        {
            await output.WriteLineAsync("This scenario needs Prometheus on PATH: apt-get install -y prometheus (Debian/Ubuntu).");
            return ExitCodes.Error;
        }

        var data = Directory.CreateTempSubdirectory("rollout-demo-").FullName;
        var apiKey = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16));
        var (host, address) = await LocalHost.StartAsync(new LocalHostOptions("http://127.0.0.1:0", data, apiKey, LogLevel: LogLevel.Warning), ct);
        await using var service = await CheckoutService.StartAsync(address, Flag, regressAtPercent: 50, ct);
        await using var prometheus = await PrometheusProcess.StartAsync(binary, service.Address, ct);
        using var stopLoad = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var load = GenerateLoadAsync(service.Address, stopLoad.Token);
        try
        {
            await output.WriteLineAsync($"Rollout host {address}; checkout service {service.Address}; Prometheus {prometheus.Address} (scraping every 1 s)");
            await output.WriteLineAsync($"Load: ~150 checkouts/s from 100,000 users. The new checkout fails 8% of requests once it serves 50% of users.\n");
            var client = RolloutClient.Create(address.ToString(), apiKey);
            var answer = await client.PostAsync("api/rollouts", Plan(prometheus.Address), "application/json", ct);
            var id = JsonDocument.Parse(answer).RootElement.GetProperty("id").GetString()!;

            DateTimeOffset? zeroAt = null;
            var final = await Watcher.WatchAsync(client, id, output, TimeSpan.FromMilliseconds(200), async (view, entry) =>
            {
                if (entry.Type == AuditType.ExposureApplied && !entry.Details.TryGetProperty("stage", out _))
                {
                    zeroAt = await WaitForZeroExposureAsync(client, ct);
                }
            }, ct);

            await output.WriteLineAsync();
            await output.WriteLineAsync(Printer.Summary(final));
            await output.WriteLineAsync();
            if (final.Status != RolloutStatus.RolledBack || service.RegressionStartedAt is not { } regression || zeroAt is not { } zero)
            {
                await output.WriteLineAsync("The regression was not caught: the rollout did not roll back.");
                return ExitCodes.Error;
            }

            await output.WriteLineAsync($"Time from the regression reaching users to zero exposure: {(zero - regression).TotalSeconds:0.0} s " +
                $"(checks every {Interval}, failureLimit {FailureLimit}, Prometheus scrape 1 s, rate window 10 s).");
            return ExitCodes.Ok;
        }
        finally
        {
            await stopLoad.CancelAsync();
            await load;
            await host.StopAsync(CancellationToken.None);
            await host.DisposeAsync();
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(data, recursive: true);
        }
    }

    private static async Task<DateTimeOffset> WaitForZeroExposureAsync(RolloutClient client, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(10))
        {
            var anyOn = false;
            for (var i = 0; i < 50 && !anyOn; i++)
            {
                anyOn = (await client.GetAsync<JsonElement>($"api/flags/{Flag}/evaluate?subject=user-{i}", ct)).GetProperty("enabled").GetBoolean();
            }

            if (!anyOn)
            {
                return DateTimeOffset.UtcNow;
            }

            await Task.Delay(20, ct);
        }

        throw new TimeoutException("exposure did not reach zero within 10 s of the rollback");
    }

    private static async Task GenerateLoadAsync(Uri service, CancellationToken ct)
    {
        using var http = new HttpClient { BaseAddress = service };
        var workers = Enumerable.Range(0, 3).Select(async worker =>
        {
            while (!ct.IsCancellationRequested)
            {
                try
                {
                    using var _ = await http.GetAsync($"checkout?user=user-{Random.Shared.Next(100_000)}", ct);
                    await Task.Delay(20, ct);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
                catch (HttpRequestException)
                {
                    await Task.Delay(100, CancellationToken.None);
                }
            }
        });
        await Task.WhenAll(workers);
    }

    private static string Plan(Uri prometheus) => $$"""
        {
          "name": "new checkout (Prometheus demo)",
          "flag": "{{Flag}}",
          "owner": "alex@contoso.com",
          "stages": [
            { "name": "10%", "percent": 10, "minDuration": "8s" },
            { "name": "50%", "percent": 50, "minDuration": "8s" },
            { "name": "100%", "percent": 100, "minDuration": "8s" }
          ],
          "criteria": [
            { "name": "error-rate",
              "source": { "type": "prometheus", "url": "{{prometheus}}",
                          "query": "sum(rate(checkout_requests_total{cohort=\"{{"{{cohort}}"}}\",outcome=\"error\"}[10s])) / sum(rate(checkout_requests_total{cohort=\"{{"{{cohort}}"}}\"}[10s]))",
                          "samplesQuery": "sum(increase(checkout_requests_total{cohort=\"{{"{{cohort}}"}}\"}[10s]))",
                          "timeout": "2s" },
              "max": 0.03, "maxBaselineRatio": 3, "minSamples": 100, "test": { "kind": "two-proportion", "confidence": 0.99 } }
          ],
          "evaluation": { "interval": "{{Interval}}", "failureLimit": {{FailureLimit}}, "noDataLimit": 10, "onFailure": "rollback", "onNoData": "pause" }
        }
        """;
}
