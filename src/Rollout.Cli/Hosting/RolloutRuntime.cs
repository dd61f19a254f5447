using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Rollout.Core.Api;
using Rollout.Core.Engine;
using Rollout.Core.Plans;
using Rollout.Core.Storage;
using Rollout.Integrations.Exposure;
using Rollout.Integrations.Metrics;

namespace Rollout.Cli.Hosting;

/// <summary>The answer to a command sent through the API.</summary>
internal sealed record CommandOutcome(string CommandId, CommandResult Result, RolloutState? State);

/// <summary>
/// Drives rollouts on the local host: starts them, applies commands and runs due evaluations, each as a
/// checkpoint written atomically (state, audit entries, answered command) before its effects are applied.
/// A command is stored before it is applied, so one that was answered is never lost, and one received
/// just before a crash is applied at the next start.
/// </summary>
internal sealed class RolloutRuntime(IRolloutStore store, CriteriaEvaluator evaluator, FlagStore flags, TimeProvider time, ILogger<RolloutRuntime> log)
{
    private const int MaxSaveAttempts = 20;
    private readonly ConcurrentDictionary<string, SemaphoreSlim> locks = new(StringComparer.Ordinal);

    // The stored version of each rollout whose state the flag store already reflects (written or read by this process),
    // so the periodic refresh reads only rollouts that another process changed.
    private readonly ConcurrentDictionary<string, long> appliedVersions = new(StringComparer.Ordinal);
    private DateTimeOffset lastFlagRefresh = DateTimeOffset.MinValue;

    /// <summary>This process's identity as a lease owner: host, process id and start time.</summary>
    public string Owner { get; } = string.Create(CultureInfo.InvariantCulture,
        $"{Environment.MachineName}/{Environment.ProcessId}/{Process.GetCurrentProcess().StartTime.ToUniversalTime().Ticks}");

    public IRolloutStore Store => store;

    public FlagStore Flags => flags;

    public Core.Metrics.MetricSourceCatalog Catalog => evaluator.Catalog;

    /// <summary>Prepares the store, drops the leases of dead local processes, loads flags and applies commands left pending.</summary>
    public async Task InitializeAsync(CancellationToken ct)
    {
        await store.InitializeAsync(ct);
        foreach (var owner in await store.LeaseOwnersAsync(ct))
        {
            if (IsDeadLocalOwner(owner))
            {
                log.LogInformation("Releasing the leases of {Owner}, a process of this machine that no longer runs", owner);
                await store.ReleaseAllAsync(owner, ct);
            }
        }

        await RefreshFlagsAsync(ct, full: true);
        await ApplyPendingCommandsAsync(time.GetUtcNow().AddYears(1), ct);
    }

    /// <summary>Creates a rollout and applies its first stage's exposure.</summary>
    public async Task<RolloutState> StartAsync(RolloutPlan plan, string actor, CancellationToken ct)
    {
        var id = NewRolloutId();
        var step = RolloutMachine.Start(id, plan, actor, time.GetUtcNow());
        await store.CreateAsync(step.State, step.Audit, ct);
        flags.Apply(step.State);
        appliedVersions[id] = 1;
        log.LogInformation("Rollout {Id} of flag {Flag} started by {Actor}", id, plan.Flag, actor);
        return step.State;
    }

    /// <summary>Stores then applies a command. Returns null when the rollout does not exist.</summary>
    public async Task<CommandOutcome?> ExecuteAsync(string rolloutId, RolloutCommand command, string body, CancellationToken ct)
    {
        if (await store.GetAsync(rolloutId, ct) is null)
        {
            return null;
        }

        var commandId = string.IsNullOrWhiteSpace(command.CommandId) ? Guid.NewGuid().ToString("N") : command.CommandId.Trim();
        command = command with { CommandId = commandId };
        var stored = await store.AcceptCommandAsync(new StoredCommand(rolloutId, commandId, command.Kind, body, time.GetUtcNow(), null), ct);
        if (stored.Result is { } earlier)
        {
            var current = await store.GetAsync(rolloutId, ct);
            return new CommandOutcome(commandId, earlier.Succeeded ? new CommandResult(CommandStatus.Duplicate, $"command '{commandId}' was already applied: {earlier.Message}") : earlier, current?.State);
        }

        return await ApplyAsync(stored, command, ct);
    }

