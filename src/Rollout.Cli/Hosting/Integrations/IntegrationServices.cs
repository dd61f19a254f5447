using System.Collections.Immutable;
using Rollout.Core.Plans;
using Rollout.Core.Storage;
using Rollout.Integrations.AzureDevOps;
using Rollout.Integrations.Exposure;
using Rollout.Integrations.Notifications;
using Rollout.Integrations.Outbox;
using Rollout.Integrations.Storage;

using Rollout.Integrations.Hosting;

namespace Rollout.Cli.Hosting.Integrations;

/// <summary>Registers the integrations of the local host (issue 5) next to its runtime and scheduler.</summary>
internal static class IntegrationServices
{
    public static void Add(IServiceCollection services, IConfiguration configuration, string dataDirectory, string databaseFile, DeliveryServiceOptions? deliveries)
    {
        var options = deliveries ?? DeliveryServiceOptions.Default;
        services.AddSingleton(_ => IntegrationSettings.From(configuration, dataDirectory));
        services.AddSingleton(new SqliteIntegrationStore(databaseFile));
        services.AddSingleton<IDeliveryStore>(sp => sp.GetRequiredService<SqliteIntegrationStore>());
        services.AddSingleton<IGateWaiterStore>(sp => sp.GetRequiredService<SqliteIntegrationStore>());
        services.AddSingleton<IApprovalNonceStore>(sp => sp.GetRequiredService<SqliteIntegrationStore>());
        services.AddSingleton(new PeerHttp(new HttpClient(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5) }) { Timeout = Timeout.InfiniteTimeSpan }));
        services.AddSingleton<IExposureTarget>(sp => new WebhookExposureTarget(sp.GetRequiredService<PeerHttp>().Client, sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton<IExposureTarget>(sp =>
        {
            var settings = sp.GetRequiredService<IntegrationSettings>();
            var parsed = settings.AppConfigurationConnections.ToDictionary(c => c.Key, c => AppConfigurationConnection.Parse(c.Value), StringComparer.OrdinalIgnoreCase);
            // Entra ID (managed identity on Azure) only when a connection is an endpoint without an access key.
            var credential = parsed.Values.Any(c => !c.UsesAccessKey) ? new Azure.Identity.DefaultAzureCredential() : null;
            return new AppConfigurationExposureTarget(sp.GetRequiredService<PeerHttp>().Client, sp.GetRequiredService<TimeProvider>(), name => parsed.GetValueOrDefault(name), credential);
        });
        services.AddSingleton<IDeliveryHandler>(sp => new AzureDevOpsGateHandler(sp.GetRequiredService<PeerHttp>().Client, sp.GetRequiredService<TimeProvider>(), options.PeerTimeout));
        services.AddSingleton<IDeliveryHandler>(sp =>
        {
            var settings = sp.GetRequiredService<IntegrationSettings>();
            return new TeamsWorkflowsHandler(sp.GetRequiredService<PeerHttp>().Client, () => settings.TeamsChannels, sp.GetRequiredService<TimeProvider>(), options.PeerTimeout);
        });
        services.AddSingleton<IDeliveryHandler>(sp => new ExposureDeliveryHandler(sp.GetRequiredService<RolloutRuntime>(), sp.GetServices<IExposureTarget>()));
        services.AddSingleton(options);
        services.AddSingleton(options.Delivery);
        services.AddSingleton<DeliveryWorker>();
        services.AddSingleton<OutboxComposer>();
        services.AddSingleton<DeliveryService>();
        services.AddHostedService(sp => sp.GetRequiredService<DeliveryService>());
    }

    public static async Task InitializeAsync(IServiceProvider services, CancellationToken ct)
    {
        _ = services.GetRequiredService<IntegrationSettings>(); // Fails the start on a bad setting, naming it (never its value).
        await services.GetRequiredService<SqliteIntegrationStore>().InitializeAsync(ct);
    }

    public static void Started(IServiceProvider services, Uri address)
    {
        var settings = services.GetRequiredService<IntegrationSettings>();
        settings.PublicUrl ??= address;
    }
}

/// <summary>The HTTP client for peers (Azure DevOps, Teams, exposure targets): per-request timeouts, no default one.</summary>
internal sealed record PeerHttp(HttpClient Client);

/// <summary>Host-level checks of a valid plan: notification channels and App Configuration connections must be configured here.</summary>
internal static class IntegrationChecks
{
    public static PlanParseResult Check(PlanParseResult parsed, IServiceProvider services) =>
        services.GetService<IntegrationSettings>() is { } settings ? settings.Check(parsed) : parsed;
}
