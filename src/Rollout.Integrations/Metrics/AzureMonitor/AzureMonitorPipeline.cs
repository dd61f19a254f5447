using System.Globalization;
using System.Text;
using System.Text.Json;
using Azure;
using Azure.Core;
using Azure.Core.Pipeline;

namespace Rollout.Integrations.Metrics.AzureMonitor;

/// <summary>
/// Options of the Azure Monitor query clients: Azure.Core's retry (which honours <c>Retry-After</c> on 429 and
/// 503), transport and diagnostics options. The defaults are Azure.Core's: 3 retries, exponential from 0.8 s.
/// </summary>
public sealed class AzureMonitorClientOptions : ClientOptions
{
    /// <summary>Creates the options with the application id <c>rollout</c> in the User-Agent.</summary>
    public AzureMonitorClientOptions() => Diagnostics.ApplicationId = "rollout";
}

/// <summary>
/// The time range of a query as ISO 8601: a duration ending now (<c>PT1H</c>), or <c>start/end</c>, or
/// <c>start/duration</c>. Log Analytics takes it in the body's <c>timespan</c>; the metrics API in the
/// <c>timespan</c> query parameter (as <c>start/end</c>).
/// </summary>
public sealed record QueryTimeRange(string Iso)
{
    /// <summary>The range from <paramref name="start"/> to <paramref name="end"/>, in UTC to the second.</summary>
    public static QueryTimeRange Between(DateTimeOffset start, DateTimeOffset end) => new($"{Format(start)}/{Format(end)}");

    /// <inheritdoc/>
    public override string ToString() => Iso;

    private static string Format(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
}

/// <summary>
/// The request was cancelled (the source's timeout ran out) while Azure.Core was waiting out a throttling
/// answer (429 or 503 with <c>Retry-After</c>): the reason is throttling, not a slow service.
/// </summary>
public sealed class ThrottledCancellationException(int status, string? retryAfter, Exception inner)
    : OperationCanceledException($"Azure Monitor answered {status}{(retryAfter is null ? string.Empty : $" with Retry-After {retryAfter}")} and the request was cancelled before a retry succeeded", inner)
{
    /// <summary>The last status: 429 or 503.</summary>
    public int Status { get; } = status;

    /// <summary>The last <c>Retry-After</c> header, if any.</summary>
    public string? RetryAfter { get; } = retryAfter;
}

/// <summary>What the two query clients share: the pipeline, the scope, sending, and reading error answers.</summary>
internal static class AzureMonitorPipeline
{
    private const int MaxErrorText = 400;

    /// <summary>
    /// The token scope for an endpoint: its origin plus <c>/.default</c> (<c>https://api.loganalytics.io/.default</c>,
    /// <c>https://management.azure.com/.default</c>, and the sovereign clouds' own hosts).
    /// </summary>
    public static string ScopeFor(Uri endpoint) => endpoint.GetLeftPart(UriPartial.Authority) + "/.default";

    /// <summary>Azure.Core's pipeline: retries (honouring Retry-After), then a bearer token for the endpoint's scope.</summary>
    public static HttpPipeline Build(Uri endpoint, TokenCredential credential, ClientOptions options) =>
        HttpPipelineBuilder.Build(options, new BearerTokenAuthenticationPolicy(credential, ScopeFor(endpoint)));

    /// <summary>
    /// Sends <paramref name="message"/> and returns the 200 answer; any other final status is a
    /// <see cref="RequestFailedException"/> with the service's error code and message.
    /// </summary>
    public static async Task<Response> SendAsync(HttpPipeline pipeline, HttpMessage message, CancellationToken cancellationToken)
    {
        try
        {
            await pipeline.SendAsync(message, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException ex) when (message.HasResponse && IsThrottling(message.Response.Status))
        {
            // Cancelled while waiting out a Retry-After: say so, rather than "timeout".
            throw new ThrottledCancellationException(message.Response.Status, Header(message.Response, "Retry-After"), ex);
        }

        var response = message.Response;
        if (response.Status != 200)
        {
            var (code, text) = ReadError(response);
            throw new RequestFailedException(response.Status, text, code, null);
        }

        return response;
    }

    public static bool IsThrottling(int status) => status is 429 or 503;

    public static string? Header(Response response, string name) => response.Headers.TryGetValue(name, out var value) ? value : null;

    /// <summary>
    /// The error of a non-200 answer: both APIs answer <c>{"error": {"code", "message", "details"?, "innererror"?}}</c>
    /// (Log Analytics' <c>errorResponse</c>/<c>errorInfo</c> in its v1 swagger; ARM's <c>ErrorResponse</c> for metrics).
    /// </summary>
    private static (string? Code, string Text) ReadError(Response response)
    {
        var status = $"{response.Status} {response.ReasonPhrase}".Trim();
        var retryAfter = IsThrottling(response.Status) && Header(response, "Retry-After") is { } after ? $" (Retry-After {after})" : string.Empty;
        try
        {
            using var document = JsonDocument.Parse(response.Content.ToMemory());
            if (document.RootElement.ValueKind == JsonValueKind.Object && document.RootElement.TryGetProperty("error", out var error) && error.ValueKind == JsonValueKind.Object)
            {
                return (String(error, "code"), Truncate($"{status}{retryAfter}: {DescribeError(error)}"));
            }
        }
        catch (JsonException)
        {
        }

        return (null, $"{status}{retryAfter}");
    }

    /// <summary>
    /// One line for an error object: <c>code: message</c>, then each of its <c>details</c> and the innermost
    /// <c>innererror</c>, which usually carries the cause (e.g. a KQL syntax error).
    /// </summary>
    public static string DescribeError(JsonElement error)
    {
        var sb = new StringBuilder();
        sb.Append(CodeAndMessage(error));
        if (error.TryGetProperty("details", out var details) && details.ValueKind == JsonValueKind.Array)
        {
            foreach (var detail in details.EnumerateArray().Where(d => d.ValueKind == JsonValueKind.Object))
            {
                sb.Append("; ").Append(CodeAndMessage(detail));
                AppendInner(sb, detail);
            }
        }

        AppendInner(sb, error);
        return Truncate(sb.ToString());
    }

    private static void AppendInner(StringBuilder sb, JsonElement error)
    {
        var inner = error;
        var found = false;
        while (inner.TryGetProperty("innererror", out var next) && next.ValueKind == JsonValueKind.Object)
        {
            inner = next;
            found = true;
        }

        if (found)
        {
            sb.Append(" (").Append(CodeAndMessage(inner)).Append(')');
        }
    }

    private static string CodeAndMessage(JsonElement error) => (String(error, "code"), String(error, "message")) switch
    {
        ({ } code, { } message) => $"{code}: {message}",
        (null, { } message) => message,
        ({ } code, null) => code,
        _ => "no error message",
    };

    private static string? String(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static string Truncate(string text) => text.Length <= MaxErrorText ? text : text[..MaxErrorText] + "…";
}
