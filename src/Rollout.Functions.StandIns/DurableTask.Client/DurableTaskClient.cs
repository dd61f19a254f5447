// Stand-ins for Microsoft.DurableTask.Client.DurableTaskClient, OrchestrationMetadata, OrchestrationRuntimeStatus and
// OrchestrationQuery (package Microsoft.DurableTask.Client). Every member abstract in the published client is abstract
// here, so a test can subclass it; GetInstanceAsync keeps its published delegation to GetInstancesAsync.
namespace Microsoft.DurableTask.Client;

/// <summary>Starts, queries and raises events to orchestration instances.</summary>
public abstract class DurableTaskClient : IAsyncDisposable
{
    /// <summary>A client with a name.</summary>
    protected DurableTaskClient(string name) => Name = name;

    /// <summary>The client's name.</summary>
    public string Name { get; }

    /// <summary>Schedules a new orchestration instance; returns its id.</summary>
    public abstract Task<string> ScheduleNewOrchestrationInstanceAsync(TaskName orchestratorName, object? input = null, StartOrchestrationOptions? options = null, CancellationToken cancellation = default);

    /// <summary>Raises an external event on an instance (dropped when the instance is finished or missing).</summary>
    public abstract Task RaiseEventAsync(string instanceId, string eventName, object? eventPayload = null, CancellationToken cancellation = default);

    /// <summary>Waits for an instance to start.</summary>
    public abstract Task<OrchestrationMetadata> WaitForInstanceStartAsync(string instanceId, bool getInputsAndOutputs = false, CancellationToken cancellation = default);

    /// <summary>Waits for an instance to finish.</summary>
    public abstract Task<OrchestrationMetadata> WaitForInstanceCompletionAsync(string instanceId, bool getInputsAndOutputs = false, CancellationToken cancellation = default);

    /// <summary>Suspends an instance.</summary>
    public abstract Task SuspendInstanceAsync(string instanceId, string? reason = null, CancellationToken cancellation = default);

    /// <summary>Resumes a suspended instance.</summary>
    public abstract Task ResumeInstanceAsync(string instanceId, string? reason = null, CancellationToken cancellation = default);

    /// <summary>Reads an instance's metadata, or null when there is no such instance.</summary>
    public virtual Task<OrchestrationMetadata?> GetInstanceAsync(string instanceId, bool getInputsAndOutputs = false, CancellationToken cancellation = default)
        => this.GetInstancesAsync(instanceId, getInputsAndOutputs, cancellation);

    /// <summary>Reads an instance's metadata (the published name of the abstract member).</summary>
    public abstract Task<OrchestrationMetadata?> GetInstancesAsync(string instanceId, bool getInputsAndOutputs = false, CancellationToken cancellation = default);

    /// <summary>Queries instances.</summary>
    public abstract AsyncPageable<OrchestrationMetadata> GetAllInstancesAsync(OrchestrationQuery? filter = null);

    /// <inheritdoc/>
    public abstract ValueTask DisposeAsync();
}

/// <summary>A snapshot of an orchestration instance.</summary>
public sealed class OrchestrationMetadata
{
    /// <summary>The metadata of an instance.</summary>
    public OrchestrationMetadata(string name, string instanceId)
    {
        Name = name;
        InstanceId = instanceId;
    }

    /// <summary>The orchestration's name.</summary>
    public string Name { get; }

    /// <summary>The instance id.</summary>
    public string InstanceId { get; }

    /// <summary>The runtime status.</summary>
    public OrchestrationRuntimeStatus RuntimeStatus { get; init; }

    /// <summary>When it was created.</summary>
    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>When it last changed.</summary>
    public DateTimeOffset LastUpdatedAt { get; init; }

    /// <summary>The serialized custom status, when requested.</summary>
    public string? SerializedCustomStatus { get; init; }

    /// <summary>True when Running.</summary>
    public bool IsRunning => RuntimeStatus == OrchestrationRuntimeStatus.Running;

    /// <summary>True when Completed, Failed or Terminated.</summary>
    public bool IsCompleted => RuntimeStatus is OrchestrationRuntimeStatus.Completed or OrchestrationRuntimeStatus.Failed or OrchestrationRuntimeStatus.Terminated;
}

/// <summary>The runtime status of an orchestration instance.</summary>
public enum OrchestrationRuntimeStatus
{
    /// <summary>Running.</summary>
    Running,

    /// <summary>Completed normally.</summary>
    Completed,

    /// <summary>Obsolete.</summary>
    [Obsolete("The ContinuedAsNew status is obsolete and exists only for compatibility reasons.")]
    ContinuedAsNew,

    /// <summary>Failed with an unhandled exception.</summary>
    Failed,

    /// <summary>Obsolete.</summary>
    [Obsolete("The Canceled status is not currently used and exists only for compatibility reasons.")]
    Canceled,

    /// <summary>Terminated through the management API.</summary>
    Terminated,

    /// <summary>Scheduled, not yet running.</summary>
    Pending,

    /// <summary>Suspended.</summary>
    Suspended,
}

/// <summary>A filter for querying instances.</summary>
/// <param name="CreatedFrom">Created at or after.</param>
/// <param name="CreatedTo">Created at or before.</param>
/// <param name="Statuses">Runtime statuses.</param>
/// <param name="TaskHubNames">Task hubs.</param>
/// <param name="InstanceIdPrefix">Instance id prefix.</param>
/// <param name="PageSize">Page size.</param>
/// <param name="FetchInputsAndOutputs">Whether to fetch inputs and outputs.</param>
/// <param name="ContinuationToken">Where to continue.</param>
public record OrchestrationQuery(
    DateTimeOffset? CreatedFrom = null,
    DateTimeOffset? CreatedTo = null,
    IEnumerable<OrchestrationRuntimeStatus>? Statuses = null,
    IEnumerable<string>? TaskHubNames = null,
    string? InstanceIdPrefix = null,
    int PageSize = 100,
    bool FetchInputsAndOutputs = false,
    string? ContinuationToken = null);
