using System.Text.Json;
using Microsoft.DurableTask;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Rollout.Core.Api;

namespace Rollout.Functions.Tests.Fakes;

/// <summary>One decision of the orchestrator, in the order it made them: what a replay must reproduce exactly.</summary>
internal sealed record OrchestratorAction(string Kind, string Detail);

/// <summary>One history event handed to the orchestrator: an activity's result, a timer, an external event.</summary>
internal sealed record HistoryEvent(string Kind, int TaskId, string? Name, string? Payload, DateTimeOffset At);

/// <summary>An activity call the orchestrator is awaiting.</summary>
internal sealed class PendingActivity(int id, string name, string? inputJson, TaskOptions? options, Action<string?> complete, Action<Exception> fail)
{
    public int Id { get; } = id;

    public string Name { get; } = name;

    public string? InputJson { get; } = inputJson;

    public TaskOptions? Options { get; } = options;

    public bool Done { get; set; }

    public void Complete(string? outputJson) => complete(outputJson);

    public void Fail(Exception exception) => fail(exception);
}

/// <summary>A durable timer the orchestrator created.</summary>
internal sealed class PendingTimer(int id, DateTimeOffset fireAt)
{
    public int Id { get; } = id;

    public DateTimeOffset FireAt { get; } = fireAt;

    public TaskCompletionSource Completion { get; } = new();

    public bool Done { get; set; }

    public bool Cancelled { get; set; }
}

/// <summary>
/// A <see cref="TaskOrchestrationContext"/> for one generation, with the published semantics the orchestrator relies
/// on: payloads go through JSON (the worker's serializer), an event with no waiter is buffered and taken by the next
/// <see cref="WaitForExternalEvent{T}"/>, an event is handed to the oldest waiter of its name even if that waiter was
/// cancelled (as TaskOrchestrationContextWrapper does), and <see cref="ContinueAsNew"/> hands the buffered events on.
/// Time is whatever the harness sets: never the machine's clock.
/// </summary>
internal sealed class FakeOrchestrationContext : TaskOrchestrationContext
{
    public const string OrchestratorName = "RolloutOrchestrator";

    private readonly string inputJson;
    private readonly List<(string Name, string Json)> buffer;
    private readonly Dictionary<string, Queue<Func<string, bool>>> waiters = new(StringComparer.OrdinalIgnoreCase);
    private int nextTaskId;
    private int guids;

    public FakeOrchestrationContext(string instanceId, string inputJson, DateTimeOffset startedAt, IEnumerable<(string Name, string Json)> bufferedEvents, bool replaying)
    {
        InstanceId = instanceId;
        this.inputJson = inputJson;
        CurrentTime = startedAt;
        buffer = [.. bufferedEvents];
        IsReplaying = replaying;
    }

    public static JsonSerializerOptions Json => RolloutJson.Options;

    public List<OrchestratorAction> Actions { get; } = [];

    public List<PendingActivity> Activities { get; } = [];

    public List<PendingTimer> Timers { get; } = [];

    public DateTimeOffset CurrentTime { get; set; }

    public (string? Json, bool PreserveUnprocessedEvents)? ContinuedAsNew { get; private set; }

    public string? CustomStatusJson { get; private set; }

    /// <summary>Events received but not handed to any waiter.</summary>
    public IReadOnlyList<(string Name, string Json)> UnprocessedEvents => buffer;

    public override TaskName Name => OrchestratorName;

    public override string InstanceId { get; }

    public override ParentOrchestrationInstance? Parent => null;

    public override DateTime CurrentUtcDateTime => CurrentTime.UtcDateTime;

    public override bool IsReplaying { get; }

    public override string Version => string.Empty;

    public override IReadOnlyDictionary<string, object?> Properties { get; } = new Dictionary<string, object?>();

    protected override ILoggerFactory LoggerFactory => NullLoggerFactory.Instance;

    public override T? GetInput<T>() where T : default => JsonSerializer.Deserialize<T>(inputJson, Json);

