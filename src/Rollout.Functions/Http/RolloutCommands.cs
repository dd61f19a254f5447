using System.Globalization;
using System.Security.Cryptography;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.Logging;
using Rollout.Core.Engine;
using Rollout.Core.Plans;
using Rollout.Core.Storage;
using Rollout.Functions.Orchestration;

namespace Rollout.Functions.Http;

/// <summary>The answer to a command request; <see cref="Pending"/> when the orchestrator has not answered in time.</summary>
/// <param name="CommandId">The command id.</param>
/// <param name="Result">The answer (meaningless while pending).</param>
/// <param name="State">The rollout after the command, as stored.</param>
/// <param name="Pending">True when the request answers 202 and the command is applied later.</param>
public sealed record CommandOutcome(string CommandId, CommandResult Result, RolloutState? State, bool Pending);

/// <summary>
/// What the triggers do with the store and the Durable client: create a rollout and start its orchestration; store a
/// command, raise it as an external event and wait briefly for the orchestrator's answer (written with the checkpoint
/// that applied it).
/// </summary>
public sealed class RolloutCommands(IRolloutStore store, TimeProvider time, RolloutFunctionsOptions options, ILogger<RolloutCommands> log)
{
    /// <summary>Stores a new rollout (throws <see cref="FlagBusyException"/>) and starts its orchestration.</summary>
    public async Task<RolloutState> StartAsync(DurableTaskClient client, RolloutPlan plan, string actor, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var id = string.Create(CultureInfo.InvariantCulture, $"r-{now:yyyyMMdd}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(5))}");
        var step = RolloutMachine.Start(id, plan, actor, now);
        await store.CreateAsync(step.State, step.Audit, cancellationToken);
        await client.ScheduleNewOrchestrationInstanceAsync(nameof(RolloutOrchestrator), RolloutCheckpoint.First(step.State, step.Audit), new StartOrchestrationOptions(id), cancellationToken);
        log.LogInformation("Rollout {Id} of flag {Flag} started by {Actor}", id, plan.Flag, actor);
        return step.State;
    }

    /// <summary>Stores a command, hands it to the orchestrator and waits for its answer. Null when the rollout does not exist.</summary>
    public async Task<CommandOutcome?> ExecuteAsync(DurableTaskClient client, string rolloutId, RolloutCommand command, string body, CancellationToken cancellationToken)
    {
        if (await store.GetAsync(rolloutId, cancellationToken) is not { } current)
        {
            return null;
        }

        var commandId = string.IsNullOrWhiteSpace(command.CommandId) ? Guid.NewGuid().ToString("N") : command.CommandId.Trim();
        command = command with { CommandId = commandId };
        var stored = await store.AcceptCommandAsync(new StoredCommand(rolloutId, commandId, command.Kind, body, time.GetUtcNow(), null), cancellationToken);
        if (stored.Result is { } earlier)
        {
            var answer = earlier.Succeeded ? new CommandResult(CommandStatus.Duplicate, $"command '{commandId}' was already applied: {earlier.Message}") : earlier;
            return new CommandOutcome(commandId, answer, current.State, Pending: false);
        }

        if (current.State.IsTerminal)
        {
            return await AnswerOnFinishedAsync(stored, command, current.State, cancellationToken);
        }

        await EnsureRunningAsync(client, current.State, cancellationToken);
        await client.RaiseEventAsync(rolloutId, RolloutOrchestrator.CommandEvent, new CommandEnvelope(commandId, command.Kind, body, stored.ReceivedAt), cancellationToken);
        return await AwaitAnswerAsync(client, stored, command, cancellationToken);
    }

    // The orchestration of a finished rollout has completed and would drop the event: Core answers here.
    private async Task<CommandOutcome> AnswerOnFinishedAsync(StoredCommand stored, RolloutCommand command, RolloutState state, CancellationToken cancellationToken)
    {
        var result = RolloutMachine.Step(state, command, time.GetUtcNow()).Command!;
        await store.AnswerCommandAsync(stored with { Result = result }, cancellationToken);
        return new CommandOutcome(stored.CommandId, result, state, Pending: false);
    }

    // An unfinished rollout always has a running orchestration; if it has none (never scheduled, failed, terminated),
    // start one again from the stored state, which is the last checkpoint.
    private async Task EnsureRunningAsync(DurableTaskClient client, RolloutState state, CancellationToken cancellationToken)
    {
        var instance = await client.GetInstanceAsync(state.Id, getInputsAndOutputs: false, cancellationToken);
        if (instance is not null && !instance.IsCompleted)
        {
            return;
        }

        log.LogWarning("Rollout {Id} is {Status} but its orchestration is {Runtime}; restarting it from the stored state", state.Id, state.Status, instance?.RuntimeStatus.ToString() ?? "missing");
        await client.ScheduleNewOrchestrationInstanceAsync(nameof(RolloutOrchestrator), RolloutCheckpoint.First(state), new StartOrchestrationOptions(state.Id), cancellationToken);
    }

    private async Task<CommandOutcome> AwaitAnswerAsync(DurableTaskClient client, StoredCommand stored, RolloutCommand command, CancellationToken cancellationToken)
    {
        var deadline = time.GetUtcNow() + options.CommandWait;
        while (true)
        {
            if (await store.GetCommandAsync(stored.RolloutId, stored.CommandId, cancellationToken) is { Result: { } result })
            {
                var after = await store.GetAsync(stored.RolloutId, cancellationToken);
                return new CommandOutcome(stored.CommandId, result, after?.State, Pending: false);
            }

            // The rollout finished before this command was applied: its orchestration completed without it.
            if (await store.GetAsync(stored.RolloutId, cancellationToken) is { State.IsTerminal: true } finished
                && await client.GetInstanceAsync(stored.RolloutId, getInputsAndOutputs: false, cancellationToken) is null or { IsCompleted: true })
            {
                return await AnswerOnFinishedAsync(stored, command, finished.State, cancellationToken);
            }

            if (time.GetUtcNow() >= deadline)
            {
                var state = (await store.GetAsync(stored.RolloutId, cancellationToken))?.State;
                return new CommandOutcome(stored.CommandId, new CommandResult(CommandStatus.Accepted, "received; the rollout applies it at its next step"), state, Pending: true);
            }

            await Task.Delay(options.CommandPoll, time, cancellationToken);
        }
    }
}
