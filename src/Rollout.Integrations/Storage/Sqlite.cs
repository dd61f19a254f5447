using Microsoft.Data.Sqlite;

namespace Rollout.Integrations.Storage;

/// <summary>The connection settings and command helpers shared by the stores that live in the local host's SQLite file.</summary>
internal static class Sqlite
{
    /// <summary>A pooled, private-cache connection string for the file at <paramref name="path"/>, created if missing.</summary>
    public static string ConnectionString(string path) => new SqliteConnectionStringBuilder
    {
        DataSource = path,
        Mode = SqliteOpenMode.ReadWriteCreate,
        Cache = SqliteCacheMode.Private,
        Pooling = true,
        DefaultTimeout = 30,
    }.ToString();

    public static async Task<SqliteConnection> OpenAsync(string connectionString, CancellationToken ct)
    {
        var connection = new SqliteConnection(connectionString);
        await connection.OpenAsync(ct);
        return connection;
    }

    public static SqliteCommand Command(SqliteConnection connection, SqliteTransaction? tx, string sql, params (string Name, object? Value)[] parameters)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Transaction = tx;
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        }

        return command;
    }

    public static async Task<int> ExecuteAsync(SqliteConnection connection, SqliteTransaction? tx, string sql, CancellationToken ct, params (string, object?)[] parameters)
    {
        await using var command = Command(connection, tx, sql, parameters);
        return await command.ExecuteNonQueryAsync(ct);
    }
}
