using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Rollout.Core.Storage;

namespace Rollout.Integrations.Outbox;

/// <summary>Delivers the outbox's deliveries of one kind to their peer.</summary>
public interface IDeliveryHandler
{
    /// <summary>The kind this handler delivers.</summary>
    DeliveryKind Kind { get; }

    /// <summary>One attempt. A fault of the peer is a result, not an exception.</summary>
    Task<DeliveryResult> DeliverAsync(Delivery delivery, CancellationToken cancellationToken);
}

/// <summary>
/// How deliveries are retried: exponential backoff from <paramref name="BaseDelay"/> doubling up to
/// <paramref name="MaxDelay"/> (a peer's <c>Retry-After</c> wins when longer, capped at <paramref name="MaxRetryAfter"/>),
/// and per kind the attempts allowed before giving up (null: never give up).
/// </summary>
public sealed record DeliveryOptions(
    TimeSpan BaseDelay,
    TimeSpan MaxDelay,
    TimeSpan MaxRetryAfter,
    int? MaxNotificationAttempts,
    int? MaxGateCallbackAttempts,
    int? MaxExposureAttempts,
    int Concurrency = 8)
{
    /// <summary>
    /// 2 s doubling to 5 min; notifications give up after 12 attempts (about 25 minutes), gate callbacks after 200 (the
    /// job's token expires with the job anyway), exposure never (the rollout holds until it is applied).
    /// </summary>
    public static DeliveryOptions Default { get; } = new(TimeSpan.FromSeconds(2), TimeSpan.FromMinutes(5), TimeSpan.FromHours(1), 12, 200, null);

    /// <summary>The attempts allowed for <paramref name="kind"/>.</summary>
    public int? MaxAttempts(DeliveryKind kind) => kind switch
    {
        DeliveryKind.Notification => MaxNotificationAttempts,
        DeliveryKind.GateCallback => MaxGateCallbackAttempts,
        _ => MaxExposureAttempts,
    };

    /// <summary>The wait after attempt number <paramref name="attempts"/> failed.</summary>
    public TimeSpan Backoff(int attempts, TimeSpan? retryAfter)
    {
        var exponent = Math.Clamp(attempts - 1, 0, 30);
        var backoff = TimeSpan.FromTicks((long)Math.Min(MaxDelay.Ticks, BaseDelay.Ticks * Math.Pow(2, exponent)));
        return retryAfter is { } asked && asked > backoff ? (asked < MaxRetryAfter ? asked : MaxRetryAfter) : backoff;
    }
}

/// <summary>
/// Runs the outbox: each pass takes the due deliveries and hands each to its kind's handler, several at once but one at
/// a time per rollout and kind (so exposures of one flag are written in order). Delivered, superseded and given-up
/// deliveries are final; the others are tried again after their backoff. A slow peer delays only its own deliveries.
/// </summary>
public sealed class DeliveryWorker(IDeliveryStore store, IEnumerable<IDeliveryHandler> handlers, TimeProvider time, DeliveryOptions options, ILogger<DeliveryWorker> log)
{
    private readonly Dictionary<DeliveryKind, IDeliveryHandler> byKind = handlers.ToDictionary(h => h.Kind);
    private readonly ConcurrentDictionary<string, Task> inFlight = new(StringComparer.Ordinal);

    /// <summary>The deliveries being attempted now (for tests and shutdown).</summary>
    public int InFlight => inFlight.Count;

    /// <summary>Starts the due deliveries that are not already under way; returns how many it started.</summary>
    public async Task<int> StartDueAsync(CancellationToken cancellationToken)
    {
        var free = options.Concurrency - inFlight.Count;
        if (free <= 0)
        {
            return 0;
        }

        var started = 0;
        foreach (var delivery in await store.DueAsync(time.GetUtcNow(), 200, cancellationToken))
        {
            var lane = $"{delivery.RolloutId}|{delivery.Kind}";
            if (started >= free || inFlight.ContainsKey(lane))
            {
                continue;
            }

            var run = new TaskCompletionSource();
            if (!inFlight.TryAdd(lane, run.Task))
            {
                continue;
            }

            started++;
            _ = Task.Run(
                async () =>
                {
                    try
                    {
                        await AttemptAsync(delivery, cancellationToken);
                    }
                    finally
                    {
                        inFlight.TryRemove(lane, out _);
                        run.TrySetResult();
                    }
                },
                CancellationToken.None);
        }

        return started;
    }

    /// <summary>Waits for the attempts under way.</summary>
    public Task DrainAsync() => Task.WhenAll(inFlight.Values);

    /// <summary>One attempt of one delivery, recorded in the store.</summary>
    public async Task AttemptAsync(Delivery delivery, CancellationToken cancellationToken)
    {
        var attempts = delivery.Attempts + 1;
        DeliveryResult result;
        try
        {
            result = byKind.TryGetValue(delivery.Kind, out var handler)
                ? await handler.DeliverAsync(delivery, cancellationToken)
                : DeliveryResult.GiveUp($"no handler for {delivery.Kind} on this host");
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return; // Shutting down: the delivery stays pending and is tried after the restart.
        }
        catch (Exception ex)
        {
            result = DeliveryResult.Retry($"{ex.GetType().Name}: {ex.Message}");
        }

        var now = time.GetUtcNow();
        try
        {
            if (result.Delivered)
            {
                var status = result.Error == Superseded ? DeliveryStatus.Superseded : DeliveryStatus.Delivered;
                await store.CompleteAsync(delivery.Id, status, attempts, null, now, cancellationToken);
                log.LogInformation("Delivery {Id} ({Kind} to {Target}) {Status} after {Attempts} attempt(s)", delivery.Id, delivery.Kind, delivery.Target, status, attempts);
                return;
            }

            var error = result.Error ?? "failed";
            if (result.Permanent || (options.MaxAttempts(delivery.Kind) is { } max && attempts >= max))
            {
                await store.CompleteAsync(delivery.Id, DeliveryStatus.Failed, attempts, error, now, cancellationToken);
                log.LogWarning("Delivery {Id} ({Kind} to {Target}) given up after {Attempts} attempt(s): {Error}", delivery.Id, delivery.Kind, delivery.Target, attempts, error);
                return;
            }

            var wait = options.Backoff(attempts, result.RetryAfter);
            await store.RetryLaterAsync(delivery.Id, attempts, now + wait, error, cancellationToken);
            log.LogWarning("Delivery {Id} ({Kind} to {Target}) attempt {Attempts} failed: {Error}; next in {Wait}", delivery.Id, delivery.Kind, delivery.Target, attempts, error, wait);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>The marker a handler returns (as a delivered result's error) when a newer delivery made this one pointless.</summary>
    public const string Superseded = "superseded";

    /// <summary>A delivered result meaning "nothing to do any more".</summary>
    public static DeliveryResult SupersededResult { get; } = new(true, Superseded);
}
