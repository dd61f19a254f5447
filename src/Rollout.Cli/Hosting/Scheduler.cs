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

                var free = slots.CurrentCount;
                if (free == 0)
                {
                    continue;
                }

                var claimed = await runtime.Store.ClaimDueAsync(runtime.Owner, now, now + options.Lease, free, stoppingToken);
                foreach (var id in claimed)
                {
                    await slots.WaitAsync(stoppingToken);
                    _ = Task.Run(() => RunAsync(id, stoppingToken), stoppingToken);
                }
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
