using Rollout.Core.Metrics;
using Rollout.Integrations.Metrics.AzureMonitor;

namespace Rollout.Integrations.Metrics;

/// <summary>The metric source adapters every host offers, so that plan validation and queries agree.</summary>
public static class MetricSources
{
    /// <summary>
    /// Creates the built-in adapters: <c>http</c> and <c>prometheus</c> over one shared HTTP client, and the
    /// Azure Monitor sources over one connection whose credential (DefaultAzureCredential unless given) is
    /// created on the first Azure Monitor query, never at start-up.
    /// </summary>
    public static IReadOnlyList<IMetricSource> CreateDefault(HttpClient http, TimeProvider? time = null, AzureMonitorConnection? azure = null)
    {
        time ??= TimeProvider.System;
        azure ??= new AzureMonitorConnection();
        return
        [
            new HttpMetricSource(http),
            new PrometheusMetricSource(http),
            new AzureMonitorLogsSource(azure, time),
            new AzureMonitorMetricsSource(azure, time),
        ];
    }
}
