// Stand-ins for Microsoft.DurableTask.TaskFailedException and TaskFailureDetails (package Microsoft.DurableTask.Abstractions).
namespace Microsoft.DurableTask;

/// <summary>Thrown into the orchestrator when an activity failed (after its retries).</summary>
public sealed class TaskFailedException : Exception
{
    /// <summary>A failed task with its failure details.</summary>
    public TaskFailedException(string taskName, int taskId, TaskFailureDetails failureDetails)
        : base($"Task '{taskName}' (#{taskId}) failed with an unhandled exception: {failureDetails?.ErrorMessage}")
    {
        TaskName = taskName;
        TaskId = taskId;
        FailureDetails = failureDetails!;
    }

    /// <summary>The task's name.</summary>
    public string TaskName { get; }

    /// <summary>The task's id within the orchestration.</summary>
    public int TaskId { get; }

    /// <summary>What failed.</summary>
    public TaskFailureDetails FailureDetails { get; }
}

/// <summary>The details of a task failure.</summary>
/// <param name="ErrorType">The exception type's full name.</param>
/// <param name="ErrorMessage">The message.</param>
/// <param name="StackTrace">The stack trace.</param>
/// <param name="InnerFailure">The inner failure.</param>
/// <param name="Properties">Extra properties.</param>
public record TaskFailureDetails(string ErrorType, string ErrorMessage, string? StackTrace, TaskFailureDetails? InnerFailure, IDictionary<string, object?>? Properties);
