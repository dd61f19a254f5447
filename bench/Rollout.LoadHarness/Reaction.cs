using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using Rollout.Core.Targeting;

namespace Rollout.LoadHarness;

/// <summary>
/// Figure 3: reaction time to exposure zero on the real local host.
/// (a) From a stop signal sent to the API (<c>POST /api/rollouts/{id}/signals</c>, a <c>stopOn</c> rollback) until the flag
///     answers off, observed in the flag store the evaluate endpoint answers from.
/// (b) From a failing evaluation (the moment the metric source served the last failing reading of the check) until the
///     flag answers off, with <c>failureLimit</c> 1. Rollouts are started a few milliseconds apart so that their checks
///     overlap as they would on a busy host.
/// </summary>
internal static class Reaction
{
    private static readonly SubjectContext Watched = new("watched@example.com", null, null, null, null);

    public static async Task<int> RunAsync(Args args)
    {
        var rollbacks = args.Int("rollbacks", 200);
        var stagger = args.Int("stagger-ms", 20);
        var failing = new ConcurrentDictionary<string, long>(StringComparer.Ordinal);
        await using var host = await BenchHost.StartAsync(map: app => app.MapGet("/bench/metrics", (string flag, string? cohort) =>
        {
            // A fast metric source: the treatment's error rate breaches for flags marked failing; the moment of the answer is kept.
            if (cohort != "baseline" && failing.ContainsKey(flag))
            {
                failing[flag] = Stopwatch.GetTimestamp();
                return Results.Json(new { value = 0.05, count = 800 });
            }

            return cohort == "baseline" ? Results.Json(new { value = 0.005, count = 5000 }) : Results.Json(new { value = 0.004, count = 800 });
        }));

        // (a) stop signals, one rollout at a time.
        Console.WriteLine($"# (a) {rollbacks} stop signals");
        var signalToZero = new List<double>();
        var signalAnswer = new List<double>();
        for (var i = 0; i < rollbacks + 10; i++)
        {
            var flag = $"signal-{i}";
            var state = await host.Runtime.StartAsync(host.Plan(PlanJson(host.Address, flag, "PT5M")), "bench", CancellationToken.None);
            if (!host.Flags.Evaluate(flag, Watched).Decision.Enabled)
            {
                throw new InvalidOperationException("the flag should be on before the signal");
            }

            var body = new StringContent("""{"signal":"critical-issue","source":"bench","message":"reaction benchmark"}""", Encoding.UTF8, "application/json");
            var sent = Stopwatch.GetTimestamp();
            var request = host.Client.PostAsync($"api/rollouts/{state.Id}/signals", body);
            var spin = default(SpinWait);
            while (host.Flags.Evaluate(flag, Watched).Decision.Enabled)
            {
                spin.SpinOnce(sleep1Threshold: -1);
            }

            var zero = Stopwatch.GetTimestamp();
            using var response = await request;
            var answered = Stopwatch.GetTimestamp();
            response.EnsureSuccessStatusCode();
            if (i >= 10) // the first ten warm the path up (JIT)
            {
                signalToZero.Add(Stopwatch.GetElapsedTime(sent, zero).TotalMilliseconds);
                signalAnswer.Add(Stopwatch.GetElapsedTime(sent, answered).TotalMilliseconds);
            }
        }

        Console.WriteLine($"# {Machine.Load()}");
        Console.WriteLine($"RESULT reaction stop-signal -> exposure zero: {Stats.Summary(signalToZero)}; target p99 < 50 ms; {Machine.Load()}");
        Console.WriteLine($"#   stop-signal -> 200 answer: {Stats.Summary(signalAnswer)}");

        // (b) failing evaluations: every check of these rollouts fails; failureLimit 1 rolls back at the first one.
        Console.WriteLine($"# (b) {rollbacks} failing evaluations (interval 1 s, failureLimit 1, rollouts started {stagger} ms apart)");
        var pending = new ConcurrentDictionary<string, bool>(StringComparer.Ordinal);
        var failToZero = new ConcurrentBag<double>();
        using var done = new CancellationTokenSource();
        var watcher = new Thread(() =>
        {
            while (!done.IsCancellationRequested)
            {
                foreach (var flag in pending.Keys)
                {
                    if (!host.Flags.Evaluate(flag, Watched).Decision.Enabled && failing.TryGetValue(flag, out var servedAt) && servedAt > 0)
                    {
                        var now = Stopwatch.GetTimestamp();
                        pending.TryRemove(flag, out _);
                        failToZero.Add(Stopwatch.GetElapsedTime(servedAt, now).TotalMilliseconds);
                    }
                }

                Thread.Sleep(0);
            }
        })
        { IsBackground = true, Priority = ThreadPriority.AboveNormal };
        watcher.Start();
        var started = Stopwatch.StartNew();
        for (var i = 0; i < rollbacks; i++)
        {
            var flag = $"failing-{i}";
            failing[flag] = 0;
            await host.Runtime.StartAsync(host.Plan(PlanJson(host.Address, flag, "PT1S")), "bench", CancellationToken.None);
            pending[flag] = true;
            await Task.Delay(stagger);
        }

        var deadline = Stopwatch.StartNew();
        while (!pending.IsEmpty && deadline.Elapsed < TimeSpan.FromSeconds(60))
        {
            await Task.Delay(50);
        }

        await done.CancelAsync();
        watcher.Join();
        Console.WriteLine($"# {Machine.Load()}; {rollbacks - pending.Count} of {rollbacks} rolled back in {started.Elapsed.TotalSeconds:0.0} s");
        Console.WriteLine($"RESULT reaction failing evaluation -> exposure zero: {Stats.Summary(failToZero)}; target p99 < 50 ms; {Machine.Load()}");
        return pending.IsEmpty ? 0 : 1;
    }

    private static string PlanJson(Uri address, string flag, string interval) => $$"""
        { "name": "{{flag}}", "flag": "{{flag}}", "owner": "alex@contoso.com",
          "stages": [ { "name": "all", "percent": 100, "minDuration": "P7D" } ],
          "criteria": [ { "name": "error-rate",
                          "source": { "type": "http", "url": "{{address}}bench/metrics?flag={{"{{flag}}"}}&cohort={{"{{cohort}}"}}", "value": "$.value", "samples": "$.count", "timeout": "2s" },
                          "max": 0.01, "maxBaselineRatio": 1.5, "minSamples": 100 } ],
          "evaluation": { "interval": "{{interval}}", "failureLimit": 1, "onFailure": "rollback" },
          "stopOn": [ { "signal": "critical-issue", "action": "rollback" } ] }
        """;
}
