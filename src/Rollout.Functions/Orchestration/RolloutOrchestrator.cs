using System.Collections.Frozen;
using System.Collections.Immutable;
using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask;
using Microsoft.Extensions.Logging;
using Rollout.Core.Api;
using Rollout.Core.Engine;
using Rollout.Core.Gates;
using Rollout.Core.Storage;

namespace Rollout.Functions.Orchestration;

/// <summary>
/// One Durable orchestration per rollout (instance id = rollout id). A generation runs at most one Core step: it
/// waits for the rollout's next wake-up or a command, applies that one input with <see cref="RolloutMachine.Step"/>,
/// checkpoints the result (<see cref="RolloutActivities.AppendAudit"/>), runs the step's effects as activities and
/// continues as new with the new state, so the history stays bounded however long the rollout lasts.
/// Deterministic: time comes only from <see cref="TaskOrchestrationContext.CurrentUtcDateTime"/>; all I/O is in activities.
/// </summary>
public sealed class RolloutOrchestrator(ILogger<RolloutOrchestrator> log)
{
    /// <summary>The name of the external event that carries every command (<see cref="CommandEnvelope"/>).</summary>
    public const string CommandEvent = "command";

    /// <summary>How long the orchestrator backs off when a checkpoint or an exposure could not be written.</summary>
    public static readonly TimeSpan RetryDelay = TimeSpan.FromMinutes(1);

    // Audit entries that people are told about; evaluations and exposure changes stay in the audit log only.
    private static readonly FrozenSet<AuditType> Notable = new[]
    {
        AuditType.StageEntered, AuditType.ApprovalRequested, AuditType.Approved, AuditType.Paused,
        AuditType.Resumed, AuditType.SignalReceived, AuditType.RolledBack, AuditType.Completed,
    }.ToFrozenSet();

    /// <summary>Retries of the activity that writes to the store.</summary>
    internal static TaskOptions StoreRetry { get; } = TaskOptions.FromRetryPolicy(new RetryPolicy(5, TimeSpan.FromSeconds(2), 2.0, TimeSpan.FromSeconds(30)));

    /// <summary>
    /// Retries of the exposure write: short, because commands wait while it runs; after them the rollout holds and the
    /// write is tried again every <see cref="RetryDelay"/>, commands being applied in between.
    /// </summary>
    internal static TaskOptions ExposureRetry { get; } = TaskOptions.FromRetryPolicy(new RetryPolicy(3, TimeSpan.FromSeconds(2), 2.0, TimeSpan.FromSeconds(10)));

    /// <summary>Retries of the activities that call other services (metric sources, the notification webhook).</summary>
    internal static TaskOptions NetworkRetry { get; } = TaskOptions.FromRetryPolicy(new RetryPolicy(4, TimeSpan.FromSeconds(5), 2.0, TimeSpan.FromMinutes(1)));

