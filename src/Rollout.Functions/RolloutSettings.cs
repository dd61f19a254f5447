using System.Collections.Immutable;

namespace Rollout.Functions;

/// <summary>
/// Every setting the app reads, by its configuration key (an app setting or environment variable spells <c>:</c> as
/// <c>__</c>). local.settings.sample.json and the README's table list each one; a test keeps the three in step.
/// </summary>
public static class RolloutSettings
{
    /// <summary>Table endpoint of the store, reached with the app's managed identity (Azure).</summary>
    public const string StoreTableEndpoint = "Rollout:Store:TableEndpoint";

    /// <summary>Connection string of the store (Azurite, or a key-based account); used when no endpoint is set.</summary>
    public const string StoreConnection = "Rollout:Store:Connection";

    /// <summary>Prefix of the store's table names.</summary>
    public const string StoreTablePrefix = "Rollout:Store:TablePrefix";

    /// <summary>Webhook that receives notifications (a Key Vault reference on Azure).</summary>
    public const string NotifyWebhookUrl = "Rollout:Notify:WebhookUrl";

    /// <summary>Key that signs notification bodies (a Key Vault reference on Azure).</summary>
    public const string NotifySigningKey = "Rollout:Notify:SigningKey";

    /// <summary>Seconds a command request waits for the orchestrator's answer before answering 202.</summary>
    public const string CommandWaitSeconds = "Rollout:CommandWaitSeconds";

    /// <summary>Seconds flag answers may be stale.</summary>
    public const string FlagRefreshSeconds = "Rollout:FlagRefreshSeconds";

    /// <summary>Set by the platform on Azure: the store then uses the system-assigned identity.</summary>
    public const string WebsiteInstanceId = "WEBSITE_INSTANCE_ID";

    /// <summary>Set by the platform on Azure: the app's host name, the default base of approval links.</summary>
    public const string WebsiteHostName = "WEBSITE_HOSTNAME";

    /// <summary>
    /// A Teams Workflows webhook URL per channel name, <c>Notifications:Teams:&lt;name&gt;</c> (Key Vault references on
    /// Azure); this is the sample's channel, <c>release-ops</c>.
    /// </summary>
    public const string TeamsChannelExample = "Notifications:Teams:release-ops";

    /// <summary>An App Configuration connection string or endpoint per name, <c>Exposure:AppConfiguration:&lt;name&gt;</c>; the sample's is <c>main</c>.</summary>
    public const string AppConfigurationExample = "Exposure:AppConfiguration:main";

    /// <summary>The HMAC key of approval links (a Key Vault reference on Azure); unset: cards carry no approval links.</summary>
    public const string ApprovalSigningKey = "Approvals:SigningKey";

    /// <summary>Take the approver from App Service authentication (<c>X-MS-CLIENT-PRINCIPAL-NAME</c>).</summary>
    public const string ApprovalTrustAppServiceAuthentication = "Approvals:TrustAppServiceAuthentication";

    /// <summary>How long an approval link is valid (a duration such as <c>72h</c>).</summary>
    public const string ApprovalLinkLifetime = "Approvals:LinkLifetime";

    /// <summary>The hosts a callback gate's PlanUrl may name (default Azure DevOps Services: dev.azure.com, *.dev.azure.com, *.visualstudio.com).</summary>
    public const string AzureDevOpsAllowedHosts = "AzureDevOps:AllowedHosts";

    /// <summary>The base URL people reach the app at (links in cards); default <c>https://</c> and the platform's host name.</summary>
    public const string PublicUrl = "Rollout:PublicUrl";

    /// <summary>Days finished deliveries, resolved gate waiters and consumed approval nonces are kept before the daily prune removes them (default 30).</summary>
    public const string OutboxRetentionDays = "Outbox:RetentionDays";

    /// <summary>Read by the Functions host and the Durable extension, not by the app's code.</summary>
    public static ImmutableArray<string> HostSettings { get; } =
        ["AzureWebJobsStorage", "FUNCTIONS_WORKER_RUNTIME", "ROLLOUT_TASK_HUB", "APPLICATIONINSIGHTS_CONNECTION_STRING"];

    /// <summary>Read by the app's code (the platform's <see cref="WebsiteInstanceId"/> aside).</summary>
    public static ImmutableArray<string> AppSettings { get; } =
        [
            StoreTableEndpoint, StoreConnection, StoreTablePrefix, NotifyWebhookUrl, NotifySigningKey, CommandWaitSeconds, FlagRefreshSeconds,
            TeamsChannelExample, AppConfigurationExample, ApprovalSigningKey, ApprovalTrustAppServiceAuthentication, ApprovalLinkLifetime, PublicUrl, AzureDevOpsAllowedHosts,
            OutboxRetentionDays,
        ];
}
