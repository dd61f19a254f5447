using System.Globalization;
using System.Net;

namespace Rollout.Integrations.Outbox;

/// <summary>
/// The outcome of one attempt to deliver to a peer: delivered, or not with the reason, whether another attempt can help,
/// and how long the peer asked to wait (<c>Retry-After</c> on 429/503).
/// </summary>
public sealed record DeliveryResult(bool Delivered, string? Error = null, bool Permanent = false, TimeSpan? RetryAfter = null)
{
    /// <summary>The peer accepted it.</summary>
    public static DeliveryResult Ok { get; } = new(true);

    /// <summary>Failed; another attempt may succeed.</summary>
    public static DeliveryResult Retry(string error, TimeSpan? retryAfter = null) => new(false, error, false, retryAfter);

    /// <summary>Failed for good (e.g. the channel is not configured): no more attempts.</summary>
    public static DeliveryResult GiveUp(string error) => new(false, error, true);
}

/// <summary>
/// Sends one request to a peer with a timeout and turns every fault into a <see cref="DeliveryResult"/>: 2xx delivered;
/// timeouts, refused connections, 408, 429 and 5xx retried (with the peer's <c>Retry-After</c>); other 4xx retried too
/// unless the caller says they are final. Never throws for a peer's fault, never logs headers.
/// </summary>
public static class PeerCall
{
    /// <summary>Sends the request built by <paramref name="build"/> (a fresh one per attempt).</summary>
    public static async Task<DeliveryResult> SendAsync(
        HttpClient client,
        Func<HttpRequestMessage> build,
        TimeSpan timeout,
        TimeProvider time,
        CancellationToken cancellationToken,
        Func<HttpStatusCode, bool>? isFinal = null)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout);
        try
        {
            using var request = build();
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cts.Token);
            if (response.IsSuccessStatusCode)
            {
                return DeliveryResult.Ok;
            }

            var status = (int)response.StatusCode;
            var error = $"{request.Method} {request.RequestUri?.GetLeftPart(UriPartial.Path)} answered {status} {response.ReasonPhrase}";
            if (isFinal?.Invoke(response.StatusCode) == true)
            {
                return DeliveryResult.GiveUp(error);
            }

            return DeliveryResult.Retry(error, RetryAfter(response, time));
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return DeliveryResult.Retry($"no answer within {timeout.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture)} s");
        }
        catch (HttpRequestException ex)
        {
            return DeliveryResult.Retry($"unreachable: {ex.HttpRequestError}");
        }
    }

    /// <summary>The wait a response asks for: <c>Retry-After</c> as seconds or as an HTTP date.</summary>
    public static TimeSpan? RetryAfter(HttpResponseMessage response, TimeProvider time)
    {
        if (response.Headers.RetryAfter is not { } retryAfter)
        {
            return null;
        }

        if (retryAfter.Delta is { } delta)
        {
            return delta < TimeSpan.Zero ? TimeSpan.Zero : delta;
        }

        return retryAfter.Date is { } date ? (date - time.GetUtcNow() is var wait && wait > TimeSpan.Zero ? wait : TimeSpan.Zero) : null;
    }
}
