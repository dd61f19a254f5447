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

    /// <summary>Read by the Functions host and the Durable extension, not by the app's code.</summary>
    public static ImmutableArray<string> HostSettings { get; } =
        ["AzureWebJobsStorage", "FUNCTIONS_WORKER_RUNTIME", "ROLLOUT_TASK_HUB", "APPLICATIONINSIGHTS_CONNECTION_STRING"];

    /// <summary>Read by the app's code (the platform's <see cref="WebsiteInstanceId"/> aside).</summary>
    public static ImmutableArray<string> AppSettings { get; } =
        [StoreTableEndpoint, StoreConnection, StoreTablePrefix, NotifyWebhookUrl, NotifySigningKey, CommandWaitSeconds, FlagRefreshSeconds];
}