    /// <summary>Runs a claimed, due rollout: evaluates its criteria outside the lock, then checkpoints the result.</summary>
    public async Task RunDueAsync(string id, CancellationToken ct)
    {
        EvaluateCriteria? effect = null;
        RolloutState? state = null;
        StoredRollout? read = null;
        await using (await LockAsync(id, ct))
        {
            var current = read = await store.GetAsync(id, ct);
            if (current is not null)
            {
                state = current.State;
                if (state.NextWakeAt is { } due)
                {
                    HostMetrics.SchedulerLag.Record((time.GetUtcNow() - due).TotalMilliseconds);
                }

                effect = RolloutMachine.Step(state, new Tick(), time.GetUtcNow()).Effects.OfType<EvaluateCriteria>().FirstOrDefault();
            }
        }

        if (state is null || effect is null)
        {
            await store.ReleaseAsync(id, Owner, ct);
            return;
        }

        var evaluation = await evaluator.EvaluateAsync(state, effect, ct);
        await using (await LockAsync(id, ct))
        {
            for (var attempt = 0; attempt < MaxSaveAttempts; attempt++)
            {
                // Usually nothing wrote the rollout while its criteria were read: then the state read before is current
                // (every state write bumps the version) and only the version is read again, not the whole state.
                var current = attempt == 0 && read is not null && await store.GetVersionAsync(id, ct) == read.Version
                    ? read
                    : await store.GetAsync(id, ct);
                if (current is null)
                {
                    return;
                }

                var step = RolloutMachine.Step(current.State, new EvaluationCompleted(evaluation), time.GetUtcNow());
                if (!step.Changed)
                {
                    await store.ReleaseAsync(id, Owner, ct);
                    return;
                }

                if (await store.SaveAsync(new Checkpoint(step.State, current.Version, step.Audit, null, ReleaseLease: true), ct))
                {
                    ApplyEffects(step, current.Version + 1);
                    HostMetrics.Evaluations.Add(1);
                    return;
                }
            }

            log.LogWarning("Rollout {Id}: evaluation not saved after {Attempts} conflicting writes; it is retried when the lease expires", id, MaxSaveAttempts);
        }
    }

    /// <summary>
    /// Records that the plan's external target applied the exposure of <paramref name="stageIndex"/> (null: none), so the
    /// engine may promote past it. Stale or repeated confirmations change nothing. Returns the state after the step.
    /// </summary>
    public async Task<RolloutState?> ConfirmExposureAsync(string id, int? stageIndex, string target, CancellationToken ct)
    {
        await using (await LockAsync(id, ct))
        {
            for (var attempt = 0; attempt < MaxSaveAttempts; attempt++)
            {
                var current = await store.GetAsync(id, ct);
                if (current is null)
                {
                    return null;
                }

                var step = RolloutMachine.Step(current.State, new ExposureConfirmed(stageIndex, target), time.GetUtcNow());
                if (!step.Changed)
                {
                    return current.State;
                }

                if (await store.SaveAsync(new Checkpoint(step.State, current.Version, step.Audit, null, ReleaseLease: false), ct))
                {
                    ApplyEffects(step, current.Version + 1);
                    return step.State;
                }
            }
        }

        throw new InvalidOperationException($"rollout {id} kept changing; the exposure confirmation is retried");
    }

    /// <summary>Applies commands that were stored but not answered (a crash, or another process received them).</summary>
    public async Task ApplyPendingCommandsAsync(DateTimeOffset receivedBefore, CancellationToken ct)
    {
        foreach (var pending in await store.PendingCommandsAsync(receivedBefore, ct))
        {
            if (CommandCodec.Decode(pending.Kind, pending.Body, pending.CommandId) is { } command)
            {
                var outcome = await ApplyAsync(pending, command, ct);
                log.LogInformation("Applied pending {Kind} command {CommandId} of rollout {Id}: {Status}", pending.Kind, pending.CommandId, pending.RolloutId, outcome.Result.Status);
            }
            else
            {
                await store.AnswerCommandAsync(pending with { Result = new CommandResult(CommandStatus.Conflict, "the stored command could not be read") }, ct);
            }
        }
    }

