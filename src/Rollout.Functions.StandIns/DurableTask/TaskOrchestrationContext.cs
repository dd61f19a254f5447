// Stand-in for Microsoft.DurableTask.TaskOrchestrationContext (package Microsoft.DurableTask.Abstractions).
// Every member that is abstract in the published class is abstract here, so a test can subclass it; the two
// convenience overloads keep the published one-line delegation because the app calls them.
using Microsoft.Extensions.Logging;

namespace Microsoft.DurableTask;

/// <summary>The orchestrator's view of the durable runtime: inputs, activities, timers, external events.</summary>
public abstract class TaskOrchestrationContext
{
    /// <summary>The orchestration's name.</summary>
    public abstract TaskName Name { get; }

    /// <summary>The instance id.</summary>
    public abstract string InstanceId { get; }

    /// <summary>The parent orchestration, or null.</summary>
    public abstract ParentOrchestrationInstance? Parent { get; }

    /// <summary>The replay-safe current time in UTC.</summary>
    public abstract DateTime CurrentUtcDateTime { get; }

    /// <summary>True while the orchestrator replays recorded history.</summary>
    public abstract bool IsReplaying { get; }

    /// <summary>The orchestration's version.</summary>
    public virtual string Version => string.Empty;

    /// <summary>Properties of the orchestration.</summary>
    public virtual IReadOnlyDictionary<string, object?> Properties => throw new NotSupportedException("stand-in");

    /// <summary>The logger factory of the context.</summary>
    protected abstract ILoggerFactory LoggerFactory { get; }

    /// <summary>The deserialized input.</summary>
    public abstract T? GetInput<T>();

    /// <summary>Calls an activity and waits for it to complete.</summary>
    public virtual Task CallActivityAsync(TaskName name, object? input = null, TaskOptions? options = null)
        => this.CallActivityAsync<object>(name, input, options);

    /// <summary>Calls an activity and returns its result.</summary>
    public abstract Task<TResult> CallActivityAsync<TResult>(TaskName name, object? input = null, TaskOptions? options = null);

    /// <summary>A durable timer that fires at <paramref name="fireAt"/>.</summary>
    public abstract Task CreateTimer(DateTime fireAt, CancellationToken cancellationToken);

    /// <summary>Waits for an external event (names are case-insensitive; events that arrive earlier are buffered).</summary>
    public abstract Task<T> WaitForExternalEvent<T>(string eventName, CancellationToken cancellationToken = default);

    /// <summary>Raises an event on another orchestration.</summary>
    public abstract void SendEvent(string instanceId, string eventName, object payload);

    /// <summary>Sets the custom status visible to status queries.</summary>
    public abstract void SetCustomStatus(object? customStatus);

    /// <summary>Runs a sub-orchestration and returns its output.</summary>
    public abstract Task<TResult> CallSubOrchestratorAsync<TResult>(TaskName orchestratorName, object? input = null, TaskOptions? options = null);

    /// <summary>Restarts the orchestration with a new input and an empty history.</summary>
    public abstract void ContinueAsNew(object? newInput = null, bool preserveUnprocessedEvents = true);

    /// <summary>A replay-safe GUID.</summary>
    public abstract Guid NewGuid();
}
