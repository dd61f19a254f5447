using Rollout.Core.Plans;
using Rollout.Core.Storage;
using Rollout.Integrations.Exposure;
using Rollout.Integrations.Outbox;
using Rollout.Integrations.Hosting;

namespace Rollout.Cli.Hosting.Integrations;

/// <summary>Registers the integrations of the local host (issue 5) next to its runtime and scheduler.</summary>
internal static class IntegrationServices
{
    /// <param name="services">The host's services.</param>
    /// <param name="configuration">The host's settings.</param>
    /// <param name="dataDirectory">Where a generated approval-link key is kept.</param>
    /// <param name="store">The outbox, gate waiters and used links: beside the rollouts (SQLite file, or the same Table account).</param>
    /// <param name="deliveries">Delivery loop options (tests shorten them).</param>
    public static void Add(IServiceCollection services, IConfiguration configuration, string dataDirectory, IIntegrationStore store, DeliveryServiceOptions? deliveries)
    {
        var options = deliveries ?? DeliveryServiceOptions.Default;
        services.AddSingleton(_ => IntegrationSettings.From(configuration, dataDirectory));
        services.AddSingleton(store);
        services.AddSingleton<IDeliveryStore>(store);
        services.AddSingleton<IGateWaiterStore>(store);
        services.AddSingleton<IApprovalNonceStore>(store);
        services.AddSingleton(new PeerHttp(new HttpClient(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5) }) { Timeout = Timeout.InfiniteTimeSpan }));
        services.AddSingleton(sp => IntegrationAdapters.ExposureTargets(sp.GetRequiredService<PeerHttp>().Client, sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<IntegrationSettings>(), () => new Azure.Identity.DefaultAzureCredential()));
        services.AddSingleton<IReadOnlyList<IDeliveryHandler>>(sp =>
        [
            .. IntegrationAdapters.PeerHandlers(sp.GetRequiredService<PeerHttp>().Client, sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<IntegrationSettings>(), options.PeerTimeout),
            new ExposureDeliveryHandler(sp.GetRequiredService<RolloutRuntime>(), sp.GetRequiredService<IReadOnlyList<IExposureTarget>>()),
        ]);
        services.AddSingleton(options);
        services.AddSingleton(options.Delivery);
        services.AddSingleton(sp => ActivatorUtilities.CreateInstance<DeliveryWorker>(sp, sp.GetRequiredService<IReadOnlyList<IDeliveryHandler>>()));
        services.AddSingleton<OutboxComposer>();
        services.AddSingleton<DeliveryService>();
        services.AddHostedService(sp => sp.GetRequiredService<DeliveryService>());
    }

    public static async Task InitializeAsync(IServiceProvider services, CancellationToken ct)
    {
        _ = services.GetRequiredService<IntegrationSettings>(); // Fails the start on a bad setting, naming it (never its value).
        await services.GetRequiredService<IIntegrationStore>().InitializeAsync(ct);
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
