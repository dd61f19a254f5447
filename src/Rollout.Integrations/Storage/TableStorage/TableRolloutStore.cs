using System.Collections.Immutable;
using System.Globalization;
using System.Text.Json;
using Azure;
using Azure.Core;
using Azure.Core.Pipeline;
using Rollout.Core.Api;
using Rollout.Core.Engine;
using Rollout.Core.Storage;

namespace Rollout.Integrations.Storage.TableStorage;

/// <summary>
/// The rollout store on Azure Table Storage (or Azurite), over the Table REST API with Azure.Core's pipeline:
/// Shared Key for connection strings, Entra ID tokens (e.g. a managed identity) for a credential.
/// </summary>
/// <remarks>
/// <para>Two tables, named from the prefix. <c>{prefix}rollouts</c> has one partition per rollout (PartitionKey = the
/// rollout id, encoded by <see cref="TableValues.Key"/>) holding the rollout row (RowKey <c>rollout</c>: state JSON,
/// version, status, flag, wake-up, lease, times), its audit rows (RowKey <c>audit|{seq:D19}</c>) and its commands
/// (RowKey <c>command|{id}</c>). So a checkpoint (the state with <c>If-Match</c> on the row's ETag, its audit rows
/// as inserts, the answered command) is one entity-group transaction: all of it is written or none.
/// Audit rows are only ever inserted, so a repeated seq fails the whole checkpoint (409) and an existing row is
/// never overwritten.</para>
/// <para><c>{prefix}flags</c> holds one lock row per flag with an unfinished rollout, keeping "one unfinished rollout
/// per flag" across partitions. It cannot share the rollout's transaction, so it is written around it: the lock is
/// inserted (409 if held) before the rollout's transaction and deleted after the checkpoint that finishes the
/// rollout. A crash can leave a lock behind in two ways, and both heal at the next start for that flag: a lock whose
/// rollout is finished is taken over, and so is a lock whose rollout does not exist after
/// <see cref="OrphanLockAge"/> (its creation died between the two writes; before that it may still be under way).
/// The lock is only a guard; the rollout row's status is the truth.</para>
/// <para>Due rollouts come from an index, so a claim never reads a finished rollout: partition <c>|due</c> of the
/// rollouts table (<see cref="TableValues.Key"/> never produces a key starting with <c>|</c>) holds one small row per
/// unfinished rollout, RowKey <c>{wake:D19}|{key}</c> (its wake-up in Unix milliseconds, zero-padded, then its
/// partition key), with the rollout's id, wake-up, the version it was written for, a copy of the lease expiry and
/// the time it was written. A claim is one range query of that partition (<c>RowKey lt</c> the key of now + 1 ms and
/// <c>LeaseUntilMs lt now</c>), sorted by wake-up then id; then, for the first <c>max</c> rollouts (more only when one
/// is not free after all), a read of the rollout row's lease columns and the Merge with <c>If-Match</c> that takes
/// the lease, as before: the rollout row stays the truth, the index only says where to look.</para>
/// <para>The index row and the rollout are in different partitions, so no transaction covers both. Writes keep an
/// order that makes a crash leave at most an extra index row: the row for a new wake-up is written before the
/// rollout's transaction (never lowering the version a stored row was written for), and the row for the old wake-up
/// is deleted after it, only if it was written for a version the checkpoint superseded (read, then deleted with
/// <c>If-Match</c>). Terminal rollouts have no row. A claim that meets an index row not matching its rollout heals
/// it: a row written for the rollout's version or an earlier one is stale and deleted (and the rollout's own row is
/// added if missing); a row written for a later version, or whose rollout does not exist, is a write under way and
/// is left alone until it is <see cref="OrphanIndexAge"/> old. The lease copy only ever lags the truth downwards
/// (a release lowers it before the lease, a claim raises it after), so it hides a free rollout at most until a
/// lease it copied expires. As a safety net, and to index rollouts stored before the index existed, a claim scans
/// the unfinished rollouts once per <see cref="FullScanInterval"/> per store instance (the first claim included)
/// and adds the index rows they lack.</para>
/// <para>Lists, pending commands and lease owners scan the rollouts table with a filter (no secondary indexes in
/// Table Storage): slower with many rollouts, but each is one paged query, and none of them runs per poll.</para>
/// </remarks>
public sealed class TableRolloutStore : IRolloutStore
{
    /// <summary>How long a flag lock whose rollout does not exist is respected before it is taken as left by a crash.</summary>
    public static readonly TimeSpan OrphanLockAge = TimeSpan.FromMinutes(2);

    /// <summary>
    /// How long an index row whose rollout is not (yet) at the version it was written for is left alone: a create or
    /// checkpoint that writes the rollout after it may still be under way. A writer slower than half of this writes
    /// the row again after its transaction.
    /// </summary>
    public static readonly TimeSpan OrphanIndexAge = TimeSpan.FromMinutes(2);

    /// <summary>How often a store instance's claims also scan the unfinished rollouts for index rows they lack (the safety net).</summary>
    public static readonly TimeSpan FullScanInterval = TimeSpan.FromMinutes(5);

    /// <summary>The partition of the due index in the rollouts table.</summary>
    internal const string DuePartition = "|due";

    private const string RolloutRow = "rollout";
    private const string AuditPrefix = "audit|";
    private const string CommandPrefix = "command|";
    private const string PrefixEnd = "}"; // sorts right after '|', so "audit|" <= key < "audit}" is every audit row
    private const string LockRow = "lock";
    private const long Never = long.MaxValue;
    private const int MaxAttempts = 10;
    private const int ClaimParallelism = 16;

    /// <summary>The columns of the rollout row a claim or a release needs (not the state).</summary>
    private static readonly string[] LeaseColumns = ["PartitionKey", "RowKey", "RolloutId", "Version", "WakeAtMs", "LeaseOwner", "LeaseUntilMs"];

