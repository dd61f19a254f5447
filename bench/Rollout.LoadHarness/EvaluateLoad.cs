using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace Rollout.LoadHarness;

/// <summary>
/// Figure 2: <c>GET /api/flags/{flag}/evaluate</c> over HTTP on loopback, driven by <c>wrk</c> (Debian's package) with a
/// different subject per request, against the real host in this process. Both share the machine's cores.
/// </summary>
internal static partial class EvaluateLoad
{
    public const string Flag = "checkout-v2";

    public static async Task<int> RunAsync(Args args)
    {
        var duration = args.Int("duration", 20);
        var connections = args.Int("connections", 32);
        var threads = args.Int("threads", 1);
        if (!ExistsOnPath("wrk"))
        {
            Console.Error.WriteLine("wrk is not installed: apt-get install -y wrk");
            return 2;
        }

        await using var host = await BenchHost.StartAsync();
        await host.Runtime.StartAsync(host.Plan(PlanJson(host.Address)), "bench", CancellationToken.None);
        var script = Path.Combine(host.DataDirectory, "subjects.lua");
        await File.WriteAllTextAsync(script, $$"""
            local n = 0
            request = function()
              n = n + 1
              return wrk.format(nil, "/api/flags/{{Flag}}/evaluate?subject=user-" .. (100000 + n) .. "@example.com&group=employees&tenant=tenant-" .. (n % 64))
            end
            """);
        using (var probe = await host.Client.GetAsync($"api/flags/{Flag}/evaluate?subject=pilot-3@contoso.com"))
        {
            Console.WriteLine($"# sample answer: {await probe.Content.ReadAsStringAsync()}");
        }

        Console.WriteLine("# warm-up: 5 s");
        await WrkAsync(host.Address, script, 5, connections, threads);
        Console.WriteLine($"# {Machine.Load()} (before the measured run)");
        var peak = 0.0;
        using var sampling = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!sampling.IsCancellationRequested)
            {
                peak = Math.Max(peak, Machine.Memory().RssMb);
                await Task.Delay(250);
            }
        });
        var command = $"wrk -t{threads} -c{connections} -d{duration}s --latency -s subjects.lua {host.Address}";
        var output = await WrkAsync(host.Address, script, duration, connections, threads);
        await sampling.CancelAsync();
        await sampler;
        Console.WriteLine($"# {command}");
        Console.WriteLine(output);
        var rps = double.Parse(RequestsPerSecond().Match(output).Groups[1].Value, CultureInfo.InvariantCulture);
        var latencies = LatencyLine().Matches(output).ToDictionary(m => m.Groups[1].Value, m => Ms(m.Groups[2].Value, m.Groups[3].Value));
        var errors = output.Contains("Non-2xx", StringComparison.Ordinal) || output.Contains("Socket errors", StringComparison.Ordinal);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"RESULT evaluate: {rps:0} requests/s, p50 {latencies["50"]:0.00} ms, p99 {latencies["99"]:0.00} ms, max {MaxLatency(output):0.00} ms, peak RSS {peak:0} MB, errors {(errors ? "yes (see above)" : "none")}; {connections} connections, {threads} wrk thread(s), {duration} s; target >= 30000 requests/s with p99 < 5 ms; {Machine.Load()}"));
        return 0;
    }

    private static string PlanJson(Uri address) => $$"""
        { "name": "checkout-v2", "flag": "{{Flag}}", "owner": "alex@contoso.com",
          "stages": [
            { "name": "first", "percent": 10, "minDuration": "P7D",
              "audience": { "users": [{{string.Join(", ", Enumerable.Range(0, 20).Select(i => $"\"pilot-{i}@contoso.com\""))}}],
                            "groups": ["internal", "staff-engineering", "qa"], "tenants": ["flagship", "fabrikam", "northwind"] } },
            { "name": "100%", "percent": 100, "minDuration": "P2D" } ],
          "criteria": [ { "name": "error-rate", "source": { "type": "http", "url": "{{address}}demo/metrics/error-rate?flag={{"{{flag}}"}}&cohort={{"{{cohort}}"}}", "value": "$.value", "samples": "$.count" },
                          "max": 0.01, "maxBaselineRatio": 1.5, "minSamples": 100 } ],
          "evaluation": { "interval": "PT5M" } }
        """;

    private static async Task<string> WrkAsync(Uri address, string script, int seconds, int connections, int threads)
    {
        var start = new ProcessStartInfo("wrk")
        {
            WorkingDirectory = Path.GetDirectoryName(script)!,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var arg in new[] { $"-t{threads}", $"-c{connections}", $"-d{seconds}s", "--latency", "-s", Path.GetFileName(script), address.ToString() })
        {
            start.ArgumentList.Add(arg);
        }

        using var wrk = Process.Start(start)!;
        var stdout = wrk.StandardOutput.ReadToEndAsync();
        var stderr = wrk.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(seconds + 30));
        await wrk.WaitForExitAsync(timeout.Token);
        return await stdout + await stderr;
    }

    private static double MaxLatency(string output)
    {
        var m = MaxLine().Match(output);
        return m.Success ? Ms(m.Groups[1].Value, m.Groups[2].Value) : double.NaN;
    }

    private static double Ms(string value, string unit) => double.Parse(value, CultureInfo.InvariantCulture) * unit switch
    {
        "us" => 0.001,
        "ms" => 1,
        "s" => 1000,
        _ => 60000,
    };

    private static bool ExistsOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':').Any(d => File.Exists(Path.Combine(d, name)));

    [GeneratedRegex(@"Requests/sec:\s+([0-9.]+)")]
    private static partial Regex RequestsPerSecond();

    [GeneratedRegex(@"^\s+(50|75|90|99)%\s+([0-9.]+)(us|ms|s|m)\s*$", RegexOptions.Multiline)]
    private static partial Regex LatencyLine();

    [GeneratedRegex(@"Latency\s+\S+\s+\S+\s+([0-9.]+)(us|ms|s|m)")]
    private static partial Regex MaxLine();
}
