using System.Collections.Immutable;
using Rollout.Core.Engine;

namespace Rollout.Core.Storage;

/// <summary>A rollout as stored, with the version used for optimistic concurrency.</summary>
public sealed record StoredRollout(RolloutState State, long Version);

/// <summary>A command as received, before or after it was applied.</summary>
public sealed record StoredCommand(
    string RolloutId,
    string CommandId,
    string Kind,
    string Body,
    DateTimeOffset ReceivedAt,
    CommandResult? Result);

/// <summary>What a checkpoint writes, atomically: the new state, its audit entries and the command it answers.</summary>
public sealed record Checkpoint(
    RolloutState State,
    long ExpectedVersion,
    ImmutableArray<AuditEvent> Audit,
    StoredCommand? AnsweredCommand,
    bool ReleaseLease);

/// <summary>Thrown when a rollout is created for a flag that already has an unfinished rollout.</summary>
public sealed class FlagBusyException(string flag, string activeRolloutId)
    : InvalidOperationException($"flag '{flag}' already has an unfinished rollout '{activeRolloutId}'; finish or roll it back first")
{
    /// <summary>The flag.</summary>
    public string Flag { get; } = flag;

    /// <summary>The unfinished rollout holding the flag.</summary>
    public string ActiveRolloutId { get; } = activeRolloutId;
}

/// <summary>
/// The port to rollout storage: states, append-only audit logs, received commands, and the leases the
/// scheduler claims due rollouts with. Implementations: SQLite (local host), Azure Table Storage.
/// </summary>
public interface IRolloutStore
{
    /// <summary>Creates the schema if needed.</summary>
    Task InitializeAsync(CancellationToken cancellationToken);

    /// <summary>Stores a new rollout with its first audit entries; throws <see cref="FlagBusyException"/> when the flag is taken.</summary>
    Task CreateAsync(RolloutState state, ImmutableArray<AuditEvent> audit, CancellationToken cancellationToken);

    /// <summary>Reads one rollout, or null.</summary>
    Task<StoredRollout?> GetAsync(string id, CancellationToken cancellationToken);

    /// <summary>The stored version of one rollout, or null; a store overrides this to answer without reading the state.</summary>
    async Task<long?> GetVersionAsync(string id, CancellationToken cancellationToken) => (await GetAsync(id, cancellationToken))?.Version;

    /// <summary>Lists rollouts, newest first, optionally only those with <paramref name="status"/>.</summary>
    Task<IReadOnlyList<StoredRollout>> ListAsync(RolloutStatus? status, int limit, CancellationToken cancellationToken);

    /// <summary>Lists rollouts changed at or after <paramref name="since"/> (to refresh caches).</summary>
    Task<IReadOnlyList<StoredRollout>> ListChangedSinceAsync(DateTimeOffset since, CancellationToken cancellationToken);

    /// <summary>
    /// Like <see cref="ListChangedSinceAsync(DateTimeOffset, CancellationToken)"/>, leaving out rollouts whose stored version
    /// is at most the one <paramref name="knownVersions"/> gives for them (the caller has that state already, or a newer
    /// one; <see cref="long.MaxValue"/> means "never again"). A store that can compare versions without reading states
    /// overrides this so that a cache refresh reads only what it lacks.
    /// </summary>
    async Task<IReadOnlyList<StoredRollout>> ListChangedSinceAsync(DateTimeOffset since, IReadOnlyDictionary<string, long> knownVersions, CancellationToken cancellationToken) =>
        [.. (await ListChangedSinceAsync(since, cancellationToken)).Where(r => !knownVersions.TryGetValue(r.State.Id, out var known) || known < r.Version)];

    /// <summary>
    /// Writes a checkpoint if the stored version still equals <see cref="Checkpoint.ExpectedVersion"/>;
    /// returns false (writing nothing) when someone else wrote first.
    /// </summary>
    Task<bool> SaveAsync(Checkpoint checkpoint, CancellationToken cancellationToken);

    /// <summary>The audit log of a rollout in sequence order.</summary>
    Task<IReadOnlyList<AuditEvent>> GetAuditAsync(string id, long afterSeq, CancellationToken cancellationToken);

    /// <summary>Records a command as received; returns the stored one when the same id was received before.</summary>
    Task<StoredCommand> AcceptCommandAsync(StoredCommand command, CancellationToken cancellationToken);

    /// <summary>Records the answer to a command that changed no state (refused or a no-op).</summary>
    Task AnswerCommandAsync(StoredCommand command, CancellationToken cancellationToken);

    /// <summary>Commands received before <paramref name="receivedBefore"/> and not yet answered.</summary>
    Task<IReadOnlyList<StoredCommand>> PendingCommandsAsync(DateTimeOffset receivedBefore, CancellationToken cancellationToken);

    /// <summary>Reads one command, or null.</summary>
    Task<StoredCommand?> GetCommandAsync(string rolloutId, string commandId, CancellationToken cancellationToken);

    /// <summary>
    /// Claims up to <paramref name="max"/> rollouts whose wake-up is due and whose lease is free, leasing them
    /// to <paramref name="owner"/> until <paramref name="leaseUntil"/>.
    /// </summary>
    Task<IReadOnlyList<string>> ClaimDueAsync(string owner, DateTimeOffset now, DateTimeOffset leaseUntil, int max, CancellationToken cancellationToken);

    /// <summary>Releases a lease without changing the rollout.</summary>
    Task ReleaseAsync(string id, string owner, CancellationToken cancellationToken);

    /// <summary>The owners currently holding leases (to find those of processes that died).</summary>
    Task<IReadOnlyList<string>> LeaseOwnersAsync(CancellationToken cancellationToken);

    /// <summary>Releases every lease held by <paramref name="owner"/>.</summary>
    Task ReleaseAllAsync(string owner, CancellationToken cancellationToken);
}
