using System.Globalization;
using Azure.Core;
using Azure.Core.Serialization;
using Azure.Identity;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Rollout.Core.Api;
using Rollout.Core.Metrics;
using Rollout.Core.Storage;
using Rollout.Functions.Effects;
using Rollout.Functions.Http;
using Microsoft.Extensions.Hosting;
using Rollout.Integrations.Exposure;
using Rollout.Integrations.Hosting;
using Rollout.Integrations.Metrics;
using Rollout.Integrations.Outbox;
using Rollout.Integrations.Storage.TableStorage;

namespace Rollout.Functions;

/// <summary>The HTTP client for peers (Azure DevOps, Teams, exposure targets): per-request timeouts, no default one.</summary>
/// <param name="Http">The client.</param>
public sealed record PeerClient(HttpClient Http);

/// <summary>Creates the stores' tables when the worker starts (creating an existing table changes nothing).</summary>
internal sealed class StoreInitializer(IRolloutStore store, IIntegrationStore integrations, ILogger<StoreInitializer> log) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await store.InitializeAsync(cancellationToken);
        await integrations.InitializeAsync(cancellationToken);
        log.LogInformation("Rollout stores ready");
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

/// <summary>Settings of the Functions app (README "Settings" explains each; names are the app settings' names).</summary>
/// <param name="CommandWait">How long a command request waits for the orchestrator's answer before answering 202.</param>
/// <param name="CommandPoll">How often it looks for the answer meanwhile.</param>
/// <param name="FlagRefresh">How stale the in-memory flag answers may be before they are refreshed from the store.</param>
public sealed record RolloutFunctionsOptions(TimeSpan CommandWait, TimeSpan CommandPoll, TimeSpan FlagRefresh)
{
    /// <summary>10 s wait, polled every 250 ms; flags refreshed every 5 s.</summary>
    public static RolloutFunctionsOptions Default { get; } = new(TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(5));

    /// <summary>Reads <c>Rollout:CommandWaitSeconds</c> and <c>Rollout:FlagRefreshSeconds</c>.</summary>
    public static RolloutFunctionsOptions From(IConfiguration configuration) => Default with
    {
        CommandWait = Seconds(configuration[RolloutSettings.CommandWaitSeconds]) ?? Default.CommandWait,
        FlagRefresh = Seconds(configuration[RolloutSettings.FlagRefreshSeconds]) ?? Default.FlagRefresh,
    };

    private static TimeSpan? Seconds(string? value) =>
        double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var s) && s >= 0 && s <= 3600 ? TimeSpan.FromSeconds(s) : null;
}