    /// <summary>Runs one generation.</summary>
    [Function(nameof(RolloutOrchestrator))]
    public async Task RunAsync([OrchestrationTrigger] TaskOrchestrationContext context)
    {
        var checkpoint = context.GetInput<RolloutCheckpoint>() ?? throw new InvalidOperationException($"orchestration {context.InstanceId} has no input");
        var state = checkpoint.State;
        var generation = checkpoint.Generation + 1;

        // The last checkpoint could not be written: back off first (commands meanwhile are buffered by the runtime).
        if (checkpoint.RetryAt is { } retryAt && retryAt > Now(context))
        {
            await context.CreateTimer(retryAt.UtcDateTime, CancellationToken.None);
        }

        var exposureOwed = checkpoint.ExposureOwed && !await TryApplyExposureAsync(context, state);
        var notifyOwed = await EnqueueNotificationsAsync(context, state, checkpoint.NotifyOwed ?? []);

        // The plan's external target took the write (now or in the last generation): confirming it is this generation's step.
        RolloutInput? confirmation = !exposureOwed && state.ExposurePending
            ? new ExposureConfirmed(state.DesiredExposureStage, state.Plan.Exposure!.Type)
            : null;
        if (state.IsTerminal && checkpoint.PendingCommand is null && !exposureOwed && confirmation is null && notifyOwed.Count == 0)
        {
            context.SetCustomStatus(StatusOf(checkpoint.Generation, state, null));
            if (!context.IsReplaying)
            {
                log.LogInformation("Rollout {Id} finished {Status}; its orchestration completes", state.Id, state.Status);
            }

            return;
        }

        // 1. The input: a command carried over, a confirmation, else whichever comes first of the wake-up and a command.
        var command = checkpoint.PendingCommand;
        Task<CommandEnvelope>? commandWait = null;
        if (command is null && confirmation is null)
        {
            // Never cancelled: the runtime hands an event to the oldest waiter of its name even when that waiter was
            // cancelled, so a cancelled waiter would swallow the next command. A command that completes this waiter
            // after the timer won is carried to the next generation instead.
            commandWait = context.WaitForExternalEvent<CommandEnvelope>(CommandEvent);
            var wakeAt = state.NextWakeAt ?? DateTimeOffset.MaxValue;
            if ((exposureOwed || notifyOwed.Count > 0) && Now(context) + RetryDelay < wakeAt)
            {
                wakeAt = Now(context) + RetryDelay;
            }

            using var timerCts = new CancellationTokenSource();
            var timer = context.CreateTimer(wakeAt.UtcDateTime, timerCts.Token);
            if (await Task.WhenAny(timer, commandWait) == commandWait)
            {
                timerCts.Cancel();
                command = await commandWait;
                commandWait = null;
            }
        }

        // 2. One step of Core.
        StepResult? step = null;
        StoredCommand? answered = null;
        if (command is not null)
        {
            var stored = new StoredCommand(state.Id, command.CommandId, command.Kind, command.Body, command.ReceivedAt, null);
            if (CommandCodec.Decode(command.Kind, command.Body, command.CommandId) is { } decoded)
            {
                step = RolloutMachine.Step(state, decoded, Now(context));
                answered = stored with { Result = step.Command };
            }
            else
            {
                answered = stored with { Result = new CommandResult(CommandStatus.Conflict, "the stored command could not be read") };
            }
        }
        else if (confirmation is not null)
        {
            step = RolloutMachine.Step(state, confirmation, Now(context));
        }
        else if (RolloutMachine.Step(state, new Tick(), Now(context)).Effects.OfType<EvaluateCriteria>().FirstOrDefault() is { } due)
        {
            var evaluation = await EvaluateAsync(context, state, due);
            step = RolloutMachine.Step(state, new EvaluationCompleted(evaluation), Now(context));
        }

        // 3. Checkpoint the step (state, audit entries, the command's answer) before any of its effects.
        if (step is { Changed: true } || answered is not null)
        {
            var request = new AppendAuditRequest(step?.State ?? state, step?.Audit ?? [], answered, step?.Changed ?? false);
            try
            {
                await context.CallActivityAsync(nameof(RolloutActivities.AppendAudit), request, StoreRetry);
            }
            catch (TaskFailedException ex)
            {
                // Nothing of this step happened: a command is carried over and applied again, an evaluation re-runs, a
                // confirmation is made again (the state still says the exposure is unconfirmed).
                if (!context.IsReplaying)
                {
                    log.LogWarning("Rollout {Id}: checkpoint failed ({Error}); retrying the step in {Delay}", state.Id, ex.FailureDetails?.ErrorMessage, RetryDelay);
                }

                context.ContinueAsNew(new RolloutCheckpoint(state, generation, exposureOwed, command ?? Carried(commandWait), Now(context) + RetryDelay, Owed(notifyOwed)));
                return;
            }
        }

        // 4. The step's effects, each an idempotent activity.
        var next = step?.State ?? state;
        if (step is not null && step.Effects.OfType<ApplyExposure>().Any())
        {
            exposureOwed = !await TryApplyExposureAsync(context, next);
        }

        if (step is not null)
        {
            await NotifyAsync(context, next, step.Audit);
            notifyOwed = await EnqueueNotificationsAsync(context, next, [.. notifyOwed, .. step.Effects.OfType<NotifyChannels>().Select(n => n.Event)]);
        }

        if (!context.IsReplaying && step is not null)
        {
            log.LogInformation("Rollout {Id} generation {Generation}: {Entries} in stage {Stage}, {Status}", next.Id, generation, string.Join(", ", step.Audit.Select(a => a.Type)), next.Stage.Name, next.Status);
        }

        context.SetCustomStatus(StatusOf(generation, next, answered?.CommandId));
        context.ContinueAsNew(new RolloutCheckpoint(next, generation, exposureOwed, Carried(commandWait), null, Owed(notifyOwed)));
    }

