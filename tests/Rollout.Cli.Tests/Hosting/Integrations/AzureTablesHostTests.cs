using System.Text.Json;
using Rollout.Core.Engine;
using Rollout.Core.Storage;
using Rollout.Integrations.Storage.TableStorage;
using Rollout.Integrations.Tests.Storage;
using Rollout.Testing;

namespace Rollout.Cli.Tests.Hosting.Integrations;

/// <summary>The local host on Table Storage (<c>--store azure-tables</c>) keeps its outbox there too, against a real Azurite.</summary>
[TestClass]
public sealed class AzureTablesHostTests
{
    [TestMethod]
    public async Task StartAsync_AzureTablesStore_DeliversExternalExposureThroughATableOutbox()
    {
        var azurite = await AzuriteFixture.GetAsync(CancellationToken.None);
        await using var target = await PeerFixture.StartAsync(new PeerReply(503, "warming up"));
        await using var host = await TestHost.StartAsync(deliveries: IntegrationTestHost.FastDeliveries, tableStorage: azurite.ConnectionString);

        var id = await host.StartRolloutAsync(host.QuickPlan("tables-outbox", stopOn: $$""", "exposure": { "type": "webhook", "url": "{{target.Address}}flags", "timeout": "2s" }"""));
        await host.WaitForAsync(id, v => v.Status == RolloutStatus.Completed);

        // The deliveries are rows of the Table outbox (what a second host on the same account would see), not SQLite's.
        var tables = TableIntegrationStore.FromConnectionString(azurite.ConnectionString);
        var deliveries = await tables.ListAsync(id, CancellationToken.None);
        CollectionAssert.AreEquivalent(new[] { $"exposure:{id}:0", $"exposure:{id}:1", $"exposure:{id}:2" }, deliveries.Select(d => d.Id).ToArray());
        Assert.IsTrue(deliveries.All(d => d.Status == DeliveryStatus.Delivered));
        Assert.AreEqual(2, deliveries.Single(d => d.Id == $"exposure:{id}:0").Attempts, "the 503, then the write");
        CollectionAssert.AreEqual(
            new[] { "internal", "internal", "10%", "100%" },
            target.Requests.Select(r => JsonDocument.Parse(r.Body).RootElement.GetProperty("stage").GetString()).ToArray());
        Assert.IsFalse(File.Exists(Path.Combine(host.DataDirectory, "rollout.db")), "the host wrote a SQLite file while on Table Storage");
    }
}