    /// <summary>Brings the in-memory flags up to date with rollouts changed by other processes.</summary>
    public async Task RefreshFlagsAsync(CancellationToken ct, bool full = false)
    {
        var now = time.GetUtcNow();
        var since = full ? DateTimeOffset.MinValue : lastFlagRefresh - TimeSpan.FromSeconds(5);
        foreach (var rollout in await store.ListChangedSinceAsync(since < DateTimeOffset.UnixEpoch ? DateTimeOffset.UnixEpoch : since, appliedVersions, ct))
        {
            flags.Apply(rollout.State);
            appliedVersions[rollout.State.Id] = rollout.Version;
        }

        lastFlagRefresh = now;
    }

    private async Task<CommandOutcome> ApplyAsync(StoredCommand stored, RolloutCommand command, CancellationToken ct)
    {
        await using (await LockAsync(stored.RolloutId, ct))
        {
            for (var attempt = 0; attempt < MaxSaveAttempts; attempt++)
            {
                var current = await store.GetAsync(stored.RolloutId, ct);
                if (current is null)
                {
                    var missing = new CommandResult(CommandStatus.Conflict, "the rollout does not exist");
                    await store.AnswerCommandAsync(stored with { Result = missing }, ct);
                    return new CommandOutcome(stored.CommandId, missing, null);
                }

                var step = RolloutMachine.Step(current.State, command, time.GetUtcNow());
                var result = step.Command!;
                var answered = stored with { Result = result };
                if (step.Changed)
                {
                    if (!await store.SaveAsync(new Checkpoint(step.State, current.Version, step.Audit, answered, ReleaseLease: false), ct))
                    {
                        continue;
                    }

                    ApplyEffects(step, current.Version + 1);
                }
                else
                {
                    await store.AnswerCommandAsync(answered, ct);
                }

                return new CommandOutcome(stored.CommandId, result, step.State);
            }
        }

        throw new InvalidOperationException($"rollout {stored.RolloutId} kept changing; command {stored.CommandId} is stored and will be applied shortly");
    }

    private void ApplyEffects(StepResult step, long version)
    {
        // Every checkpoint goes to the flag store (cheap when the exposure did not change: ApplyExposure is the only effect
        // that changes it), so its entry is current for this version and the periodic refresh need not read it back.
        flags.Apply(step.State);
        appliedVersions[step.State.Id] = version;

        foreach (var entry in step.Audit)
        {
            log.LogInformation("Rollout {Id}: {Type} by {Actor}", step.State.Id, entry.Type, entry.Actor);
        }
    }

    private async Task<IAsyncDisposable> LockAsync(string id, CancellationToken ct)
    {
        var gate = locks.GetOrAdd(id, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(ct);
        return new Releaser(gate);
    }

    private bool IsDeadLocalOwner(string owner)
    {
        var parts = owner.Split('/');
        if (parts.Length != 3 || parts[0] != Environment.MachineName || owner == Owner
            || !int.TryParse(parts[1], CultureInfo.InvariantCulture, out var pid) || !long.TryParse(parts[2], CultureInfo.InvariantCulture, out var started))
        {
            return false;
        }

        try
        {
            using var process = Process.GetProcessById(pid);
            return process.StartTime.ToUniversalTime().Ticks != started;
        }
        catch (ArgumentException)
        {
            return true;
        }
        catch (InvalidOperationException)
        {
            return true;
        }
    }

    private string NewRolloutId() =>
        $"r-{time.GetUtcNow():yyyyMMdd}-{Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(5))}";

    private sealed class Releaser(SemaphoreSlim gate) : IAsyncDisposable
    {
        public ValueTask DisposeAsync()
        {
            gate.Release();
            return ValueTask.CompletedTask;
        }
    }
}
