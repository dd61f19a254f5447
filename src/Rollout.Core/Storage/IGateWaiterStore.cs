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

/// <summary>
/// The three integration ports in one store, as both hosts keep them (SQLite locally, Table Storage on Azure): the
/// delivery outbox, the gate waiters and the used approval links.
/// </summary>
public interface IIntegrationStore : IDeliveryStore, IGateWaiterStore, IApprovalNonceStore;
