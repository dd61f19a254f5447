using Rollout.Core.Storage;

namespace Rollout.Testing;

/// <summary>
/// Passes every call to a real integration store; a test's fault-injecting store overrides the calls it breaks or counts.
/// (Compiled into the Cli and Functions test projects as well.)
/// </summary>
internal abstract class DelegatingIntegrationStore(IIntegrationStore inner) : IIntegrationStore
{
    public virtual Task InitializeAsync(CancellationToken cancellationToken) => inner.InitializeAsync(cancellationToken);

    public virtual Task<bool> EnqueueAsync(Delivery delivery, CancellationToken cancellationToken) => inner.EnqueueAsync(delivery, cancellationToken);

    public virtual Task<IReadOnlyList<Delivery>> DueAsync(DateTimeOffset now, int max, CancellationToken cancellationToken) => inner.DueAsync(now, max, cancellationToken);

    public virtual Task CompleteAsync(string id, DeliveryStatus status, int attempts, string? error, DateTimeOffset at, CancellationToken cancellationToken) =>
        inner.CompleteAsync(id, status, attempts, error, at, cancellationToken);

    public virtual Task RetryLaterAsync(string id, int attempts, DateTimeOffset nextAttemptAt, string error, CancellationToken cancellationToken) =>
        inner.RetryLaterAsync(id, attempts, nextAttemptAt, error, cancellationToken);

    public virtual Task<IReadOnlyList<Delivery>> ListAsync(string rolloutId, CancellationToken cancellationToken) => inner.ListAsync(rolloutId, cancellationToken);

    public virtual Task<GateWaiter> RegisterAsync(GateWaiter waiter, CancellationToken cancellationToken) => inner.RegisterAsync(waiter, cancellationToken);

    public virtual Task<IReadOnlyList<GateWaiter>> WaitingAsync(CancellationToken cancellationToken) => inner.WaitingAsync(cancellationToken);

    public virtual Task ResolveAsync(string id, string result, DateTimeOffset at, CancellationToken cancellationToken) => inner.ResolveAsync(id, result, at, cancellationToken);

    public virtual Task<bool> TryConsumeAsync(string nonce, string rolloutId, string approver, DateTimeOffset at, CancellationToken cancellationToken) =>
        inner.TryConsumeAsync(nonce, rolloutId, approver, at, cancellationToken);

    public virtual Task<bool> IsConsumedAsync(string nonce, CancellationToken cancellationToken) => inner.IsConsumedAsync(nonce, cancellationToken);

    public virtual Task<PruneResult> PruneAsync(DateTimeOffset completedBefore, DateTimeOffset noncesConsumedBefore, int max, CancellationToken cancellationToken) =>
        inner.PruneAsync(completedBefore, noncesConsumedBefore, max, cancellationToken);
}
