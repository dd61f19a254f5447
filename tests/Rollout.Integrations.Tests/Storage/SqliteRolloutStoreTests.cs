using Microsoft.Data.Sqlite;
using Rollout.Core.Storage;
using Rollout.Integrations.Storage;

namespace Rollout.Integrations.Tests.Storage;

/// <summary>The store contract on the SQLite store, each test on its own temporary database file.</summary>
[TestClass]
public sealed class SqliteRolloutStoreTests : RolloutStoreContractTests
{
    private string path = string.Empty;

    protected override Task<IRolloutStore> CreateStoreAsync(CancellationToken cancellationToken)
    {
        path = Path.Combine(Path.GetTempPath(), $"rollout-store-tests-{Guid.NewGuid():N}.db");
        return Task.FromResult<IRolloutStore>(new SqliteRolloutStore(path));
    }

    protected override Task DeleteStoreAsync()
    {
        SqliteConnection.ClearAllPools();
        foreach (var file in new[] { path, path + "-wal", path + "-shm" })
        {
            File.Delete(file);
        }

        return Task.CompletedTask;
    }

    [TestMethod]
    [DataRow("UPDATE audit SET actor = 'mallory', details = '{}'")]
    [DataRow("DELETE FROM audit")]
    [DataRow("DELETE FROM audit WHERE seq = 2")]
    public async Task AuditTable_UpdateOrDeleteOnTheFile_IsRefused(string sql)
    {
        var started = await CreateAsync("r1", "new-checkout", T0);
        await using (var connection = await OpenFileAsync())
        {
            await using var command = connection.CreateCommand();
            command.CommandText = sql;

            var refused = await Assert.ThrowsAsync<SqliteException>(() => command.ExecuteNonQueryAsync(Ct));

            Assert.Contains("the audit log is append-only", refused.Message);
        }

        AssertSameAudit(started.Audit, await Store.GetAuditAsync("r1", 0, Ct));
    }

    [TestMethod]
    public async Task InitializeAsync_NewStoreOnSameFile_SeesEverything()
    {
        var started = await CreateAsync("r1", "new-checkout", T0);
        await Store.AcceptCommandAsync(new StoredCommand("r1", "cmd-1", "pause", "{}", T0, null), Ct);

        var reopened = new SqliteRolloutStore(path);
        await reopened.InitializeAsync(Ct);

        AssertSameState(started.State, (await reopened.GetAsync("r1", Ct))?.State);
        AssertSameAudit(started.Audit, await reopened.GetAuditAsync("r1", 0, Ct));
        Assert.IsNotNull(await reopened.GetCommandAsync("r1", "cmd-1", Ct));
    }

    [TestMethod]
    public async Task InitializeAsync_Always_PutsTheFileInWalMode()
    {
        await using var connection = await OpenFileAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA journal_mode";

        Assert.AreEqual("wal", await command.ExecuteScalarAsync(Ct) as string);
    }

    private async Task<SqliteConnection> OpenFileAsync()
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
        await connection.OpenAsync(Ct);
        return connection;
    }
}
