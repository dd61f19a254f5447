using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Azure;
using Azure.Identity;
using Rollout.Core.Metrics;
using Rollout.Core.Plans;

namespace Rollout.Integrations.Metrics.AzureMonitor;

/// <summary>Checks and readings the two Azure Monitor sources share.</summary>
internal static partial class AzureMonitorSettings
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(10);

    [GeneratedRegex(@"^/subscriptions/[^/\s?#]+(/[^/\s?#]+)*/?$", RegexOptions.CultureInvariant | RegexOptions.IgnoreCase)]
    private static partial Regex ArmScope();

    [GeneratedRegex(@"^/subscriptions/[^/\s?#]+/resourceGroups/[^/\s?#]+/providers/[^/\s?#]+(/[^/\s?#]+)+/?$", RegexOptions.CultureInvariant | RegexOptions.IgnoreCase)]
    private static partial Regex ArmResource();

    public static TimeSpan Timeout(MetricSourceSpec spec) =>
        spec.Get("timeout") is { } t && Durations.TryParse(t, out var parsed, out _) ? parsed : DefaultTimeout;

    public static Uri Endpoint(MetricSourceSpec spec, Uri fallback) =>
        spec.Get("endpoint") is { } e && Uri.TryCreate(e, UriKind.Absolute, out var uri) ? new Uri(uri.GetLeftPart(UriPartial.Authority)) : fallback;

    /// <summary>An endpoint override: an https origin such as <c>https://api.loganalytics.azure.cn</c>, nothing after the host.</summary>
    public static IEnumerable<(string, string)> CheckEndpoint(MetricSourceSpec spec)
    {
        if (spec.Get("endpoint") is { } endpoint
            && (!Uri.TryCreate(endpoint, UriKind.Absolute, out var uri) || uri.Scheme != Uri.UriSchemeHttps
                || uri.AbsolutePath != "/" || uri.Query.Length > 0 || uri.Fragment.Length > 0 || uri.UserInfo.Length > 0))
        {
            yield return ("endpoint", $"'{endpoint}' is not an https origin such as 'https://api.loganalytics.azure.cn' (bearer tokens are only sent over https; no path)");
        }
    }

    public static bool IsArmScope(string id) => ArmScope().IsMatch(id);

    public static bool IsArmResource(string id) => ArmResource().IsMatch(id);

    public static bool IsIsoDuration(string text) =>
        text.StartsWith('P') && Durations.TryParse(text, out var d, out _) && d > TimeSpan.Zero;

    /// <summary>
    /// Maps a fault of a query to a failed reading. Nothing here is ever a value: throttling, timeouts, refusals,
    /// missing credentials and malformed answers are all missing data with their reason.
    /// </summary>
    public static MetricReading Failure(Exception ex, TimeSpan timeout, int maxRetries) => ex switch
    {
        // Azure.Core's retry policy gathers the faults of every try when none succeeded: the last one says why.
        AggregateException { InnerExceptions.Count: > 0 } all => Failure(all.InnerExceptions[^1], timeout, maxRetries),
        ThrottledCancellationException t => MetricReading.Failed($"throttled: Azure Monitor answered {t.Status}{(t.RetryAfter is null ? string.Empty : $" (Retry-After {t.RetryAfter})")} and the timeout of {Durations.ToWords(timeout)} ran out before a retry succeeded"),
        OperationCanceledException => MetricReading.Failed($"timeout after {Durations.ToWords(timeout)}"),
        RequestFailedException { Status: 429 or 503 } r => MetricReading.Failed($"throttled: {r.Message} (still after {maxRetries} {(maxRetries == 1 ? "retry" : "retries")})"),
        RequestFailedException { Status: 401 or 403 } r => MetricReading.Failed($"not authorized: {r.Message} (the identity needs read access to the workspace or resource)"),
        RequestFailedException { Status: 0 } r => MetricReading.Failed($"Azure Monitor unreachable: {FirstLine(r.Message)}"),
        RequestFailedException r => MetricReading.Failed($"Azure Monitor refused the query: {r.Message}"),
        AuthenticationFailedException a => MetricReading.Failed($"no Azure credential: {FirstLine(a.Message)}"),
        JsonException j => MetricReading.Failed($"the answer is not in the documented format: {j.Message}"),
        _ => MetricReading.Failed($"source error: {ex.GetType().Name}: {FirstLine(ex.Message)}"),
    };

    /// <summary>A JSON number (or, for Kusto's real/decimal/long/int columns, a numeric string such as "NaN").</summary>
    public static bool TryNumber(JsonElement cell, string? kustoType, out double value)
    {
        value = double.NaN;
        return cell.ValueKind switch
        {
            JsonValueKind.Number => cell.TryGetDouble(out value),
            // JSON has no NaN or infinity: a real column carries them as strings; decimal values come as strings too.
            JsonValueKind.String when kustoType is "real" or "double" or "decimal" or "long" or "int" =>
                double.TryParse(cell.GetString(), NumberStyles.Float, CultureInfo.InvariantCulture, out value),
            _ => false,
        };
    }

    private static string FirstLine(string text)
    {
        var line = text.Split('\n', 2)[0].Trim();
        return line.Length <= 300 ? line : line[..300] + "…";
    }
}
