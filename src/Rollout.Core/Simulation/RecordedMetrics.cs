using System.Collections.Frozen;
using System.Collections.Immutable;
using System.Globalization;
using System.Text.Json;
using Rollout.Core.Metrics;

namespace Rollout.Core.Simulation;

/// <summary>One recorded point of a criterion's metric for one cohort.</summary>
public readonly record struct RecordedPoint(DateTimeOffset At, double Value, long? Samples);

/// <summary>
/// Recorded metric series, by criterion and cohort, read from CSV (<c>time,criterion,cohort,value,samples</c>)
/// or JSON (<c>[{"time","criterion","cohort","value","samples"}]</c>). At a moment <c>t</c> a series answers
/// its latest point at or before <c>t</c>, as monitoring would. An error-budget criterion's windows are series
/// named <c>criterion@window</c> (e.g. <c>slo@1h</c>).
/// </summary>
public sealed class RecordedMetrics
{
    private readonly FrozenDictionary<(string Criterion, Cohort Cohort), ImmutableArray<RecordedPoint>> series;

    private RecordedMetrics(Dictionary<(string, Cohort), List<RecordedPoint>> points)
    {
        series = points.ToFrozenDictionary(p => p.Key, p => p.Value.OrderBy(x => x.At).ToImmutableArray());
        First = series.Values.Where(s => !s.IsEmpty).Select(s => s[0].At).DefaultIfEmpty(DateTimeOffset.MinValue).Min();
        Last = series.Values.Where(s => !s.IsEmpty).Select(s => s[^1].At).DefaultIfEmpty(DateTimeOffset.MinValue).Max();
    }

    /// <summary>The earliest recorded moment.</summary>
    public DateTimeOffset First { get; }

    /// <summary>The latest recorded moment.</summary>
    public DateTimeOffset Last { get; }

    /// <summary>The criterion names that have points.</summary>
    public IEnumerable<string> Criteria => series.Keys.Select(k => k.Criterion).Distinct(StringComparer.Ordinal);

    /// <summary>Parses CSV or JSON text (JSON when it starts with '['), or lists every problem by line.</summary>
    public static bool TryParse(string text, out RecordedMetrics metrics, out IReadOnlyList<string> errors)
    {
        var points = new Dictionary<(string, Cohort), List<RecordedPoint>>();
        var problems = new List<string>();
        var trimmed = text.TrimStart();
        if (trimmed.StartsWith('['))
        {
            ParseJson(trimmed, points, problems);
        }
        else
        {
            ParseCsv(text, points, problems);
        }

        if (problems.Count == 0 && points.Count == 0)
        {
            problems.Add("the file holds no points");
        }

        metrics = new RecordedMetrics(points);
        errors = problems;
        return problems.Count == 0;
    }

    /// <summary>The reading at <paramref name="at"/>: the latest point at or before it, if not older than <paramref name="staleAfter"/>.</summary>
    public MetricReading ReadingAt(string criterion, Cohort cohort, DateTimeOffset at, TimeSpan staleAfter)
    {
        if (!series.TryGetValue((criterion, cohort), out var points))
        {
            return MetricReading.Failed($"no recorded series for {criterion}/{cohort.ToString().ToLowerInvariant()}");
        }

        var lo = 0;
        var hi = points.Length - 1;
        var found = -1;
        while (lo <= hi)
        {
            var mid = (lo + hi) / 2;
            if (points[mid].At <= at)
            {
                found = mid;
                lo = mid + 1;
            }
            else
            {
                hi = mid - 1;
            }
        }

        if (found < 0)
        {
            return MetricReading.Failed("no recorded point yet");
        }

        var point = points[found];
        return at - point.At > staleAfter
            ? MetricReading.Failed($"latest recorded point is {(at - point.At).TotalMinutes:0} min old (stale after {staleAfter.TotalMinutes:0} min)")
            : new MetricReading(point.Value, point.Samples, null);
    }

    private static void ParseCsv(string text, Dictionary<(string, Cohort), List<RecordedPoint>> points, List<string> problems)
    {
        using var reader = new StringReader(text);
        var header = reader.ReadLine();
        var columns = header?.Split(',').Select(c => c.Trim().ToLowerInvariant()).ToArray() ?? [];
        int Column(string name) => Array.IndexOf(columns, name);
        var (time, criterion, cohort, value, samples) = (Column("time"), Column("criterion"), Column("cohort"), Column("value"), Column("samples"));
        if (time < 0 || criterion < 0 || value < 0)
        {
            problems.Add("line 1: the header must name at least the columns time, criterion and value (optional: cohort, samples)");
            return;
        }

        var lineNumber = 1;
        while (reader.ReadLine() is { } line)
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line) || line.TrimStart().StartsWith('#'))
            {
                continue;
            }

            var cells = line.Split(',');
            string? Cell(int index) => index >= 0 && index < cells.Length ? cells[index].Trim() : null;
            Add(points, problems, $"line {lineNumber}", Cell(time), Cell(criterion), Cell(cohort), Cell(value), Cell(samples));
        }
    }

    private static void ParseJson(string text, Dictionary<(string, Cohort), List<RecordedPoint>> points, List<string> problems)
    {
        try
        {
            using var document = JsonDocument.Parse(text);
            var index = 0;
            foreach (var item in document.RootElement.EnumerateArray())
            {
                string? Field(string name) => item.ValueKind == JsonValueKind.Object && item.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null
                    ? (v.ValueKind == JsonValueKind.String ? v.GetString() : v.GetRawText())
                    : null;
                Add(points, problems, $"$[{index++}]", Field("time"), Field("criterion"), Field("cohort"), Field("value"), Field("samples"));
            }
        }
        catch (JsonException ex)
        {
            problems.Add($"not valid JSON: {ex.Message}");
        }
    }

    private static void Add(Dictionary<(string, Cohort), List<RecordedPoint>> points, List<string> problems, string where, string? time, string? criterion, string? cohort, string? value, string? samples)
    {
        if (!DateTimeOffset.TryParse(time, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at))
        {
            problems.Add($"{where}: time '{time}' is not an ISO 8601 date-time");
            return;
        }

        if (string.IsNullOrWhiteSpace(criterion))
        {
            problems.Add($"{where}: criterion is empty");
            return;
        }

        Cohort parsedCohort;
        if (string.IsNullOrWhiteSpace(cohort) || cohort.Equals("treatment", StringComparison.OrdinalIgnoreCase))
        {
            parsedCohort = Cohort.Treatment;
        }
        else if (cohort.Equals("baseline", StringComparison.OrdinalIgnoreCase))
        {
            parsedCohort = Cohort.Baseline;
        }
        else
        {
            problems.Add($"{where}: cohort '{cohort}' is neither treatment nor baseline");
            return;
        }

        if (!double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var number))
        {
            if (!string.IsNullOrEmpty(value))
            {
                problems.Add($"{where}: value '{value}' is not a number");
                return;
            }

            // An empty cell is a moment monitoring answered nothing: the gate must see missing data then.
            number = double.NaN;
        }

        long? count = null;
        if (!string.IsNullOrEmpty(samples))
        {
            if (!long.TryParse(samples, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) || n < 0)
            {
                problems.Add($"{where}: samples '{samples}' is not a count");
                return;
            }

            count = n;
        }

        var key = (criterion, parsedCohort);
        if (!points.TryGetValue(key, out var list))
        {
            points[key] = list = [];
        }

        list.Add(new RecordedPoint(at.ToUniversalTime(), number, count));
    }
}
