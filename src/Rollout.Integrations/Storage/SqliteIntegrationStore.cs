using System.Text.Json;
using Microsoft.Data.Sqlite;
using Rollout.Core.Api;
using Rollout.Core.Storage;

namespace Rollout.Integrations.Storage;

/// <summary>
/// The local host's durable integration state, in the same SQLite file as the rollouts (its own tables): the delivery
/// outbox (notifications, external exposure, gate callbacks), the Azure DevOps gate waiters and the consumed nonces of
/// approval links. Every insert is keyed by its dedupe id, so a retried or replayed insert keeps one row. Finished rows
/// stay until <see cref="PruneAsync"/> removes those older than the host's retention.
/// </summary>
public sealed class SqliteIntegrationStore : IIntegrationStore
{
    private readonly string connectionString;

    /// <summary>Opens (or will create) the database file at <paramref name="path"/>.</summary>
    public SqliteIntegrationStore(string path)
    {
        connectionString = Sqlite.ConnectionString(path);
    }

    /// <inheritdoc/>
    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await Sqlite.ExecuteAsync(connection, null, """
            PRAGMA journal_mode=WAL;
            CREATE TABLE IF NOT EXISTS deliveries (
                id TEXT PRIMARY KEY,
                kind TEXT NOT NULL,
                rollout_id TEXT NOT NULL,
                target TEXT NOT NULL,
                payload TEXT NOT NULL,
                created_at INTEGER NOT NULL,
                next_attempt_at INTEGER NOT NULL,
                attempts INTEGER NOT NULL DEFAULT 0,
                status TEXT NOT NULL DEFAULT 'Pending',
                last_error TEXT NULL,
                completed_at INTEGER NULL) WITHOUT ROWID;
            CREATE INDEX IF NOT EXISTS ix_deliveries_due ON deliveries(next_attempt_at) WHERE status = 'Pending';
            CREATE INDEX IF NOT EXISTS ix_deliveries_rollout ON deliveries(rollout_id, created_at);
            CREATE INDEX IF NOT EXISTS ix_deliveries_completed ON deliveries(completed_at) WHERE status IN ('Delivered', 'Superseded', 'Failed');
            CREATE TABLE IF NOT EXISTS gate_waiters (
                id TEXT PRIMARY KEY,
                rollout_id TEXT NOT NULL,
                until TEXT NOT NULL,
                callback TEXT NOT NULL,
                created_at INTEGER NOT NULL,
                status TEXT NOT NULL DEFAULT 'Waiting',
                result TEXT NULL,
                resolved_at INTEGER NULL) WITHOUT ROWID;
            CREATE INDEX IF NOT EXISTS ix_gate_waiters_waiting ON gate_waiters(created_at) WHERE status = 'Waiting';
            CREATE TABLE IF NOT EXISTS approval_nonces (
                nonce TEXT PRIMARY KEY,
                rollout_id TEXT NOT NULL,
                approver TEXT NOT NULL,
                consumed_at INTEGER NOT NULL) WITHOUT ROWID;
            """, cancellationToken);
    }

    /// <inheritdoc/>
    public async Task<bool> EnqueueAsync(Delivery delivery, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return await Sqlite.ExecuteAsync(connection, null, """
            INSERT INTO deliveries (id, kind, rollout_id, target, payload, created_at, next_attempt_at, attempts, status)
            VALUES ($id, $kind, $rid, $target, $payload, $created, $next, 0, 'Pending')
            ON CONFLICT (id) DO NOTHING
            """, cancellationToken,
            ("$id", delivery.Id), ("$kind", delivery.Kind.ToString()), ("$rid", delivery.RolloutId), ("$target", delivery.Target),
            ("$payload", delivery.Payload), ("$created", Ms(delivery.CreatedAt)), ("$next", Ms(delivery.NextAttemptAt))) == 1;
    }

    /// <inheritdoc/>
    public async Task<IReadOnlyList<Delivery>> DueAsync(DateTimeOffset now, int max, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return await ReadDeliveriesAsync(connection, """
            SELECT id, kind, rollout_id, target, payload, created_at, next_attempt_at, attempts, status, last_error, completed_at FROM deliveries
            WHERE status = 'Pending' AND next_attempt_at <= $now ORDER BY created_at, id LIMIT $max
            """, cancellationToken, ("$now", Ms(now)), ("$max", max));
    }

    /// <inheritdoc/>
    public async Task CompleteAsync(string id, DeliveryStatus status, int attempts, string? error, DateTimeOffset at, CancellationToken cancellationToken)
    {
        if (status == DeliveryStatus.Pending)
        {
            throw new ArgumentException("a delivery completes as delivered, superseded or failed, not pending", nameof(status));
        }

        await using var connection = await OpenAsync(cancellationToken);
        await Sqlite.ExecuteAsync(connection, null, """
            UPDATE deliveries SET status = $status, attempts = $attempts, last_error = $error, completed_at = $at WHERE id = $id AND status = 'Pending'
            """, cancellationToken, ("$id", id), ("$status", status.ToString()), ("$attempts", attempts), ("$error", error), ("$at", Ms(at)));
    }

    /// <inheritdoc/>
    public async Task RetryLaterAsync(string id, int attempts, DateTimeOffset nextAttemptAt, string error, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await Sqlite.ExecuteAsync(connection, null, """
            UPDATE deliveries SET attempts = $attempts, next_attempt_at = $next, last_error = $error WHERE id = $id AND status = 'Pending'
            """, cancellationToken, ("$id", id), ("$attempts", attempts), ("$next", Ms(nextAttemptAt)), ("$error", error));
    }

    /// <inheritdoc/>
    public async Task<IReadOnlyList<Delivery>> ListAsync(string rolloutId, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return await ReadDeliveriesAsync(connection, """
            SELECT id, kind, rollout_id, target, payload, created_at, next_attempt_at, attempts, status, last_error, completed_at FROM deliveries
            WHERE rollout_id = $rid ORDER BY created_at, id
            """, cancellationToken, ("$rid", rolloutId));
    }

    /// <inheritdoc/>
    public async Task<GateWaiter> RegisterAsync(GateWaiter waiter, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await Sqlite.ExecuteAsync(connection, null, """
            INSERT INTO gate_waiters (id, rollout_id, until, callback, created_at, status)
            VALUES ($id, $rid, $until, $callback, $created, 'Waiting')
            ON CONFLICT (id) DO NOTHING
            """, cancellationToken,
            ("$id", waiter.Id), ("$rid", waiter.RolloutId), ("$until", waiter.Until),
            ("$callback", JsonSerializer.Serialize(waiter.Callback, RolloutJson.Options)), ("$created", Ms(waiter.CreatedAt)));
        var stored = await ReadWaitersAsync(connection, "SELECT id, rollout_id, until, callback, created_at, status, result, resolved_at FROM gate_waiters WHERE id = $id", cancellationToken, ("$id", waiter.Id));
        return stored[0];
    }

    /// <inheritdoc/>
    public async Task<IReadOnlyList<GateWaiter>> WaitingAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return await ReadWaitersAsync(connection, "SELECT id, rollout_id, until, callback, created_at, status, result, resolved_at FROM gate_waiters WHERE status = 'Waiting' ORDER BY created_at LIMIT 1000", cancellationToken);
    }

    /// <inheritdoc/>
    public async Task ResolveAsync(string id, string result, DateTimeOffset at, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await Sqlite.ExecuteAsync(connection, null, "UPDATE gate_waiters SET status = 'Resolved', result = $result, resolved_at = $at WHERE id = $id AND status = 'Waiting'", cancellationToken,
            ("$id", id), ("$result", result), ("$at", Ms(at)));
    }

    /// <inheritdoc/>
    public async Task<bool> TryConsumeAsync(string nonce, string rolloutId, string approver, DateTimeOffset at, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return await Sqlite.ExecuteAsync(connection, null, """
            INSERT INTO approval_nonces (nonce, rollout_id, approver, consumed_at) VALUES ($nonce, $rid, $approver, $at) ON CONFLICT (nonce) DO NOTHING
            """, cancellationToken, ("$nonce", nonce), ("$rid", rolloutId), ("$approver", approver), ("$at", Ms(at))) == 1;
    }

    /// <inheritdoc/>
    public async Task<bool> IsConsumedAsync(string nonce, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Sqlite.Command(connection, null, "SELECT 1 FROM approval_nonces WHERE nonce = $nonce", ("$nonce", nonce));
        return await command.ExecuteScalarAsync(cancellationToken) is not null;
    }

    /// <inheritdoc/>
    /// <remarks>
    /// Three bounded deletes, each one statement (atomic: a row is deleted only as the statement sees it, final or
    /// resolved) and its own short transaction, so a checkpoint of the scheduler never waits long behind one: final
    /// deliveries, found by a partial index on the completion time of final rows; resolved waiters and old nonces,
    /// small tables, scanned.
    /// </remarks>
    public async Task<PruneResult> PruneAsync(DateTimeOffset completedBefore, DateTimeOffset noncesConsumedBefore, int max, CancellationToken cancellationToken)
    {
        if (max <= 0)
        {
            return default;
        }

        await using var connection = await OpenAsync(cancellationToken);
        var deliveries = await Sqlite.ExecuteAsync(connection, null, """
            DELETE FROM deliveries WHERE id IN (
                SELECT id FROM deliveries WHERE status IN ('Delivered', 'Superseded', 'Failed') AND completed_at < $before ORDER BY completed_at LIMIT $max)
            """, cancellationToken, ("$before", Ms(completedBefore)), ("$max", max));
        var waiters = await Sqlite.ExecuteAsync(connection, null, """
            DELETE FROM gate_waiters WHERE id IN (
                SELECT id FROM gate_waiters WHERE status = 'Resolved' AND resolved_at < $before ORDER BY resolved_at LIMIT $max)
            """, cancellationToken, ("$before", Ms(completedBefore)), ("$max", max));
        var nonces = await Sqlite.ExecuteAsync(connection, null, """
            DELETE FROM approval_nonces WHERE nonce IN (
                SELECT nonce FROM approval_nonces WHERE consumed_at < $before ORDER BY consumed_at LIMIT $max)
            """, cancellationToken, ("$before", Ms(noncesConsumedBefore)), ("$max", max));
        return new PruneResult(deliveries, waiters, nonces, deliveries >= max || waiters >= max || nonces >= max);
    }

    private static async Task<IReadOnlyList<Delivery>> ReadDeliveriesAsync(SqliteConnection connection, string sql, CancellationToken ct, params (string, object?)[] parameters)
    {
        await using var command = Sqlite.Command(connection, null, sql, parameters);
        await using var reader = await command.ExecuteReaderAsync(ct);
        var result = new List<Delivery>();
        while (await reader.ReadAsync(ct))
        {
            result.Add(new Delivery(
                reader.GetString(0),
                Enum.Parse<DeliveryKind>(reader.GetString(1)),
                reader.GetString(2),
                reader.GetString(3),
                reader.GetString(4),
                DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(5)),
                DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(6)),
                reader.GetInt32(7),
                Enum.Parse<DeliveryStatus>(reader.GetString(8)),
                reader.IsDBNull(9) ? null : reader.GetString(9),
                reader.IsDBNull(10) ? null : DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(10))));
        }

        return result;
    }

    private static async Task<IReadOnlyList<GateWaiter>> ReadWaitersAsync(SqliteConnection connection, string sql, CancellationToken ct, params (string, object?)[] parameters)
    {
        await using var command = Sqlite.Command(connection, null, sql, parameters);
        await using var reader = await command.ExecuteReaderAsync(ct);
        var result = new List<GateWaiter>();
        while (await reader.ReadAsync(ct))
        {
            var callback = JsonSerializer.Deserialize<GateCallback>(reader.GetString(3), RolloutJson.Options)
                ?? throw new InvalidDataException("a stored gate callback is empty");
            result.Add(new GateWaiter(
                reader.GetString(0),
                reader.GetString(1),
                reader.GetString(2),
                callback,
                DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(4)),
                Enum.Parse<GateWaiterStatus>(reader.GetString(5)),
                reader.IsDBNull(6) ? null : reader.GetString(6),
                reader.IsDBNull(7) ? null : DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(7))));
        }

        return result;
    }

    private static long Ms(DateTimeOffset at) => at.ToUnixTimeMilliseconds();

    private Task<SqliteConnection> OpenAsync(CancellationToken ct) => Sqlite.OpenAsync(connectionString, ct);
}
