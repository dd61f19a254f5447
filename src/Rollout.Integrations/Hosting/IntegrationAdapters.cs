using Azure.Core;
using Rollout.Integrations.AzureDevOps;
using Rollout.Integrations.Exposure;
using Rollout.Integrations.Notifications;
using Rollout.Integrations.Outbox;

namespace Rollout.Integrations.Hosting;

/// <summary>
/// The peer adapters of a host, built from its <see cref="IntegrationSettings"/> the same way on the local host and the
/// Functions app: the external exposure targets and the outbox's delivery handlers for Teams and Azure DevOps.
/// </summary>
public static class IntegrationAdapters
{
    /// <summary>
    /// The <c>webhook</c> and <c>app-configuration</c> targets. <paramref name="entraId"/> is asked for a credential only
    /// when an App Configuration connection is an endpoint without an access key.
    /// </summary>
    public static IReadOnlyList<IExposureTarget> ExposureTargets(HttpClient http, TimeProvider time, IntegrationSettings settings, Func<TokenCredential> entraId)
    {
        var connections = settings.AppConfigurationConnections;
        var credential = connections.Values.Any(c => !c.UsesAccessKey) ? entraId() : null;
        return
        [
            new WebhookExposureTarget(http, time),
            new AppConfigurationExposureTarget(http, time, name => connections.GetValueOrDefault(name), credential),
        ];
    }

    /// <summary>The handlers of Teams cards and Azure DevOps gate callbacks (<paramref name="peerTimeout"/>: tests shorten it).</summary>
    public static IReadOnlyList<IDeliveryHandler> PeerHandlers(HttpClient http, TimeProvider time, IntegrationSettings settings, TimeSpan? peerTimeout = null) =>
    [
        new AzureDevOpsGateHandler(http, time, peerTimeout),
        new TeamsWorkflowsHandler(http, () => settings.TeamsChannels, time, peerTimeout),
    ];
}
