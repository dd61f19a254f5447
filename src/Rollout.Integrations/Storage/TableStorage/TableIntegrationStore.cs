using System.Text.Json;
using Azure;
using Azure.Core;
using Azure.Core.Pipeline;
using Rollout.Core.Api;
using Rollout.Core.Storage;

namespace Rollout.Integrations.Storage.TableStorage;

/// <summary>
/// The durable integration state on Azure Table Storage (or Azurite): the delivery outbox, the Azure DevOps gate
/// waiters and the consumed nonces of approval links, the same ports and semantics as <see cref="SqliteIntegrationStore"/>.
/// Built like <see cref="TableRolloutStore"/>: Shared Key from a connection string, Entra ID tokens from a credential,
/// table names from a prefix.
/// </summary>
/// <remarks>
/// <para>Three tables: <c>{prefix}deliveries</c>, <c>{prefix}gatewaiters</c> and <c>{prefix}nonces</c>. Every record
/// is one row in a partition of its own, keyed by its id (PartitionKey = the id encoded by <see cref="TableValues.Key"/>,
/// which maps <c>/ \ # ?</c> and control characters to <c>!XXXX</c>; the id itself is kept in a property). That row is
/// the truth: inserting it is the dedupe (an existing key answers 409, so the same id enqueued, registered or consumed
/// twice keeps one row, across processes), and every status change is a Merge with <c>If-Match</c> on the ETag just
/// read, so of two workers completing or retrying the same delivery the second re-reads and sees the first's
/// change (a delivery no longer pending is left alone, as in SQLite's <c>WHERE status = 'Pending'</c>).</para>
/// <para>Secondary indexes are small pointer rows in partitions whose key starts with <c>|</c>, which
/// <see cref="TableValues.Key"/> never produces, so they cannot collide with a record: <c>|due</c> in the deliveries
/// table holds one row per pending delivery (its created and next-attempt times), <c>|rollout|{rollout}</c> one row per
/// delivery of that rollout, and <c>|waiting</c> in the gate waiters table one row per waiting waiter. So
/// <see cref="DueAsync"/> is one query of the <c>|due</c> partition (<c>NextAttemptAtMs le now</c>), sorted by created
/// time and id, then point reads of the first <c>max</c> records (more only when an index row met on the way is stale);
/// delivered, superseded and failed deliveries have no due row, so they are never read again. <see cref="WaitingAsync"/>
/// likewise reads the <c>|waiting</c> partition and never resolved waiters. <see cref="ListAsync"/> reads the
/// rollout's partition and then its records (16 reads at a time).</para>
/// <para>An index and its record are in different partitions, so no transaction covers both. Writes keep one
/// invariant instead, which makes every crash or race leave at most an extra index row, never a missing one: an insert
/// writes its index rows before the record (intent first), and a status change writes the record first, then
/// re-synchronises the index row from it (read the index row, read the record, write the index row with
/// <c>If-Match</c>, again on conflict). Readers treat the record as the truth: an index row whose record is not due,
/// no longer pending or no longer waiting is re-synchronised (deleted or corrected) when met, and one whose record does
/// not exist (an insert under way, or one that died) is skipped, and deleted once older than
/// <see cref="OrphanIndexAge"/> (index rows carry their write time, <c>IndexedAtMs</c>; a row without one counts as
/// old). <see cref="ListAsync"/> does the same with a rollout row whose record is missing or another rollout's.</para>
/// <para>Nothing is removed on its own: finished records (final deliveries, resolved waiters, consumed nonces) stay
/// until <see cref="PruneAsync"/> removes those older than the host's retention, record first and index rows after,
/// keeping the same invariant.</para>
/// <para>A nonce is consumed by inserting its row: the first insert wins, any other gets 409 and false. When Azure.Core
/// retries an insert whose answer was lost, the retry meets its own row; each insert carries a random write id, so
/// that case still answers true (and an enqueue still answers "new") exactly once.</para>
/// <para>Values: times are Unix milliseconds (Edm.Int64), as in the SQLite store, so they come back as the same
/// instants with millisecond precision. Payloads and gate callbacks go through <see cref="TableValues.WriteText"/>
/// (split over properties of 30,000 characters, gzip beyond about 450,000), so Adaptive Card JSON of hundreds of KB
/// fits. A delivery's last error is kept to its first 30,000 characters (one property, so a Merge can replace it).
/// Payloads and callbacks hold secrets (a job's token, approval links): this class logs nothing, and its errors name
/// tables, ids and status codes, never a payload or a callback.</para>
/// <para>The <c>|due</c> and <c>|waiting</c> partitions take every pending delivery and waiting waiter, so their
/// writes share one partition's throughput (about 2,000 operations per second): far above what rollouts produce.</para>
/// </remarks>
public sealed class TableIntegrationStore : IIntegrationStore
{
    /// <summary>How long an index row whose record does not exist is kept: an insert that writes its record later still is under way.</summary>
    public static readonly TimeSpan OrphanIndexAge = TimeSpan.FromMinutes(15);

