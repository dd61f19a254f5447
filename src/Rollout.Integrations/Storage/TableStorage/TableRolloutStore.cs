using System.Collections.Immutable;
using Azure.Core;
using Azure.Core.Pipeline;
using Rollout.Core.Engine;
using Rollout.Core.Storage;

namespace Rollout.Integrations.Storage.TableStorage;

/// <summary>
/// PLACEHOLDER (drop at merge): the Azure Table Storage store is written on another branch with exactly this
/// public API. This stand-in only lets the Functions app compile; every member throws.
/// </summary>
public sealed class TableRolloutStore : IRolloutStore
{
    /// <summary>Creates a store over the tables of a storage account reached with a credential (managed identity).</summary>
    public TableRolloutStore(Uri tableEndpoint, TokenCredential credential, string tablePrefix = "rollout", HttpPipelineTransport? transport = null) =>
        throw new NotImplementedException("placeholder: TableRolloutStore is implemented on the table-storage branch");

    /// <summary>Creates a store from a connection string (Azurite, or a key-based account).</summary>
    public static TableRolloutStore FromConnectionString(string connectionString, string tablePrefix = "rollout", HttpPipelineTransport? transport = null) =>
        throw new NotImplementedException("placeholder: TableRolloutStore is implemented on the table-storage branch");

    /// <inheritdoc/>
    public Task InitializeAsync(CancellationToken cancellationToken) => throw new NotImplementedException();

    /// <inheritdoc/>
    public Task CreateAsync(RolloutState state, ImmutableArray<AuditEvent> audit, CancellationToken cancellationToken) => throw new NotImplementedException();

    /// <inheritdoc/>
    public Task<StoredRollout?> GetAsync(string id, CancellationToken cancellationToken) => throw new NotImplementedException();

    /// <inheritdoc/>
    public Task<IReadOnlyList<StoredRollout>> ListAsync(RolloutStatus? status, int limit, CancellationToken cancellationToken) => throw new NotImplementedException();

    /// <inheritdoc/>
    public Task<IReadOnlyList<StoredRollout>> ListChangedSinceAsync(DateTimeOffset since, CancellationToken cancellationToken) => throw new NotImplementedException();

    /// <inheritdoc/>
    public Task<bool> SaveAsync(Checkpoint checkpoint, CancellationToken cancellationToken) => throw new NotImplementedException();

    /// <inheritdoc/>
    public Task<IReadOnlyList<AuditEvent>> GetAuditAsync(string id, long afterSeq, CancellationToken cancellationToken) => throw new NotImplementedException();

    /// <inheritdoc/>
    public Task<StoredCommand> AcceptCommandAsync(StoredCommand command, CancellationToken cancellationToken) => throw new NotImplementedException();

    /// <inheritdoc/>
    public Task AnswerCommandAsync(StoredCommand command, CancellationToken cancellationToken) => throw new NotImplementedException();

    /// <inheritdoc/>
    public Task<IReadOnlyList<StoredCommand>> PendingCommandsAsync(DateTimeOffset receivedBefore, CancellationToken cancellationToken) => throw new NotImplementedException();

    /// <inheritdoc/>
    public Task<StoredCommand?> GetCommandAsync(string rolloutId, string commandId, CancellationToken cancellationToken) => throw new NotImplementedException();

    /// <inheritdoc/>
    public Task<IReadOnlyList<string>> ClaimDueAsync(string owner, DateTimeOffset now, DateTimeOffset leaseUntil, int max, CancellationToken cancellationToken) => throw new NotImplementedException();

    /// <inheritdoc/>
    public Task ReleaseAsync(string id, string owner, CancellationToken cancellationToken) => throw new NotImplementedException();

    /// <inheritdoc/>
    public Task<IReadOnlyList<string>> LeaseOwnersAsync(CancellationToken cancellationToken) => throw new NotImplementedException();

    /// <inheritdoc/>
    public Task ReleaseAllAsync(string owner, CancellationToken cancellationToken) => throw new NotImplementedException();
}
