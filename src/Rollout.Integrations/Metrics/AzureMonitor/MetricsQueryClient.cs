using System.Collections.Immutable;
using System.Globalization;
using System.Text.Json;
using Azure;
using Azure.Core;
using Azure.Core.Pipeline;

namespace Rollout.Integrations.Metrics.AzureMonitor;

/// <summary>The aggregations a platform metric can be read with.</summary>
public enum MetricAggregationType
{
    /// <summary>The mean of the measurements in each interval.</summary>
    Average,

    /// <summary>The sum of the measurements in each interval.</summary>
    Total,

    /// <summary>The number of measurements in each interval.</summary>
    Count,

    /// <summary>The smallest measurement in each interval.</summary>
    Minimum,

    /// <summary>The largest measurement in each interval.</summary>
    Maximum,
}

/// <summary>What to read besides the resource and the metric names.</summary>
/// <param name="TimeRange">The window, sent as <c>timespan=start/end</c>.</param>
/// <param name="Aggregations">The aggregations to return in each data point.</param>
/// <param name="Granularity">The interval (time grain) as ISO 8601, or <c>FULL</c> for one point over the window; null for the service default (PT1M).</param>
/// <param name="MetricNamespace">The metric namespace, when the resource has several.</param>
/// <param name="Filter">The OData <c>$filter</c> on dimensions, e.g. <c>Cohort eq 'treatment'</c>.</param>
public sealed record MetricsQueryOptions(
    QueryTimeRange TimeRange,
    ImmutableArray<MetricAggregationType> Aggregations,
    string? Granularity = null,
    string? MetricNamespace = null,
    string? Filter = null);

/// <summary>One data point of a time series; an aggregation the service has no value for is null.</summary>
public sealed record MetricValue(DateTimeOffset TimeStamp, double? Average, double? Total, double? Count, double? Minimum, double? Maximum)
{
    /// <summary>The value of one aggregation.</summary>
    public double? Get(MetricAggregationType aggregation) => aggregation switch
    {
        MetricAggregationType.Average => Average,
        MetricAggregationType.Total => Total,
        MetricAggregationType.Count => Count,
        MetricAggregationType.Minimum => Minimum,
        _ => Maximum,
    };
}

/// <summary>One time series: its dimension values (empty when the metric is not split) and its data points in time order.</summary>
public sealed record MetricTimeSeriesElement(ImmutableSortedDictionary<string, string> Metadata, ImmutableArray<MetricValue> Values);

/// <summary>One metric of the answer; <paramref name="ErrorCode"/> is <c>Success</c> or the reason it has no data.</summary>
public sealed record MetricResult(string Name, string? Unit, string? ErrorCode, string? ErrorMessage, ImmutableArray<MetricTimeSeriesElement> TimeSeries);

/// <summary>The answer to a metrics query.</summary>
public sealed record MetricsQueryResult(string? TimeSpan, string? Granularity, string? Namespace, ImmutableArray<MetricResult> Metrics);

/// <summary>
/// A small client for the Azure Monitor Metrics REST API (<c>Metrics - List</c>, api-version 2023-10-01) over
/// Azure.Core's pipeline, shaped like <c>Azure.Monitor.Query.MetricsQueryClient.QueryResourceAsync</c> so it can be
/// swapped for it. Non-200 answers throw <see cref="RequestFailedException"/>.
/// </summary>
/// <remarks>
/// Wire format, checked against Microsoft's REST reference ("Metrics - List", learn.microsoft.com/rest/api/monitor/metrics/list)
/// and the 2023-10-01 swagger and its examples GetMetric.json and GetMetricError.json (Azure/azure-rest-api-specs,
/// monitor/resource-manager/Microsoft.Insights/stable/2023-10-01):
/// <list type="bullet">
/// <item>GET <c>{endpoint}{resourceUri}/providers/Microsoft.Insights/metrics?api-version=2023-10-01&amp;metricnames=&amp;aggregation=&amp;interval=&amp;timespan=start/end</c>,
/// optional <c>metricnamespace</c> and <c>$filter</c>; aggregations are comma separated (e.g. <c>average,count</c>).</item>
/// <item>200: <c>{"timespan", "interval", "namespace", "value": [{"name": {"value"}, "unit", "errorCode", "errorMessage"?,
/// "timeseries": [{"metadatavalues": [{"name": {"value"}, "value"}], "data": [{"timeStamp", "average"?, "total"?, "count"?, "minimum"?, "maximum"?}]}]}]}</c>;
/// a metric that could not be read has an <c>errorCode</c> other than <c>Success</c> and no time series.</item>
/// <item>Other statuses: ARM's <c>{"error": {"code", "message"}}</c>.</item>
/// </list>
/// </remarks>
public sealed class MetricsQueryClient
{
    /// <summary>The API version this client speaks.</summary>
    public const string ApiVersion = "2023-10-01";

    private readonly HttpPipeline pipeline;

    /// <summary>Creates a client for the ARM endpoint <paramref name="endpoint"/>; tokens are asked for its <c>/.default</c> scope.</summary>
    public MetricsQueryClient(Uri endpoint, TokenCredential credential, AzureMonitorClientOptions? options = null)
    {
        Endpoint = endpoint;
        pipeline = AzureMonitorPipeline.Build(endpoint, credential, options ?? new AzureMonitorClientOptions());
    }

