using Rollout.Core.Plans;

namespace Rollout.Core.Metrics;

/// <summary>The cohort a metric is read for: those exposed to the feature, or those who are not.</summary>
public enum Cohort
{
    /// <summary>Subjects exposed to the feature.</summary>
    Treatment,

    /// <summary>Subjects not exposed, the comparison group.</summary>
    Baseline,
}

/// <summary>One question to a metric source: a criterion's source, for one cohort, since the stage began.</summary>
public sealed record MetricQuery(
    MetricSourceSpec Source,
    Cohort Cohort,
    string RolloutId,
    string Flag,
    string Stage,
    DateTimeOffset Since,
    TimeSpan? Window = null);

/// <summary>
/// What a metric source answered: a value and a sample count, or why there is none. A reading with an
/// <see cref="Error"/> is never used as a value.
/// </summary>
public readonly record struct MetricReading(double? Value, long? Samples, string? Error, System.Collections.Immutable.ImmutableArray<double> Values = default)
{
    /// <summary>A reading that failed for <paramref name="reason"/>.</summary>
    public static MetricReading Failed(string reason) => new(null, null, reason);
}

/// <summary>A port to a monitoring system. Implementations never throw for monitoring faults: they return a failed reading.</summary>
public interface IMetricSource
{
    /// <summary>The source type this adapter serves (e.g. <c>http</c>) and the settings it accepts.</summary>
    MetricSourceSchema Schema { get; }

    /// <summary>Reads one metric for one cohort.</summary>
    Task<MetricReading> ReadAsync(MetricQuery query, CancellationToken cancellationToken);
}
