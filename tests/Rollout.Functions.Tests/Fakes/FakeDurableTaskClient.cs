using System.Text.Json;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;

namespace Rollout.Functions.Tests.Fakes;

/// <summary>
/// A <see cref="DurableTaskClient"/> that records what the triggers ask of it and hands it to the test (usually to an
/// <see cref="OrchestrationHarness"/> running the real orchestrator). Payloads go through JSON as on the wire.
/// </summary>
internal sealed class FakeDurableTaskClient() : DurableTaskClient("fake")
{
    public List<(string Orchestrator, string InstanceId, string InputJson)> Scheduled { get; } = [];

    public List<(string InstanceId, string EventName, string PayloadJson)> Raised { get; } = [];

    /// <summary>Runtime status by instance id; an instance is Running once scheduled.</summary>
    public Dictionary<string, OrchestrationRuntimeStatus> Statuses { get; } = [];

    public Func<string, string, Task>? OnScheduled { get; set; }

    public Func<string, string, string, Task>? OnRaised { get; set; }

    public override async Task<string> ScheduleNewOrchestrationInstanceAsync(TaskName orchestratorName, object? input = null, StartOrchestrationOptions? options = null, CancellationToken cancellation = default)
    {
        var id = options?.InstanceId ?? Guid.NewGuid().ToString("N");
        var json = JsonSerializer.Serialize(input, input?.GetType() ?? typeof(object), FakeOrchestrationContext.Json);
        Scheduled.Add((orchestratorName.Name, id, json));
        Statuses[id] = OrchestrationRuntimeStatus.Running;
        if (OnScheduled is not null)
        {
            await OnScheduled(id, json);
        }

        return id;
    }

    public override async Task RaiseEventAsync(string instanceId, string eventName, object? eventPayload = null, CancellationToken cancellation = default)
    {
        var json = JsonSerializer.Serialize(eventPayload, eventPayload?.GetType() ?? typeof(object), FakeOrchestrationContext.Json);
        Raised.Add((instanceId, eventName, json));
        if (OnRaised is not null)
        {
            await OnRaised(instanceId, eventName, json);
        }
    }

    public override Task<OrchestrationMetadata?> GetInstancesAsync(string instanceId, bool getInputsAndOutputs = false, CancellationToken cancellation = default) =>
        Task.FromResult(Statuses.TryGetValue(instanceId, out var status)
            ? new OrchestrationMetadata(FakeOrchestrationContext.OrchestratorName, instanceId) { RuntimeStatus = status }
            : null);

    public override Task<OrchestrationMetadata> WaitForInstanceStartAsync(string instanceId, bool getInputsAndOutputs = false, CancellationToken cancellation = default) =>
        throw new NotSupportedException();

    public override Task<OrchestrationMetadata> WaitForInstanceCompletionAsync(string instanceId, bool getInputsAndOutputs = false, CancellationToken cancellation = default) =>
        throw new NotSupportedException();

    public override Task SuspendInstanceAsync(string instanceId, string? reason = null, CancellationToken cancellation = default) => throw new NotSupportedException();

    public override Task ResumeInstanceAsync(string instanceId, string? reason = null, CancellationToken cancellation = default) => throw new NotSupportedException();

    public override AsyncPageable<OrchestrationMetadata> GetAllInstancesAsync(OrchestrationQuery? filter = null) => throw new NotSupportedException();

    public override ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
