using System.Collections.Immutable;
using Rollout.Core.Metrics;
using Rollout.Core.Plans;

namespace Rollout.Integrations.Metrics.AzureMonitor;

/// <summary>
/// The <c>azure-monitor-metrics</c> metric source: one platform metric of one Azure resource, with an aggregation
/// and an interval, over the window from the stage's start to now. The sample count is the <c>count</c>
/// aggregation of the same data point.
/// </summary>
/// <remarks>
/// The answer must hold one time series (a <c>filter</c> that splits by a dimension with <c>eq '*'</c> gives several:
/// that is missing data, not a choice to make here). Its value is the latest data point that carries the
/// aggregation: the service answers intervals without measurements (such as the one still in progress) with no
/// value, and those are skipped. With <c>interval: FULL</c>, the default, there is one point for the whole window.
/// No series, no point with a value, a metric error, an error status, throttling after Azure.Core's retries and a
/// timeout are failed readings with their reason, never a value.
/// </remarks>
public sealed class AzureMonitorMetricsSource(AzureMonitorConnection connection, TimeProvider time) : IMetricSource
{
    /// <summary>The source type.</summary>
    public const string Type = "azure-monitor-metrics";

    /// <summary>The interval used when the source names none: one data point over the whole window.</summary>
    public const string DefaultInterval = "FULL";

    /// <summary>The settings of an <c>azure-monitor-metrics</c> source and their checks.</summary>
    public static MetricSourceSchema SchemaDefinition { get; } = new(
        Type,
        ["resource", "metric", "aggregation"],
        ["interval", "namespace", "filter", "endpoint", "timeout"],
        null,
        Check);

    /// <inheritdoc/>
    public MetricSourceSchema Schema => SchemaDefinition;

    /// <inheritdoc/>
    public async Task<MetricReading> ReadAsync(MetricQuery query, CancellationToken cancellationToken)
    {
        var spec = query.Source;
        if (!Enum.TryParse<MetricAggregationType>(spec.Get("aggregation"), ignoreCase: true, out var aggregation) || !Enum.IsDefined(aggregation))
        {
            return MetricReading.Failed($"'{spec.Get("aggregation")}' is not an aggregation");
        }

        var metric = spec.Get("metric") ?? string.Empty;
        var filter = spec.Get("filter") is { } f ? MetricTemplate.Expand(f, MetricTemplate.Values(query), ODataLiteral) : null;
        var options = new MetricsQueryOptions(
            QueryTimeRange.Between(query.Since, time.GetUtcNow()),
            aggregation == MetricAggregationType.Count ? [MetricAggregationType.Count] : [aggregation, MetricAggregationType.Count],
            spec.Get("interval") ?? DefaultInterval,
            spec.Get("namespace"),
            filter);
        var timeout = AzureMonitorSettings.Timeout(spec);
        using var timeoutSource = new CancellationTokenSource(timeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeoutSource.Token);
        try
        {
            var client = connection.Metrics(AzureMonitorSettings.Endpoint(spec, MetricsQueryClient.DefaultEndpoint));
            var response = await client.QueryResourceAsync(spec.Get("resource") ?? string.Empty, [metric], options, linked.Token);
            return Read(response.Value, metric, aggregation);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return AzureMonitorSettings.Failure(ex, timeout, connection.Options.Retry.MaxRetries);
        }
    }

    /// <summary>The value (and sample count) of a metrics answer, or why there is none.</summary>
    internal static MetricReading Read(MetricsQueryResult result, string metric, MetricAggregationType aggregation)
    {
        var found = result.Metrics.FirstOrDefault(m => string.Equals(m.Name, metric, StringComparison.OrdinalIgnoreCase))
            ?? (result.Metrics.Length == 1 ? result.Metrics[0] : null);
        if (found is null)
        {
            return MetricReading.Failed($"the answer has no metric '{metric}'");
        }

        if (found.ErrorCode is { } code && !string.Equals(code, "Success", StringComparison.OrdinalIgnoreCase))
        {
            return MetricReading.Failed($"metric '{metric}': {code}{(found.ErrorMessage is { } message ? ": " + message : string.Empty)}");
        }

        if (found.TimeSeries.IsEmpty)
        {
            return MetricReading.Failed($"metric '{metric}' has no time series (no data in the window, or the filter matched nothing)");
        }

        if (found.TimeSeries.Length > 1)
        {
            var dimensions = found.TimeSeries.SelectMany(s => s.Metadata.Keys).Distinct(StringComparer.OrdinalIgnoreCase).ToArray();
            return MetricReading.Failed($"{found.TimeSeries.Length} series for metric '{metric}'{(dimensions.Length > 0 ? $" (split by {string.Join(", ", dimensions)})" : string.Empty)}; aggregate in the query: make the filter select one series");
        }

        var point = LatestWith(found.TimeSeries[0].Values, aggregation);
        if (point is null)
        {
            return MetricReading.Failed($"metric '{metric}' has no data point with a {aggregation.ToString().ToLowerInvariant()} value in the window");
        }

        var value = point.Get(aggregation)!.Value;
        if (!double.IsFinite(value))
        {
            return MetricReading.Failed($"metric '{metric}' {aggregation.ToString().ToLowerInvariant()} is not finite");
        }

        long? samples = point.Count is { } count && double.IsFinite(count) && count >= 0 ? (long)Math.Floor(count) : null;
        return new MetricReading(value, samples, null);
    }

    private static MetricValue? LatestWith(ImmutableArray<MetricValue> points, MetricAggregationType aggregation)
    {
        MetricValue? latest = null;
        foreach (var point in points)
        {
            if (point.Get(aggregation) is not null && (latest is null || point.TimeStamp >= latest.TimeStamp))
            {
                latest = point;
            }
        }

        return latest;
    }

    /// <summary>Escapes a template value inside an OData string literal of <c>$filter</c>: a quote is doubled.</summary>
    internal static string ODataLiteral(string value) => value.Replace("'", "''", StringComparison.Ordinal);

    private static IEnumerable<(string, string)> Check(MetricSourceSpec spec)
    {
        if (spec.Get("resource") is { } resource && !AzureMonitorSettings.IsArmResource(resource))
        {
            yield return ("resource", $"'{resource}' is not an Azure resource id (/subscriptions/{{id}}/resourceGroups/{{group}}/providers/{{namespace}}/{{type}}/{{name}})");
        }

        if (spec.Get("metric") is { } metric && (string.IsNullOrWhiteSpace(metric) || metric.Contains(',', StringComparison.Ordinal)))
        {
            yield return ("metric", $"'{metric}' is not one metric name (one metric per criterion, e.g. 'Requests')");
        }

        if (spec.Get("aggregation") is { } aggregation && !Enum.GetNames<MetricAggregationType>().Contains(aggregation, StringComparer.OrdinalIgnoreCase))
        {
            yield return ("aggregation", $"'{aggregation}' is not an aggregation (one of {string.Join(", ", Enum.GetNames<MetricAggregationType>())})");
        }

        if (spec.Get("interval") is { } interval && interval != DefaultInterval && !AzureMonitorSettings.IsIsoDuration(interval))
        {
            yield return ("interval", $"'{interval}' is not an interval: an ISO 8601 duration such as 'PT5M' or 'PT1H', or 'FULL' (one point for the whole window, the default)");
        }

        foreach (var problem in MetricSourceSchema.CheckCommon(spec, "filter").Concat(AzureMonitorSettings.CheckEndpoint(spec)))
        {
            yield return problem;
        }
    }
}
