namespace Rollout.Core.Engine;

/// <summary>Something that moves a rollout: a due timer, an evaluation's result or a command.</summary>
public abstract record RolloutInput;

/// <summary>A timer fired; the engine decides whether an evaluation is due.</summary>
public sealed record Tick : RolloutInput;

/// <summary>The criteria were read and judged for a stage.</summary>
public sealed record EvaluationCompleted(Gates.Evaluation Evaluation) : RolloutInput;

/// <summary>
/// The host applied the exposure of stage <paramref name="StageIndex"/> (null: nobody, after a rollback) to the plan's
/// external target. Until the current stage's exposure is confirmed, the engine does not promote: no stage is left
/// before its audience really had the feature, and no later stage is reached past an exposure that was not applied.
/// </summary>
/// <param name="StageIndex">The stage whose exposure was applied, or null for none.</param>
/// <param name="Target">The target type that confirmed it (recorded in the audit log).</param>
public sealed record ExposureConfirmed(int? StageIndex, string Target) : RolloutInput;

/// <summary>A command from a person or a system; <see cref="CommandId"/> makes retries idempotent.</summary>
public abstract record RolloutCommand(string Actor, string? CommandId) : RolloutInput
{
    /// <summary>The command's name as used by the API and the audit log (pause, resume, ...).</summary>
    public abstract string Kind { get; }
}

/// <summary>Hold exposure and stop promoting.</summary>
public sealed record PauseCommand(string Actor, string Reason, string? CommandId = null) : RolloutCommand(Actor, CommandId)
{
    /// <inheritdoc/>
    public override string Kind => "pause";
}

/// <summary>Return a paused rollout to running.</summary>
public sealed record ResumeCommand(string Actor, string? Reason = null, string? CommandId = null) : RolloutCommand(Actor, CommandId)
{
    /// <inheritdoc/>
    public override string Kind => "resume";
}

/// <summary>Set exposure to nothing and end the rollout.</summary>
public sealed record RollbackCommand(string Actor, string Reason, string? CommandId = null) : RolloutCommand(Actor, CommandId)
{
    /// <inheritdoc/>
    public override string Kind => "rollback";
}

/// <summary>Sign off the current stage; <see cref="RolloutCommand.Actor"/> is the approver.</summary>
public sealed record ApproveCommand(string Actor, string? Comment = null, string? CommandId = null) : RolloutCommand(Actor, CommandId)
{
    /// <inheritdoc/>
    public override string Kind => "approve";
}

/// <summary>A stop signal such as <c>critical-issue</c>; the plan's <c>stopOn</c> says what it does.</summary>
public sealed record SignalCommand(string Signal, string Source, string? Message = null, string? CommandId = null) : RolloutCommand(Source, CommandId)
{
    /// <inheritdoc/>
    public override string Kind => "signal";
}

/// <summary>How a command was taken.</summary>
public enum CommandStatus
{
    /// <summary>Applied (or already in the state it asks for).</summary>
    Accepted,

    /// <summary>A retry of a command already applied; nothing changed.</summary>
    Duplicate,

    /// <summary>The actor may not do this (e.g. not an approver of the stage).</summary>
    Forbidden,

    /// <summary>The rollout is not in a state that allows this (e.g. finished).</summary>
    Conflict,
}

/// <summary>The answer to a command, with a message a person can read.</summary>
public sealed record CommandResult(CommandStatus Status, string Message)
{
    /// <summary>True when the command took effect or already had.</summary>
    public bool Succeeded => Status is CommandStatus.Accepted or CommandStatus.Duplicate;
}
