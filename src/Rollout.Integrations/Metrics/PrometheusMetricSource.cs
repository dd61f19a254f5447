using System.Globalization;
using System.Text.Json;
using Rollout.Core.Metrics;
using Rollout.Core.Plans;

namespace Rollout.Integrations.Metrics;

/// <summary>
/// The <c>prometheus</c> metric source: an instant query over Prometheus' HTTP API
/// (<c>POST {url}/api/v1/query</c>), with an optional second query for the sample count. The result must be
/// one number: a scalar or a vector of exactly one series. An empty vector, several series, NaN, ±Inf, an
/// error, a timeout or throttling is a failed reading with its reason; nothing defaults to 0.
/// </summary>
public sealed class PrometheusMetricSource(HttpClient client) : IMetricSource
{
    private static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(10);

    /// <summary>The settings of a <c>prometheus</c> source: <c>url</c> (the server), <c>query</c>, <c>samplesQuery</c>, <c>timeout</c>.</summary>
    public static MetricSourceSchema SchemaDefinition { get; } = new(
        "prometheus",
        ["url", "query"],
        ["samplesQuery", "timeout"],
        "samplesQuery",
        Check);

    /// <inheritdoc/>
    public MetricSourceSchema Schema => SchemaDefinition;

    /// <inheritdoc/>
    public async Task<MetricReading> ReadAsync(MetricQuery query, CancellationToken cancellationToken)
    {
        var spec = query.Source;
        var timeout = spec.Get("timeout") is { } t && Durations.TryParse(t, out var parsed, out _) ? parsed : DefaultTimeout;
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout);
        var values = MetricTemplate.Values(query);
        try
        {
            var value = await QueryAsync(spec.Get("url")!, Expand(spec.Get("query")!, values), cts.Token);
            if (value.Error is not null)
            {
                return MetricReading.Failed(value.Error);
            }

            if (spec.Get("samplesQuery") is not { } samplesQuery)
            {
                return new MetricReading(value.Number, null, null);
            }

            var samples = await QueryAsync(spec.Get("url")!, Expand(samplesQuery, values), cts.Token);
            return samples.Error is not null
                ? new MetricReading(value.Number, null, $"samples: {samples.Error}")
                : new MetricReading(value.Number, (long)Math.Floor(samples.Number), null);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return MetricReading.Failed($"timeout after {Durations.ToWords(timeout)}");
        }
        catch (HttpRequestException ex)
        {
            return MetricReading.Failed($"Prometheus unreachable: {ex.HttpRequestError} {ex.InnerException?.Message ?? ex.Message}");
        }
        catch (JsonException ex)
        {
            return MetricReading.Failed($"Prometheus answer is not JSON: {ex.Message}");
        }
    }

    private static string Expand(string template, IReadOnlyDictionary<string, string> values) =>
        MetricTemplate.Expand(template, values, MetricTemplate.EscapeQueryLiteral);

    private async Task<(double Number, string? Error)> QueryAsync(string server, string promql, CancellationToken ct)
    {
        var endpoint = new Uri(new Uri(server.EndsWith('/') ? server : server + "/"), "api/v1/query");
        using var content = new FormUrlEncodedContent([new KeyValuePair<string, string>("query", promql)]);
        using var response = await client.PostAsync(endpoint, content, ct);
        if (Throttling.Describe(response, "Prometheus") is { } throttled)
        {
            return (double.NaN, throttled);
        }

        var text = await response.Content.ReadAsStringAsync(ct);
        using var document = JsonDocument.Parse(text);
        var root = document.RootElement;
        if (root.TryGetProperty("status", out var status) && status.GetString() == "error")
        {
            var kind = root.TryGetProperty("errorType", out var errorType) ? errorType.GetString() : "error";
            var message = root.TryGetProperty("error", out var error) ? error.GetString() : "no message";
            return (double.NaN, $"Prometheus {kind}: {message}");
        }

        if (!response.IsSuccessStatusCode)
        {
            return (double.NaN, $"Prometheus answered {(int)response.StatusCode} {response.ReasonPhrase}");
        }

        if (!root.TryGetProperty("data", out var data) || !data.TryGetProperty("resultType", out var resultType) || !data.TryGetProperty("result", out var result))
        {
            return (double.NaN, "Prometheus answer has no data.result");
        }

        JsonElement sample;
        switch (resultType.GetString())
        {
            case "scalar":
                sample = result;
                break;
            case "vector":
                var count = result.GetArrayLength();
                if (count == 0)
                {
                    return (double.NaN, "empty result: no series matched");
                }

                if (count > 1)
                {
                    return (double.NaN, $"the query returned {count} series; aggregate it to one (e.g. sum(...))");
                }

                sample = result[0].GetProperty("value");
                break;
            default:
                return (double.NaN, $"result type '{resultType.GetString()}' is not a number; use an instant vector or a scalar");
        }

        var raw = sample[1].GetString();
        if (!double.TryParse(raw, NumberStyles.Float, CultureInfo.InvariantCulture, out var number))
        {
            // Prometheus writes NaN and infinities as "NaN", "+Inf" and "-Inf".
            return (double.NaN, raw switch
            {
                "NaN" => "value is NaN",
                "+Inf" or "-Inf" => $"value is {raw}",
                _ => $"value '{raw}' is not a number",
            });
        }

        return double.IsFinite(number) ? (number, null) : (double.NaN, $"value is {raw}");
    }

    private static IEnumerable<(string, string)> Check(MetricSourceSpec spec) =>
        MetricSourceSchema.CheckUrl(spec, "url").Concat(MetricSourceSchema.CheckCommon(spec, "query", "samplesQuery"));
}
