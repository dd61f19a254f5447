using System.Globalization;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Azure.Core;
using Rollout.Core.Plans;
using Rollout.Integrations.Outbox;

namespace Rollout.Integrations.Exposure;

/// <summary>
/// How to reach one App Configuration store: an access key (connection string <c>Endpoint=...;Id=...;Secret=...</c>,
/// requests signed with HMAC-SHA256) or Entra ID (just the endpoint URL; a bearer token for <c>https://azconfig.io/.default</c>).
/// </summary>
public sealed record AppConfigurationConnection(Uri Endpoint, string? Credential, byte[]? Secret)
{
    /// <summary>True when requests are signed with the access key.</summary>
    public bool UsesAccessKey => Credential is not null && Secret is not null;

    /// <summary>Reads a setting: a connection string or an endpoint URL. Errors never repeat the value (it may be a secret).</summary>
    public static AppConfigurationConnection Parse(string setting)
    {
        if (Uri.TryCreate(setting.Trim(), UriKind.Absolute, out var url) && url.Scheme is "https" or "http" && !setting.Contains(';', StringComparison.Ordinal))
        {
            return new AppConfigurationConnection(url, null, null);
        }

        var parts = setting.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(p => p.Split('=', 2))
            .Where(p => p.Length == 2)
            .ToDictionary(p => p[0], p => p[1], StringComparer.OrdinalIgnoreCase);
        if (!parts.TryGetValue("Endpoint", out var endpoint) || !Uri.TryCreate(endpoint, UriKind.Absolute, out var endpointUri)
            || !parts.TryGetValue("Id", out var id) || !parts.TryGetValue("Secret", out var secret))
        {
            throw new FormatException("an App Configuration connection is 'Endpoint=https://<store>.azconfig.io;Id=<access key id>;Secret=<access key value>' or an endpoint URL");
        }

        try
        {
            return new AppConfigurationConnection(endpointUri, id, Convert.FromBase64String(secret));
        }
        catch (FormatException)
        {
            throw new FormatException("the Secret of an App Configuration connection string must be base64 (the access key's value)");
        }
    }
}

/// <summary>
/// The <c>app-configuration</c> target: writes the flag as a Microsoft.FeatureManagement feature flag to Azure App
/// Configuration over its REST API: <c>PUT {endpoint}/kv/.appconfig.featureflag%2F{flag}?label=...&amp;api-version=1.0</c>
/// with <c>Content-Type: application/vnd.microsoft.appconfig.kv+json</c> and the key-value
/// <c>{"value": "&lt;flag JSON&gt;", "content_type": "application/vnd.microsoft.appconfig.ff+json;charset=utf-8"}</c>.
/// The flag is enabled with the <c>Microsoft.Targeting</c> filter: the stage's cumulative users, its groups (tenants,
/// regions and roles as groups <c>tenant:&lt;name&gt;</c>, <c>region:&lt;name&gt;</c>, <c>role:&lt;name&gt;</c>) at 100%, and the
/// stage's percentage as <c>DefaultRolloutPercentage</c>; a rollback writes it disabled. Authentication: HMAC-SHA256
/// (<c>x-ms-date</c>, <c>x-ms-content-sha256</c>, <c>Authorization: HMAC-SHA256 Credential=..&amp;SignedHeaders=x-ms-date;host;x-ms-content-sha256&amp;Signature=..</c>)
/// or an Entra ID bearer token. Every failure (401/403, 409 for a locked key, 429, 5xx, a timeout) is retried: the rollout holds its stage until the write succeeds.
/// </summary>
public sealed class AppConfigurationExposureTarget(HttpClient client, TimeProvider time, Func<string, AppConfigurationConnection?> connections, TokenCredential? credential = null) : IExposureTarget
{
    /// <summary>The key-value content type of the request.</summary>
    public const string KeyValueContentType = "application/vnd.microsoft.appconfig.kv+json";

    /// <summary>The content type that marks a key-value as a feature flag.</summary>
    public const string FeatureFlagContentType = "application/vnd.microsoft.appconfig.ff+json;charset=utf-8";

    /// <summary>The key prefix of feature flags.</summary>
    public const string KeyPrefix = ".appconfig.featureflag/";

    /// <summary>The token scope for Entra ID (public cloud).</summary>
    public const string Scope = "https://azconfig.io/.default";

    private static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(10);

    // Readable in the portal: quotes and apostrophes of descriptions are not \u-escaped (the body is never HTML).
    private static readonly System.Text.Json.JsonSerializerOptions Relaxed = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <inheritdoc/>
    public string Type => ExposureTargetSpec.AppConfiguration;

