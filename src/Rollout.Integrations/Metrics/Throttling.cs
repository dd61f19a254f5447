using System.Net;

namespace Rollout.Integrations.Metrics;

/// <summary>How the HTTP metric sources report a peer that asks them to slow down.</summary>
internal static class Throttling
{
    /// <summary>
    /// The reason for a 429 or 503 answer (with its Retry-After), or null for any other answer. Not retried by the
    /// source: the next evaluation is the retry, and the gate holds meanwhile.
    /// </summary>
    public static string? Describe(HttpResponseMessage response, string peer)
    {
        if (response.StatusCode is not (HttpStatusCode.TooManyRequests or HttpStatusCode.ServiceUnavailable))
        {
            return null;
        }

        var retry = response.Headers.RetryAfter?.Delta ?? (response.Headers.RetryAfter?.Date - DateTimeOffset.UtcNow);
        return $"throttled: {peer} answered {(int)response.StatusCode}" + (retry is { } r ? $", retry after {Math.Max(0, r.TotalSeconds):0} s" : string.Empty);
    }
}
