using System.Collections.Frozen;
using System.Collections.Immutable;
using Rollout.Core.Plans;

namespace Rollout.Core.Metrics;

/// <summary>The settings a metric source type accepts, and checks on their values.</summary>
/// <param name="Type">The source type, e.g. <c>http</c>.</param>
/// <param name="Required">Settings that must be present.</param>
/// <param name="Optional">Settings that may be present.</param>
/// <param name="SamplesSetting">The setting that locates the sample count, when the type has one.</param>
/// <param name="Check">Further checks: returns (setting, problem) pairs.</param>
public sealed record MetricSourceSchema(
    string Type,
    ImmutableArray<string> Required,
    ImmutableArray<string> Optional,
    string? SamplesSetting,
    Func<MetricSourceSpec, IEnumerable<(string Setting, string Problem)>>? Check = null)
{
    /// <summary>Runs the type's own checks on a spec's settings.</summary>
    public IEnumerable<(string Setting, string Problem)> Validate(MetricSourceSpec spec) => Check?.Invoke(spec) ?? [];

    /// <summary>
    /// The <c>http</c> source: GET <c>url</c> (templated), read the value and the sample count by JSONPath,
    /// give up after <c>timeout</c>.
    /// </summary>
    public static MetricSourceSchema Http { get; } = new(
        "http",
        ["url", "value"],
        ["samples", "values", "timeout"],
        "samples",
        spec => CheckHttp(spec));

    /// <summary>
    /// Checks every source type shares: the <paramref name="templated"/> settings name only known
    /// placeholders, and <c>timeout</c>, when present, is a duration above 0 and at most 5 minutes.
    /// </summary>
    public static IEnumerable<(string Setting, string Problem)> CheckCommon(MetricSourceSpec spec, params string[] templated)
    {
        foreach (var key in templated)
        {
            if (spec.Get(key) is not { } text)
            {
                continue;
            }

            if (string.IsNullOrWhiteSpace(text))
            {
                yield return (key, $"'{key}' must not be empty");
            }

            foreach (var unknown in MetricTemplate.UnknownPlaceholders(text))
            {
                yield return (key, $"unknown template '{{{{{unknown}}}}}' (known: {string.Join(", ", MetricTemplate.Names.Select(n => "{{" + n + "}}"))})");
            }
        }

        if (spec.Get("timeout") is { } timeout)
        {
            if (!Durations.TryParse(timeout, out var t, out var error))
            {
                yield return ("timeout", error);
            }
            else if (t <= TimeSpan.Zero || t > TimeSpan.FromMinutes(5))
            {
                yield return ("timeout", "timeout must be above 0 and at most 5 minutes");
            }
        }
    }

    /// <summary>Checks that a setting, when present, is an absolute http or https URL once its templates are expanded.</summary>
    public static IEnumerable<(string Setting, string Problem)> CheckUrl(MetricSourceSpec spec, string key)
    {
        if (spec.Get(key) is not { } url)
        {
            yield break;
        }

        var probe = MetricTemplate.Expand(url, MetricTemplate.ProbeValues, Uri.EscapeDataString);
        if (!Uri.TryCreate(probe, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            yield return (key, $"'{url}' is not an absolute http or https URL");
        }
    }

    private static IEnumerable<(string, string)> CheckHttp(MetricSourceSpec spec)
    {
        foreach (var problem in CheckUrl(spec, "url").Concat(CheckCommon(spec, "url")))
        {
            yield return problem;
        }

        foreach (var key in new[] { "value", "samples", "values" })
        {
            if (spec.Get(key) is { } path && !JsonPath.TryCompile(path, out _, out var error))
            {
                yield return (key, error);
            }
        }
    }
}

/// <summary>The metric source types a host can query; plans naming any other type are refused.</summary>
public sealed class MetricSourceCatalog
{
    private readonly FrozenDictionary<string, MetricSourceSchema> schemas;

    /// <summary>Creates a catalog of the given schemas.</summary>
    public MetricSourceCatalog(IEnumerable<MetricSourceSchema> schemas) =>
        this.schemas = schemas.ToFrozenDictionary(s => s.Type, StringComparer.Ordinal);

    /// <summary>The source types available, in name order.</summary>
    public IEnumerable<string> Types => schemas.Keys.Order(StringComparer.Ordinal);

    /// <summary>Looks a source type up.</summary>
    public bool TryGet(string type, out MetricSourceSchema schema) => schemas.TryGetValue(type, out schema!);
}