    /// <summary>The public cloud's Azure Resource Manager endpoint.</summary>
    public static Uri DefaultEndpoint { get; } = new("https://management.azure.com");

    /// <summary>The Resource Manager endpoint this client queries.</summary>
    public Uri Endpoint { get; }

    /// <summary>Reads <paramref name="metrics"/> of the resource <paramref name="resourceId"/>.</summary>
    public async Task<Response<MetricsQueryResult>> QueryResourceAsync(string resourceId, IEnumerable<string> metrics, MetricsQueryOptions options, CancellationToken cancellationToken = default)
    {
        using var message = pipeline.CreateMessage();
        var request = message.Request;
        request.Method = RequestMethod.Get;
        request.Uri.Reset(Endpoint);
        request.Uri.AppendPath("/" + resourceId.Trim('/') + "/providers/Microsoft.Insights/metrics", escape: false);
        request.Uri.AppendQuery("api-version", ApiVersion, escapeValue: true);
        request.Uri.AppendQuery("metricnames", string.Join(',', metrics), escapeValue: true);
        request.Uri.AppendQuery("aggregation", string.Join(',', options.Aggregations.Select(a => a.ToString().ToLowerInvariant())), escapeValue: true);
        request.Uri.AppendQuery("timespan", options.TimeRange.Iso, escapeValue: true);
        if (options.Granularity is { } interval)
        {
            request.Uri.AppendQuery("interval", interval, escapeValue: true);
        }

        if (options.MetricNamespace is { } ns)
        {
            request.Uri.AppendQuery("metricnamespace", ns, escapeValue: true);
        }

        if (options.Filter is { } filter)
        {
            request.Uri.AppendQuery("$filter", filter, escapeValue: true);
        }

        request.Headers.Add("Accept", "application/json");
        var response = await AzureMonitorPipeline.SendAsync(pipeline, message, cancellationToken).ConfigureAwait(false);
        return Response.FromValue(Parse(response.Content.ToMemory()), response);
    }

    /// <summary>Reads a 200 answer; throws <see cref="JsonException"/> when it is not the documented shape.</summary>
    internal static MetricsQueryResult Parse(ReadOnlyMemory<byte> json)
    {
        using var document = JsonDocument.Parse(json);
        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("value", out var value) || value.ValueKind != JsonValueKind.Array)
        {
            throw new JsonException("the answer has no 'value' array");
        }

        var metrics = value.EnumerateArray().Select(ParseMetric).ToImmutableArray();
        return new MetricsQueryResult(Text(root, "timespan"), Text(root, "interval"), Text(root, "namespace"), metrics);
    }

    private static MetricResult ParseMetric(JsonElement metric)
    {
        if (metric.ValueKind != JsonValueKind.Object)
        {
            throw new JsonException("a metric is not an object");
        }

        var name = metric.TryGetProperty("name", out var nameElement) ? LocalizableValue(nameElement) : null;
        var series = ImmutableArray<MetricTimeSeriesElement>.Empty;
        if (metric.TryGetProperty("timeseries", out var seriesElement) && seriesElement.ValueKind == JsonValueKind.Array)
        {
            series = seriesElement.EnumerateArray().Select(ParseSeries).ToImmutableArray();
        }

        return new MetricResult(name ?? string.Empty, Text(metric, "unit"), Text(metric, "errorCode"), Text(metric, "errorMessage"), series);
    }

    private static MetricTimeSeriesElement ParseSeries(JsonElement series)
    {
        var metadata = ImmutableSortedDictionary.CreateBuilder<string, string>(StringComparer.OrdinalIgnoreCase);
        if (series.TryGetProperty("metadatavalues", out var metadataElement) && metadataElement.ValueKind == JsonValueKind.Array)
        {
            foreach (var item in metadataElement.EnumerateArray())
            {
                if (item.ValueKind == JsonValueKind.Object && item.TryGetProperty("name", out var n) && LocalizableValue(n) is { } key)
                {
                    metadata[key] = Text(item, "value") ?? string.Empty;
                }
            }
        }

        var values = ImmutableArray<MetricValue>.Empty;
        if (series.TryGetProperty("data", out var data) && data.ValueKind == JsonValueKind.Array)
        {
            values = data.EnumerateArray().Select(ParseValue).ToImmutableArray();
        }

        return new MetricTimeSeriesElement(metadata.ToImmutable(), values);
    }

    private static MetricValue ParseValue(JsonElement point)
    {
        if (point.ValueKind != JsonValueKind.Object
            || Text(point, "timeStamp") is not { } stamp
            || !DateTimeOffset.TryParse(stamp, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var timeStamp))
        {
            throw new JsonException("a data point has no valid 'timeStamp'");
        }

        return new MetricValue(timeStamp, Number(point, "average"), Number(point, "total"), Number(point, "count"), Number(point, "minimum"), Number(point, "maximum"));
    }

    private static string? LocalizableValue(JsonElement name) => name.ValueKind switch
    {
        JsonValueKind.Object => Text(name, "value"),
        JsonValueKind.String => name.GetString(),
        _ => null,
    };

    private static double? Number(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number && value.TryGetDouble(out var d) ? d : null;

    private static string? Text(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}
