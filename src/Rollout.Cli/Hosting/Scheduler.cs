namespace Rollout.Cli.Hosting;

/// <summary>
/// Steps due rollouts. Each pass claims due rollouts with a lease (so another process on the same data never
/// evaluates the same rollout), runs them with bounded concurrency, applies commands other processes left
/// pending, and refreshes the in-memory flags.
/// </summary>
internal sealed class Scheduler(RolloutRuntime runtime, TimeProvider time, SchedulerOptions options, ILogger<Scheduler> log) : BackgroundService
{
    private readonly SemaphoreSlim slots = new(options.MaxConcurrentEvaluations, options.MaxConcurrentEvaluations);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.PollInterval, time);
        var lastHousekeeping = DateTimeOffset.MinValue;
        do
        {
            try
            {
                var now = time.GetUtcNow();
                if (now - lastHousekeeping >= TimeSpan.FromSeconds(1))
                {
                    lastHousekeeping = now;
                    await runtime.ApplyPendingCommandsAsync(now - TimeSpan.FromSeconds(3), stoppingToken);
                    await runtime.RefreshFlagsAsync(stoppingToken);
                }

                await ClaimAndRunDueAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex)
            {
                // A storage fault skips this pass; nothing is promoted without a checkpoint, so it is safe to retry.
                log.LogError(ex, "Scheduler pass failed; retrying");
            }
        }
        while (await WaitAsync(timer, stoppingToken));
    }

    /// <summary>
    /// Claims due rollouts as slots free up and starts them, until fewer are due than were asked for. A pass used to claim
    /// only the slots free at the poll, so at most MaxConcurrentEvaluations rollouts started per PollInterval (320/s by
    /// default) however fast evaluations were; now a full claim is followed by another as soon as a slot frees. It gives
    /// up after a poll interval without a free slot, so housekeeping still runs while every slot waits on a slow source.
    /// </summary>
    private async Task ClaimAndRunDueAsync(CancellationToken ct)
    {
        while (await slots.WaitAsync(options.PollInterval, ct))
        {
            var taken = 1;
            while (taken < options.MaxConcurrentEvaluations && slots.Wait(0, CancellationToken.None))
            {
                taken++;
            }

            IReadOnlyList<string> claimed;
            try
            {
                var now = time.GetUtcNow();
                claimed = await runtime.Store.ClaimDueAsync(runtime.Owner, now, now + options.Lease, taken, ct);
            }
            catch
            {
                slots.Release(taken);
                throw;
            }

            if (claimed.Count < taken)
            {
                slots.Release(taken - claimed.Count);
            }

            foreach (var id in claimed)
            {
                _ = Task.Run(() => RunAsync(id, ct), ct);
            }

            if (claimed.Count < taken)
            {
                return; // nothing more is due
            }
        }
    }

    private async Task RunAsync(string id, CancellationToken ct)
    {
        try
        {
            await runtime.RunDueAsync(id, ct);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            log.LogError(ex, "Rollout {Id}: step failed; its lease expires and it is retried", id);
        }
        finally
        {
            slots.Release();
        }
    }

    private static async Task<bool> WaitAsync(PeriodicTimer timer, CancellationToken ct)
    {
        try
        {
            return await timer.WaitForNextTickAsync(ct);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }
}

/// <summary>How the scheduler polls and leases.</summary>
internal sealed record SchedulerOptions(TimeSpan PollInterval, TimeSpan Lease, int MaxConcurrentEvaluations)
{
    /// <summary>Poll every 200 ms; a lease outlives the longest metric timeout (5 minutes) it may wait on.</summary>
    public static SchedulerOptions Default { get; } = new(TimeSpan.FromMilliseconds(200), TimeSpan.FromMinutes(6), 64);
}