    internal const string DeliveryRow = "delivery";
    internal const string WaiterRow = "waiter";
    internal const string NonceRow = "nonce";
    internal const string DuePartition = "|due";
    internal const string WaitingPartition = "|waiting";
    internal const string RolloutPartitionPrefix = "|rollout|";

    private const int MaxAttempts = 10;
    private const int ReadParallelism = 16;
    private const int MaxWaiting = 1000;
    private const int PruneParallelism = 8;

    private readonly TableRestClient deliveries;
    private readonly TableRestClient waiters;
    private readonly TableRestClient nonces;
    private readonly TimeProvider time = TimeProvider.System;

    /// <summary>
    /// Uses Entra ID tokens from <paramref name="credential"/> (e.g. a <c>ManagedIdentityCredential</c>) against
    /// <paramref name="tableEndpoint"/> (<c>https://{account}.table.core.windows.net</c>). Bearer tokens need https.
    /// </summary>
    public TableIntegrationStore(Uri tableEndpoint, TokenCredential credential, string tablePrefix = "rollout", HttpPipelineTransport? transport = null)
        : this(TableStoreConnection.RequireHttps(tableEndpoint), TableStoreConnection.Bearer(credential), tablePrefix, transport)
    {
    }

    private TableIntegrationStore(Uri tableEndpoint, HttpPipelinePolicy authentication, string tablePrefix, HttpPipelineTransport? transport)
    {
        TableStoreConnection.CheckPrefix(tablePrefix);
        var pipeline = TableRestClient.CreatePipeline(authentication, transport);
        deliveries = new TableRestClient(pipeline, tableEndpoint, tablePrefix + "deliveries");
        waiters = new TableRestClient(pipeline, tableEndpoint, tablePrefix + "gatewaiters");
        nonces = new TableRestClient(pipeline, tableEndpoint, tablePrefix + "nonces");
    }

    /// <summary>
    /// Uses the account key of a connection string (Shared Key): <c>UseDevelopmentStorage=true</c> for Azurite (add
    /// <c>TableEndpoint=...</c> for another port), or <c>AccountName=...;AccountKey=...</c> with <c>TableEndpoint</c> or
    /// <c>DefaultEndpointsProtocol</c>/<c>EndpointSuffix</c>. The same prefix as the rollout store's is fine: the
    /// table names differ.
    /// </summary>
    public static TableIntegrationStore FromConnectionString(string connectionString, string tablePrefix = "rollout", HttpPipelineTransport? transport = null)
    {
        var (endpoint, authentication) = TableStoreConnection.SharedKey(connectionString);
        return new TableIntegrationStore(endpoint, authentication, tablePrefix, transport);
    }

    internal TableRestClient DeliveriesTable => deliveries;

    internal TableRestClient WaitersTable => waiters;

    internal TableRestClient NoncesTable => nonces;