/// <summary>Wires Core and the adapters into the worker's container.</summary>
public static class RolloutServices
{
    /// <summary>Registers the store, metric sources, effects, options and the functions' dependencies.</summary>
    /// <param name="services">The worker's services.</param>
    /// <param name="configuration">App settings (environment variables on Azure, local.settings.json locally).</param>
    /// <param name="store">A store to use instead of the Table Storage one the settings describe (tests).</param>
    /// <param name="integrationStore">An outbox, gate-waiter and approval-link store to use instead of the Table Storage one (tests).</param>
    public static IServiceCollection Add(IServiceCollection services, IConfiguration configuration, IRolloutStore? store = null, IIntegrationStore? integrationStore = null)
    {
        // One JSON convention everywhere: the Durable extension builds its DataConverter from the worker's serializer,
        // so orchestrator inputs, activity payloads and external events use the same options as the API and the store.
        services.Configure<WorkerOptions>(worker => worker.Serializer = new JsonObjectSerializer(RolloutJson.Options));

        services.AddSingleton(TimeProvider.System);
        services.AddSingleton(RolloutFunctionsOptions.From(configuration));
        services.AddSingleton(store ?? CreateStore(configuration));
        services.AddSingleton(HttpMetricSource.CreateClient());
        services.AddSingleton<IReadOnlyList<IMetricSource>>(sp => MetricSources.CreateDefault(sp.GetRequiredService<HttpClient>(), sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton(sp => new CriteriaEvaluator(sp.GetRequiredService<IReadOnlyList<IMetricSource>>(), sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton<FlagCache>();
        services.AddSingleton<INotifier>(sp => WebhookNotifier.From(configuration, sp.GetRequiredService<ILogger<WebhookNotifier>>()) is { } webhook
            ? webhook
            : new LogNotifier(sp.GetRequiredService<ILogger<LogNotifier>>()));
        services.AddSingleton<RolloutCommands>();
        AddIntegrations(services, configuration, integrationStore);
        services.AddHostedService<StoreInitializer>();
        return services;
    }

    /// <summary>
    /// The release integrations (issue 5), as on the local host: the settings (Teams channels, App Configuration
    /// connections, approval links), the Table Storage outbox, gate waiters and used approval links, the exposure targets,
    /// the delivery handlers (Teams Workflows, Azure DevOps) and the delivery worker the timer runs.
    /// </summary>
    private static void AddIntegrations(IServiceCollection services, IConfiguration configuration, IIntegrationStore? integrationStore)
    {
        services.AddSingleton(_ => IntegrationSettings.From(configuration, dataDirectory: null));
        services.AddSingleton(integrationStore ?? CreateIntegrationStore(configuration));
        services.AddSingleton<IDeliveryStore>(sp => sp.GetRequiredService<IIntegrationStore>());
        services.AddSingleton<IGateWaiterStore>(sp => sp.GetRequiredService<IIntegrationStore>());
        services.AddSingleton<IApprovalNonceStore>(sp => sp.GetRequiredService<IIntegrationStore>());
        services.AddSingleton(new PeerClient(new HttpClient(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5) }) { Timeout = Timeout.InfiniteTimeSpan }));
        services.AddSingleton(sp => IntegrationAdapters.ExposureTargets(sp.GetRequiredService<PeerClient>().Http, sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<IntegrationSettings>(), () => Credential(configuration)));
        services.AddSingleton<IExposureWriter>(sp => new ExposureWriter(sp.GetRequiredService<FlagCache>(), sp.GetRequiredService<IReadOnlyList<IExposureTarget>>()));
        services.AddSingleton(sp => IntegrationAdapters.PeerHandlers(sp.GetRequiredService<PeerClient>().Http, sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<IntegrationSettings>()));
        services.AddSingleton(DeliveryOptions.Default);
        services.AddSingleton(sp => ActivatorUtilities.CreateInstance<DeliveryWorker>(sp, sp.GetRequiredService<IReadOnlyList<IDeliveryHandler>>()));
        services.AddSingleton<OutboxComposer>();
    }

    /// <summary>
    /// The integration store on Table Storage, in the same account and with the same prefix as the rollout store
    /// (<see cref="CreateStore"/>'s settings).
    /// </summary>
    public static IIntegrationStore CreateIntegrationStore(IConfiguration configuration) =>
        CreateTableStore<IIntegrationStore>(
            configuration,
            (endpoint, credential, prefix) => new TableIntegrationStore(endpoint, credential, prefix),
            (connection, prefix) => TableIntegrationStore.FromConnectionString(connection, prefix));

    /// <summary>
    /// The Table Storage store: <c>Rollout:Store:TableEndpoint</c> with the app's managed identity (Azure), else
    /// <c>Rollout:Store:Connection</c> (Azurite or a key-based account).
    /// </summary>
    public static IRolloutStore CreateStore(IConfiguration configuration) =>
        CreateTableStore<IRolloutStore>(
            configuration,
            (endpoint, credential, prefix) => new TableRolloutStore(endpoint, credential, prefix),
            (connection, prefix) => TableRolloutStore.FromConnectionString(connection, prefix));

    private static T CreateTableStore<T>(IConfiguration configuration, Func<Uri, TokenCredential, string, T> withIdentity, Func<string, string, T> withConnectionString)
    {
        var prefix = configuration[RolloutSettings.StoreTablePrefix] is { Length: > 0 } p ? p : "rollout";
        if (configuration[RolloutSettings.StoreTableEndpoint] is { Length: > 0 } endpoint)
        {
            return withIdentity(new Uri(endpoint), Credential(configuration), prefix);
        }

        if (configuration[RolloutSettings.StoreConnection] is { Length: > 0 } connection)
        {
            return withConnectionString(connection, prefix);
        }

        throw new InvalidOperationException("set Rollout__Store__TableEndpoint (managed identity) or Rollout__Store__Connection (connection string)");
    }

    // On Azure (WEBSITE_INSTANCE_ID is set by the platform) the app's system-assigned identity; on a laptop the
    // developer's own sign-in (Azure CLI, Visual Studio, environment).
    private static TokenCredential Credential(IConfiguration configuration) =>
        configuration[RolloutSettings.WebsiteInstanceId] is { Length: > 0 }
            ? new ManagedIdentityCredential(ManagedIdentityId.SystemAssigned)
            : new DefaultAzureCredential();
}
