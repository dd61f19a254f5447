namespace Rollout.Functions.Tests.Fakes;

/// <summary>
/// The orchestrator's single thread: every continuation of the orchestrator function is posted here and run only when
/// the harness drains it, so what the orchestrator does between two history events is exactly reproducible.
/// </summary>
internal sealed class OrchestratorPump : SynchronizationContext
{
    private readonly Queue<(SendOrPostCallback Callback, object? State)> work = new();

    public override void Post(SendOrPostCallback d, object? state)
    {
        lock (work)
        {
            work.Enqueue((d, state));
        }
    }

    public override void Send(SendOrPostCallback d, object? state) => throw new NotSupportedException("an orchestrator never blocks");

    /// <summary>Starts <paramref name="start"/> on the pump and runs everything it posts.</summary>
    public T Run<T>(Func<T> start)
    {
        var previous = Current;
        SetSynchronizationContext(this);
        try
        {
            var result = start();
            DrainCore();
            return result;
        }
        finally
        {
            SetSynchronizationContext(previous);
        }
    }

    /// <summary>Runs every posted continuation, and what they post in turn.</summary>
    public void Drain()
    {
        var previous = Current;
        SetSynchronizationContext(this);
        try
        {
            DrainCore();
        }
        finally
        {
            SetSynchronizationContext(previous);
        }
    }

    private void DrainCore()
    {
        while (true)
        {
            (SendOrPostCallback Callback, object? State) next;
            lock (work)
            {
                if (!work.TryDequeue(out next))
                {
                    return;
                }
            }

            next.Callback(next.State);
        }
    }
}
