using Microsoft.Data.Sqlite;
using Rollout.Integrations.Storage;

namespace Rollout.Integrations.Tests.Storage;

/// <summary>The integration store contract on the SQLite store, each test on its own temporary database file.</summary>
[TestClass]
public sealed class SqliteIntegrationStoreTests : IntegrationStoreContractTests
{
    private string path = string.Empty;

    protected override Task<IntegrationStores> CreateStoresAsync(CancellationToken cancellationToken)
    {
        path = Path.Combine(Path.GetTempPath(), $"integration-store-tests-{Guid.NewGuid():N}.db");
        var store = new SqliteIntegrationStore(path);
        return Task.FromResult(new IntegrationStores(store));
    }

    protected override Task DeleteStoresAsync()
    {
        SqliteConnection.ClearAllPools();
        foreach (var file in new[] { path, path + "-wal", path + "-shm" })
        {
            File.Delete(file);
        }

        return Task.CompletedTask;
    }
}