    private static DateTimeOffset Now(TaskOrchestrationContext context) =>
        new(DateTime.SpecifyKind(context.CurrentUtcDateTime, DateTimeKind.Utc));

    private static IReadOnlyList<AuditEvent>? Owed(IReadOnlyList<AuditEvent> events) => events.Count == 0 ? null : events;

    private static CommandEnvelope? Carried(Task<CommandEnvelope>? commandWait) =>
        commandWait is { IsCompletedSuccessfully: true } ? commandWait.Result : null;

    private static OrchestratorStatus StatusOf(long generation, RolloutState state, string? commandId) =>
        new(generation, state.Status, state.StageIndex, state.NextWakeAt, commandId);

    private async Task<Evaluation> EvaluateAsync(TaskOrchestrationContext context, RolloutState state, EvaluateCriteria due)
    {
        try
        {
            return await context.CallActivityAsync<Evaluation>(nameof(RolloutActivities.EvaluateCriteria), new EvaluateRequest(state, due.StageIndex, due.Since), NetworkRetry);
        }
        catch (TaskFailedException ex)
        {
            // Missing telemetry never promotes: an evaluation that could not run is NoData for every criterion.
            if (!context.IsReplaying)
            {
                log.LogWarning("Rollout {Id}: evaluation failed after retries ({Error}); recorded as NoData", state.Id, ex.FailureDetails?.ErrorMessage);
            }

            var reason = $"evaluation failed: {ex.FailureDetails?.ErrorMessage ?? ex.Message}";
            return new Evaluation(Now(context), due.StageIndex, [.. state.Plan.Criteria.Select(c => new CriterionResult(c.Name, Outcome.NoData, null, null, null, null, reason))]);
        }
    }

    private async Task<bool> TryApplyExposureAsync(TaskOrchestrationContext context, RolloutState state)
    {
        try
        {
            await context.CallActivityAsync(nameof(RolloutActivities.ApplyExposure), new ExposureRequest(state), ExposureRetry);
            return true;
        }
        catch (TaskFailedException ex)
        {
            if (!context.IsReplaying)
            {
                log.LogWarning("Rollout {Id}: exposure not applied ({Error}); retrying in {Delay}", state.Id, ex.FailureDetails?.ErrorMessage, RetryDelay);
            }

            return false;
        }
    }

    // Queues the plan's Teams messages for these entries; returns the entries still owed (all of them when the store is down).
    private async Task<IReadOnlyList<AuditEvent>> EnqueueNotificationsAsync(TaskOrchestrationContext context, RolloutState state, IReadOnlyList<AuditEvent> events)
    {
        if (events.Count == 0 || state.Plan.Notify.IsDefaultOrEmpty)
        {
            return [];
        }

        try
        {
            await context.CallActivityAsync(nameof(RolloutActivities.EnqueueNotifications), new EnqueueNotificationsRequest(state, [.. events]), StoreRetry);
            return [];
        }
        catch (TaskFailedException ex)
        {
            if (!context.IsReplaying)
            {
                log.LogWarning("Rollout {Id}: {Count} notification(s) not queued ({Error}); retrying in {Delay}", state.Id, events.Count, ex.FailureDetails?.ErrorMessage, RetryDelay);
            }

            return events;
        }
    }

    private async Task NotifyAsync(TaskOrchestrationContext context, RolloutState state, ImmutableArray<AuditEvent> audit)
    {
        var events = audit.Where(e => Notable.Contains(e.Type)).ToImmutableArray();
        if (events.IsEmpty)
        {
            return;
        }

        try
        {
            await context.CallActivityAsync(nameof(RolloutActivities.Notify), new NotifyRequest(state.Id, state.Plan.Flag, events), NetworkRetry);
        }
        catch (TaskFailedException ex)
        {
            // Best effort: the audit log is the record; a notification that cannot be delivered is logged, not retried forever.
            if (!context.IsReplaying)
            {
                log.LogWarning("Rollout {Id}: notification of {Count} event(s) not delivered ({Error})", state.Id, events.Length, ex.FailureDetails?.ErrorMessage);
            }
        }
    }
}
