using System.Collections.Concurrent;
using Azure.Core;
using Azure.Identity;

namespace Rollout.Integrations.Metrics.AzureMonitor;

/// <summary>
/// What the Azure Monitor sources share: the credential, the client options and one client per endpoint. The
/// credential is <see cref="DefaultAzureCredential"/> (managed identity on Azure; environment, workload identity or
/// a developer's Azure CLI login elsewhere) unless one is given, and it is created on the first query, not when
/// the host starts, so a host that never reads Azure Monitor never touches it.
/// </summary>
public sealed class AzureMonitorConnection
{
    private readonly Lazy<TokenCredential> credential;
    private readonly ConcurrentDictionary<Uri, Lazy<LogsQueryClient>> logs = new();
    private readonly ConcurrentDictionary<Uri, Lazy<MetricsQueryClient>> metrics = new();

    /// <summary>Creates a connection with <paramref name="credential"/> (default: DefaultAzureCredential, created lazily) and <paramref name="options"/>.</summary>
    public AzureMonitorConnection(TokenCredential? credential = null, AzureMonitorClientOptions? options = null)
    {
        this.credential = new Lazy<TokenCredential>(() => credential ?? new DefaultAzureCredential(), LazyThreadSafetyMode.ExecutionAndPublication);
        Options = options ?? new AzureMonitorClientOptions();
    }

    /// <summary>The options every client is built with (retries, transport).</summary>
    public AzureMonitorClientOptions Options { get; }

    /// <summary>Whether the credential has been created (it is, on the first query).</summary>
    public bool IsCredentialCreated => credential.IsValueCreated;

    /// <summary>The logs client for <paramref name="endpoint"/>.</summary>
    public LogsQueryClient Logs(Uri endpoint) =>
        logs.GetOrAdd(endpoint, e => new Lazy<LogsQueryClient>(() => new LogsQueryClient(e, credential.Value, Options))).Value;

    /// <summary>The metrics client for <paramref name="endpoint"/>.</summary>
    public MetricsQueryClient Metrics(Uri endpoint) =>
        metrics.GetOrAdd(endpoint, e => new Lazy<MetricsQueryClient>(() => new MetricsQueryClient(e, credential.Value, Options))).Value;
}
