// Stand-ins for Microsoft.DurableTask.TaskOptions, StartOrchestrationOptions, TaskRetryOptions, RetryPolicy and
// ParentOrchestrationInstance (package Microsoft.DurableTask.Abstractions). They only carry their data.
namespace Microsoft.DurableTask;

/// <summary>Options of a task call: its retry policy.</summary>
public record TaskOptions
{
    /// <summary>With retry options.</summary>
    public TaskOptions(TaskRetryOptions? retry) => Retry = retry;

    /// <summary>With retry options and tags.</summary>
    public TaskOptions(TaskRetryOptions? retry = null, IDictionary<string, string>? tags = null)
    {
        Retry = retry;
        Tags = tags;
    }

    /// <summary>The retry options.</summary>
    public TaskRetryOptions? Retry { get; init; }

    /// <summary>The tags.</summary>
    public IDictionary<string, string>? Tags { get; init; }

    /// <summary>Options retrying by <paramref name="policy"/>.</summary>
    public static TaskOptions FromRetryPolicy(RetryPolicy policy) => new(policy);
}

/// <summary>Options of a new orchestration started by a client.</summary>
/// <param name="InstanceId">The instance id; a new GUID when null.</param>
/// <param name="StartAt">When to start; now when null.</param>
public record StartOrchestrationOptions(string? InstanceId = null, DateTimeOffset? StartAt = null);

/// <summary>How a task is retried.</summary>
public sealed class TaskRetryOptions
{
    /// <summary>Declarative retries.</summary>
    public TaskRetryOptions(RetryPolicy policy) => Policy = policy;

    /// <summary>The policy.</summary>
    public RetryPolicy? Policy { get; }

    /// <summary>A policy as retry options.</summary>
    public static implicit operator TaskRetryOptions(RetryPolicy policy) => FromRetryPolicy(policy);

    /// <summary>A policy as retry options.</summary>
    public static TaskRetryOptions FromRetryPolicy(RetryPolicy policy) => new(policy);
}

/// <summary>A declarative retry policy for activity calls.</summary>
public class RetryPolicy
{
    /// <summary>Attempts, first delay, back-off, longest delay, overall timeout.</summary>
    public RetryPolicy(int maxNumberOfAttempts, TimeSpan firstRetryInterval, double backoffCoefficient = 1.0, TimeSpan? maxRetryInterval = null, TimeSpan? retryTimeout = null)
    {
        MaxNumberOfAttempts = maxNumberOfAttempts;
        FirstRetryInterval = firstRetryInterval;
        BackoffCoefficient = backoffCoefficient;
        MaxRetryInterval = maxRetryInterval ?? TimeSpan.FromHours(1);
        RetryTimeout = retryTimeout ?? Timeout.InfiniteTimeSpan;
    }

    /// <summary>How many attempts in all.</summary>
    public int MaxNumberOfAttempts { get; }

    /// <summary>The delay before the second attempt.</summary>
    public TimeSpan FirstRetryInterval { get; }

    /// <summary>The back-off multiplier.</summary>
    public double BackoffCoefficient { get; }

    /// <summary>The longest delay between attempts.</summary>
    public TimeSpan MaxRetryInterval { get; }

    /// <summary>The overall timeout.</summary>
    public TimeSpan RetryTimeout { get; }
}

/// <summary>The parent of a sub-orchestration.</summary>
/// <param name="Name">The parent's name.</param>
/// <param name="InstanceId">The parent's instance id.</param>
public record ParentOrchestrationInstance(TaskName Name, string InstanceId);
