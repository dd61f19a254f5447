using System.Text.Json;
using Microsoft.DurableTask;
using Rollout.Functions.Orchestration;

namespace Rollout.Functions.Tests.Fakes;

/// <summary>What one generation (one execution between two ContinueAsNew) did, and the history it was given.</summary>
internal sealed record GenerationRecord(
    string InputJson,
    DateTimeOffset StartedAt,
    IReadOnlyList<(string Name, string Json)> InitialBuffer,
    IReadOnlyList<OrchestratorAction> Actions,
    IReadOnlyList<HistoryEvent> History,
    bool ContinuedAsNew,
    DateTimeOffset EndedAt);

/// <summary>
/// Drives an orchestrator function the way the Durable runtime does, on a virtual clock: it runs a generation until
/// the orchestrator awaits, executes the activities it called (real activity code, with the call's retry policy),
/// fires its timers and delivers external events in time order, and on ContinueAsNew starts the next generation with
/// the new input and the unprocessed events. Days of rollout take milliseconds. Every generation's decisions and
/// history are recorded so that it can be replayed.
/// </summary>
internal sealed class OrchestrationHarness(
    string instanceId,
    VirtualClock clock,
    Func<TaskOrchestrationContext, Task> orchestrator,
    IReadOnlyDictionary<string, Func<string?, Task<string?>>> activities)
{
    private readonly List<(DateTimeOffset At, long Seq, string Name, string Json)> scheduled = [];
    private List<(string Name, string Json)> carried = [];
    private long seq;
    private Run? current;

    public string InstanceId => instanceId;

    public VirtualClock Clock => clock;

    public List<GenerationRecord> Generations { get; } = [];

    /// <summary>Every activity execution, retries included: (name, attempt).</summary>
    public List<(string Name, int Attempt)> ActivityExecutions { get; } = [];

    /// <summary>Events raised after the orchestration completed (the runtime drops them).</summary>
    public List<(string Name, string Json)> Dropped { get; } = [];

    /// <summary>Events handed to a cancelled waiter (lost, as in the runtime); the orchestrator must never cause one.</summary>
    public int LostEvents { get; private set; }

    public string? InputJson { get; private set; }

    public bool IsCompleted { get; private set; }

    /// <summary>The input of the running (or next) generation.</summary>
    public RolloutCheckpoint Checkpoint => JsonSerializer.Deserialize<RolloutCheckpoint>(InputJson!, FakeOrchestrationContext.Json)!;

    public void Start(object input) => InputJson = JsonSerializer.Serialize(input, input.GetType(), FakeOrchestrationContext.Json);

    public void Start(string inputJson) => InputJson = inputJson;

    /// <summary>An external event arriving at <paramref name="at"/> (now by default).</summary>
    public void Raise(string name, object payload, DateTimeOffset? at = null) =>
        RaiseJson(name, JsonSerializer.Serialize(payload, payload.GetType(), FakeOrchestrationContext.Json), at);

    /// <summary>An external event with a serialized payload arriving at <paramref name="at"/> (now by default).</summary>
    public void RaiseJson(string name, string json, DateTimeOffset? at = null)
    {
        if (IsCompleted)
        {
            Dropped.Add((name, json));
            return;
        }

        scheduled.Add((at ?? clock.Now, seq++, name, json));
        scheduled.Sort((a, b) => a.At != b.At ? a.At.CompareTo(b.At) : a.Seq.CompareTo(b.Seq));
    }

    /// <summary>Runs until the orchestration waits with nothing due at the current time.</summary>
    public async Task RunUntilIdleAsync()
    {
        while (await StepAsync(clock.Now))
        {
        }
    }

    /// <summary>Runs, moving the clock, until <paramref name="done"/> holds after a generation (or the orchestration completes).</summary>
    public async Task RunUntilAsync(Func<OrchestrationHarness, bool> done, int maxGenerations = 5000)
    {
        var start = Generations.Count;
        while (!done(this))
        {
            if (IsCompleted)
            {
                throw new AssertFailedException("the orchestration completed before the condition held");
            }

            if (Generations.Count - start > maxGenerations)
            {
                throw new AssertFailedException($"the condition did not hold within {maxGenerations} generations");
            }

            var before = Generations.Count;
            while (Generations.Count == before && !IsCompleted)
            {
                if (!await StepAsync(horizon: null))
                {
                    throw new AssertFailedException("the orchestration waits for an event that never comes");
                }
            }
        }
    }

    /// <summary>Runs everything due up to <paramref name="until"/>, then sets the clock there.</summary>
    public async Task AdvanceToAsync(DateTimeOffset until)
    {
        while (await StepAsync(until))
        {
        }

        if (clock.Now < until)
        {
            clock.Now = until;
        }
    }

    /// <summary>Runs the recorded generation again from its input and history; returns the decisions it makes.</summary>
    public IReadOnlyList<OrchestratorAction> Replay(GenerationRecord record)
    {
        var context = new FakeOrchestrationContext(instanceId, record.InputJson, record.StartedAt, record.InitialBuffer, replaying: true);
        var pump = new OrchestratorPump();
        var task = pump.Run(() => orchestrator(context));
        foreach (var entry in record.History)
        {
            pump.Drain();
            if (task.IsCompleted)
            {
                throw new AssertFailedException($"non-deterministic: the replay finished with history left ({entry})");
            }

            context.CurrentTime = entry.At;
            switch (entry.Kind)
            {
                case "ActivityCompleted":
                    Pending(context, entry).Complete(entry.Payload);
                    break;
                case "ActivityFailed":
                    var failure = JsonSerializer.Deserialize<TaskFailureDetails>(entry.Payload!, FakeOrchestrationContext.Json)!;
                    var failed = Pending(context, entry);
                    failed.Fail(new TaskFailedException(failed.Name, failed.Id, failure));
                    break;
                case "TimerFired":
                    var timer = context.Timers.SingleOrDefault(t => t.Id == entry.TaskId && !t.Done)
                        ?? throw new AssertFailedException($"non-deterministic: no timer #{entry.TaskId} in the replay");
                    timer.Done = true;
                    timer.Completion.TrySetResult();
                    break;
                case "EventRaised":
                    context.DeliverEvent(entry.Name!, entry.Payload!);
                    break;
                default:
                    throw new InvalidOperationException(entry.Kind);
            }
        }

        pump.Drain();
        if (!task.IsCompleted)
        {
            throw new AssertFailedException("non-deterministic: the replay waits for more than the recorded history");
        }

        return context.Actions;
    }

    private static PendingActivity Pending(FakeOrchestrationContext context, HistoryEvent entry)
    {
        var activity = context.Activities.SingleOrDefault(a => a.Id == entry.TaskId && !a.Done)
            ?? throw new AssertFailedException($"non-deterministic: no pending activity #{entry.TaskId} in the replay");
        activity.Done = true;
        return activity;
    }

    // One unit of progress: start or finish a generation, run an activity, or deliver the next timer or event that is
    // due no later than the horizon. False when nothing is left to do up to the horizon.
    private async Task<bool> StepAsync(DateTimeOffset? horizon)
    {
        if (IsCompleted || InputJson is null)
        {
            return false;
        }

        if (current is null)
        {
            var context = new FakeOrchestrationContext(instanceId, InputJson, clock.Now, carried, replaying: false);
            var pump = new OrchestratorPump();
            current = new Run(context, pump, [.. carried], clock.Now) { Task = pump.Run(() => orchestrator(context)) };
            return true;
        }

        var run = current;
        run.Pump.Drain();
        if (run.Task.IsCompleted)
        {
            Finish(run);
            return true;
        }

        if (run.Context.Activities.FirstOrDefault(a => !a.Done) is { } activity)
        {
            await ExecuteAsync(run, activity);
            run.Pump.Drain();
            return true;
        }

        var timer = run.Context.Timers.Where(t => !t.Done && !t.Cancelled).OrderBy(t => t.FireAt).ThenBy(t => t.Id).FirstOrDefault();
        var timerAt = timer is null ? (DateTimeOffset?)null : Max(timer.FireAt, clock.Now);
        var eventAt = scheduled.Count == 0 ? (DateTimeOffset?)null : Max(scheduled[0].At, clock.Now);
        if (timerAt is null && eventAt is null)
        {
            return false;
        }

        var deliverEvent = eventAt is not null && (timerAt is null || eventAt <= timerAt);
        var at = deliverEvent ? eventAt!.Value : timerAt!.Value;
        if (horizon is { } h && at > h)
        {
            return false;
        }

        clock.Now = at;
        run.Context.CurrentTime = at;
        if (deliverEvent)
        {
            DeliverNext(run);
        }
        else
        {
            timer!.Done = true;
            run.History.Add(new("TimerFired", timer.Id, null, null, at));
            timer.Completion.TrySetResult();
        }

        run.Pump.Drain();
        return true;
    }

    private void DeliverNext(Run run)
    {
        var (_, _, name, json) = scheduled[0];
        scheduled.RemoveAt(0);
        run.History.Add(new("EventRaised", -1, name, json, clock.Now));
        if (!run.Context.DeliverEvent(name, json))
        {
            LostEvents++;
        }
    }

    private async Task ExecuteAsync(Run run, PendingActivity activity)
    {
        var handler = activities.TryGetValue(activity.Name, out var h) ? h : throw new InvalidOperationException($"no activity '{activity.Name}'");
        var policy = activity.Options?.Retry?.Policy;
        for (var attempt = 1; ; attempt++)
        {
            ActivityExecutions.Add((activity.Name, attempt));
            string? output;
            try
            {
                output = await handler(activity.InputJson);
            }
            catch (Exception ex)
            {
                if (attempt < (policy?.MaxNumberOfAttempts ?? 1))
                {
                    // The runtime waits on a durable timer between attempts.
                    var delay = policy!.FirstRetryInterval * Math.Pow(policy.BackoffCoefficient, attempt - 1);
                    clock.Now += delay < policy.MaxRetryInterval ? delay : policy.MaxRetryInterval;
                    continue;
                }

                DeliverDue(run);
                var details = new TaskFailureDetails(ex.GetType().FullName!, ex.Message, null, null, null);
                activity.Done = true;
                run.Context.CurrentTime = clock.Now;
                run.History.Add(new("ActivityFailed", activity.Id, activity.Name, JsonSerializer.Serialize(details, FakeOrchestrationContext.Json), clock.Now));
                activity.Fail(new TaskFailedException(activity.Name, activity.Id, details));
                return;
            }

            // Events that arrived while the activity ran come first in the history.
            DeliverDue(run);
            activity.Done = true;
            run.Context.CurrentTime = clock.Now;
            run.History.Add(new("ActivityCompleted", activity.Id, activity.Name, output, clock.Now));
            activity.Complete(output);
            return;
        }
    }

    private void DeliverDue(Run run)
    {
        while (scheduled.Count > 0 && scheduled[0].At <= clock.Now)
        {
            run.Context.CurrentTime = clock.Now;
            DeliverNext(run);
        }
    }

    private void Finish(Run run)
    {
        if (run.Task.Exception is { } failure)
        {
            throw new AssertFailedException($"the orchestrator failed in generation {Generations.Count}: {failure.InnerException}", failure.InnerException ?? failure);
        }

        var continued = run.Context.ContinuedAsNew;
        Generations.Add(new GenerationRecord(InputJson!, run.StartedAt, run.InitialBuffer, [.. run.Context.Actions], [.. run.History], continued is not null, clock.Now));
        current = null;
        if (continued is { } next)
        {
            InputJson = next.Json;
            carried = next.PreserveUnprocessedEvents ? [.. run.Context.UnprocessedEvents] : [];
        }
        else
        {
            IsCompleted = true;
            foreach (var (_, _, name, json) in scheduled)
            {
                Dropped.Add((name, json));
            }

            scheduled.Clear();
        }
    }

    private static DateTimeOffset Max(DateTimeOffset a, DateTimeOffset b) => a > b ? a : b;

    private sealed class Run(FakeOrchestrationContext context, OrchestratorPump pump, List<(string Name, string Json)> initialBuffer, DateTimeOffset startedAt)
    {
        public FakeOrchestrationContext Context { get; } = context;

        public OrchestratorPump Pump { get; } = pump;

        public List<(string Name, string Json)> InitialBuffer { get; } = initialBuffer;

        public DateTimeOffset StartedAt { get; } = startedAt;

        public List<HistoryEvent> History { get; } = [];

        public required Task Task { get; init; }
    }
}
