using System.Diagnostics.Metrics;

namespace Rollout.Cli.Hosting;

/// <summary>
/// The local host's own measurements, as <see cref="System.Diagnostics.Metrics"/> instruments (meter <c>Rollout.Host</c>),
/// readable by <c>dotnet-counters</c>, OpenTelemetry or a <see cref="MeterListener"/> (the load harness in <c>bench/</c>).
/// </summary>
internal static class HostMetrics
{
    public const string MeterName = "Rollout.Host";

    private static readonly Meter Meter = new(MeterName);

    /// <summary>Scheduler lag: from the moment a rollout's evaluation was due to the start of its step, in milliseconds.</summary>
    public static readonly Histogram<double> SchedulerLag = Meter.CreateHistogram<double>("rollout.scheduler.lag", "ms", "from a rollout's due time to the start of its step");

    /// <summary>Evaluations checkpointed by this process.</summary>
    public static readonly Counter<long> Evaluations = Meter.CreateCounter<long>("rollout.evaluations", description: "evaluations checkpointed");
}