    public override Task<TResult> CallActivityAsync<TResult>(TaskName name, object? input = null, TaskOptions? options = null)
    {
        var id = nextTaskId++;
        var json = input is null ? null : JsonSerializer.Serialize(input, input.GetType(), Json);
        Actions.Add(new("CallActivity", $"{name.Name}#{id} {json}"));
        var completion = new TaskCompletionSource<TResult>();
        Activities.Add(new PendingActivity(
            id,
            name.Name,
            json,
            options,
            output => completion.TrySetResult(output is null ? default! : JsonSerializer.Deserialize<TResult>(output, Json)!),
            exception => completion.TrySetException(exception)));
        return completion.Task;
    }

    public override Task CreateTimer(DateTime fireAt, CancellationToken cancellationToken)
    {
        var id = nextTaskId++;
        var timer = new PendingTimer(id, new DateTimeOffset(DateTime.SpecifyKind(fireAt, DateTimeKind.Utc)));
        Actions.Add(new("CreateTimer", $"#{id} {timer.FireAt:O}"));
        Timers.Add(timer);
        if (cancellationToken.CanBeCanceled)
        {
            cancellationToken.Register(() =>
            {
                if (!timer.Done && !timer.Cancelled)
                {
                    timer.Cancelled = true;
                    Actions.Add(new("CancelTimer", $"#{id}"));
                    timer.Completion.TrySetCanceled(cancellationToken);
                }
            });
        }

        return timer.Completion.Task;
    }

    public override Task<T> WaitForExternalEvent<T>(string eventName, CancellationToken cancellationToken = default)
    {
        Actions.Add(new("WaitForExternalEvent", eventName));
        var buffered = buffer.FindIndex(e => string.Equals(e.Name, eventName, StringComparison.OrdinalIgnoreCase));
        if (buffered >= 0)
        {
            var json = buffer[buffered].Json;
            buffer.RemoveAt(buffered);
            return Task.FromResult(JsonSerializer.Deserialize<T>(json, Json)!);
        }

        var completion = new TaskCompletionSource<T>();
        if (!waiters.TryGetValue(eventName, out var queue))
        {
            waiters[eventName] = queue = new Queue<Func<string, bool>>();
        }

        queue.Enqueue(json => completion.TrySetResult(JsonSerializer.Deserialize<T>(json, Json)!));
        cancellationToken.Register(() => completion.TrySetCanceled(cancellationToken));
        return completion.Task;
    }

    /// <summary>An external event arrives. Returns false when it went to a cancelled waiter and is lost.</summary>
    public bool DeliverEvent(string name, string json)
    {
        if (waiters.TryGetValue(name, out var queue) && queue.Count > 0)
        {
            var waiter = queue.Dequeue();
            if (queue.Count == 0)
            {
                waiters.Remove(name);
            }

            return waiter(json);
        }

        buffer.Add((name, json));
        return true;
    }

    public override void SendEvent(string instanceId, string eventName, object payload) =>
        Actions.Add(new("SendEvent", $"{instanceId} {eventName} {JsonSerializer.Serialize(payload, payload.GetType(), Json)}"));

    public override void SetCustomStatus(object? customStatus)
    {
        CustomStatusJson = customStatus is null ? null : JsonSerializer.Serialize(customStatus, customStatus.GetType(), Json);
        Actions.Add(new("SetCustomStatus", CustomStatusJson ?? "null"));
    }

    public override Task<TResult> CallSubOrchestratorAsync<TResult>(TaskName orchestratorName, object? input = null, TaskOptions? options = null) =>
        throw new NotSupportedException("the rollout orchestrator runs no sub-orchestrations");

    public override void ContinueAsNew(object? newInput = null, bool preserveUnprocessedEvents = true)
    {
        var json = newInput is null ? null : JsonSerializer.Serialize(newInput, newInput.GetType(), Json);
        Actions.Add(new("ContinueAsNew", json ?? "null"));
        ContinuedAsNew = (json, preserveUnprocessedEvents);
    }

    public override Guid NewGuid()
    {
        var bytes = new byte[16];
        BitConverter.TryWriteBytes(bytes, HashCode.Combine(InstanceId, guids++));
        return new Guid(bytes);
    }
}
