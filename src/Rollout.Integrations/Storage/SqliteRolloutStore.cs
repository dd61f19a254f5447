using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Rollout.Core.Api;
using Rollout.Core.Engine;
using Rollout.Core.Storage;

namespace Rollout.Integrations.Storage;

/// <summary>
/// The embedded store of the local host: one SQLite file in WAL mode. A checkpoint (state, audit entries and
/// the answered command) is one transaction, so a crash at any moment leaves either all of it or none.
/// The audit table refuses updates and deletes.
/// </summary>
public sealed class SqliteRolloutStore : IRolloutStore
{
    private const string Terminal = "('Completed','RolledBack')";
    private readonly string connectionString;
    private const int MaxGroup = 256;
    private readonly SemaphoreSlim writeGate = new(1, 1);
    private readonly ConcurrentQueue<PendingSave> pendingSaves = new();

    /// <summary>Opens (or will create) the database file at <paramref name="path"/>.</summary>
    public SqliteRolloutStore(string path)
    {
        connectionString = Sqlite.ConnectionString(path);
    }

    /// <inheritdoc/>
    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenForWriteAsync(cancellationToken);
        await Sqlite.ExecuteAsync(connection, null, """
            PRAGMA journal_mode=WAL;
            CREATE TABLE IF NOT EXISTS rollouts (
                id TEXT PRIMARY KEY,
                flag TEXT NOT NULL,
                status TEXT NOT NULL,
                version INTEGER NOT NULL,
                state TEXT NOT NULL,
                wake_at INTEGER NULL,
                lease_owner TEXT NULL,
                lease_until INTEGER NULL,
                created_at INTEGER NOT NULL,
                updated_at INTEGER NOT NULL);
            CREATE UNIQUE INDEX IF NOT EXISTS ux_rollouts_active_flag ON rollouts(flag) WHERE status NOT IN ('Completed','RolledBack');
            CREATE INDEX IF NOT EXISTS ix_rollouts_wake ON rollouts(wake_at) WHERE wake_at IS NOT NULL;
            CREATE INDEX IF NOT EXISTS ix_rollouts_updated ON rollouts(updated_at);
            CREATE TABLE IF NOT EXISTS audit (
                rollout_id TEXT NOT NULL,
                seq INTEGER NOT NULL,
                at TEXT NOT NULL,
                type TEXT NOT NULL,
                actor TEXT NOT NULL,
                details TEXT NOT NULL,
                PRIMARY KEY (rollout_id, seq)) WITHOUT ROWID;
            CREATE TRIGGER IF NOT EXISTS audit_append_only_update BEFORE UPDATE ON audit
                BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
            CREATE TRIGGER IF NOT EXISTS audit_append_only_delete BEFORE DELETE ON audit
                BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
            CREATE TABLE IF NOT EXISTS commands (
                rollout_id TEXT NOT NULL,
                command_id TEXT NOT NULL,
                kind TEXT NOT NULL,
                body TEXT NOT NULL,
                received_at INTEGER NOT NULL,
                result_status TEXT NULL,
                result_message TEXT NULL,
                PRIMARY KEY (rollout_id, command_id)) WITHOUT ROWID;
            CREATE INDEX IF NOT EXISTS ix_commands_pending ON commands(received_at) WHERE result_status IS NULL;
            """, cancellationToken);
    }

    /// <inheritdoc/>
    public async Task CreateAsync(RolloutState state, ImmutableArray<AuditEvent> audit, CancellationToken cancellationToken)
    {
        await using var connection = await OpenForWriteAsync(cancellationToken);
        await using var tx = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken);
        var active = await ScalarAsync<string>(connection, tx, $"SELECT id FROM rollouts WHERE flag = $flag AND status NOT IN {Terminal}", cancellationToken, ("$flag", state.Plan.Flag));
        if (active is not null)
        {
            throw new FlagBusyException(state.Plan.Flag, active);
        }

        await Sqlite.ExecuteAsync(connection, tx, """
            INSERT INTO rollouts (id, flag, status, version, state, wake_at, created_at, updated_at)
            VALUES ($id, $flag, $status, 1, $state, $wake, $created, $updated)
            """, cancellationToken,
            ("$id", state.Id), ("$flag", state.Plan.Flag), ("$status", state.Status.ToString()),
            ("$state", JsonSerializer.Serialize(state, RolloutJson.Options)), ("$wake", Ms(state.NextWakeAt)),
            ("$created", Ms(state.CreatedAt)), ("$updated", Ms(state.UpdatedAt)));
        await InsertAuditAsync(connection, tx, state.Id, audit, cancellationToken);
        await tx.CommitAsync(cancellationToken);
    }

    /// <inheritdoc/>
    public async Task<StoredRollout?> GetAsync(string id, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        var list = await QueryRolloutsAsync(connection, "SELECT state, version FROM rollouts WHERE id = $id", cancellationToken, ("$id", id));
        return list.Count == 0 ? null : list[0];
    }

    /// <inheritdoc/>
    public async Task<long?> GetVersionAsync(string id, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Sqlite.Command(connection, null, "SELECT version FROM rollouts WHERE id = $id", ("$id", id));
        return await command.ExecuteScalarAsync(cancellationToken) is long version ? version : null;
    }

    /// <inheritdoc/>
    public async Task<IReadOnlyList<StoredRollout>> ListAsync(RolloutStatus? status, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return status is { } s
            ? await QueryRolloutsAsync(connection, "SELECT state, version FROM rollouts WHERE status = $status ORDER BY created_at DESC, id LIMIT $limit", cancellationToken, ("$status", s.ToString()), ("$limit", limit))
            : await QueryRolloutsAsync(connection, "SELECT state, version FROM rollouts ORDER BY created_at DESC, id LIMIT $limit", cancellationToken, ("$limit", limit));
    }

    /// <inheritdoc/>
    public async Task<IReadOnlyList<StoredRollout>> ListChangedSinceAsync(DateTimeOffset since, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return await QueryRolloutsAsync(connection, "SELECT state, version FROM rollouts WHERE updated_at >= $since ORDER BY updated_at", cancellationToken, ("$since", Ms(since)));
    }

    /// <inheritdoc/>
    public async Task<IReadOnlyList<StoredRollout>> ListChangedSinceAsync(DateTimeOffset since, IReadOnlyDictionary<string, long> knownVersions, CancellationToken cancellationToken)
    {
        // Ids and versions first (from the index, no state is read or parsed), then the states the caller lacks.
        await using var connection = await OpenAsync(cancellationToken);
        var missing = new List<string>();
        await using (var command = Sqlite.Command(connection, null, "SELECT id, version FROM rollouts WHERE updated_at >= $since ORDER BY updated_at", ("$since", Ms(since))))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                var id = reader.GetString(0);
                if (!knownVersions.TryGetValue(id, out var known) || known < reader.GetInt64(1))
                {
                    missing.Add(id);
                }
            }
        }

        var result = new List<StoredRollout>(missing.Count);
        foreach (var id in missing)
        {
            result.AddRange(await QueryRolloutsAsync(connection, "SELECT state, version FROM rollouts WHERE id = $id", cancellationToken, ("$id", id)));
        }

        return result;
    }

    /// <inheritdoc/>
    /// <remarks>
    /// Group commit: checkpoints saved at the same time are written by one transaction, each inside its own savepoint, so
    /// each is still all-or-nothing (a failing one is rolled back to its savepoint and only its caller sees the error)
    /// and every caller returns only after the transaction that holds its checkpoint has committed. One commit (one
    /// WAL sync) then serves the whole group instead of each checkpoint waiting for the single writer in turn.
    /// </remarks>
    public async Task<bool> SaveAsync(Checkpoint checkpoint, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var pending = new PendingSave(checkpoint, JsonSerializer.Serialize(checkpoint.State, RolloutJson.Options));
        pendingSaves.Enqueue(pending);

        // Not cancellable from here on: once queued, the checkpoint may be written by another caller's group, and the
        // caller must learn whether it was.
        await using (var connection = await OpenForWriteAsync(CancellationToken.None))
        {
            if (!pending.Done.Task.IsCompleted)
            {
                await WriteGroupAsync(connection);
            }
        }

        return await pending.Done.Task;
    }

    private async Task WriteGroupAsync(SqliteConnection connection)
    {
        var group = new List<PendingSave>();
        while (group.Count < MaxGroup && pendingSaves.TryDequeue(out var next))
        {
            group.Add(next);
        }

        var results = new (bool Saved, Exception? Error)[group.Count];
        try
        {
            await using var tx = (SqliteTransaction)await connection.BeginTransactionAsync(CancellationToken.None);
            for (var i = 0; i < group.Count; i++)
            {
                var savepoint = $"c{i}";
                await tx.SaveAsync(savepoint, CancellationToken.None);
                try
                {
                    results[i] = (await WriteCheckpointAsync(connection, tx, group[i]), null);
                    await tx.ReleaseAsync(savepoint, CancellationToken.None);
                }
                catch (Exception ex)
                {
                    await tx.RollbackAsync(savepoint, CancellationToken.None);
                    await tx.ReleaseAsync(savepoint, CancellationToken.None);
                    results[i] = (false, ex);
                }
            }

            await tx.CommitAsync(CancellationToken.None);
        }
        catch (Exception ex)
        {
            // Nothing of the group was committed.
            foreach (var pending in group)
            {
                pending.Done.TrySetException(ex);
            }

            return;
        }

        for (var i = 0; i < group.Count; i++)
        {
            if (results[i].Error is { } error)
            {
                group[i].Done.TrySetException(error);
            }
            else
            {
                group[i].Done.TrySetResult(results[i].Saved);
            }
        }
    }

    private static async Task<bool> WriteCheckpointAsync(SqliteConnection connection, SqliteTransaction tx, PendingSave pending)
    {
        var checkpoint = pending.Checkpoint;
        var state = checkpoint.State;
        var lease = checkpoint.ReleaseLease ? ", lease_owner = NULL, lease_until = NULL" : string.Empty;
        var updated = await Sqlite.ExecuteAsync(connection, tx, $"""
            UPDATE rollouts SET status = $status, version = version + 1, state = $state, wake_at = $wake, updated_at = $updated{lease}
            WHERE id = $id AND version = $version
            """, CancellationToken.None,
            ("$id", state.Id), ("$version", checkpoint.ExpectedVersion), ("$status", state.Status.ToString()),
            ("$state", pending.StateJson), ("$wake", Ms(state.NextWakeAt)), ("$updated", Ms(state.UpdatedAt)));
        if (updated == 0)
        {
            return false;
        }

        await InsertAuditAsync(connection, tx, state.Id, checkpoint.Audit, CancellationToken.None);
        if (checkpoint.AnsweredCommand is { } command)
        {
            await UpsertAnswerAsync(connection, tx, command, CancellationToken.None);
        }

        return true;
    }

    /// <inheritdoc/>
    public async Task<IReadOnlyList<AuditEvent>> GetAuditAsync(string id, long afterSeq, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Sqlite.Command(connection, null, "SELECT seq, at, type, actor, details FROM audit WHERE rollout_id = $id AND seq > $after ORDER BY seq", ("$id", id), ("$after", afterSeq));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var result = new List<AuditEvent>();
        while (await reader.ReadAsync(cancellationToken))
        {
            using var details = JsonDocument.Parse(reader.GetString(4));
            result.Add(new AuditEvent(
                reader.GetInt64(0),
                DateTimeOffset.Parse(reader.GetString(1), System.Globalization.CultureInfo.InvariantCulture),
                Enum.Parse<AuditType>(reader.GetString(2)),
                reader.GetString(3),
                details.RootElement.Clone()));
        }

        return result;
    }

    /// <inheritdoc/>
    public async Task<StoredCommand> AcceptCommandAsync(StoredCommand command, CancellationToken cancellationToken)
    {
        await using var connection = await OpenForWriteAsync(cancellationToken);
        await using var tx = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken);
        var existing = await ReadCommandAsync(connection, tx, command.RolloutId, command.CommandId, cancellationToken);
        if (existing is not null)
        {
            return existing;
        }

        await Sqlite.ExecuteAsync(connection, tx, """
            INSERT INTO commands (rollout_id, command_id, kind, body, received_at) VALUES ($rid, $cid, $kind, $body, $at)
            """, cancellationToken,
            ("$rid", command.RolloutId), ("$cid", command.CommandId), ("$kind", command.Kind), ("$body", command.Body), ("$at", Ms(command.ReceivedAt)));
        await tx.CommitAsync(cancellationToken);
        return command with { Result = null };
    }

    /// <inheritdoc/>
    public async Task AnswerCommandAsync(StoredCommand command, CancellationToken cancellationToken)
    {
        await using var connection = await OpenForWriteAsync(cancellationToken);
        await UpsertAnswerAsync(connection, null, command, cancellationToken);
    }

    /// <inheritdoc/>
    public async Task<IReadOnlyList<StoredCommand>> PendingCommandsAsync(DateTimeOffset receivedBefore, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Sqlite.Command(connection, null, """
            SELECT rollout_id, command_id, kind, body, received_at, result_status, result_message FROM commands
            WHERE result_status IS NULL AND received_at < $before ORDER BY received_at LIMIT 500
            """, ("$before", Ms(receivedBefore)));
        return await ReadCommandsAsync(command, cancellationToken);
    }

    /// <inheritdoc/>
    public async Task<StoredCommand?> GetCommandAsync(string rolloutId, string commandId, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return await ReadCommandAsync(connection, null, rolloutId, commandId, cancellationToken);
    }

    /// <inheritdoc/>
    public async Task<IReadOnlyList<string>> ClaimDueAsync(string owner, DateTimeOffset now, DateTimeOffset leaseUntil, int max, CancellationToken cancellationToken)
    {
        await using var connection = await OpenForWriteAsync(cancellationToken);
        await using var command = Sqlite.Command(connection, null, $"""
            UPDATE rollouts SET lease_owner = $owner, lease_until = $until
            WHERE id IN (
                SELECT id FROM rollouts
                WHERE wake_at IS NOT NULL AND wake_at <= $now AND (lease_until IS NULL OR lease_until < $now)
                ORDER BY wake_at LIMIT $max)
            RETURNING id
            """, ("$owner", owner), ("$until", Ms(leaseUntil)), ("$now", Ms(now)), ("$max", max));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var ids = new List<string>();
        while (await reader.ReadAsync(cancellationToken))
        {
            ids.Add(reader.GetString(0));
        }

        return ids;
    }

    /// <inheritdoc/>
    public async Task ReleaseAsync(string id, string owner, CancellationToken cancellationToken)
    {
        await using var connection = await OpenForWriteAsync(cancellationToken);
        await Sqlite.ExecuteAsync(connection, null, "UPDATE rollouts SET lease_owner = NULL, lease_until = NULL WHERE id = $id AND lease_owner = $owner", cancellationToken, ("$id", id), ("$owner", owner));
    }

    /// <inheritdoc/>
    public async Task<IReadOnlyList<string>> LeaseOwnersAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Sqlite.Command(connection, null, "SELECT DISTINCT lease_owner FROM rollouts WHERE lease_owner IS NOT NULL");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var owners = new List<string>();
        while (await reader.ReadAsync(cancellationToken))
        {
            owners.Add(reader.GetString(0));
        }

        return owners;
    }

    /// <inheritdoc/>
    public async Task ReleaseAllAsync(string owner, CancellationToken cancellationToken)
    {
        await using var connection = await OpenForWriteAsync(cancellationToken);
        await Sqlite.ExecuteAsync(connection, null, "UPDATE rollouts SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = $owner", cancellationToken, ("$owner", owner));
    }

    private static async Task InsertAuditAsync(SqliteConnection connection, SqliteTransaction tx, string id, ImmutableArray<AuditEvent> audit, CancellationToken ct)
    {
        foreach (var e in audit)
        {
            // The primary key (rollout_id, seq) makes a replayed transition fail the whole checkpoint instead of appearing twice.
            await Sqlite.ExecuteAsync(connection, tx, "INSERT INTO audit (rollout_id, seq, at, type, actor, details) VALUES ($id, $seq, $at, $type, $actor, $details)", ct,
                ("$id", id), ("$seq", e.Seq), ("$at", e.At.ToString("O", System.Globalization.CultureInfo.InvariantCulture)), ("$type", e.Type.ToString()),
                ("$actor", e.Actor), ("$details", e.Details.GetRawText()));
        }
    }

    private static Task<int> UpsertAnswerAsync(SqliteConnection connection, SqliteTransaction? tx, StoredCommand command, CancellationToken ct) =>
        Sqlite.ExecuteAsync(connection, tx, """
            INSERT INTO commands (rollout_id, command_id, kind, body, received_at, result_status, result_message)
            VALUES ($rid, $cid, $kind, $body, $at, $status, $message)
            ON CONFLICT (rollout_id, command_id) DO UPDATE SET result_status = excluded.result_status, result_message = excluded.result_message
            WHERE commands.result_status IS NULL
            """, ct,
            ("$rid", command.RolloutId), ("$cid", command.CommandId), ("$kind", command.Kind), ("$body", command.Body), ("$at", Ms(command.ReceivedAt)),
            ("$status", command.Result?.Status.ToString()), ("$message", command.Result?.Message));

    private static async Task<StoredCommand?> ReadCommandAsync(SqliteConnection connection, SqliteTransaction? tx, string rolloutId, string commandId, CancellationToken ct)
    {
        await using var command = Sqlite.Command(connection, tx, """
            SELECT rollout_id, command_id, kind, body, received_at, result_status, result_message FROM commands
            WHERE rollout_id = $rid AND command_id = $cid
            """, ("$rid", rolloutId), ("$cid", commandId));
        var list = await ReadCommandsAsync(command, ct);
        return list.Count == 0 ? null : list[0];
    }

    private static async Task<IReadOnlyList<StoredCommand>> ReadCommandsAsync(SqliteCommand command, CancellationToken ct)
    {
        await using var reader = await command.ExecuteReaderAsync(ct);
        var result = new List<StoredCommand>();
        while (await reader.ReadAsync(ct))
        {
            CommandResult? answer = reader.IsDBNull(5) ? null : new CommandResult(Enum.Parse<CommandStatus>(reader.GetString(5)), reader.IsDBNull(6) ? string.Empty : reader.GetString(6));
            result.Add(new StoredCommand(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(4)), answer));
        }

        return result;
    }

    private static async Task<List<StoredRollout>> QueryRolloutsAsync(SqliteConnection connection, string sql, CancellationToken ct, params (string, object?)[] parameters)
    {
        await using var command = Sqlite.Command(connection, null, sql, parameters);
        await using var reader = await command.ExecuteReaderAsync(ct);
        var result = new List<StoredRollout>();
        while (await reader.ReadAsync(ct))
        {
            var state = JsonSerializer.Deserialize<RolloutState>(reader.GetString(0), RolloutJson.Options)
                ?? throw new InvalidDataException("a stored rollout state is empty");
            result.Add(new StoredRollout(state, reader.GetInt64(1)));
        }

        return result;
    }

    private Task<SqliteConnection> OpenAsync(CancellationToken ct) => Sqlite.OpenAsync(connectionString, ct);

    // SQLite has one writer at a time. Two connections of this process that write at once make one of them get
    // SQLITE_BUSY, which Microsoft.Data.Sqlite retries by sleeping its thread (150 ms at a time): under a few dozen
    // concurrent checkpoints that sleep was most of the scheduler's time. Writers of this process therefore queue here,
    // asynchronously, and SQLite's own locking (busy retries included) only arbitrates between processes.
    private async Task<SqliteConnection> OpenForWriteAsync(CancellationToken ct)
    {
        await writeGate.WaitAsync(ct);
        GatedConnection? connection = null;
        try
        {
            connection = new GatedConnection(connectionString, writeGate);
            await connection.OpenAsync(ct);
            return connection;
        }
        catch
        {
            if (connection is null)
            {
                writeGate.Release();
            }
            else
            {
                await connection.DisposeAsync(); // gives the gate back
            }

            throw;
        }
    }

    private static async Task<T?> ScalarAsync<T>(SqliteConnection connection, SqliteTransaction tx, string sql, CancellationToken ct, params (string, object?)[] parameters)
    {
        await using var command = Sqlite.Command(connection, tx, sql, parameters);
        var value = await command.ExecuteScalarAsync(ct);
        return value is null or DBNull ? default : (T)value;
    }

    private static long? Ms(DateTimeOffset? at) => at?.ToUnixTimeMilliseconds();

    private static long Ms(DateTimeOffset at) => at.ToUnixTimeMilliseconds();

    /// <summary>A checkpoint waiting for a group commit, its state already serialized (outside the write gate).</summary>
    private sealed class PendingSave(Checkpoint checkpoint, string stateJson)
    {
        public Checkpoint Checkpoint { get; } = checkpoint;

        public string StateJson { get; } = stateJson;

        public TaskCompletionSource<bool> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    /// <summary>A connection that gives the write gate back when it is disposed (once).</summary>
    private sealed class GatedConnection(string connectionString, SemaphoreSlim gate) : SqliteConnection(connectionString)
    {
        private int released;

        protected override void Dispose(bool disposing)
        {
            try
            {
                base.Dispose(disposing);
            }
            finally
            {
                if (Interlocked.Exchange(ref released, 1) == 0)
                {
                    gate.Release();
                }
            }
        }
    }
}
