using System.Collections.Immutable;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Configuration;
using Rollout.Core.Plans;
using Rollout.Integrations.Exposure;

namespace Rollout.Integrations.Hosting;

/// <summary>
/// The integration settings of a host, from configuration (environment variables use <c>__</c> for <c>:</c>):
/// <list type="bullet">
/// <item><c>Notifications:Teams:&lt;name&gt;</c>: a Teams Workflows webhook URL, named by plans (<c>"notify": ["&lt;name&gt;"]</c>).</item>
/// <item><c>Exposure:AppConfiguration:&lt;name&gt;</c>: an App Configuration connection string (<c>Endpoint=...;Id=...;Secret=...</c>) or an endpoint URL (Entra ID).</item>
/// <item><c>Approvals:SigningKey</c>: the HMAC key of approval links, at least 32 characters. Unset: the local host
/// generates one into its data directory; a host without one (the Functions app) sends cards without approval links.</item>
/// <item><c>Approvals:TrustAppServiceAuthentication</c>: take the approver from <c>X-MS-CLIENT-PRINCIPAL-NAME</c> (only behind App Service
/// authentication); unset, true when the platform's <c>WEBSITE_AUTH_ENABLED</c> is <c>True</c>.</item>
/// <item><c>Approvals:LinkLifetime</c>: how long an approval link is valid (default 72 hours).</item>
/// <item><c>Rollout:PublicUrl</c>: the base URL people reach this host at (links in cards); default <c>https://</c> and the
/// platform's <c>WEBSITE_HOSTNAME</c> on Azure, else the listening address.</item>
/// <item><c>AzureDevOps:AllowedHosts</c>: the hosts a callback gate's <c>PlanUrl</c> may name (comma-separated, <c>*.</c> for
/// subdomains); default <see cref="DefaultAzureDevOpsHosts"/>. Rollout posts the job's token there, so nowhere else.</item>
/// <item><c>Outbox:RetentionDays</c>: how many days finished deliveries, resolved gate waiters and consumed approval
/// nonces are kept before the host prunes them (a whole number, at least 1; default 30).</item>
/// </list>
/// Secrets (webhook URLs, connection strings, the signing key) are never logged, stored in plans or the audit trail.
/// The local host and the Functions app read the same settings with this one class.
/// </summary>
public sealed class IntegrationSettings
{
    /// <summary>Azure DevOps Services: <c>dev.azure.com</c>, its subdomains (<c>vsrm.dev.azure.com</c>) and <c>*.visualstudio.com</c>.</summary>
    public static readonly ImmutableArray<string> DefaultAzureDevOpsHosts = ["dev.azure.com", "*.dev.azure.com", "*.visualstudio.com"];

    /// <summary>Days finished outbox rows are kept when <c>Outbox:RetentionDays</c> is not set.</summary>
    public const int DefaultOutboxRetentionDays = 30;

    /// <summary>The longest <c>Outbox:RetentionDays</c> (ten years).</summary>
    public const int MaxOutboxRetentionDays = 3650;

    /// <summary>The file under the local host's data directory that holds a generated signing key.</summary>
    public const string SigningKeyFile = "approval-key";

    private IntegrationSettings(
        ImmutableSortedDictionary<string, Uri> teamsChannels,
        ImmutableSortedDictionary<string, AppConfigurationConnection> appConfigurationConnections,
        byte[]? signingKey,
        bool trustAppServiceAuthentication,
        TimeSpan linkLifetime,
        Uri? publicUrl,
        ImmutableArray<string> azureDevOpsHosts,
        bool azureDevOpsHostsConfigured,
        TimeSpan outboxRetention)
    {
        OutboxRetention = outboxRetention;
        AzureDevOpsHosts = azureDevOpsHosts;
        AzureDevOpsHostsConfigured = azureDevOpsHostsConfigured;
        TeamsChannels = teamsChannels;
        AppConfigurationConnections = appConfigurationConnections;
        SigningKey = signingKey;
        TrustAppServiceAuthentication = trustAppServiceAuthentication;
        LinkLifetime = linkLifetime;
        PublicUrl = publicUrl;
    }

    /// <summary>Teams Workflows webhook URLs by channel name (secrets).</summary>
    public ImmutableSortedDictionary<string, Uri> TeamsChannels { get; }

    /// <summary>App Configuration connections by name, parsed from their settings (they hold access keys: secrets).</summary>
    public ImmutableSortedDictionary<string, AppConfigurationConnection> AppConfigurationConnections { get; }