    private static readonly string[] IndexColumns = ["PartitionKey", "RowKey", "RolloutId", "WakeAtMs", "Version", "LeaseUntilMs", "IndexedAtMs"];

    private readonly TableRestClient rollouts;
    private readonly TableRestClient flags;
    private readonly TimeProvider time;
    private long nextFullScanMs = long.MinValue;

    /// <summary>
    /// Uses Entra ID tokens from <paramref name="credential"/> (e.g. a <c>ManagedIdentityCredential</c>) against
    /// <paramref name="tableEndpoint"/> (<c>https://{account}.table.core.windows.net</c>). Bearer tokens need https.
    /// </summary>
    public TableRolloutStore(Uri tableEndpoint, TokenCredential credential, string tablePrefix = "rollout", HttpPipelineTransport? transport = null)
        : this(TableStoreConnection.RequireHttps(tableEndpoint), TableStoreConnection.Bearer(credential), tablePrefix, transport, null)
    {
    }

    private TableRolloutStore(Uri tableEndpoint, HttpPipelinePolicy authentication, string tablePrefix, HttpPipelineTransport? transport, TimeProvider? time)
    {
        TableStoreConnection.CheckPrefix(tablePrefix);
        var pipeline = TableRestClient.CreatePipeline(authentication, transport);
        rollouts = new TableRestClient(pipeline, tableEndpoint, tablePrefix + "rollouts");
        flags = new TableRestClient(pipeline, tableEndpoint, tablePrefix + "flags");
        this.time = time ?? TimeProvider.System;
    }

    /// <summary>
    /// Uses the account key of a connection string (Shared Key): <c>UseDevelopmentStorage=true</c> for Azurite on
    /// <c>http://127.0.0.1:10002/devstoreaccount1</c> (add <c>TableEndpoint=...</c> for another port), or
    /// <c>AccountName=...;AccountKey=...</c> with <c>TableEndpoint</c> or <c>DefaultEndpointsProtocol</c>/<c>EndpointSuffix</c>.
    /// </summary>
    public static TableRolloutStore FromConnectionString(string connectionString, string tablePrefix = "rollout", HttpPipelineTransport? transport = null)
    {
        var (endpoint, authentication) = TableStoreConnection.SharedKey(connectionString);
        return new TableRolloutStore(endpoint, authentication, tablePrefix, transport, null);
    }

    internal TableRestClient RolloutsTable => rollouts;

    internal TableRestClient FlagsTable => flags;

