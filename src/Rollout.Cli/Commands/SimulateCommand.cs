using System.Collections.Immutable;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Rollout.Cli.Client;
using Rollout.Core.Api;
using Rollout.Core.Engine;
using Rollout.Core.Plans;
using Rollout.Core.Simulation;

namespace Rollout.Cli.Commands;

/// <summary><c>rollout simulate</c>: backtests a plan against recorded metrics and prints the timeline.</summary>
internal static class SimulateCommand
{
    public static async Task<int> RunAsync(RolloutPlan plan, FileInfo metricsFile, SimulationOptions options, bool verbose, bool json, TextWriter output, TextWriter error)
    {
        if (!metricsFile.Exists)
        {
            throw new ClientException(ExitCodes.InvalidInput, $"metrics file '{metricsFile.FullName}' does not exist");
        }

        if (!RecordedMetrics.TryParse(await File.ReadAllTextAsync(metricsFile.FullName), out var metrics, out var problems))
        {
            foreach (var problem in problems.Take(50))
            {
                await error.WriteLineAsync($"{metricsFile.Name}: {problem}");
            }

            return ExitCodes.InvalidInput;
        }

        var missing = plan.Criteria.Select(c => c.Name).Except(metrics.Criteria, StringComparer.Ordinal).ToList();
        if (missing.Count > 0)
        {
            await error.WriteLineAsync($"warning: no recorded points for criteria {string.Join(", ", missing)}: they will be NoData");
        }

        var clock = Stopwatch.StartNew();
        var result = Simulator.Run(plan, metrics, options);
        clock.Stop();

        if (json)
        {
            await output.WriteLineAsync(JsonSerializer.Serialize(new { result.Start, result.End, result.Ending, result.FullExposureAt, status = result.Final.Status, audit = result.Audit }, RolloutJson.Options));
        }
        else
        {
            foreach (var line in Timeline(result, verbose))
            {
                await output.WriteLineAsync(line);
            }

            await output.WriteLineAsync();
            await output.WriteLineAsync($"Outcome: {result.Ending}.");
            if (result.FullExposureAt is { } full)
            {
                await output.WriteLineAsync($"Time to full exposure: {Span(full - result.Start)}.");
            }

            if (result.Final.Status == RolloutStatus.RolledBack)
            {
                var stageStart = result.Final.StageStartedAt;
                await output.WriteLineAsync($"Time to rollback: {Span(result.End - result.Start)} from the start, {Span(result.End - stageStart)} after stage '{result.Final.Stage.Name}' was entered.");
            }

            await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"Simulated {Span(result.End - result.Start)} ({result.Audit.Count(e => e.Type == AuditType.Evaluated)} checks) in {clock.Elapsed.TotalMilliseconds:0.0} ms."));
        }

        return result.Final.Status switch
        {
            RolloutStatus.Completed => ExitCodes.Ok,
            RolloutStatus.RolledBack => ExitCodes.RolledBack,
            _ => ExitCodes.Unfinished,
        };
    }

    public static ImmutableArray<(DateTimeOffset At, string Signal)> ParseSignals(IEnumerable<string> values)
    {
        var result = ImmutableArray.CreateBuilder<(DateTimeOffset, string)>();
        foreach (var value in values)
        {
            var parts = value.Split('=', 2);
            if (parts.Length != 2 || !DateTimeOffset.TryParse(parts[0], CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at) || parts[1].Length == 0)
            {
                throw new ClientException(ExitCodes.InvalidInput, $"--signal '{value}' must look like 2026-01-03T10:00:00Z=critical-issue");
            }

            result.Add((at.ToUniversalTime(), parts[1]));
        }

        return result.ToImmutable();
    }

    private static IEnumerable<string> Timeline(SimulationResult result, bool verbose)
    {
        (AuditEvent First, AuditEvent Last, string Outcome, int Count)? run = null;
        foreach (var entry in result.Audit)
        {
            if (!verbose && entry.Type == AuditType.Evaluated)
            {
                var outcome = entry.Details.GetProperty("outcome").GetString()!;
                if (run is { } r && r.Outcome == outcome)
                {
                    run = (r.First, entry, outcome, r.Count + 1);
                    continue;
                }

                if (run is { } done)
                {
                    yield return Run(result.Start, done);
                }

                run = (entry, entry, outcome, 1);
                continue;
            }

            if (run is { } pending)
            {
                yield return Run(result.Start, pending);
                run = null;
            }

            yield return $"{Offset(result.Start, entry.At)}  {Printer.Line(entry)[10..]}";
        }

        if (run is { } last)
        {
            yield return Run(result.Start, last);
        }
    }

    private static string Run(DateTimeOffset start, (AuditEvent First, AuditEvent Last, string Outcome, int Count) run) =>
        run.Count == 1
            ? $"{Offset(start, run.First.At)}  {Printer.Line(run.First)[10..]}"
            : $"{Offset(start, run.First.At)}  {run.Count} checks {run.Outcome} until {Offset(start, run.Last.At).Trim()}; last: {Printer.Line(run.Last)[34..]}";

    private static string Offset(DateTimeOffset start, DateTimeOffset at)
    {
        var span = at - start;
        return string.Create(CultureInfo.InvariantCulture, $"T+{(int)span.TotalDays}d{span.Hours:00}:{span.Minutes:00}:{span.Seconds:00}");
    }

    private static string Span(TimeSpan span) => Durations.ToWords(span);
}
