using Rollout.Core.Metrics;

namespace Rollout.Integrations.Metrics;

/// <summary>The metric source adapters every host offers, so that plan validation and queries agree.</summary>
public static class MetricSources
{
    /// <summary>Creates the built-in adapters over one shared HTTP client.</summary>
    public static IReadOnlyList<IMetricSource> CreateDefault(HttpClient http) =>
    [
        new HttpMetricSource(http),
        new PrometheusMetricSource(http),
    ];
}
