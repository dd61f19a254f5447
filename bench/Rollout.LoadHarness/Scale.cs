using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using Rollout.Cli.Hosting;

namespace Rollout.LoadHarness;

/// <summary>
/// Figure 4: the local host with N concurrent active rollouts, each checked every <c>--interval</c> seconds against a fast
/// metric source (the demo metrics endpoint on the same host: a treatment and a baseline reading per check, over HTTP on
/// loopback). Scheduler lag is the host's own measurement (<c>rollout.scheduler.lag</c>: from a rollout's due time to the
/// start of its step); memory is this process's resident set, which is the host's. Each N runs in a fresh process.
/// </summary>
internal static class Scale
{
    public static async Task<int> RunAsync(Args args)
    {
        var counts = args.Text("rollouts", "1000,5000,10000").Split(',').Select(n => int.Parse(n, CultureInfo.InvariantCulture)).ToArray();
        if (counts.Length > 1 || !args.Flag("child"))
        {
            var status = 0;
            foreach (var n in counts)
            {
                status |= await RunChildAsync(n, args);
            }

            return status;
        }

        return await RunOneAsync(counts[0], args.Int("interval", 5), args.Int("duration", 60), args.Int("warmup", 15));
    }

    private static async Task<int> RunChildAsync(int n, Args args)
    {
        var start = new ProcessStartInfo(Environment.ProcessPath!) { UseShellExecute = false };
        foreach (var arg in new[] { "scale", "--child", "--rollouts", n.ToString(CultureInfo.InvariantCulture), "--interval", args.Int("interval", 5).ToString(CultureInfo.InvariantCulture),
            "--duration", args.Int("duration", 60).ToString(CultureInfo.InvariantCulture), "--warmup", args.Int("warmup", 15).ToString(CultureInfo.InvariantCulture) })
        {
            start.ArgumentList.Add(arg);
        }

        if (Environment.ProcessPath!.EndsWith("dotnet", StringComparison.Ordinal))
        {
            start.ArgumentList.Insert(0, typeof(Scale).Assembly.Location);
        }

        using var child = Process.Start(start)!;
        await child.WaitForExitAsync();
        return child.ExitCode;
    }

    private static async Task<int> RunOneAsync(int n, int interval, int duration, int warmup)
    {
        var lags = new ConcurrentQueue<double>();
        var recording = false;
        long evaluations = 0;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == HostMetrics.MeterName)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<double>((_, value, _, _) =>
        {
            if (Volatile.Read(ref recording))
            {
                lags.Enqueue(value);
            }
        });
        listener.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref evaluations, value));
        listener.Start();

        await using var host = await BenchHost.StartAsync();
        Console.WriteLine($"# {n} rollouts, interval {interval} s: creating");
        var created = Stopwatch.StartNew();
        var next = -1;
        await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
        {
            for (var i = Interlocked.Increment(ref next); i < n; i = Interlocked.Increment(ref next))
            {
                await host.Runtime.StartAsync(host.Plan(PlanJson(host.Address, $"scale-{i}", interval)), "bench", CancellationToken.None);
            }
        })));
        Console.WriteLine($"# created {n} in {created.Elapsed.TotalSeconds:0.0} s; warm-up {warmup} s; {Machine.Load()}");
        await Task.Delay(TimeSpan.FromSeconds(warmup));

        Volatile.Write(ref recording, true);
        var evaluationsBefore = Interlocked.Read(ref evaluations);
        var measured = Stopwatch.StartNew();
        var peakRss = 0.0;
        var peakHeap = 0.0;
        var curve = new List<string>();
        while (measured.Elapsed < TimeSpan.FromSeconds(duration))
        {
            await Task.Delay(1000);
            var (rss, heap) = Machine.Memory();
            peakRss = Math.Max(peakRss, rss);
            peakHeap = Math.Max(peakHeap, heap);
            if ((int)measured.Elapsed.TotalSeconds % 10 == 0)
            {
                var recent = lags.ToArray();
                curve.Add(string.Create(CultureInfo.InvariantCulture, $"t={measured.Elapsed.TotalSeconds:0}s lag[{Stats.Summary(recent.Skip(Math.Max(0, recent.Length - n / interval * 10)))}] rss={rss:0}MB"));
                Console.WriteLine($"#   {curve[^1]}");
            }
        }

        Volatile.Write(ref recording, false);
        var rate = (Interlocked.Read(ref evaluations) - evaluationsBefore) / measured.Elapsed.TotalSeconds;
        var (endRss, endHeap) = Machine.Memory();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"RESULT scale {n} rollouts / {interval} s: lag {Stats.Summary(lags)}; evaluations {rate:0}/s (due {n / (double)interval:0}/s); RSS peak {peakRss:0} MB (end {endRss:0} MB), managed heap peak {peakHeap:0} MB; targets lag p99 < 1000 ms, memory < 300 MB; {Machine.Load()}"));
        return 0;
    }

    private static string PlanJson(Uri address, string flag, int interval) => $$"""
        { "name": "{{flag}}", "flag": "{{flag}}", "owner": "alex@contoso.com",
          "stages": [
            { "name": "internal", "audience": { "groups": ["internal"] }, "minDuration": "P7D" },
            { "name": "10%", "percent": 10, "minDuration": "P2D" },
            { "name": "100%", "percent": 100, "minDuration": "P2D" } ],
          "criteria": [ { "name": "error-rate",
                          "source": { "type": "http", "url": "{{address}}demo/metrics/error-rate?flag={{"{{flag}}"}}&cohort={{"{{cohort}}"}}", "value": "$.value", "samples": "$.count", "timeout": "10s" },
                          "max": 0.01, "maxBaselineRatio": 1.5, "minSamples": 100 } ],
          "evaluation": { "interval": "PT{{interval}}S", "failureLimit": 2, "noDataLimit": 6 },
          "stopOn": [ { "signal": "critical-issue", "action": "rollback" } ] }
        """;
}
