namespace Rollout.Core.Storage;

/// <summary>What an outbox delivery carries.</summary>
public enum DeliveryKind
{
    /// <summary>A message to a notification channel (a Teams Workflows webhook).</summary>
    Notification,

    /// <summary>A stage's exposure written to an external target (webhook, App Configuration).</summary>
    Exposure,

    /// <summary>The completion event of an Azure DevOps callback gate.</summary>
    GateCallback,
}

/// <summary>Where a delivery stands.</summary>
public enum DeliveryStatus
{
    /// <summary>Not delivered yet; tried again at <see cref="Delivery.NextAttemptAt"/>.</summary>
    Pending,

    /// <summary>The peer accepted it.</summary>
    Delivered,

    /// <summary>A later delivery of the same thing made it pointless (e.g. a rollback's exposure after a stage's).</summary>
    Superseded,

    /// <summary>Given up after the kind's attempt limit, or refused for good (e.g. a channel no longer configured).</summary>
    Failed,
}

/// <summary>
/// One durable delivery to a peer. <see cref="Id"/> is the dedupe key: enqueueing the same id twice keeps one delivery.
/// <see cref="Payload"/> is what the adapter needs (it may hold a secret such as a gate's AuthToken: never logged, never
/// returned by the API).
/// </summary>
public sealed record Delivery(
    string Id,
    DeliveryKind Kind,
    string RolloutId,
    string Target,
    string Payload,
    DateTimeOffset CreatedAt,
    DateTimeOffset NextAttemptAt,
    int Attempts = 0,
    DeliveryStatus Status = DeliveryStatus.Pending,
    string? LastError = null,
    DateTimeOffset? CompletedAt = null);

/// <summary>The outbox port: deliveries that must reach a peer at least once, retried with backoff, surviving restarts.</summary>
public interface IDeliveryStore
{
    /// <summary>Creates the schema if needed.</summary>
    Task InitializeAsync(CancellationToken cancellationToken);

    /// <summary>Stores a delivery unless one with the same id exists; true when it was new.</summary>
    Task<bool> EnqueueAsync(Delivery delivery, CancellationToken cancellationToken);

    /// <summary>Pending deliveries due at <paramref name="now"/>, oldest first.</summary>
    Task<IReadOnlyList<Delivery>> DueAsync(DateTimeOffset now, int max, CancellationToken cancellationToken);

    /// <summary>Records a final status (delivered, superseded or failed).</summary>
    Task CompleteAsync(string id, DeliveryStatus status, int attempts, string? error, DateTimeOffset at, CancellationToken cancellationToken);

    /// <summary>Records a failed attempt and when to try again.</summary>
    Task RetryLaterAsync(string id, int attempts, DateTimeOffset nextAttemptAt, string error, CancellationToken cancellationToken);

    /// <summary>Every delivery of a rollout, oldest first.</summary>
    Task<IReadOnlyList<Delivery>> ListAsync(string rolloutId, CancellationToken cancellationToken);
}
