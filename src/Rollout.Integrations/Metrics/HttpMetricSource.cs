using System.Collections.Immutable;
using System.Globalization;
using System.Net;
using System.Text.Json;
using Rollout.Core.Metrics;
using Rollout.Core.Plans;

namespace Rollout.Integrations.Metrics;

/// <summary>
/// The <c>http</c> metric source: GET the criterion's URL (templates expanded and URL-encoded), read the value
/// and the sample count by JSONPath. Every fault (timeout, refused connection, non-2xx, bad JSON, missing
/// field, a URL that is invalid once expanded) is a failed reading with its reason, never an exception.
/// NaN and infinities are passed on as such; the gate judges them NoData.
/// </summary>
public sealed class HttpMetricSource(HttpClient client) : IMetricSource
{
    private const int MaxResponseBytes = 1024 * 1024;
    private static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(10);

    /// <inheritdoc/>
    public MetricSourceSchema Schema => MetricSourceSchema.Http;

    /// <inheritdoc/>
    public async Task<MetricReading> ReadAsync(MetricQuery query, CancellationToken cancellationToken)
    {
        var spec = query.Source;
        var url = MetricTemplate.Expand(spec.Get("url") ?? string.Empty, MetricTemplate.Values(query), Uri.EscapeDataString);
        var timeout = spec.Get("timeout") is { } t && Durations.TryParse(t, out var parsed, out _) ? parsed : DefaultTimeout;
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri))
        {
            return MetricReading.Failed($"the URL is not valid once its templates are expanded: {url}");
        }

        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout);
        try
        {
            using var response = await client.GetAsync(uri, HttpCompletionOption.ResponseHeadersRead, cts.Token);
            if (Throttling.Describe(response, "source") is { } throttled)
            {
                return MetricReading.Failed(throttled);
            }

            if (!response.IsSuccessStatusCode)
            {
                return MetricReading.Failed($"source answered {(int)response.StatusCode} {response.ReasonPhrase}");
            }

            if (response.Content.Headers.ContentLength > MaxResponseBytes)
            {
                return MetricReading.Failed($"source answer is larger than {MaxResponseBytes} bytes");
            }

            await using var stream = await response.Content.ReadAsStreamAsync(cts.Token);
            using var limited = new MemoryStream();
            var buffer = new byte[16 * 1024];
            int read;
            while ((read = await stream.ReadAsync(buffer, cts.Token)) > 0)
            {
                if (limited.Length + read > MaxResponseBytes)
                {
                    return MetricReading.Failed($"source answer is larger than {MaxResponseBytes} bytes");
                }

                limited.Write(buffer, 0, read);
            }

            limited.Position = 0;
            using var document = await JsonDocument.ParseAsync(limited, cancellationToken: cts.Token);
            return Read(document.RootElement, spec);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return MetricReading.Failed($"timeout after {Durations.ToWords(timeout)}");
        }
        catch (HttpRequestException ex)
        {
            return MetricReading.Failed($"source unreachable: {ex.HttpRequestError} {Describe(ex)}");
        }
        catch (JsonException ex)
        {
            return MetricReading.Failed($"source answer is not JSON: {ex.Message}");
        }
    }

    internal static MetricReading Read(JsonElement root, MetricSourceSpec spec)
    {
        if (!JsonPath.TryCompile(spec.Get("value") ?? "$", out var valuePath, out var error))
        {
            return MetricReading.Failed(error);
        }

        if (!valuePath.TrySelect(root, out var valueElement) || valueElement.ValueKind == JsonValueKind.Null)
        {
            return MetricReading.Failed($"no value at {valuePath.Text}");
        }

        if (!TryNumber(valueElement, out var value))
        {
            return MetricReading.Failed($"value at {valuePath.Text} is not a number: {Truncate(valueElement.GetRawText())}");
        }

        long? samples = null;
        if (spec.Get("samples") is { } samplesText && JsonPath.TryCompile(samplesText, out var samplesPath, out _))
        {
            if (!samplesPath.TrySelect(root, out var samplesElement) || samplesElement.ValueKind == JsonValueKind.Null)
            {
                return new MetricReading(value, null, $"no sample count at {samplesPath.Text}");
            }

            if (!TryNumber(samplesElement, out var count) || !double.IsFinite(count) || count < 0)
            {
                return new MetricReading(value, null, $"sample count at {samplesPath.Text} is not a count: {Truncate(samplesElement.GetRawText())}");
            }

            samples = (long)Math.Floor(count);
        }

        if (spec.Get("values") is { } valuesText && JsonPath.TryCompile(valuesText, out var valuesPath, out _))
        {
            if (!valuesPath.TrySelect(root, out var array) || array.ValueKind != JsonValueKind.Array)
            {
                return new MetricReading(value, samples, $"no array of values at {valuesPath.Text}");
            }

            var values = ImmutableArray.CreateBuilder<double>(array.GetArrayLength());
            foreach (var item in array.EnumerateArray())
            {
                if (!TryNumber(item, out var number) || !double.IsFinite(number))
                {
                    return new MetricReading(value, samples, $"values at {valuesPath.Text} hold a non-number: {Truncate(item.GetRawText())}");
                }

                values.Add(number);
            }

            return new MetricReading(value, samples, null, values.MoveToImmutable());
        }

        return new MetricReading(value, samples, null);
    }

    private static bool TryNumber(JsonElement element, out double value)
    {
        value = double.NaN;
        return element.ValueKind switch
        {
            JsonValueKind.Number => element.TryGetDouble(out value),
            // Prometheus-style JSON encodes numbers (and NaN, +Inf) as strings.
            JsonValueKind.String => double.TryParse(element.GetString(), NumberStyles.Float, CultureInfo.InvariantCulture, out value)
                || TryNamed(element.GetString(), out value),
            _ => false,
        };
    }

    private static bool TryNamed(string? text, out double value)
    {
        value = text switch
        {
            "NaN" => double.NaN,
            "+Inf" or "Inf" => double.PositiveInfinity,
            "-Inf" => double.NegativeInfinity,
            _ => 0,
        };
        return text is "NaN" or "+Inf" or "Inf" or "-Inf";
    }

    private static string Describe(HttpRequestException ex) =>
        ex.StatusCode is { } code ? ((int)code).ToString(CultureInfo.InvariantCulture) : ex.InnerException?.Message ?? ex.Message;

    private static string Truncate(string text) => text.Length <= 80 ? text : text[..80] + "…";

    /// <summary>A client suited to metric queries: pooled connections, no automatic redirects to other hosts' credentials, no proxy.</summary>
    public static HttpClient CreateClient() => new(new SocketsHttpHandler
    {
        PooledConnectionLifetime = TimeSpan.FromMinutes(2),
        AutomaticDecompression = DecompressionMethods.All,
        UseProxy = false,
        ConnectTimeout = TimeSpan.FromSeconds(5),
    })
    {
        Timeout = Timeout.InfiniteTimeSpan,
    };
}
