namespace Rollout.Core.Storage;

/// <summary>
/// What the Azure DevOps <c>AzureFunction@1</c> task sends in its default headers in Callback mode: where to post the
/// <c>TaskCompleted</c> event and the job's token to post it with (a secret: never logged).
/// </summary>
public sealed record GateCallback(
    string PlanUrl,
    string ProjectId,
    string HubName,
    string PlanId,
    string JobId,
    string TaskInstanceId,
    string AuthToken,
    string? TimelineId = null)
{
    /// <summary>
    /// The waiter id: a hash of the plan, job and task instance (one task instance waits once, however often its request
    /// is retried), never of the token.
    /// </summary>
    public string WaiterId => "adog-" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(
        System.Text.Encoding.UTF8.GetBytes($"{PlanId.Trim().ToLowerInvariant()}|{JobId.Trim().ToLowerInvariant()}|{TaskInstanceId.Trim().ToLowerInvariant()}")))[..32];

    /// <summary>Hides the token from logs and debugger displays.</summary>
    public override string ToString() => $"GateCallback {{ PlanUrl = {PlanUrl}, ProjectId = {ProjectId}, HubName = {HubName}, PlanId = {PlanId}, JobId = {JobId}, TaskInstanceId = {TaskInstanceId}, AuthToken = *** }}";
}

/// <summary>Where a gate waiter stands.</summary>
public enum GateWaiterStatus
{
    /// <summary>The rollout has not reached the gate's target yet.</summary>
    Waiting,

    /// <summary>The target was reached or missed; the completion event is in the outbox.</summary>
    Resolved,
}

/// <summary>
/// A pipeline job waiting at a gate until the rollout reaches <paramref name="Until"/> (a stage or <c>completed</c>).
/// <paramref name="Id"/> derives from the plan, job and task instance, so a retried registration is the same waiter.
/// </summary>
public sealed record GateWaiter(
    string Id,
    string RolloutId,
    string Until,
    GateCallback Callback,
    DateTimeOffset CreatedAt,
    GateWaiterStatus Status = GateWaiterStatus.Waiting,
    string? Result = null,
    DateTimeOffset? ResolvedAt = null);

/// <summary>The port to durable gate waiters: registered by the callback gate, resolved by the host's delivery loop.</summary>
public interface IGateWaiterStore
{
    /// <summary>Stores a waiter unless one with the same id exists; returns the stored one.</summary>
    Task<GateWaiter> RegisterAsync(GateWaiter waiter, CancellationToken cancellationToken);

    /// <summary>Waiters not resolved yet.</summary>
    Task<IReadOnlyList<GateWaiter>> WaitingAsync(CancellationToken cancellationToken);

    /// <summary>Marks a waiter resolved with <paramref name="result"/> (<c>succeeded</c> or <c>failed</c>).</summary>
    Task ResolveAsync(string id, string result, DateTimeOffset at, CancellationToken cancellationToken);
}

/// <summary>The port to the single-use record of approval links: a nonce is consumed once, ever.</summary>
public interface IApprovalNonceStore
{
    /// <summary>Consumes <paramref name="nonce"/>; false when it was consumed before (a replay).</summary>
    Task<bool> TryConsumeAsync(string nonce, string rolloutId, string approver, DateTimeOffset at, CancellationToken cancellationToken);

    /// <summary>True when <paramref name="nonce"/> was consumed.</summary>
    Task<bool> IsConsumedAsync(string nonce, CancellationToken cancellationToken);
}

/// <summary>What one <see cref="IIntegrationStore.PruneAsync"/> call removed, per kind.</summary>
/// <param name="Deliveries">Delivered, superseded and failed deliveries removed (with their index rows).</param>
/// <param name="GateWaiters">Resolved gate waiters removed.</param>
/// <param name="Nonces">Consumed approval-link nonces removed.</param>
/// <param name="More">
/// True when a kind reached the call's limit: more of it may be prunable, call again.
/// </param>
public readonly record struct PruneResult(int Deliveries, int GateWaiters, int Nonces, bool More = false)
{
    /// <summary>Everything removed.</summary>
    public int Total => Deliveries + GateWaiters + Nonces;
}

/// <summary>
/// The three integration ports in one store, as both hosts keep them (SQLite locally, Table Storage on Azure): the
/// delivery outbox, the gate waiters and the used approval links.
/// </summary>
public interface IIntegrationStore : IDeliveryStore, IGateWaiterStore, IApprovalNonceStore
{
    /// <summary>
    /// Removes what can no longer matter, at most <paramref name="max"/> rows of each kind per call
    /// (<see cref="PruneResult.More"/> says when to call again):
    /// <list type="bullet">
    /// <item>final deliveries (<see cref="DeliveryStatus.Delivered"/>, <see cref="DeliveryStatus.Superseded"/>,
    /// <see cref="DeliveryStatus.Failed"/>) whose <see cref="Delivery.CompletedAt"/> is before
    /// <paramref name="completedBefore"/>, with whatever indexes them; a pending delivery is never removed;</item>
    /// <item><see cref="GateWaiterStatus.Resolved"/> gate waiters whose <see cref="GateWaiter.ResolvedAt"/> is before
    /// <paramref name="completedBefore"/>; a waiting one is never removed;</item>
    /// <item>approval-link nonces consumed before <paramref name="noncesConsumedBefore"/>.</item>
    /// </list>
    /// A row changed while it is pruned stays (the change wins). The ids removed are forgotten: enqueueing, registering
    /// or consuming one of them again later is new (true, a new waiter, true), which is why hosts prune only what is
    /// old enough never to be composed again (see the hosts' retention, <c>Outbox:RetentionDays</c>).
    /// </summary>
    /// <remarks>
    /// <paramref name="noncesConsumedBefore"/> must be at least the approval links' lifetime
    /// (<c>Approvals:LinkLifetime</c>) before now: a link expires that long after it was issued, and its nonce is
    /// consumed after it was issued, so a nonce consumed more than a lifetime ago can only belong to an expired link,
    /// which is refused as expired before its nonce is looked at. A younger nonce must stay, or its link could be
    /// used twice.
    /// <para>One operation for the three ports rather than one per port: hosts run it as one maintenance step over the
    /// one store they keep, with one retention for deliveries and waiters.</para>
    /// </remarks>
    /// <param name="completedBefore">Deliveries completed and waiters resolved before this instant go.</param>
    /// <param name="noncesConsumedBefore">Nonces consumed before this instant go (at least a link lifetime ago).</param>
    /// <param name="max">The most rows of each kind to remove in this call.</param>
    /// <param name="cancellationToken">Stops between rows; what was removed stays removed.</param>
    /// <returns>How many of each kind were removed, and whether to call again.</returns>
    Task<PruneResult> PruneAsync(DateTimeOffset completedBefore, DateTimeOffset noncesConsumedBefore, int max, CancellationToken cancellationToken);
}