    /// <summary>The HMAC key of approval links; null when approval links are off on this host.</summary>
    public byte[]? SigningKey { get; }

    /// <summary>Take the approver from App Service authentication rather than from the link's addressee.</summary>
    public bool TrustAppServiceAuthentication { get; }

    /// <summary>How long an approval link is valid.</summary>
    public TimeSpan LinkLifetime { get; }

    /// <summary>The hosts a callback gate's <c>PlanUrl</c> may name.</summary>
    public ImmutableArray<string> AzureDevOpsHosts { get; }

    /// <summary>True when <see cref="AzureDevOpsHosts"/> came from the setting (then plain http is allowed to them too).</summary>
    public bool AzureDevOpsHostsConfigured { get; }

    /// <summary>
    /// How long finished deliveries and resolved gate waiters are kept (<c>Outbox:RetentionDays</c>); consumed approval
    /// nonces are kept at least that long, and longer than <see cref="LinkLifetime"/> (<see cref="Outbox.OutboxRetention"/>).
    /// </summary>
    public TimeSpan OutboxRetention { get; }

    /// <summary>The base URL people reach this host at; the local host fills it in with its address once listening.</summary>
    public Uri? PublicUrl { get; set; }

    /// <summary>
    /// Reads the settings; a bad one throws naming the setting (never its value). <paramref name="dataDirectory"/> is
    /// where a local host keeps a generated signing key; null on hosts without local disk (the Functions app).
    /// </summary>
    public static IntegrationSettings From(IConfiguration configuration, string? dataDirectory)
    {
        var channels = ImmutableSortedDictionary.CreateBuilder<string, Uri>(StringComparer.OrdinalIgnoreCase);
        foreach (var channel in configuration.GetSection("Notifications:Teams").GetChildren())
        {
            if (!Uri.TryCreate(channel.Value, UriKind.Absolute, out var url) || url.Scheme is not ("https" or "http"))
            {
                // The value is a secret: name the setting, never the value.
                throw new InvalidOperationException($"setting Notifications:Teams:{channel.Key} is not an absolute http(s) URL");
            }

            channels[channel.Key] = url;
        }

        var connections = ImmutableSortedDictionary.CreateBuilder<string, AppConfigurationConnection>(StringComparer.OrdinalIgnoreCase);
        foreach (var connection in configuration.GetSection("Exposure:AppConfiguration").GetChildren())
        {
            if (connection.Value is { Length: > 0 } value)
            {
                try
                {
                    connections[connection.Key] = AppConfigurationConnection.Parse(value);
                }
                catch (FormatException ex)
                {
                    // The parser's message describes the expected form and never repeats the value (a secret).
                    throw new InvalidOperationException($"setting Exposure:AppConfiguration:{connection.Key}: {ex.Message}", ex);
                }
            }
        }

        var lifetime = TimeSpan.FromHours(72);
        if (configuration["Approvals:LinkLifetime"] is { Length: > 0 } lifetimeText && !Durations.TryParse(lifetimeText, out lifetime, out var error))
        {
            throw new InvalidOperationException($"setting Approvals:LinkLifetime: {error}");
        }

        // Unset: on Azure the app's own host name, which the platform sets; the local host fills in its listening address.
        var publicUrl = configuration["Rollout:PublicUrl"] is { Length: > 0 } publicText
            ? new Uri(publicText.EndsWith('/') ? publicText : publicText + "/", UriKind.Absolute)
            : configuration["WEBSITE_HOSTNAME"] is { Length: > 0 } host ? new Uri($"https://{host}/") : null;
        // Unset: trust the principal header exactly when the platform says App Service authentication is on (it then sets
        // the header itself and strips a client's); the local host never has WEBSITE_AUTH_ENABLED.
        var trust = bool.TryParse(configuration["Approvals:TrustAppServiceAuthentication"], out var t)
            ? t
            : string.Equals(configuration["WEBSITE_AUTH_ENABLED"], "True", StringComparison.OrdinalIgnoreCase);
        ImmutableArray<string> hosts = configuration["AzureDevOps:AllowedHosts"] is { Length: > 0 } hostList
            ? [.. hostList.Split([',', ';', ' '], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(h => h.ToLowerInvariant())]
            : DefaultAzureDevOpsHosts;
        if (hosts.IsEmpty || hosts.Any(h => h.Contains('/', StringComparison.Ordinal) || h == "*" || (h.Contains('*', StringComparison.Ordinal) && !h.StartsWith("*.", StringComparison.Ordinal))))
        {
            throw new InvalidOperationException("setting AzureDevOps:AllowedHosts must list host names separated by commas, e.g. dev.azure.com,*.visualstudio.com (a leading '*.' allows subdomains)");
        }

        var retentionDays = DefaultOutboxRetentionDays;
        if (configuration["Outbox:RetentionDays"] is { Length: > 0 } retentionText
            && (!int.TryParse(retentionText.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out retentionDays) || retentionDays < 1 || retentionDays > MaxOutboxRetentionDays))
        {
            throw new InvalidOperationException($"setting Outbox:RetentionDays must be a whole number of days from 1 to {MaxOutboxRetentionDays} (default {DefaultOutboxRetentionDays})");
        }

        return new IntegrationSettings(
            channels.ToImmutable(), connections.ToImmutable(), ResolveSigningKey(configuration["Approvals:SigningKey"], dataDirectory), trust, lifetime, publicUrl,
            hosts, configuration["AzureDevOps:AllowedHosts"] is { Length: > 0 }, TimeSpan.FromDays(retentionDays));
    }

    /// <summary>
    /// True when a callback gate may post to <paramref name="planUrl"/>: its host is allowed (a <c>*.</c> entry allows
    /// subdomains), over https, or over http to a host the setting names.
    /// </summary>
    public bool AllowsPlanUrl(Uri planUrl)
    {
        var host = planUrl.IdnHost.ToLowerInvariant();
        var listed = AzureDevOpsHosts.Any(allowed => allowed.StartsWith("*.", StringComparison.Ordinal)
            ? host.EndsWith(allowed[1..], StringComparison.Ordinal) && host.Length > allowed.Length - 1
            : host == allowed);
        return listed && (planUrl.Scheme == Uri.UriSchemeHttps || (planUrl.Scheme == Uri.UriSchemeHttp && AzureDevOpsHostsConfigured));
    }

    /// <summary>The signing key: the setting, else the one stored under the data directory, else a new one stored there (0600).</summary>
    private static byte[]? ResolveSigningKey(string? configured, string? dataDirectory)
    {
        if (configured is { Length: > 0 })
        {
            if (configured.Length < 32)
            {
                throw new InvalidOperationException("setting Approvals:SigningKey must be at least 32 characters");
            }

            return Encoding.UTF8.GetBytes(configured);
        }

        if (dataDirectory is null)
        {
            return null;
        }

        Directory.CreateDirectory(dataDirectory);
        var file = Path.Combine(dataDirectory, SigningKeyFile);
        if (File.Exists(file) && File.ReadAllText(file).Trim() is { Length: >= 32 } stored)
        {
            return Encoding.UTF8.GetBytes(stored);
        }

        var key = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
        File.WriteAllText(file, key);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        return Encoding.UTF8.GetBytes(key);
    }

    /// <summary>
    /// A parse result with the problems of its valid plan that only this host can see added (channels and connections it
    /// does not have), so a plan that names them is refused at the start, by JSON path, rather than stalled later.
    /// </summary>
    public PlanParseResult Check(PlanParseResult parsed)
    {
        if (parsed.Plan is not { } plan)
        {
            return parsed;
        }

        var problems = Check(plan).ToList();
        return problems.Count == 0
            ? parsed
            : new PlanParseResult(null, problems.GroupBy(p => p.Path).ToImmutableSortedDictionary(g => g.Key, g => g.Select(p => p.Message).ToImmutableArray(), StringComparer.Ordinal));
    }

    /// <summary>Problems of a valid plan that only this host can see: channels and connections it does not have.</summary>
    public IEnumerable<(string Path, string Message)> Check(RolloutPlan plan)
    {
        for (var i = 0; i < plan.Notify.Length; i++)
        {
            if (!TeamsChannels.ContainsKey(plan.Notify[i]))
            {
                yield return ($"$.notify[{i}]", string.Create(CultureInfo.InvariantCulture,
                    $"no notification channel '{plan.Notify[i]}' on this host (configured: {(TeamsChannels.IsEmpty ? "none" : string.Join(", ", TeamsChannels.Keys))}); set Notifications:Teams:{plan.Notify[i]} to a Teams Workflows webhook URL"));
            }
        }

        if (plan.Exposure is { Type: ExposureTargetSpec.AppConfiguration } spec && spec.Get("connection") is { } name && !AppConfigurationConnections.ContainsKey(name))
        {
            yield return ("$.exposure.connection", $"no App Configuration connection '{name}' on this host; set Exposure:AppConfiguration:{name} to a connection string or an endpoint URL");
        }
    }
}