    /// <summary>The feature flag (Microsoft schema, as App Configuration stores it) for an exposure.</summary>
    public static string FeatureFlag(ExposureSnapshot exposure)
    {
        var flag = new JsonObject
        {
            ["id"] = exposure.Flag,
            ["description"] = exposure.Stage is { } stage
                ? $"Managed by Rollout: rollout {exposure.RolloutId}, stage '{stage}'"
                : $"Managed by Rollout: rollout {exposure.RolloutId}, rolled back",
            ["enabled"] = exposure.StageIndex is not null,
        };
        if (exposure.StageIndex is null)
        {
            flag["conditions"] = new JsonObject { ["client_filters"] = new JsonArray() };
            return flag.ToJsonString(Relaxed);
        }

        var audience = exposure.Audience;
        var groups = audience.Groups
            .Concat(audience.Tenants.Select(t => $"tenant:{t}"))
            .Concat(audience.Regions.Select(r => $"region:{r}"))
            .Concat(audience.Roles.Select(r => $"role:{r}"))
            .Select(g => (JsonNode)new JsonObject { ["Name"] = g, ["RolloutPercentage"] = 100 });
        flag["conditions"] = new JsonObject
        {
            ["client_filters"] = new JsonArray(new JsonObject
            {
                ["name"] = "Microsoft.Targeting",
                ["parameters"] = new JsonObject
                {
                    ["Audience"] = new JsonObject
                    {
                        ["Users"] = new JsonArray([.. audience.Users.Select(u => (JsonNode)JsonValue.Create(u))]),
                        ["Groups"] = new JsonArray([.. groups]),
                        ["DefaultRolloutPercentage"] = JsonValue.Create((double)exposure.Percent),
                    },
                },
            }),
        };
        return flag.ToJsonString(Relaxed);
    }

    /// <summary>The request URI for the flag's key-value.</summary>
    public static Uri KeyValueUri(Uri endpoint, string flag, string? label) => new(
        $"{endpoint.GetLeftPart(UriPartial.Authority)}/kv/{Uri.EscapeDataString(KeyPrefix + flag)}?{(label is null ? string.Empty : $"label={Uri.EscapeDataString(label)}&")}api-version=1.0");

    /// <summary>The request body: the key-value with the flag as its value.</summary>
    public static string Body(ExposureSnapshot exposure) =>
        new JsonObject { ["value"] = FeatureFlag(exposure), ["content_type"] = FeatureFlagContentType }.ToJsonString(Relaxed);

    /// <summary>
    /// The HMAC-SHA256 headers of a request: <c>x-ms-date</c>, <c>x-ms-content-sha256</c> and <c>Authorization</c>. The string
    /// to sign is <c>METHOD\npath_and_query\nx-ms-date;host;x-ms-content-sha256</c> (host with its port when not the default).
    /// </summary>
    public static (string Date, string ContentHash, string Authorization) Sign(HttpMethod method, Uri uri, byte[] body, string credentialId, byte[] secret, DateTimeOffset now)
    {
        var date = now.UtcDateTime.ToString("r", CultureInfo.InvariantCulture);
        var contentHash = Convert.ToBase64String(SHA256.HashData(body));
        var stringToSign = $"{method.Method.ToUpperInvariant()}\n{uri.PathAndQuery}\n{date};{uri.Authority};{contentHash}";
        var signature = Convert.ToBase64String(HMACSHA256.HashData(secret, Encoding.ASCII.GetBytes(stringToSign)));
        return (date, contentHash, $"HMAC-SHA256 Credential={credentialId}&SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature={signature}");
    }

    /// <inheritdoc/>
    public async Task<DeliveryResult> ApplyAsync(ExposureSnapshot exposure, ExposureTargetSpec spec, string deliveryId, CancellationToken cancellationToken)
    {
        var name = spec.Get("connection") ?? string.Empty;
        if (connections(name) is not { } connection)
        {
            return DeliveryResult.Retry($"no App Configuration connection '{name}' on this host (Exposure:AppConfiguration:{name})");
        }

        var uri = KeyValueUri(connection.Endpoint, exposure.Flag, spec.Get("label"));
        var body = Encoding.UTF8.GetBytes(Body(exposure));
        var timeout = spec.Get("timeout") is { } text && Durations.TryParse(text, out var parsed, out _) ? parsed : DefaultTimeout;
        string? bearer = null;
        if (!connection.UsesAccessKey)
        {
            if (credential is null)
            {
                return DeliveryResult.Retry($"App Configuration connection '{name}' uses Entra ID, and this host has no credential");
            }

            try
            {
                bearer = (await credential.GetTokenAsync(new TokenRequestContext([Scope]), cancellationToken)).Token;
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                return DeliveryResult.Retry($"no Entra ID token for App Configuration: {ex.GetType().Name}");
            }
        }

        return await PeerCall.SendAsync(
            client,
            () =>
            {
                var request = new HttpRequestMessage(HttpMethod.Put, uri) { Content = new ByteArrayContent(body) };
                request.Content.Headers.ContentType = new MediaTypeHeaderValue(KeyValueContentType) { CharSet = "utf-8" };
                if (bearer is not null)
                {
                    request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
                }
                else
                {
                    var (date, hash, authorization) = Sign(HttpMethod.Put, uri, body, connection.Credential!, connection.Secret!, time.GetUtcNow());
                    request.Headers.TryAddWithoutValidation("x-ms-date", date);
                    request.Headers.TryAddWithoutValidation("x-ms-content-sha256", hash);
                    request.Headers.TryAddWithoutValidation("Authorization", authorization);
                }

                return request;
            },
            timeout,
            time,
            cancellationToken);
    }
}
