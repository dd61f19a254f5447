// Stand-ins for Microsoft.Azure.Functions.Worker.TimerTriggerAttribute, TimerInfo and ScheduleStatus
// (package Microsoft.Azure.Functions.Worker.Extensions.Timer).
namespace Microsoft.Azure.Functions.Worker;

/// <summary>Binds a parameter to a timer that fires on an NCRONTAB schedule (six fields, seconds first).</summary>
[AttributeUsage(AttributeTargets.Parameter)]
public sealed class TimerTriggerAttribute(string schedule) : Attribute
{
    /// <summary>The schedule expression.</summary>
    public string Schedule { get; } = schedule;

    /// <summary>Also run when the host starts.</summary>
    public bool RunOnStartup { get; set; }

    /// <summary>Persist the schedule's status so missed occurrences are noticed.</summary>
    public bool UseMonitor { get; set; } = true;
}

/// <summary>What the timer knows when it fires.</summary>
public class TimerInfo
{
    /// <summary>The schedule's last and next occurrences (null without monitoring).</summary>
    public ScheduleStatus? ScheduleStatus { get; set; }

    /// <summary>True when this occurrence is late.</summary>
    public bool IsPastDue { get; set; }
}

/// <summary>A timer schedule's status.</summary>
public class ScheduleStatus
{
    /// <summary>The last occurrence.</summary>
    public DateTime Last { get; set; }

    /// <summary>The next occurrence.</summary>
    public DateTime Next { get; set; }

    /// <summary>When the status was last updated.</summary>
    public DateTime LastUpdated { get; set; }
}
