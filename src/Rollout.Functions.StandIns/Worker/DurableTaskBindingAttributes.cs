// Stand-ins for the binding attributes of package Microsoft.Azure.Functions.Worker.Extensions.DurableTask.
namespace Microsoft.Azure.Functions.Worker;

/// <summary>Binds a TaskOrchestrationContext: the method is an orchestrator function.</summary>
[AttributeUsage(AttributeTargets.Parameter)]
public sealed class OrchestrationTriggerAttribute : Attribute
{
    /// <summary>The orchestration's name; the function name when null.</summary>
    public string? Orchestration { get; set; }
}

/// <summary>Binds an activity's input: the method is an activity function.</summary>
[AttributeUsage(AttributeTargets.Parameter)]
public sealed class ActivityTriggerAttribute : Attribute
{
    /// <summary>The activity's name; the function name when null.</summary>
    public string? Activity { get; set; }
}

/// <summary>Binds a DurableTaskClient.</summary>
[AttributeUsage(AttributeTargets.Parameter)]
public sealed class DurableClientAttribute : Attribute
{
    /// <summary>The task hub; host.json's when null.</summary>
    public string? TaskHub { get; set; }

    /// <summary>The app setting holding the storage connection.</summary>
    public string? ConnectionName { get; set; }
}
