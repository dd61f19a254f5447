namespace Rollout.Functions.Tests.Fakes;

/// <summary>
/// A clock the tests move: the orchestration's time, and the activities' and triggers' (evaluations, commands and
/// rollouts are stamped with it). A delay on it (a trigger polling for an answer) moves it forward at once.
/// </summary>
internal sealed class VirtualClock(DateTimeOffset start) : TimeProvider
{
    /// <summary>A fixed, millisecond-aligned start (stores keep times in milliseconds).</summary>
    public static readonly DateTimeOffset T0 = new(2026, 3, 2, 9, 0, 0, TimeSpan.Zero);

    private readonly Lock gate = new();
    private DateTimeOffset now = start;

    public VirtualClock()
        : this(T0)
    {
    }

    public DateTimeOffset Now
    {
        get
        {
            lock (gate)
            {
                return now;
            }
        }

        set
        {
            lock (gate)
            {
                now = value;
            }
        }
    }

    public override DateTimeOffset GetUtcNow() => Now;

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        if (dueTime != Timeout.InfiniteTimeSpan)
        {
            lock (gate)
            {
                now += dueTime;
            }

            ThreadPool.QueueUserWorkItem(_ => callback(state));
        }

        return new Fired();
    }

    private sealed class Fired : ITimer
    {
        public bool Change(TimeSpan dueTime, TimeSpan period) => false;

        public void Dispose()
        {
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
