using System.Collections.Immutable;
using System.Net;
using System.Text;
using Rollout.Core.Storage;
using Rollout.Integrations.Outbox;

namespace Rollout.Integrations.Notifications;

/// <summary>
/// Posts a notification's card to the Teams Workflows webhook of its channel. The channel is a name; its URL (a secret:
/// it carries the workflow's signature) comes from the host's settings at send time, so it is never stored with the
/// delivery, logged or written to the audit trail. 2xx (Workflows answers 202 Accepted) is delivered; timeouts, 429
/// (with <c>Retry-After</c>) and 5xx are retried with backoff; a channel removed from the settings, 400, 401, 403 and 404
/// are given up. Each delivery id is posted until it succeeds once.
/// </summary>
public sealed class TeamsWorkflowsHandler(HttpClient client, Func<ImmutableSortedDictionary<string, Uri>> channels, TimeProvider time, TimeSpan? timeout = null) : IDeliveryHandler
{
    /// <inheritdoc/>
    public DeliveryKind Kind => DeliveryKind.Notification;

    /// <inheritdoc/>
    public Task<DeliveryResult> DeliverAsync(Delivery delivery, CancellationToken cancellationToken)
    {
        if (!channels().TryGetValue(delivery.Target, out var url))
        {
            return Task.FromResult(DeliveryResult.GiveUp($"channel '{delivery.Target}' is not configured (Notifications:Teams:{delivery.Target})"));
        }

        return Send();

        async Task<DeliveryResult> Send()
        {
            var result = await PeerCall.SendAsync(
                client,
                () => new HttpRequestMessage(HttpMethod.Post, url) { Content = new StringContent(delivery.Payload, Encoding.UTF8, "application/json") },
                timeout ?? TimeSpan.FromSeconds(10),
                time,
                cancellationToken,
                status => status is HttpStatusCode.BadRequest or HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden or HttpStatusCode.NotFound);

            // The URL's query holds the workflow's signature: errors name the channel, never the URL.
            return result.Error is null ? result : result with { Error = $"Teams channel '{delivery.Target}': {Redact(result.Error, url)}" };
        }
    }

    private static string Redact(string error, Uri url) =>
        error.Replace(url.GetLeftPart(UriPartial.Path), "<webhook>", StringComparison.OrdinalIgnoreCase);
}