    /// <inheritdoc/>
    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        await rollouts.CreateIfNotExistsAsync(cancellationToken);
        await flags.CreateIfNotExistsAsync(cancellationToken);
    }

    /// <summary>Deletes both tables (tests).</summary>
    internal async Task DeleteTablesAsync(CancellationToken cancellationToken)
    {
        await rollouts.DeleteAsync(cancellationToken);
        await flags.DeleteAsync(cancellationToken);
    }

    /// <inheritdoc/>
    public async Task CreateAsync(RolloutState state, ImmutableArray<AuditEvent> audit, CancellationToken cancellationToken)
    {
        var partition = TableValues.Key(state.Id);
        var lockTaken = !state.IsTerminal && await AcquireFlagAsync(state.Plan.Flag, state.Id, cancellationToken);
        var row = RolloutEntity(state, 1, string.Empty, 0);
        var actions = new List<TableTransactionAction> { new(TableTransactionActionType.Add, row) };
        actions.AddRange(audit.Select(e => new TableTransactionAction(TableTransactionActionType.Add, AuditEntity(partition, e))));

        // Intent first: the due row, then the rollout's transaction.
        var wakeMs = WakeMs(state);
        var intent = wakeMs != Never ? IndexEntity(state.Id, wakeMs, 1, 0) : null;
        var indexedAt = time.GetUtcNow();
        try
        {
            if (intent is not null)
            {
                await WriteIndexAsync(intent, cancellationToken);
            }
        }
        catch (RequestFailedException)
        {
            if (lockTaken)
            {
                await ReleaseFlagAsync(state.Plan.Flag, state.Id, cancellationToken);
            }

            throw;
        }

        try
        {
            await rollouts.SubmitTransactionAsync(actions, cancellationToken);
        }
        catch (TableTransactionFailedException ex)
        {
            if (ex.Status == 409 && await HoldsAsync(partition, 1, row, cancellationToken))
            {
                // Azure.Core retried a transaction whose answer was lost: the first try wrote exactly this.
                await ConfirmIndexAsync(intent, indexedAt, cancellationToken);
                return;
            }

            // The service refused the transaction, so nothing of it was written: give the flag back.
            if (lockTaken)
            {
                await ReleaseFlagAsync(state.Plan.Flag, state.Id, cancellationToken);
            }

            if (intent is not null)
            {
                await HealIndexRowAsync(intent.RowKey, cancellationToken);
            }

            if (ex.Status == 409)
            {
                throw new InvalidOperationException($"rollout '{state.Id}' already exists", ex);
            }

            throw;
        }

        await ConfirmIndexAsync(intent, indexedAt, cancellationToken);
    }

    /// <inheritdoc/>
    public async Task<StoredRollout?> GetAsync(string id, CancellationToken cancellationToken)
    {
        var row = await rollouts.GetEntityAsync(TableValues.Key(id), RolloutRow, cancellationToken);
        return row is null ? null : ToStored(row);
    }

    /// <inheritdoc/>
    public async Task<IReadOnlyList<StoredRollout>> ListAsync(RolloutStatus? status, int limit, CancellationToken cancellationToken)
    {
        var filter = $"RowKey eq '{RolloutRow}'" + (status is { } s ? $" and Status eq {TableRestClient.Literal(s.ToString())}" : string.Empty);
        var rows = await rollouts.QueryListAsync(filter, null, cancellationToken);
        return [.. rows
            .OrderByDescending(r => r.GetInt64("CreatedAtMs"))
            .ThenBy(r => r.GetString("RolloutId"), StringComparer.Ordinal)
            .Take(Math.Max(0, limit))
            .Select(ToStored)];
    }

    /// <inheritdoc/>
    public async Task<IReadOnlyList<StoredRollout>> ListChangedSinceAsync(DateTimeOffset since, CancellationToken cancellationToken)
    {
        var sinceMs = since.ToUnixTimeMilliseconds();
        var rows = await rollouts.QueryListAsync($"RowKey eq '{RolloutRow}' and UpdatedAtMs ge {TableRestClient.Int64Literal(sinceMs)}", null, cancellationToken);
        return [.. rows.Where(r => r.GetInt64("UpdatedAtMs") >= sinceMs).OrderBy(r => r.GetInt64("UpdatedAtMs")).Select(ToStored)];
    }

    /// <inheritdoc/>
    public async Task<bool> SaveAsync(Checkpoint checkpoint, CancellationToken cancellationToken)
    {
        var state = checkpoint.State;
        var partition = TableValues.Key(state.Id);
        if (checkpoint.AnsweredCommand is { } answered && answered.RolloutId != state.Id)
        {
            throw new ArgumentException($"the answered command belongs to rollout '{answered.RolloutId}', not '{state.Id}'", nameof(checkpoint));
        }

        var newWakeMs = WakeMs(state);
        var oldWakeMs = Never;
        TableEntity? intent = null;
        var indexedAt = DateTimeOffset.MinValue;
        var indexWritten = false;
        for (var attempt = 1; ; attempt++)
        {
            var current = await rollouts.GetEntityAsync(partition, RolloutRow, cancellationToken);
            if (current is null || current.GetInt64("Version") != checkpoint.ExpectedVersion)
            {
                await HealIntentAsync(intent, cancellationToken);
                return false;
            }

            var (leaseOwner, leaseUntil) = checkpoint.ReleaseLease
                ? (string.Empty, 0L)
                : (current.GetString("LeaseOwner") ?? string.Empty, current.GetInt64("LeaseUntilMs") ?? 0L);
            var row = RolloutEntity(state, checkpoint.ExpectedVersion + 1, leaseOwner, leaseUntil);
            if (!indexWritten)
            {
                // Before the transaction: the due row of the new wake-up (or, with the same wake-up, a lease copy that
                // drops with the lease). The stored version is the expected one, so the old wake-up is the same on every attempt.
                oldWakeMs = current.GetInt64("WakeAtMs") ?? Never;
                indexedAt = time.GetUtcNow();
                if (newWakeMs != Never && newWakeMs != oldWakeMs)
                {
                    intent = IndexEntity(state.Id, newWakeMs, checkpoint.ExpectedVersion + 1, leaseUntil);
                    await WriteIndexAsync(intent, cancellationToken);
                }
                else if (newWakeMs != Never && leaseUntil < (current.GetInt64("LeaseUntilMs") ?? 0L))
                {
                    await LowerIndexLeaseAsync(state.Id, newWakeMs, checkpoint.ExpectedVersion + 1, cancellationToken);
                }

                indexWritten = true;
            }

            var actions = new List<TableTransactionAction> { new(TableTransactionActionType.UpdateReplace, row, current.RequireETag()) };
            actions.AddRange(checkpoint.Audit.Select(e => new TableTransactionAction(TableTransactionActionType.Add, AuditEntity(partition, e))));
            if (checkpoint.AnsweredCommand is { } command)
            {
                var stored = await rollouts.GetEntityAsync(partition, CommandKey(command.CommandId), cancellationToken);
                if (stored is null)
                {
                    actions.Add(new(TableTransactionActionType.Add, CommandEntity(partition, command)));
                }
                else if (stored.GetBoolean("Answered") != true && command.Result is { } result)
                {
                    // The first answer stays: only an unanswered command (at this ETag) is answered.
                    actions.Add(new(TableTransactionActionType.UpdateMerge, AnswerEntity(partition, command.CommandId, result), stored.RequireETag()));
                }
            }

            try
            {
                await rollouts.SubmitTransactionAsync(actions, cancellationToken);
            }
            catch (TableTransactionFailedException ex) when (ex.Status is 404 or 409 or 412)
            {
                // Nothing was written. Find out why: another writer (false), a repeated audit seq (an error, as in
                // SQLite), or a change that is no new version (a lease claimed or released, the command answered).
                var now = await rollouts.GetEntityAsync(partition, RolloutRow, cancellationToken);
                if (now is not null && now.GetInt64("Version") == checkpoint.ExpectedVersion + 1 && SameState(now, row))
                {
                    // Azure.Core retried a transaction whose answer was lost: the first try wrote exactly this.
                    break;
                }

                if (now is null || now.GetInt64("Version") != checkpoint.ExpectedVersion)
                {
                    await HealIntentAsync(intent, cancellationToken);
                    return false;
                }

                var repeated = new List<long>();
                foreach (var e in checkpoint.Audit)
                {
                    if (await rollouts.GetEntityAsync(partition, AuditKey(e.Seq), cancellationToken) is not null)
                    {
                        repeated.Add(e.Seq);
                    }
                }

                if (repeated.Count > 0)
                {
                    await HealIntentAsync(intent, cancellationToken);
                    throw new InvalidOperationException(
                        $"rollout '{state.Id}' already has audit entries {string.Join(", ", repeated)}; the audit log is append-only, so the checkpoint wrote nothing", ex);
                }

                if (attempt >= MaxAttempts)
                {
                    await HealIntentAsync(intent, cancellationToken);
                    throw new InvalidOperationException($"the checkpoint of rollout '{state.Id}' kept conflicting", ex);
                }

                continue;
            }

            break;
        }

        // After the transaction: the row of the old wake-up goes, unless a later checkpoint wrote it again.
        if (oldWakeMs != Never && oldWakeMs != newWakeMs)
        {
            await RetireIndexRowAsync(DueKey(oldWakeMs, state.Id), checkpoint.ExpectedVersion, cancellationToken);
        }

        await ConfirmIndexAsync(intent, indexedAt, cancellationToken);
        if (state.IsTerminal)
        {
            await ReleaseFlagAsync(state.Plan.Flag, state.Id, cancellationToken);
        }

        return true;
    }

    /// <inheritdoc/>
    public async Task<IReadOnlyList<AuditEvent>> GetAuditAsync(string id, long afterSeq, CancellationToken cancellationToken)
    {
        var from = afterSeq < 0 ? $"RowKey ge '{AuditPrefix}'" : $"RowKey gt {TableRestClient.Literal(AuditKey(afterSeq))}";
        var filter = $"PartitionKey eq {TableRestClient.Literal(TableValues.Key(id))} and {from} and RowKey lt '{AuditPrefix[..^1]}{PrefixEnd}'";
        var rows = await rollouts.QueryListAsync(filter, null, cancellationToken);
        return [.. rows.Select(ToAudit).Where(e => e.Seq > afterSeq).OrderBy(e => e.Seq)];
    }

    /// <inheritdoc/>
    public async Task<StoredCommand> AcceptCommandAsync(StoredCommand command, CancellationToken cancellationToken)
    {
        var partition = TableValues.Key(command.RolloutId);
        var received = command with { Result = null };
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await rollouts.AddEntityAsync(CommandEntity(partition, received), cancellationToken);
                return received;
            }
            catch (RequestFailedException ex) when (ex.Status == 409)
            {
                if (await GetCommandAsync(command.RolloutId, command.CommandId, cancellationToken) is { } existing)
                {
                    return existing;
                }

                if (attempt >= MaxAttempts)
                {
                    throw;
                }
            }
        }
    }

    /// <inheritdoc/>
    public async Task AnswerCommandAsync(StoredCommand command, CancellationToken cancellationToken)
    {
        var partition = TableValues.Key(command.RolloutId);
        for (var attempt = 1; attempt <= MaxAttempts; attempt++)
        {
            var stored = await rollouts.GetEntityAsync(partition, CommandKey(command.CommandId), cancellationToken);
            try
            {
                if (stored is null)
                {
                    await rollouts.AddEntityAsync(CommandEntity(partition, command), cancellationToken);
                }
                else if (stored.GetBoolean("Answered") != true && command.Result is { } result)
                {
                    await rollouts.UpdateEntityAsync(AnswerEntity(partition, command.CommandId, result), stored.RequireETag(), TableUpdateMode.Merge, cancellationToken);
                }

                return;
            }
            catch (RequestFailedException ex) when (ex.Status is 409 or 412 or 404)
            {
                // Someone else stored or answered it meanwhile: look again.
            }
        }

        throw new InvalidOperationException($"answering command '{command.CommandId}' of rollout '{command.RolloutId}' kept conflicting");
    }

    /// <inheritdoc/>
    public async Task<IReadOnlyList<StoredCommand>> PendingCommandsAsync(DateTimeOffset receivedBefore, CancellationToken cancellationToken)
    {
        var beforeMs = receivedBefore.ToUnixTimeMilliseconds();
        var filter = $"RowKey ge '{CommandPrefix}' and RowKey lt '{CommandPrefix[..^1]}{PrefixEnd}' and Answered eq false and ReceivedAtMs lt {TableRestClient.Int64Literal(beforeMs)}";
        var rows = await rollouts.QueryListAsync(filter, null, cancellationToken);
        return [.. rows.Select(ToCommand).Where(c => c.Result is null && c.ReceivedAt.ToUnixTimeMilliseconds() < beforeMs).OrderBy(c => c.ReceivedAt).Take(500)];
    }

    /// <inheritdoc/>
    public async Task<StoredCommand?> GetCommandAsync(string rolloutId, string commandId, CancellationToken cancellationToken)
    {
        var row = await rollouts.GetEntityAsync(TableValues.Key(rolloutId), CommandKey(commandId), cancellationToken);
        return row is null ? null : ToCommand(row);
    }

    /// <inheritdoc/>
    public async Task<IReadOnlyList<string>> ClaimDueAsync(string owner, DateTimeOffset now, DateTimeOffset leaseUntil, int max, CancellationToken cancellationToken)
    {
        if (max <= 0)
        {
            return [];
        }

        await ScanUnfinishedIfDueAsync(cancellationToken);

        var nowMs = now.ToUnixTimeMilliseconds();
        var untilMs = leaseUntil.ToUnixTimeMilliseconds();
        var filter = $"PartitionKey eq '{DuePartition}' and RowKey lt {TableRestClient.Literal(WakeKeyPrefix(nowMs == long.MaxValue ? nowMs : nowMs + 1))}"
            + $" and LeaseUntilMs lt {TableRestClient.Int64Literal(nowMs)}";
        var rows = await rollouts.QueryListAsync(filter, IndexColumns, cancellationToken);

        // One candidate per rollout (a stale row may point at a rollout that has its own row too), earliest wake-up first.
        var candidates = rows
            .Where(r => !string.IsNullOrEmpty(r.GetString("RolloutId")))
            .GroupBy(r => r.GetString("RolloutId")!, StringComparer.Ordinal)
            .Select(g => (Id: g.Key, WakeMs: g.Min(r => r.GetInt64("WakeAtMs") ?? Never), Rows: g.ToList()))
            .OrderBy(c => c.WakeMs)
            .ThenBy(c => c.Id, StringComparer.Ordinal)
            .ToList();
        var claimed = new List<string>();
        var next = 0;
        while (claimed.Count < max && next < candidates.Count)
        {
            // As many as are still wanted, in parallel; more only when some of them were not free after all.
            var chunk = candidates.GetRange(next, Math.Min(max - claimed.Count, candidates.Count - next));
            next += chunk.Count;
            var results = new bool[chunk.Count];
            await Parallel.ForEachAsync(
                Enumerable.Range(0, chunk.Count),
                new ParallelOptions { MaxDegreeOfParallelism = ClaimParallelism, CancellationToken = cancellationToken },
                async (i, ct) => results[i] = await TryClaimAsync(chunk[i].Id, chunk[i].Rows, owner, nowMs, untilMs, ct));
            claimed.AddRange(chunk.Where((_, i) => results[i]).Select(c => c.Id));
        }

        return claimed;
    }

    /// <inheritdoc/>
    public async Task ReleaseAsync(string id, string owner, CancellationToken cancellationToken)
    {
        var partition = TableValues.Key(id);
        var loweredWakeMs = Never;
        for (var attempt = 1; attempt <= MaxAttempts; attempt++)
        {
            var row = await ReadLeaseRowAsync(partition, cancellationToken);
            if (row is null || row.GetString("LeaseOwner") != owner)
            {
                return;
            }

            // The index's lease copy drops first, so it never says "leased" longer than the rollout row does.
            var wakeMs = row.GetInt64("WakeAtMs") ?? Never;
            if (wakeMs != Never && wakeMs != loweredWakeMs)
            {
                await LowerIndexLeaseAsync(id, wakeMs, row.GetInt64("Version") ?? 0, cancellationToken);
                loweredWakeMs = wakeMs;
            }

            try
            {
                await rollouts.UpdateEntityAsync(LeaseEntity(partition, string.Empty, 0), row.RequireETag(), TableUpdateMode.Merge, cancellationToken);
                return;
            }
            catch (RequestFailedException ex) when (ex.Status is 412 or 404)
            {
                // The row changed (a checkpoint): look again whether the lease is still this owner's.
            }
        }

        throw new InvalidOperationException($"releasing the lease of rollout '{id}' kept conflicting");
    }

    /// <inheritdoc/>
    public async Task<IReadOnlyList<string>> LeaseOwnersAsync(CancellationToken cancellationToken)
    {
        var rows = await rollouts.QueryListAsync($"RowKey eq '{RolloutRow}' and LeaseOwner ne ''", ["LeaseOwner"], cancellationToken);
        return [.. rows.Select(r => r.GetString("LeaseOwner")).OfType<string>().Where(o => o.Length > 0).Distinct(StringComparer.Ordinal)];
    }

    /// <inheritdoc/>
    public async Task ReleaseAllAsync(string owner, CancellationToken cancellationToken)
    {
        var rows = await rollouts.QueryListAsync($"RowKey eq '{RolloutRow}' and LeaseOwner eq {TableRestClient.Literal(owner)}", ["RolloutId"], cancellationToken);
        foreach (var row in rows)
        {
            await ReleaseAsync(row.GetString("RolloutId")!, owner, cancellationToken);
        }
    }

    // ---- the due index ---------------------------------------------------------------------------------------

    /// <summary>Makes the next claim scan the unfinished rollouts for missing index rows (tests).</summary>
    internal void ScanOnNextClaim() => Interlocked.Exchange(ref nextFullScanMs, long.MinValue);

    /// <summary>Takes the lease of one candidate if its rollout row says it is due and free, then keeps its index rows in step.</summary>
    private async Task<bool> TryClaimAsync(string id, List<TableEntity> indexRows, string owner, long nowMs, long untilMs, CancellationToken ct)
    {
        var partition = TableValues.Key(id);
        var row = await ReadLeaseRowAsync(partition, ct);
        var claimed = false;
        for (var attempt = 1; attempt <= 3 && row is not null && IsDueAndFree(row, nowMs); attempt++)
        {
            try
            {
                // Merge with If-Match: of two owners racing for the row, the second gets 412.
                await rollouts.UpdateEntityAsync(LeaseEntity(partition, owner, untilMs), row.RequireETag(), TableUpdateMode.Merge, ct);
                claimed = true;
                break;
            }
            catch (RequestFailedException ex) when (ex.Status is 412 or 404)
            {
                row = await ReadLeaseRowAsync(partition, ct);
            }
        }

        var ownKey = row is null ? null : DueKeyOf(row);
        var ownRowSeen = indexRows.Any(r => r.RowKey == ownKey);
        foreach (var index in indexRows)
        {
            if (index.RowKey != ownKey)
            {
                await HealAsync(index, row, ownRowSeen, claimed ? untilMs : 0, ct);
            }
            else if (claimed)
            {
                try
                {
                    // The lease copy rises after the lease, so later polls skip the row without reading the rollout.
                    await rollouts.UpdateEntityAsync(new TableEntity(DuePartition, index.RowKey) { ["LeaseUntilMs"] = untilMs }, index.RequireETag(), TableUpdateMode.Merge, ct);
                }
                catch (RequestFailedException)
                {
                    // 412/404: a checkpoint rewrote or moved the row; anything else: the next poll reads the rollout.
                }
            }
        }

        return claimed;
    }

    /// <summary>
    /// Deletes an index row that does not point at its rollout's wake-up, read after the index row: one written for the
    /// rollout's version or an earlier one is stale (and the rollout's own row is added if <paramref name="ownRowSeen"/>
    /// is false and it lacks one); one written for a later version, or for a rollout that does not exist, belongs to a
    /// write under way and goes only once <see cref="OrphanIndexAge"/> old. Best effort: what is left is met again.
    /// </summary>
    private async Task HealAsync(TableEntity index, TableEntity? rollout, bool ownRowSeen, long leaseCopyMs, CancellationToken ct)
    {
        var indexVersion = index.GetInt64("Version") ?? 0;
        var rolloutVersion = rollout?.GetInt64("Version");
        var ownKey = rollout is null ? null : DueKeyOf(rollout);
        var stale = rolloutVersion is { } v && v >= indexVersion
            ? ownKey != index.RowKey
            : time.GetUtcNow().ToUnixTimeMilliseconds() - (index.GetInt64("IndexedAtMs") ?? 0) > (long)OrphanIndexAge.TotalMilliseconds;
        if (!stale)
        {
            return;
        }

        try
        {
            await rollouts.DeleteEntityAsync(DuePartition, index.RowKey, index.RequireETag(), ct);
            if (!ownRowSeen && ownKey is not null && rollout is not null && rolloutVersion >= indexVersion)
            {
                await TryAddIndexAsync(IndexEntity(rollout.GetString("RolloutId")!, rollout.GetInt64("WakeAtMs")!.Value, rolloutVersion.Value, leaseCopyMs), ct);
            }
        }
        catch (RequestFailedException)
        {
            // 412/404: written or removed meanwhile; anything else: the next claim that meets it tries again.
        }
    }

    /// <summary>Heals the index row <paramref name="key"/> against its rollout (after a write that may not have happened).</summary>
    private async Task HealIndexRowAsync(string key, CancellationToken ct)
    {
        try
        {
            var index = await rollouts.GetEntityAsync(DuePartition, key, ct);
            if (index?.GetString("RolloutId") is { } id)
            {
                await HealAsync(index, await ReadLeaseRowAsync(TableValues.Key(id), ct), ownRowSeen: true, 0, ct);
            }
        }
        catch (RequestFailedException)
        {
            // Left for a claim to heal.
        }
    }

    private Task HealIntentAsync(TableEntity? intent, CancellationToken ct) =>
        intent is null ? Task.CompletedTask : HealIndexRowAsync(intent.RowKey, ct);

    /// <summary>
    /// Writes the index row <paramref name="row"/> before the write it announces: inserts it, or replaces a stored row
    /// written for the same or an earlier version (refreshing its time); a row written for a later version stays.
    /// </summary>
    private async Task WriteIndexAsync(TableEntity row, CancellationToken ct)
    {
        var version = row.GetInt64("Version") ?? 0;
        for (var attempt = 1; attempt <= MaxAttempts; attempt++)
        {
            if (await TryAddIndexAsync(row, ct))
            {
                return;
            }

            var stored = await rollouts.GetEntityAsync(DuePartition, row.RowKey, ct);
            if (stored is null)
            {
                continue;
            }

            if ((stored.GetInt64("Version") ?? 0) > version)
            {
                return;
            }

            try
            {
                await rollouts.UpdateEntityAsync(row, stored.RequireETag(), TableUpdateMode.Replace, ct);
                return;
            }
            catch (RequestFailedException ex) when (ex.Status is 404 or 412)
            {
                // Deleted or rewritten meanwhile: look again.
            }
        }

        throw new InvalidOperationException($"writing the index row '{row.RowKey}' kept conflicting");
    }

    /// <summary>Sets the lease copy of the index row of <paramref name="id"/> at <paramref name="wakeMs"/> to 0 (adding the row if missing).</summary>
    private async Task LowerIndexLeaseAsync(string id, long wakeMs, long version, CancellationToken ct)
    {
        try
        {
            await rollouts.UpdateEntityAsync(new TableEntity(DuePartition, DueKey(wakeMs, id)) { ["LeaseUntilMs"] = 0L }, "*", TableUpdateMode.Merge, ct);
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            await TryAddIndexAsync(IndexEntity(id, wakeMs, version, 0), ct);
        }
    }

    /// <summary>Deletes the index row <paramref name="key"/> if it was written for <paramref name="supersededVersion"/> or earlier. Best effort.</summary>
    private async Task RetireIndexRowAsync(string key, long supersededVersion, CancellationToken ct)
    {
        try
        {
            var stored = await rollouts.GetEntityAsync(DuePartition, key, ct);
            if (stored is not null && (stored.GetInt64("Version") ?? 0) <= supersededVersion)
            {
                await rollouts.DeleteEntityAsync(DuePartition, key, stored.RequireETag(), ct);
            }
        }
        catch (RequestFailedException)
        {
            // A stale row left here is skipped and deleted by the claim that meets it.
        }
    }

    /// <summary>
    /// After a write that took half of <see cref="OrphanIndexAge"/> or more since its index row: adds the row again in
    /// case a claim took it for an orphan and deleted it. Best effort: the full scan is the last resort.
    /// </summary>
    private async Task ConfirmIndexAsync(TableEntity? intent, DateTimeOffset indexedAt, CancellationToken ct)
    {
        if (intent is null || time.GetUtcNow() - indexedAt < OrphanIndexAge / 2)
        {
            return;
        }

        try
        {
            await TryAddIndexAsync(IndexEntity(intent.GetString("RolloutId")!, intent.GetInt64("WakeAtMs")!.Value, intent.GetInt64("Version")!.Value, 0), ct);
        }
        catch (RequestFailedException)
        {
        }
    }

    /// <summary>Inserts an index row; false when one with its key exists.</summary>
    private async Task<bool> TryAddIndexAsync(TableEntity row, CancellationToken ct)
    {
        try
        {
            await rollouts.AddEntityAsync(row, ct);
            return true;
        }
        catch (RequestFailedException ex) when (ex.Status == 409)
        {
            return false;
        }
    }

    /// <summary>
    /// The safety net, at most once per <see cref="FullScanInterval"/> (and at the first claim): one scan of the
    /// unfinished rollouts, adding the index rows they lack (a rollout stored before the index, or a row lost to a crash).
    /// </summary>
    private async Task ScanUnfinishedIfDueAsync(CancellationToken ct)
    {
        var nowMs = time.GetUtcNow().ToUnixTimeMilliseconds();
        var due = Interlocked.Read(ref nextFullScanMs);
        if (nowMs < due || Interlocked.CompareExchange(ref nextFullScanMs, nowMs + (long)FullScanInterval.TotalMilliseconds, due) != due)
        {
            return;
        }

        try
        {
            // The index first: a row deleted after this read because its rollout moved on is added again below at
            // worst as a stale row, which claims heal.
            var indexed = (await rollouts.QueryListAsync($"PartitionKey eq '{DuePartition}'", ["RowKey"], ct))
                .Select(r => r.RowKey)
                .ToHashSet(StringComparer.Ordinal);
            var unfinished = await rollouts.QueryListAsync($"RowKey eq '{RolloutRow}' and WakeAtMs lt {TableRestClient.Int64Literal(Never)}", LeaseColumns, ct);
            var missing = unfinished.Where(r => DueKeyOf(r) is { } key && !indexed.Contains(key)).ToList();
            await Parallel.ForEachAsync(
                missing,
                new ParallelOptions { MaxDegreeOfParallelism = ClaimParallelism, CancellationToken = ct },
                async (r, token) => await TryAddIndexAsync(IndexEntity(r.GetString("RolloutId")!, r.GetInt64("WakeAtMs")!.Value, r.GetInt64("Version") ?? 0, 0), token));
        }
        catch
        {
            Interlocked.Exchange(ref nextFullScanMs, due); // the next claim tries again
            throw;
        }
    }

    /// <summary>The lease columns of a rollout row (not its state), with its ETag, or null.</summary>
    private async Task<TableEntity?> ReadLeaseRowAsync(string partition, CancellationToken ct)
    {
        var rows = await rollouts.QueryListAsync($"PartitionKey eq {TableRestClient.Literal(partition)} and RowKey eq '{RolloutRow}'", LeaseColumns, ct);
        return rows.Count > 0 ? rows[0] : null;
    }

    private TableEntity IndexEntity(string id, long wakeMs, long version, long leaseUntilMs) =>
        new(DuePartition, DueKey(wakeMs, id))
        {
            ["RolloutId"] = id,
            ["WakeAtMs"] = wakeMs,
            ["Version"] = version,
            ["LeaseUntilMs"] = leaseUntilMs,
            ["IndexedAtMs"] = time.GetUtcNow().ToUnixTimeMilliseconds(),
        };

    private static long WakeMs(RolloutState state) => state.NextWakeAt?.ToUnixTimeMilliseconds() ?? Never;

    /// <summary>The part of an index RowKey that orders by wake-up: Unix milliseconds, zero-padded (before 1970 as 0).</summary>
    private static string WakeKeyPrefix(long wakeMs) => Math.Max(0, wakeMs).ToString("D19", CultureInfo.InvariantCulture);

    internal static string DueKey(long wakeMs, string id) => WakeKeyPrefix(wakeMs) + "|" + TableValues.Key(id);

    /// <summary>The key of the index row a rollout row calls for, or null when it never wakes again.</summary>
    private static string? DueKeyOf(TableEntity rolloutRow) =>
        rolloutRow.GetInt64("WakeAtMs") is { } wakeMs && wakeMs != Never && rolloutRow.GetString("RolloutId") is { } id ? DueKey(wakeMs, id) : null;

    // ---- the flag lock ---------------------------------------------------------------------------------------

    /// <summary>Takes the flag for <paramref name="id"/>; true when this call took it, false when it already was the id's.</summary>
    private async Task<bool> AcquireFlagAsync(string flag, string id, CancellationToken ct)
    {
        var partition = TableValues.Key(flag);
        for (var attempt = 1; attempt <= MaxAttempts; attempt++)
        {
            var nowMs = time.GetUtcNow().ToUnixTimeMilliseconds();
            var claim = new TableEntity(partition, LockRow) { ["Flag"] = flag, ["RolloutId"] = id, ["LockedAtMs"] = nowMs };
            try
            {
                await flags.AddEntityAsync(claim, ct);
                return true;
            }
            catch (RequestFailedException ex) when (ex.Status == 409)
            {
            }

            var held = await flags.GetEntityAsync(partition, LockRow, ct);
            if (held is null)
            {
                continue;
            }

            var holder = held.GetString("RolloutId") ?? string.Empty;
            if (holder == id)
            {
                return false;
            }

            var holderRow = await rollouts.GetEntityAsync(TableValues.Key(holder), RolloutRow, ct);
            var lockAge = TimeSpan.FromMilliseconds(nowMs - (held.GetInt64("LockedAtMs") ?? 0));
            if ((holderRow is not null && !IsTerminal(holderRow.GetString("Status"))) || (holderRow is null && lockAge < OrphanLockAge))
            {
                throw new FlagBusyException(flag, holder);
            }

            // Left behind by a crash: the holder finished, or its creation never completed.
            try
            {
                await flags.UpdateEntityAsync(claim, held.RequireETag(), TableUpdateMode.Replace, ct);
                return true;
            }
            catch (RequestFailedException ex) when (ex.Status is 412 or 404)
            {
            }
        }

        throw new InvalidOperationException($"taking flag '{flag}' kept conflicting");
    }

    /// <summary>Gives the flag back if <paramref name="id"/> holds it. Best effort: a lock left here heals at the next start.</summary>
    private async Task ReleaseFlagAsync(string flag, string id, CancellationToken ct)
    {
        try
        {
            var partition = TableValues.Key(flag);
            var held = await flags.GetEntityAsync(partition, LockRow, ct);
            if (held?.GetString("RolloutId") == id)
            {
                await flags.DeleteEntityAsync(partition, LockRow, held.RequireETag(), ct);
            }
        }
        catch (RequestFailedException)
        {
            // 404/412: someone took it over; anything else: the next CreateAsync for the flag heals it.
        }
    }

    // ---- rows ------------------------------------------------------------------------------------------------

    private static TableEntity RolloutEntity(RolloutState state, long version, string leaseOwner, long leaseUntilMs)
    {
        var row = new TableEntity(TableValues.Key(state.Id), RolloutRow)
        {
            ["RolloutId"] = state.Id,
            ["Flag"] = state.Plan.Flag,
            ["Status"] = state.Status.ToString(),
            ["Version"] = version,
            ["WakeAtMs"] = state.NextWakeAt?.ToUnixTimeMilliseconds() ?? Never,
            ["LeaseOwner"] = leaseOwner,
            ["LeaseUntilMs"] = leaseUntilMs,
            ["CreatedAtMs"] = state.CreatedAt.ToUnixTimeMilliseconds(),
            ["UpdatedAtMs"] = state.UpdatedAt.ToUnixTimeMilliseconds(),
        };
        TableValues.WriteText(row, "State", JsonSerializer.Serialize(state, RolloutJson.Options));
        return row;
    }

    private static TableEntity LeaseEntity(string partition, string owner, long untilMs) =>
        new(partition, RolloutRow) { ["LeaseOwner"] = owner, ["LeaseUntilMs"] = untilMs };

    private static StoredRollout ToStored(TableEntity row)
    {
        var json = TableValues.ReadText(row, "State") ?? throw new InvalidDataException($"rollout row '{row.PartitionKey}' has no state");
        var state = JsonSerializer.Deserialize<RolloutState>(json, RolloutJson.Options) ?? throw new InvalidDataException("a stored rollout state is empty");
        return new StoredRollout(state, row.GetInt64("Version") ?? throw new InvalidDataException($"rollout row '{row.PartitionKey}' has no version"));
    }

    private static string AuditKey(long seq) => AuditPrefix + seq.ToString("D19", CultureInfo.InvariantCulture);

    private static TableEntity AuditEntity(string partition, AuditEvent e)
    {
        var row = new TableEntity(partition, AuditKey(e.Seq))
        {
            ["Seq"] = e.Seq,
            ["At"] = e.At.ToString("O", CultureInfo.InvariantCulture),
            ["Type"] = e.Type.ToString(),
            ["Actor"] = e.Actor,
        };
        TableValues.WriteText(row, "Details", e.Details.GetRawText());
        return row;
    }

    private static AuditEvent ToAudit(TableEntity row)
    {
        using var details = JsonDocument.Parse(TableValues.ReadText(row, "Details") ?? "{}");
        return new AuditEvent(
            row.GetInt64("Seq") ?? 0,
            DateTimeOffset.Parse(row.GetString("At") ?? string.Empty, CultureInfo.InvariantCulture),
            Enum.Parse<AuditType>(row.GetString("Type") ?? string.Empty),
            row.GetString("Actor") ?? string.Empty,
            details.RootElement.Clone());
    }

    private static string CommandKey(string commandId) => CommandPrefix + TableValues.Key(commandId);

    private static TableEntity CommandEntity(string partition, StoredCommand command)
    {
        var row = new TableEntity(partition, CommandKey(command.CommandId))
        {
            ["RolloutId"] = command.RolloutId,
            ["CommandId"] = command.CommandId,
            ["Kind"] = command.Kind,
            ["ReceivedAtMs"] = command.ReceivedAt.ToUnixTimeMilliseconds(),
            ["Answered"] = command.Result is not null,
        };
        TableValues.WriteText(row, "Body", command.Body);
        if (command.Result is { } result)
        {
            row["ResultStatus"] = result.Status.ToString();
            row["ResultMessage"] = result.Message;
        }

        return row;
    }

    private static TableEntity AnswerEntity(string partition, string commandId, CommandResult result) =>
        new(partition, CommandKey(commandId))
        {
            ["Answered"] = true,
            ["ResultStatus"] = result.Status.ToString(),
            ["ResultMessage"] = result.Message,
        };

    private static StoredCommand ToCommand(TableEntity row) =>
        new(
            row.GetString("RolloutId") ?? string.Empty,
            row.GetString("CommandId") ?? string.Empty,
            row.GetString("Kind") ?? string.Empty,
            TableValues.ReadText(row, "Body") ?? string.Empty,
            DateTimeOffset.FromUnixTimeMilliseconds(row.GetInt64("ReceivedAtMs") ?? 0),
            row.GetBoolean("Answered") == true
                ? new CommandResult(Enum.Parse<CommandStatus>(row.GetString("ResultStatus") ?? string.Empty), row.GetString("ResultMessage") ?? string.Empty)
                : null);

    // ---- helpers ---------------------------------------------------------------------------------------------

    /// <summary>True when the stored rollout row is at <paramref name="version"/> with the state of <paramref name="written"/>.</summary>
    private async Task<bool> HoldsAsync(string partition, long version, TableEntity written, CancellationToken ct) =>
        await rollouts.GetEntityAsync(partition, RolloutRow, ct) is { } stored && stored.GetInt64("Version") == version && SameState(stored, written);

    private static bool SameState(TableEntity stored, TableEntity written) =>
        TableValues.ReadText(stored, "State") is { } text && text == TableValues.ReadText(written, "State");

    private static bool IsDueAndFree(TableEntity row, long nowMs) =>
        (row.GetInt64("WakeAtMs") ?? Never) <= nowMs && (row.GetInt64("LeaseUntilMs") ?? 0) < nowMs;

    private static bool IsTerminal(string? status) =>
        status is nameof(RolloutStatus.Completed) or nameof(RolloutStatus.RolledBack);
}