    /// <inheritdoc/>
    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        await deliveries.CreateIfNotExistsAsync(cancellationToken);
        await waiters.CreateIfNotExistsAsync(cancellationToken);
        await nonces.CreateIfNotExistsAsync(cancellationToken);
    }

    /// <summary>Deletes the three tables (tests).</summary>
    internal async Task DeleteTablesAsync(CancellationToken cancellationToken)
    {
        await deliveries.DeleteAsync(cancellationToken);
        await waiters.DeleteAsync(cancellationToken);
        await nonces.DeleteAsync(cancellationToken);
    }

    // ---- deliveries ------------------------------------------------------------------------------------------

    /// <inheritdoc/>
    public async Task<bool> EnqueueAsync(Delivery delivery, CancellationToken cancellationToken)
    {
        var key = TableValues.Key(delivery.Id);
        if (await deliveries.GetEntityAsync(key, DeliveryRow, cancellationToken) is not null)
        {
            return false;
        }

        // Intent first: the index rows, then the record (the commit point and the dedupe).
        var indexedAt = time.GetUtcNow();
        var row = DeliveryEntity(delivery, Guid.NewGuid().ToString("N"));
        var dueFresh = await TryAddAsync(deliveries, DueEntity(row), cancellationToken);
        var rolloutIndex = ListedEntity(delivery.RolloutId, key, delivery.Id);
        var listedFresh = await AddOrTouchAsync(deliveries, rolloutIndex, cancellationToken);
        try
        {
            await deliveries.AddEntityAsync(row, cancellationToken);
        }
        catch (RequestFailedException ex) when (ex.Status == 409)
        {
            var stored = await deliveries.GetEntityAsync(key, DeliveryRow, cancellationToken);
            if (stored is null || stored.GetString("WriteId") != row.GetString("WriteId"))
            {
                // Another enqueue of the id won: undo what this one added to the indexes.
                await SyncDueAsync(key, cancellationToken);
                if (listedFresh && stored is not null && stored.GetString("RolloutId") != delivery.RolloutId)
                {
                    await TryDeleteAsync(deliveries, rolloutIndex.PartitionKey, key, cancellationToken);
                }

                return false;
            }

            // Azure.Core retried an insert whose answer was lost: the row is this call's own.
        }

        if (!dueFresh || time.GetUtcNow() - indexedAt >= OrphanIndexAge / 2)
        {
            // The due row was there before (left by an enqueue that died), or is old enough to have been taken for one.
            await SyncDueAsync(key, cancellationToken);
        }

        return true;
    }

    /// <inheritdoc/>
    public async Task<IReadOnlyList<Delivery>> DueAsync(DateTimeOffset now, int max, CancellationToken cancellationToken)
    {
        if (max <= 0)
        {
            return [];
        }

        var nowMs = now.ToUnixTimeMilliseconds();
        var filter = $"PartitionKey eq {TableRestClient.Literal(DuePartition)} and NextAttemptAtMs le {TableRestClient.Int64Literal(nowMs)}";
        var candidates = (await deliveries.QueryListAsync(filter, ["RowKey", "DeliveryId", "CreatedAtMs"], cancellationToken))
            .OrderBy(r => r.GetInt64("CreatedAtMs"))
            .ThenBy(r => r.GetString("DeliveryId"), StringComparer.Ordinal)
            .ToList();
        var due = new List<Delivery>();
        var next = 0;
        while (due.Count < max && next < candidates.Count)
        {
            var chunk = candidates.GetRange(next, Math.Min(max - due.Count, candidates.Count - next));
            next += chunk.Count;
            var rows = await ReadAllAsync(deliveries, [.. chunk.Select(c => c.RowKey)], DeliveryRow, cancellationToken);
            for (var i = 0; i < chunk.Count; i++)
            {
                if (rows[i] is { } row && IsPending(row) && row.GetInt64("NextAttemptAtMs") <= nowMs)
                {
                    due.Add(ToDelivery(row));
                }
                else
                {
                    // Completed, rescheduled, or an enqueue under way (or dead): the record decides.
                    await SyncDueAsync(chunk[i].RowKey, cancellationToken);
                }
            }
        }

        return [.. due.OrderBy(d => d.CreatedAt).ThenBy(d => d.Id, StringComparer.Ordinal)];
    }

    /// <inheritdoc/>
    public async Task CompleteAsync(string id, DeliveryStatus status, int attempts, string? error, DateTimeOffset at, CancellationToken cancellationToken)
    {
        if (status == DeliveryStatus.Pending)
        {
            throw new ArgumentException("a delivery completes as delivered, superseded or failed, not pending", nameof(status));
        }

        var change = new Dictionary<string, object?>
        {
            ["Status"] = status.ToString(),
            ["Attempts"] = attempts,
            ["CompletedAtMs"] = at.ToUnixTimeMilliseconds(),
        };
        await ChangePendingAsync(id, change, error, cancellationToken);
    }

    /// <inheritdoc/>
    public async Task RetryLaterAsync(string id, int attempts, DateTimeOffset nextAttemptAt, string error, CancellationToken cancellationToken)
    {
        var change = new Dictionary<string, object?>
        {
            ["Attempts"] = attempts,
            ["NextAttemptAtMs"] = nextAttemptAt.ToUnixTimeMilliseconds(),
        };
        await ChangePendingAsync(id, change, error, cancellationToken);
    }

    /// <inheritdoc/>
    public async Task<IReadOnlyList<Delivery>> ListAsync(string rolloutId, CancellationToken cancellationToken)
    {
        var index = await deliveries.QueryListAsync($"PartitionKey eq {TableRestClient.Literal(RolloutPartition(rolloutId))}", ["RowKey"], cancellationToken);
        var rows = await ReadAllAsync(deliveries, [.. index.Select(r => r.RowKey)], DeliveryRow, cancellationToken);
        var listed = new List<Delivery>();
        for (var i = 0; i < rows.Length; i++)
        {
            if (rows[i] is { } row && row.GetString("RolloutId") == rolloutId)
            {
                listed.Add(ToDelivery(row));
            }
            else
            {
                // No record (pruned, or an enqueue under way or dead) or another rollout's: skipped, and removed once stale.
                await SyncListedAsync(rolloutId, index[i].RowKey, cancellationToken);
            }
        }

        return [.. listed.OrderBy(d => d.CreatedAt).ThenBy(d => d.Id, StringComparer.Ordinal)];
    }

    /// <summary>Merges <paramref name="change"/> into a pending delivery (If-Match, again on conflict), then re-synchronises its due row.</summary>
    private async Task ChangePendingAsync(string id, Dictionary<string, object?> change, string? error, CancellationToken ct)
    {
        var key = TableValues.Key(id);
        for (var attempt = 1; ; attempt++)
        {
            var row = await deliveries.GetEntityAsync(key, DeliveryRow, ct);
            if (row is null)
            {
                return;
            }

            if (!IsPending(row))
            {
                break; // Already final: the first completion stays.
            }

            var merge = new TableEntity(key, DeliveryRow)
            {
                ["LastError"] = error is null ? string.Empty : Truncate(error),
                ["HasLastError"] = error is not null,
            };
            foreach (var (name, value) in change)
            {
                merge[name] = value;
            }

            try
            {
                await deliveries.UpdateEntityAsync(merge, row.RequireETag(), TableUpdateMode.Merge, ct);
                break;
            }
            catch (RequestFailedException ex) when (ex.Status is 404 or 412)
            {
                // Another worker changed it since the read: look again.
                if (attempt >= MaxAttempts)
                {
                    throw new InvalidOperationException($"changing delivery '{id}' kept conflicting", ex);
                }
            }
        }

        await SyncDueAsync(key, ct);
    }

    private Task SyncDueAsync(string key, CancellationToken ct) =>
        SyncIndexAsync(deliveries, DuePartition, key, DeliveryRow, r => IsPending(r) ? DueEntity(r) : null, ct);

    /// <summary>Keeps the <c>|rollout|</c> row of <paramref name="key"/> only while its record is a delivery of <paramref name="rolloutId"/> (or young: an enqueue under way).</summary>
    private Task SyncListedAsync(string rolloutId, string key, CancellationToken ct) =>
        SyncIndexAsync(deliveries, RolloutPartition(rolloutId), key, DeliveryRow, r => r.GetString("RolloutId") == rolloutId ? ListedEntity(rolloutId, key, r.GetString("DeliveryId")) : null, ct);

    private static string RolloutPartition(string rolloutId) => RolloutPartitionPrefix + TableValues.Key(rolloutId);

    /// <summary>The row of delivery <paramref name="key"/> in its rollout's index.</summary>
    private TableEntity ListedEntity(string rolloutId, string key, string? deliveryId) =>
        new(RolloutPartition(rolloutId), key)
        {
            ["DeliveryId"] = deliveryId,
            ["IndexedAtMs"] = time.GetUtcNow().ToUnixTimeMilliseconds(),
        };

    private static bool IsPending(TableEntity row) => row.GetString("Status") == nameof(DeliveryStatus.Pending);

    private static TableEntity DeliveryEntity(Delivery delivery, string writeId)
    {
        var row = new TableEntity(TableValues.Key(delivery.Id), DeliveryRow)
        {
            ["DeliveryId"] = delivery.Id,
            ["Kind"] = delivery.Kind.ToString(),
            ["RolloutId"] = delivery.RolloutId,
            ["Target"] = delivery.Target,
            ["CreatedAtMs"] = delivery.CreatedAt.ToUnixTimeMilliseconds(),
            ["NextAttemptAtMs"] = delivery.NextAttemptAt.ToUnixTimeMilliseconds(),
            ["Attempts"] = 0,
            ["Status"] = nameof(DeliveryStatus.Pending),
            ["LastError"] = string.Empty,
            ["HasLastError"] = false,
            ["WriteId"] = writeId,
        };
        TableValues.WriteText(row, "Payload", delivery.Payload);
        return row;
    }

    /// <summary>The due row of a pending delivery record.</summary>
    private TableEntity DueEntity(TableEntity record) =>
        new(DuePartition, record.PartitionKey)
        {
            ["DeliveryId"] = record.GetString("DeliveryId"),
            ["CreatedAtMs"] = record.GetInt64("CreatedAtMs"),
            ["NextAttemptAtMs"] = record.GetInt64("NextAttemptAtMs"),
            ["IndexedAtMs"] = time.GetUtcNow().ToUnixTimeMilliseconds(),
        };

    private static Delivery ToDelivery(TableEntity row) =>
        new(
            row.GetString("DeliveryId") ?? throw Corrupt(row, "DeliveryId"),
            Enum.Parse<DeliveryKind>(row.GetString("Kind") ?? throw Corrupt(row, "Kind")),
            row.GetString("RolloutId") ?? string.Empty,
            row.GetString("Target") ?? string.Empty,
            TableValues.ReadText(row, "Payload") ?? string.Empty,
            Time(row, "CreatedAtMs"),
            Time(row, "NextAttemptAtMs"),
            (int)(row.GetInt64("Attempts") ?? 0),
            Enum.Parse<DeliveryStatus>(row.GetString("Status") ?? throw Corrupt(row, "Status")),
            row.GetBoolean("HasLastError") == true ? row.GetString("LastError") : null,
            row.GetInt64("CompletedAtMs") is { } completed ? DateTimeOffset.FromUnixTimeMilliseconds(completed) : null);

    // ---- gate waiters ----------------------------------------------------------------------------------------

    /// <inheritdoc/>
    public async Task<GateWaiter> RegisterAsync(GateWaiter waiter, CancellationToken cancellationToken)
    {
        var key = TableValues.Key(waiter.Id);
        if (await waiters.GetEntityAsync(key, WaiterRow, cancellationToken) is { } existing)
        {
            return ToWaiter(existing);
        }

        var indexedAt = time.GetUtcNow();
        var row = WaiterEntity(waiter);
        var indexFresh = await TryAddAsync(waiters, WaitingEntity(row), cancellationToken);
        try
        {
            await waiters.AddEntityAsync(row, cancellationToken);
        }
        catch (RequestFailedException ex) when (ex.Status == 409)
        {
            // Registered meanwhile (or by this call, its answer lost and retried): the stored one stays.
            var stored = await waiters.GetEntityAsync(key, WaiterRow, cancellationToken)
                ?? throw new InvalidOperationException($"gate waiter '{waiter.Id}' exists and does not", ex);
            await SyncWaitingAsync(key, cancellationToken);
            return ToWaiter(stored);
        }

        if (!indexFresh || time.GetUtcNow() - indexedAt >= OrphanIndexAge / 2)
        {
            await SyncWaitingAsync(key, cancellationToken);
        }

        return ToWaiter(row);
    }

    /// <inheritdoc/>
    public async Task<IReadOnlyList<GateWaiter>> WaitingAsync(CancellationToken cancellationToken)
    {
        var candidates = (await waiters.QueryListAsync($"PartitionKey eq {TableRestClient.Literal(WaitingPartition)}", ["RowKey", "WaiterId", "CreatedAtMs"], cancellationToken))
            .OrderBy(r => r.GetInt64("CreatedAtMs"))
            .ThenBy(r => r.GetString("WaiterId"), StringComparer.Ordinal)
            .ToList();
        var waiting = new List<GateWaiter>();
        var next = 0;
        while (waiting.Count < MaxWaiting && next < candidates.Count)
        {
            var chunk = candidates.GetRange(next, Math.Min(MaxWaiting - waiting.Count, candidates.Count - next));
            next += chunk.Count;
            var rows = await ReadAllAsync(waiters, [.. chunk.Select(c => c.RowKey)], WaiterRow, cancellationToken);
            for (var i = 0; i < chunk.Count; i++)
            {
                if (rows[i] is { } row && IsWaiting(row))
                {
                    waiting.Add(ToWaiter(row));
                }
                else
                {
                    await SyncWaitingAsync(chunk[i].RowKey, cancellationToken);
                }
            }
        }

        return [.. waiting.OrderBy(w => w.CreatedAt).ThenBy(w => w.Id, StringComparer.Ordinal)];
    }

    /// <inheritdoc/>
    public async Task ResolveAsync(string id, string result, DateTimeOffset at, CancellationToken cancellationToken)
    {
        var key = TableValues.Key(id);
        for (var attempt = 1; ; attempt++)
        {
            var row = await waiters.GetEntityAsync(key, WaiterRow, cancellationToken);
            if (row is null)
            {
                return;
            }

            if (!IsWaiting(row))
            {
                break; // The first resolution stays.
            }

            var merge = new TableEntity(key, WaiterRow)
            {
                ["Status"] = nameof(GateWaiterStatus.Resolved),
                ["Result"] = result,
                ["ResolvedAtMs"] = at.ToUnixTimeMilliseconds(),
            };
            try
            {
                await waiters.UpdateEntityAsync(merge, row.RequireETag(), TableUpdateMode.Merge, cancellationToken);
                break;
            }
            catch (RequestFailedException ex) when (ex.Status is 404 or 412)
            {
                if (attempt >= MaxAttempts)
                {
                    throw new InvalidOperationException($"resolving gate waiter '{id}' kept conflicting", ex);
                }
            }
        }

        await SyncWaitingAsync(key, cancellationToken);
    }

    private Task SyncWaitingAsync(string key, CancellationToken ct) =>
        SyncIndexAsync(waiters, WaitingPartition, key, WaiterRow, r => IsWaiting(r) ? WaitingEntity(r) : null, ct);

    private static bool IsWaiting(TableEntity row) => row.GetString("Status") == nameof(GateWaiterStatus.Waiting);

    private static TableEntity WaiterEntity(GateWaiter waiter)
    {
        var row = new TableEntity(TableValues.Key(waiter.Id), WaiterRow)
        {
            ["WaiterId"] = waiter.Id,
            ["RolloutId"] = waiter.RolloutId,
            ["Until"] = waiter.Until,
            ["CreatedAtMs"] = waiter.CreatedAt.ToUnixTimeMilliseconds(),
            ["Status"] = nameof(GateWaiterStatus.Waiting),
        };
        TableValues.WriteText(row, "Callback", JsonSerializer.Serialize(waiter.Callback, RolloutJson.Options));
        return row;
    }

    /// <summary>The waiting row of a waiting waiter record.</summary>
    private TableEntity WaitingEntity(TableEntity record) =>
        new(WaitingPartition, record.PartitionKey)
        {
            ["WaiterId"] = record.GetString("WaiterId"),
            ["CreatedAtMs"] = record.GetInt64("CreatedAtMs"),
            ["IndexedAtMs"] = time.GetUtcNow().ToUnixTimeMilliseconds(),
        };

    private static GateWaiter ToWaiter(TableEntity row)
    {
        var callback = JsonSerializer.Deserialize<GateCallback>(TableValues.ReadText(row, "Callback") ?? throw Corrupt(row, "Callback"), RolloutJson.Options)
            ?? throw new InvalidDataException("a stored gate callback is empty");
        return new GateWaiter(
            row.GetString("WaiterId") ?? throw Corrupt(row, "WaiterId"),
            row.GetString("RolloutId") ?? string.Empty,
            row.GetString("Until") ?? string.Empty,
            callback,
            Time(row, "CreatedAtMs"),
            Enum.Parse<GateWaiterStatus>(row.GetString("Status") ?? throw Corrupt(row, "Status")),
            row.GetString("Result"),
            row.GetInt64("ResolvedAtMs") is { } resolved ? DateTimeOffset.FromUnixTimeMilliseconds(resolved) : null);
    }

    // ---- approval nonces -------------------------------------------------------------------------------------

    /// <inheritdoc/>
    public async Task<bool> TryConsumeAsync(string nonce, string rolloutId, string approver, DateTimeOffset at, CancellationToken cancellationToken)
    {
        var writeId = Guid.NewGuid().ToString("N");
        var row = new TableEntity(TableValues.Key(nonce), NonceRow)
        {
            ["Nonce"] = nonce,
            ["RolloutId"] = rolloutId,
            ["Approver"] = approver,
            ["ConsumedAtMs"] = at.ToUnixTimeMilliseconds(),
            ["WriteId"] = writeId,
        };
        try
        {
            await nonces.AddEntityAsync(row, cancellationToken);
            return true;
        }
        catch (RequestFailedException ex) when (ex.Status == 409)
        {
            // A replay, unless Azure.Core retried this very insert after losing its answer.
            var stored = await nonces.GetEntityAsync(row.PartitionKey, NonceRow, cancellationToken);
            return stored?.GetString("WriteId") == writeId;
        }
    }

    /// <inheritdoc/>
    public async Task<bool> IsConsumedAsync(string nonce, CancellationToken cancellationToken) =>
        await nonces.GetEntityAsync(TableValues.Key(nonce), NonceRow, cancellationToken) is not null;

    // ---- retention -------------------------------------------------------------------------------------------

    /// <inheritdoc/>
    /// <remarks>
    /// <para>Nothing indexes records by status or time, so each kind is found by a query over its whole table that
    /// filters on the final status and the time (<c>RowKey eq 'delivery' and (Status eq 'Delivered' or ...) and
    /// CompletedAtMs lt ...</c>; <c>Status eq 'Resolved' and ResolvedAtMs lt ...</c> for waiters, <c>ConsumedAtMs lt
    /// ...</c> for nonces): a scan, served by the service a page at a time and stopped after <c>max</c> rows, which is
    /// fine for an operation that runs hourly or daily.</para>
    /// <para>Each record found is deleted with <c>If-Match</c> on the ETag the query returned, so a record changed
    /// since is left alone (412, like 404, is skipped and not counted). Its index rows (the <c>|rollout|</c> row of a
    /// delivery, and a stale <c>|due</c> or <c>|waiting</c> row if a crash left one) are read before the record is
    /// deleted and deleted after it, each with <c>If-Match</c> on the ETag read then. While the record exists no
    /// enqueue or registration of its id writes an index row; once it is gone, one that does rewrites the rows it
    /// relies on first (see <see cref="AddOrTouchAsync"/>), which changes their ETags, so this delete cannot take a
    /// row from under a new record. Record first, index rows after: a crash in between leaves an index row without a
    /// record, which readers skip and remove.</para>
    /// </remarks>
    public async Task<PruneResult> PruneAsync(DateTimeOffset completedBefore, DateTimeOffset noncesConsumedBefore, int max, CancellationToken cancellationToken)
    {
        if (max <= 0)
        {
            return default;
        }

        var completed = TableRestClient.Int64Literal(completedBefore.ToUnixTimeMilliseconds());
        var final = string.Join(" or ", new[] { DeliveryStatus.Delivered, DeliveryStatus.Superseded, DeliveryStatus.Failed }.Select(s => $"Status eq {TableRestClient.Literal(s.ToString())}"));
        var (oldDeliveries, moreDeliveries) = await FindAsync(
            deliveries, $"RowKey eq {TableRestClient.Literal(DeliveryRow)} and ({final}) and CompletedAtMs lt {completed}", ["RolloutId"], max, cancellationToken);
        var deliveriesRemoved = await DeleteEachAsync(
            deliveries, oldDeliveries, r => [RolloutPartition(r.GetString("RolloutId") ?? string.Empty), DuePartition], cancellationToken);

        var (oldWaiters, moreWaiters) = await FindAsync(
            waiters, $"RowKey eq {TableRestClient.Literal(WaiterRow)} and Status eq {TableRestClient.Literal(nameof(GateWaiterStatus.Resolved))} and ResolvedAtMs lt {completed}", [], max, cancellationToken);
        var waitersRemoved = await DeleteEachAsync(waiters, oldWaiters, _ => [WaitingPartition], cancellationToken);

        var (oldNonces, moreNonces) = await FindAsync(
            nonces, $"RowKey eq {TableRestClient.Literal(NonceRow)} and ConsumedAtMs lt {TableRestClient.Int64Literal(noncesConsumedBefore.ToUnixTimeMilliseconds())}", [], max, cancellationToken);
        var noncesRemoved = await DeleteEachAsync(nonces, oldNonces, _ => [], cancellationToken);

        return new PruneResult(deliveriesRemoved, waitersRemoved, noncesRemoved, moreDeliveries || moreWaiters || moreNonces);
    }

    /// <summary>The first <paramref name="max"/> records matching <paramref name="filter"/> (with their ETags), and whether there may be more.</summary>
    private static async Task<(List<TableEntity> Rows, bool More)> FindAsync(TableRestClient table, string filter, IReadOnlyList<string> select, int max, CancellationToken ct)
    {
        var rows = new List<TableEntity>();
        await foreach (var row in table.QueryAsync(filter, ["PartitionKey", "RowKey", .. select], max, ct))
        {
            if (row.PartitionKey.StartsWith('|'))
            {
                continue; // An index row never has the filtered properties; a record's key never starts with '|'.
            }

            rows.Add(row);
            if (rows.Count == max)
            {
                return (rows, true);
            }
        }

        return (rows, false);
    }

    /// <summary>
    /// Deletes each record if its ETag is still the one read, with its index rows in the partitions
    /// <paramref name="indexes"/> names (read before the record is deleted, deleted after it if still unchanged), a few
    /// records at a time. Returns how many records were deleted; one changed (412) or gone (404) since it was read is
    /// skipped.
    /// </summary>
    private static async Task<int> DeleteEachAsync(TableRestClient table, IReadOnlyList<TableEntity> records, Func<TableEntity, string[]> indexes, CancellationToken ct)
    {
        var deleted = 0;
        await Parallel.ForEachAsync(records, new ParallelOptions { MaxDegreeOfParallelism = PruneParallelism, CancellationToken = ct }, async (record, token) =>
        {
            var rows = new List<TableEntity>();
            foreach (var partition in indexes(record))
            {
                if (await table.GetEntityAsync(partition, record.PartitionKey, token) is { } row)
                {
                    rows.Add(row);
                }
            }

            try
            {
                await table.DeleteEntityAsync(record.PartitionKey, record.RowKey, record.RequireETag(), token);
            }
            catch (RequestFailedException ex) when (ex.Status is 404 or 412)
            {
                return;
            }

            Interlocked.Increment(ref deleted);
            foreach (var row in rows)
            {
                try
                {
                    await table.DeleteEntityAsync(row.PartitionKey, row.RowKey, row.RequireETag(), token);
                }
                catch (RequestFailedException ex) when (ex.Status is 404 or 412)
                {
                    // Rewritten by an enqueue (or registration) of the same id since: it is that record's now.
                }
            }
        });
        return deleted;
    }

    // ---- index rows ------------------------------------------------------------------------------------------

    /// <summary>
    /// Makes the index row <paramref name="partition"/>/<paramref name="key"/> what the record <paramref name="key"/>/
    /// <paramref name="recordRow"/> calls for (<paramref name="wanted"/>: the row, or null for none). Reads the index
    /// row before the record and writes it with If-Match, so a writer that changed the record later and synchronises
    /// after this one either fails this write (412) or overwrites it: the last record wins. A missing record leaves
    /// the index row alone unless it is older than <see cref="OrphanIndexAge"/>.
    /// </summary>
    private async Task SyncIndexAsync(TableRestClient table, string partition, string key, string recordRow, Func<TableEntity, TableEntity?> wanted, CancellationToken ct)
    {
        for (var attempt = 1; attempt <= MaxAttempts; attempt++)
        {
            var index = await table.GetEntityAsync(partition, key, ct);
            var record = await table.GetEntityAsync(key, recordRow, ct);
            TableEntity? want;
            if (record is not null)
            {
                want = wanted(record);
            }
            else if (index is not null && time.GetUtcNow().ToUnixTimeMilliseconds() - (index.GetInt64("IndexedAtMs") ?? 0) > OrphanIndexAge.TotalMilliseconds)
            {
                want = null;
            }
            else
            {
                return; // An insert under way: its record comes next.
            }

            try
            {
                if (want is null)
                {
                    if (index is not null)
                    {
                        await table.DeleteEntityAsync(partition, key, index.RequireETag(), ct);
                    }
                }
                else if (index is null)
                {
                    await table.AddEntityAsync(want, ct);
                }
                else if (!SameIndex(index, want))
                {
                    await table.UpdateEntityAsync(want, index.RequireETag(), TableUpdateMode.Replace, ct);
                }

                return;
            }
            catch (RequestFailedException ex) when (ex.Status is 404 or 409 or 412)
            {
                // The index row changed since the read: look at both again.
            }
        }

        throw new InvalidOperationException($"updating the index row of '{key}' in '{table.Name}' kept conflicting");
    }

    /// <summary>True when the stored index row already says what <paramref name="want"/> says (its write time aside).</summary>
    private static bool SameIndex(TableEntity stored, TableEntity want) =>
        want.PropertyNames.Where(n => n != "IndexedAtMs").All(n => stored.GetString(n) == want.GetString(n));

    /// <summary>Inserts <paramref name="row"/>; false when a row with its keys exists (409).</summary>
    private static async Task<bool> TryAddAsync(TableRestClient table, TableEntity row, CancellationToken ct)
    {
        try
        {
            await table.AddEntityAsync(row, ct);
            return true;
        }
        catch (RequestFailedException ex) when (ex.Status == 409)
        {
            return false;
        }
    }

    /// <summary>
    /// Inserts the index row <paramref name="row"/>, or, when it exists (left by an enqueue that died, or by a record
    /// pruned), replaces it: that changes its ETag and write time, so a concurrent re-synchronisation that read it
    /// before (and saw no record) cannot delete it any more. True when it was inserted.
    /// </summary>
    private static async Task<bool> AddOrTouchAsync(TableRestClient table, TableEntity row, CancellationToken ct)
    {
        for (var attempt = 1; ; attempt++)
        {
            if (await TryAddAsync(table, row, ct))
            {
                return true;
            }

            try
            {
                await table.UpdateEntityAsync(row, "*", TableUpdateMode.Replace, ct);
                return false;
            }
            catch (RequestFailedException ex) when (ex.Status == 404 && attempt < MaxAttempts)
            {
                // Deleted between the two: insert it again.
            }
        }
    }

    private static async Task TryDeleteAsync(TableRestClient table, string partitionKey, string rowKey, CancellationToken ct)
    {
        try
        {
            await table.DeleteEntityAsync(partitionKey, rowKey, "*", ct);
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
        }
    }

    /// <summary>The records <paramref name="keys"/>/<paramref name="row"/>, in order (null where missing), read a few at a time in parallel.</summary>
    private static async Task<TableEntity?[]> ReadAllAsync(TableRestClient table, IReadOnlyList<string> keys, string row, CancellationToken ct)
    {
        var rows = new TableEntity?[keys.Count];
        await Parallel.ForEachAsync(
            Enumerable.Range(0, keys.Count),
            new ParallelOptions { MaxDegreeOfParallelism = ReadParallelism, CancellationToken = ct },
            async (i, token) => rows[i] = await table.GetEntityAsync(keys[i], row, token));
        return rows;
    }

    private static string Truncate(string text)
    {
        if (text.Length <= TableValues.CharsPerProperty)
        {
            return text;
        }

        var length = TableValues.CharsPerProperty;
        return text[..(char.IsHighSurrogate(text[length - 1]) ? length - 1 : length)];
    }

    private static DateTimeOffset Time(TableEntity row, string name) =>
        DateTimeOffset.FromUnixTimeMilliseconds(row.GetInt64(name) ?? throw Corrupt(row, name));

    private static InvalidDataException Corrupt(TableEntity row, string property) =>
        new($"the row '{row.PartitionKey}/{row.RowKey}' has no {property}");
}
