using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Rollout.Core.Api;
using Rollout.Functions.Orchestration;

namespace Rollout.Functions.Effects;

/// <summary>
/// Posts the events as JSON to <c>Rollout:Notify:WebhookUrl</c> (a Key Vault reference on Azure). The body is signed
/// with HMAC-SHA256 under <c>Rollout:Notify:SigningKey</c> when set (<c>x-rollout-signature: sha256=&lt;hex&gt;</c>), and
/// <c>x-rollout-dedupe-key</c> is the same on every retry of the same events, so a receiver can drop repeats.
/// A non-2xx answer throws, and the activity's retry policy tries again.
/// </summary>
public sealed class WebhookNotifier(HttpClient http, Uri url, byte[]? signingKey, ILogger<WebhookNotifier> log) : INotifier
{
    /// <summary>The header carrying the dedupe key.</summary>
    public const string DedupeHeader = "x-rollout-dedupe-key";

    /// <summary>The header carrying the body's signature.</summary>
    public const string SignatureHeader = "x-rollout-signature";

    /// <summary>The notifier the settings describe, or null when no webhook is set.</summary>
    public static WebhookNotifier? From(IConfiguration configuration, ILogger<WebhookNotifier> log)
    {
        if (configuration[RolloutSettings.NotifyWebhookUrl] is not { Length: > 0 } url)
        {
            return null;
        }

        var key = configuration[RolloutSettings.NotifySigningKey] is { Length: > 0 } secret ? Encoding.UTF8.GetBytes(secret) : null;
        return new WebhookNotifier(new HttpClient { Timeout = TimeSpan.FromSeconds(10) }, new Uri(url), key, log);
    }

    /// <summary>The dedupe key of a batch: the rollout and the audit sequence numbers it covers.</summary>
    public static string DedupeKey(NotifyRequest request) =>
        $"{request.RolloutId}:{request.Events.Min(e => e.Seq)}-{request.Events.Max(e => e.Seq)}";

    /// <summary>The signature of a body: <c>sha256=</c> and the lowercase hex HMAC-SHA256.</summary>
    public static string Sign(byte[] key, byte[] body) => "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(key, body));

    /// <inheritdoc/>
    public async Task NotifyAsync(NotifyRequest request, CancellationToken cancellationToken)
    {
        var body = JsonSerializer.SerializeToUtf8Bytes(new { rolloutId = request.RolloutId, flag = request.Flag, events = request.Events }, RolloutJson.Options);
        using var message = new HttpRequestMessage(HttpMethod.Post, url) { Content = new ByteArrayContent(body) };
        message.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        message.Headers.Add(DedupeHeader, DedupeKey(request));
        if (signingKey is not null)
        {
            message.Headers.Add(SignatureHeader, Sign(signingKey, body));
        }

        using var response = await http.SendAsync(message, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw new HttpRequestException($"webhook answered {(int)response.StatusCode} {response.ReasonPhrase}", null, response.StatusCode);
        }

        log.LogInformation("Rollout {Id}: {Count} event(s) delivered to the webhook", request.RolloutId, request.Events.Length);
    }
}

/// <summary>The notifier when no webhook is configured: the events go to the log (Application Insights on Azure).</summary>
public sealed class LogNotifier(ILogger<LogNotifier> log) : INotifier
{
    /// <inheritdoc/>
    public Task NotifyAsync(NotifyRequest request, CancellationToken cancellationToken)
    {
        foreach (var entry in request.Events)
        {
            log.LogInformation("Rollout {Id} ({Flag}) #{Seq} {Type} by {Actor}: {Details}", request.RolloutId, request.Flag, entry.Seq, entry.Type, entry.Actor, entry.Details.GetRawText());
        }

        return Task.CompletedTask;
    }
}
