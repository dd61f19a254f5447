// Stand-in for Microsoft.DurableTask.TaskName (package Microsoft.DurableTask.Abstractions), with its published value semantics.
namespace Microsoft.DurableTask;

/// <summary>The name of a durable task (activity or orchestrator).</summary>
public readonly struct TaskName : IEquatable<TaskName>
{
    /// <summary>A name without version.</summary>
    public TaskName(string name)
    {
        Name = name;
        Version = name is null ? null! : string.Empty;
    }

    /// <summary>The name.</summary>
    public string Name { get; }

    /// <summary>The version (always empty).</summary>
    public string Version { get; }

    /// <summary>The name as a string.</summary>
    public static implicit operator string(TaskName value) => value.Name;

    /// <summary>A string as a name.</summary>
    public static implicit operator TaskName(string value) => string.IsNullOrEmpty(value) ? default : new(value);

    /// <summary>Case-insensitive equality.</summary>
    public static bool operator ==(TaskName a, TaskName b) => a.Equals(b);

    /// <summary>Case-insensitive inequality.</summary>
    public static bool operator !=(TaskName a, TaskName b) => !a.Equals(b);

    /// <inheritdoc/>
    public bool Equals(TaskName other) => string.Equals(Name, other.Name, StringComparison.OrdinalIgnoreCase);

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is TaskName other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => Name is null ? 0 : StringComparer.OrdinalIgnoreCase.GetHashCode(Name);

    /// <inheritdoc/>
    public override string ToString() => string.IsNullOrEmpty(Version) ? Name : Name + ":" + Version;
}
