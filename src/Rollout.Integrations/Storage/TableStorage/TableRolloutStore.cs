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
/// <para>Lists, due rollouts, pending commands and lease owners scan the rollouts table with a filter (no secondary
/// indexes in Table Storage): slower with many rollouts, but each is one paged query.</para>
/// </remarks>
public sealed class TableRolloutStore : IRolloutStore
{
    /// <summary>How long a flag lock whose rollout does not exist is respected before it is taken as left by a crash.</summary>
    public static readonly TimeSpan OrphanLockAge = TimeSpan.FromMinutes(2);

    private const string RolloutRow = "rollout";
    private const string AuditPrefix = "audit|";
    private const string CommandPrefix = "command|";
    private const string PrefixEnd = "}"; // sorts right after '|', so "audit|" <= key < "audit}" is every audit row
    private const string LockRow = "lock";
    private const long Never = long.MaxValue;
    private const int MaxAttempts = 10;

    private readonly TableRestClient rollouts;
    private readonly TableRestClient flags;
    private readonly TimeProvider time;

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
        try
        {
            await rollouts.SubmitTransactionAsync(actions, cancellationToken);
        }
        catch (TableTransactionFailedException ex)
        {
            if (ex.Status == 409 && await HoldsAsync(partition, 1, row, cancellationToken))
            {
                return; // Azure.Core retried a transaction whose answer was lost: the first try wrote exactly this.
            }

            // The service refused the transaction, so nothing of it was written: give the flag back.
            if (lockTaken)
            {
                await ReleaseFlagAsync(state.Plan.Flag, state.Id, cancellationToken);
            }

            if (ex.Status == 409)
            {
                throw new InvalidOperationException($"rollout '{state.Id}' already exists", ex);
            }

            throw;
        }
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

        for (var attempt = 1; ; attempt++)
        {
            var current = await rollouts.GetEntityAsync(partition, RolloutRow, cancellationToken);
            if (current is null || current.GetInt64("Version") != checkpoint.ExpectedVersion)
            {
                return false;
            }

            var (leaseOwner, leaseUntil) = checkpoint.ReleaseLease
                ? (string.Empty, 0L)
                : (current.GetString("LeaseOwner") ?? string.Empty, current.GetInt64("LeaseUntilMs") ?? 0L);
            var row = RolloutEntity(state, checkpoint.ExpectedVersion + 1, leaseOwner, leaseUntil);
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
                    throw new InvalidOperationException(
                        $"rollout '{state.Id}' already has audit entries {string.Join(", ", repeated)}; the audit log is append-only, so the checkpoint wrote nothing", ex);
                }

                if (attempt >= MaxAttempts)
                {
                    throw new InvalidOperationException($"the checkpoint of rollout '{state.Id}' kept conflicting", ex);
                }

                continue;
            }

            break;
        }

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
        var nowMs = now.ToUnixTimeMilliseconds();
        var filter = $"RowKey eq '{RolloutRow}' and WakeAtMs le {TableRestClient.Int64Literal(nowMs)} and LeaseUntilMs lt {TableRestClient.Int64Literal(nowMs)}";
        var candidates = (await rollouts.QueryListAsync(filter, ["PartitionKey", "RowKey", "RolloutId", "WakeAtMs", "LeaseUntilMs"], cancellationToken))
            .OrderBy(r => r.GetInt64("WakeAtMs"))
            .ThenBy(r => r.GetString("RolloutId"), StringComparer.Ordinal);
        var claimed = new List<string>();
        foreach (var candidate in candidates)
        {
            if (claimed.Count >= max)
            {
                break;
            }

            var row = candidate;
            for (var attempt = 1; attempt <= 3 && row is not null && IsDueAndFree(row, nowMs); attempt++)
            {
                try
                {
                    // Merge with If-Match: of two owners racing for the row, the second gets 412.
                    await rollouts.UpdateEntityAsync(LeaseEntity(row.PartitionKey, owner, leaseUntil.ToUnixTimeMilliseconds()), row.RequireETag(), TableUpdateMode.Merge, cancellationToken);
                    claimed.Add(row.GetString("RolloutId")!);
                    break;
                }
                catch (RequestFailedException ex) when (ex.Status is 412 or 404)
                {
                    row = await rollouts.GetEntityAsync(row.PartitionKey, RolloutRow, cancellationToken);
                }
            }
        }

        return claimed;
    }

    /// <inheritdoc/>
    public async Task ReleaseAsync(string id, string owner, CancellationToken cancellationToken)
    {
        var partition = TableValues.Key(id);
        for (var attempt = 1; attempt <= MaxAttempts; attempt++)
        {
            var row = await rollouts.GetEntityAsync(partition, RolloutRow, cancellationToken);
            if (row is null || row.GetString("LeaseOwner") != owner)
            {
                return;
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
