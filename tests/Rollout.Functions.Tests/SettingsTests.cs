using System.Text.Json;
using Azure.Core.Serialization;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Rollout.Functions.Effects;
using Rollout.Functions.Http;
using Rollout.Functions.Integrations;
using Rollout.Functions.Orchestration;
using Rollout.Functions.Tests.Fakes;
using Rollout.Integrations.Hosting;

namespace Rollout.Functions.Tests;

[TestClass]
public sealed class SettingsTests
{
    private static string Root(string file) => Path.Combine(AppContext.BaseDirectory, "root", file);

    [TestMethod]
    public async Task RolloutServices_Add_BuildsEveryFunctionClassFromTheSettings()
    {
        await using var rig = await FunctionsRig.CreateAsync();
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(
        [
            new(RolloutSettings.CommandWaitSeconds, "3"),
            new(RolloutSettings.FlagRefreshSeconds, "0.5"),
            new(RolloutSettings.NotifyWebhookUrl, "https://hooks.example/rollout"),
            new(RolloutSettings.WebsiteHostName, "rollout-prod.azurewebsites.net"),
        ]).Build();
        var services = new ServiceCollection().AddLogging();
        RolloutServices.Add(services, configuration, rig.Store, rig.Outbox);
        await using var provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });

        Assert.IsNotNull(ActivatorUtilities.CreateInstance<RolloutApi>(provider));
        Assert.IsNotNull(ActivatorUtilities.CreateInstance<RolloutActivities>(provider));
        Assert.IsNotNull(ActivatorUtilities.CreateInstance<RolloutOrchestrator>(provider));
        Assert.IsNotNull(ActivatorUtilities.CreateInstance<IntegrationApi>(provider));
        Assert.IsNotNull(ActivatorUtilities.CreateInstance<DeliveryFunctions>(provider));
        CollectionAssert.AreEquivalent(new[] { "webhook", "app-configuration" }, provider.GetRequiredService<IReadOnlyList<Rollout.Integrations.Exposure.IExposureTarget>>().Select(t => t.Type).ToArray());
        Assert.AreEqual(new Uri("https://rollout-prod.azurewebsites.net/"), provider.GetRequiredService<IntegrationSettings>().PublicUrl, "links in cards do not point at the app");
        Assert.IsNull(provider.GetRequiredService<IntegrationSettings>().SigningKey);
        var options = provider.GetRequiredService<RolloutFunctionsOptions>();
        Assert.AreEqual(TimeSpan.FromSeconds(3), options.CommandWait);
        Assert.AreEqual(TimeSpan.FromSeconds(0.5), options.FlagRefresh);
        Assert.IsInstanceOfType<WebhookNotifier>(provider.GetRequiredService<INotifier>());
        Assert.IsInstanceOfType<JsonObjectSerializer>(provider.GetRequiredService<IOptions<WorkerOptions>>().Value.Serializer);
        CollectionAssert.AreEquivalent(
            new[] { "http", "prometheus", "azure-monitor-logs", "azure-monitor-metrics" },
            provider.GetRequiredService<Rollout.Integrations.Metrics.CriteriaEvaluator>().Catalog.Types.ToArray());
    }

    [TestMethod]
    public async Task RolloutServices_WorkerStart_InitializesBothStoresBeforeAnyFunctionRuns()
    {
        await using var rig = await FunctionsRig.CreateAsync();
        var integrations = new CountingInitialize(rig.Outbox);
        var services = new ServiceCollection().AddLogging();
        RolloutServices.Add(services, new ConfigurationBuilder().AddInMemoryCollection([]).Build(), rig.Store, integrations);
        await using var provider = services.BuildServiceProvider();

        foreach (var hosted in provider.GetServices<Microsoft.Extensions.Hosting.IHostedService>())
        {
            await hosted.StartAsync(CancellationToken.None);
        }

        Assert.AreEqual(1, integrations.Initialized, "the outbox, gate-waiter and nonce tables are not created at start");
    }

    private sealed class CountingInitialize(Rollout.Core.Storage.IIntegrationStore inner) : Rollout.Testing.DelegatingIntegrationStore(inner)
    {
        public int Initialized { get; private set; }

        public override Task InitializeAsync(CancellationToken cancellationToken)
        {
            Initialized++;
            return base.InitializeAsync(cancellationToken);
        }
    }

    [TestMethod]
    public void CreateIntegrationStore_ConnectionOrEndpoint_IsTheTableStoreWithTheRolloutStoresSettings()
    {
        var azurite = new ConfigurationBuilder().AddInMemoryCollection([new(RolloutSettings.StoreConnection, "UseDevelopmentStorage=true")]).Build();
        var azure = new ConfigurationBuilder().AddInMemoryCollection([new(RolloutSettings.StoreTableEndpoint, "https://strollout.table.core.windows.net")]).Build();
        var empty = new ConfigurationBuilder().AddInMemoryCollection([]).Build();

        Assert.IsInstanceOfType<Rollout.Integrations.Storage.TableStorage.TableIntegrationStore>(RolloutServices.CreateIntegrationStore(azurite));
        Assert.IsInstanceOfType<Rollout.Integrations.Storage.TableStorage.TableIntegrationStore>(RolloutServices.CreateIntegrationStore(azure));
        StringAssert.Contains(Assert.ThrowsExactly<InvalidOperationException>(() => RolloutServices.CreateIntegrationStore(empty)).Message, "Rollout__Store__Connection");
    }

    [TestMethod]
    public void CreateStore_WithoutStoreSettings_SaysWhichToSet()
    {
        var empty = new ConfigurationBuilder().AddInMemoryCollection([]).Build();

        var error = Assert.ThrowsExactly<InvalidOperationException>(() => RolloutServices.CreateStore(empty));

        StringAssert.Contains(error.Message, "Rollout__Store__TableEndpoint");
        StringAssert.Contains(error.Message, "Rollout__Store__Connection");
    }

    [TestMethod]
    public void LocalSettingsSample_ListsEverySettingAndTheReadmeExplainsEach()
    {
        using var sample = JsonDocument.Parse(File.ReadAllText(Root("local.settings.sample.json")));
        var values = sample.RootElement.GetProperty("Values").EnumerateObject().ToDictionary(p => p.Name, p => p.Value);
        var readme = File.ReadAllText(Root("README.md"));

        foreach (var setting in RolloutSettings.AppSettings.Select(s => s.Replace(":", "__", StringComparison.Ordinal)).Concat(RolloutSettings.HostSettings))
        {
            Assert.IsTrue(values.TryGetValue(setting, out var value), $"local.settings.sample.json lacks {setting}");
            Assert.AreEqual(JsonValueKind.String, value.ValueKind, setting);
            StringAssert.Contains(readme, $"| `{setting}` |", $"the README's settings table lacks {setting}");
        }
    }

    [TestMethod]
    public void HostJson_RoutesHubAndStorage_AreWhatTheAppExpects()
    {
        using var host = JsonDocument.Parse(File.ReadAllText(Root("host.json")));
        var extensions = host.RootElement.GetProperty("extensions");

        Assert.AreEqual("2.0", host.RootElement.GetProperty("version").GetString());
        Assert.AreEqual(string.Empty, extensions.GetProperty("http").GetProperty("routePrefix").GetString());
        var durable = extensions.GetProperty("durableTask");
        Assert.AreEqual("%ROLLOUT_TASK_HUB%", durable.GetProperty("hubName").GetString());
        Assert.AreEqual("AzureStorage", durable.GetProperty("storageProvider").GetProperty("type").GetString());
    }
}
