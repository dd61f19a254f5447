using System.Collections.Frozen;
using System.Text;
using System.Text.RegularExpressions;

namespace Rollout.Core.Metrics;

/// <summary>
/// Expands the templates of a metric query: <c>{{cohort}}</c>, <c>{{stage}}</c>, <c>{{flag}}</c>,
/// <c>{{since}}</c> and <c>{{rolloutId}}</c>.
/// </summary>
public static partial class MetricTemplate
{
    /// <summary>The placeholder names a template may use.</summary>
    public static IReadOnlyList<string> Names { get; } = ["cohort", "stage", "flag", "since", "rolloutId", "window"];

    /// <summary>Sample values used to check that a template expands to a valid query.</summary>
    public static IReadOnlyDictionary<string, string> ProbeValues { get; } = new Dictionary<string, string>
    {
        ["cohort"] = "treatment",
        ["stage"] = "stage",
        ["flag"] = "flag",
        ["since"] = "2026-01-01T00:00:00Z",
        ["rolloutId"] = "r",
        ["window"] = "1h",
    }.ToFrozenDictionary();

    [GeneratedRegex(@"\{\{\s*(?<name>[A-Za-z]+)\s*\}\}", RegexOptions.CultureInvariant)]
    private static partial Regex Placeholder();

    /// <summary>Replaces every known placeholder with its value passed through <paramref name="encode"/>.</summary>
    public static string Expand(string template, IReadOnlyDictionary<string, string> values, Func<string, string> encode) =>
        Placeholder().Replace(template, m => values.TryGetValue(m.Groups["name"].Value, out var value) ? encode(value) : m.Value);

    /// <summary>The placeholders in <paramref name="template"/> that are not known names.</summary>
    public static IEnumerable<string> UnknownPlaceholders(string template) =>
        Placeholder().Matches(template).Select(m => m.Groups["name"].Value).Where(n => !Names.Contains(n)).Distinct();

    /// <summary>The values for one query of one cohort.</summary>
    public static IReadOnlyDictionary<string, string> Values(MetricQuery query) => new Dictionary<string, string>(6)
    {
        ["cohort"] = query.Cohort == Cohort.Baseline ? "baseline" : "treatment",
        ["stage"] = query.Stage,
        ["flag"] = query.Flag,
        ["since"] = query.Since.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture),
        ["rolloutId"] = query.RolloutId,
        ["window"] = query.Window is { } window ? WindowText(window) : "1h",
    };

    /// <summary>A window as PromQL and KQL both read it: the largest whole unit (<c>30d</c>, <c>6h</c>, <c>5m</c>, <c>30s</c>).</summary>
    public static string WindowText(TimeSpan window) =>
        window.TotalSeconds % 86400 == 0 ? $"{(long)window.TotalDays}d"
        : window.TotalSeconds % 3600 == 0 ? $"{(long)window.TotalHours}h"
        : window.TotalSeconds % 60 == 0 ? $"{(long)window.TotalMinutes}m"
        : $"{(long)Math.Ceiling(window.TotalSeconds)}s";

    /// <summary>Escapes a value for a string literal in PromQL or KQL (backslash and both quotes).</summary>
    public static string EscapeQueryLiteral(string value)
    {
        var sb = new StringBuilder(value.Length);
        foreach (var c in value)
        {
            if (c is '\\' or '"' or '\'')
            {
                sb.Append('\\');
            }

            sb.Append(c);
        }

        return sb.ToString();
    }
}
