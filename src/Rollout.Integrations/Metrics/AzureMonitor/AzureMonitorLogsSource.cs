using System.Collections.Immutable;
using System.Text.Json;
using Rollout.Core.Metrics;
using Rollout.Core.Plans;

namespace Rollout.Integrations.Metrics.AzureMonitor;

/// <summary>
/// The <c>azure-monitor-logs</c> metric source: a KQL query against a Log Analytics workspace (<c>workspace</c>), an
/// Azure resource such as an Application Insights component (<c>resource</c>, resource-centric), or an Application
/// Insights application (<c>app</c>). The query's templates are expanded as KQL string-literal content.
/// </summary>
/// <remarks>
/// The answer must be one row: its <c>valueColumn</c> (default: the first column) is the value, its
/// <c>samplesColumn</c> the sample count. No table, no rows, several rows, null, NaN, infinity, a partial error
/// (even next to a full-looking table), an error status, throttling after Azure.Core's retries and a timeout are
/// all failed readings with their reason, never a value.
/// </remarks>
public sealed class AzureMonitorLogsSource(AzureMonitorConnection connection, TimeProvider time) : IMetricSource
{
    /// <summary>The source type.</summary>
    public const string Type = "azure-monitor-logs";

    private static readonly string[] Targets = ["workspace", "resource", "app"];

    /// <summary>The settings of an <c>azure-monitor-logs</c> source and their checks.</summary>
    public static MetricSourceSchema SchemaDefinition { get; } = new(
        Type,
        ["query"],
        ["workspace", "resource", "app", "valueColumn", "samplesColumn", "timespan", "endpoint", "timeout"],
        "samplesColumn",
        Check);

    /// <inheritdoc/>
    public MetricSourceSchema Schema => SchemaDefinition;

    /// <inheritdoc/>
    public async Task<MetricReading> ReadAsync(MetricQuery query, CancellationToken cancellationToken)
    {
        var spec = query.Source;
        var values = MetricTemplate.Values(query);
        var kql = MetricTemplate.Expand(spec.Get("query") ?? string.Empty, values, MetricTemplate.EscapeQueryLiteral);
        var range = spec.Get("timespan") is { } timespan
            ? new QueryTimeRange(MetricTemplate.Expand(timespan, values, v => v))
            : QueryTimeRange.Between(query.Since, time.GetUtcNow());
        var timeout = AzureMonitorSettings.Timeout(spec);
        using var timeoutSource = new CancellationTokenSource(timeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeoutSource.Token);
        try
        {
            var (kind, id) = Target(spec);
            if (id is null)
            {
                return MetricReading.Failed("the source names none of workspace, resource or app");
            }

            var client = connection.Logs(AzureMonitorSettings.Endpoint(spec, kind == "app" ? LogsQueryClient.ApplicationInsightsEndpoint : LogsQueryClient.DefaultEndpoint));
            var response = kind switch
            {
                "workspace" => await client.QueryWorkspaceAsync(id, kql, range, linked.Token),
                "resource" => await client.QueryResourceAsync(id, kql, range, linked.Token),
                _ => await client.QueryApplicationAsync(id, kql, range, linked.Token),
            };
            return Read(response.Value, spec);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return AzureMonitorSettings.Failure(ex, timeout, connection.Options.Retry.MaxRetries);
        }
    }

    /// <summary>The value (and sample count) of a logs answer, or why there is none.</summary>
    internal static MetricReading Read(LogsQueryResult result, MetricSourceSpec spec)
    {
        if (result.Status == LogsQueryResultStatus.PartialFailure)
        {
            // The service says the tables may be incomplete or wrong: never judge a rollout on them.
            return MetricReading.Failed($"partial result refused: {result.Error}");
        }

        if (result.Table is not { } table)
        {
            return MetricReading.Failed("the answer has no table");
        }

        if (table.Rows.IsEmpty)
        {
            return MetricReading.Failed("the query returned no rows");
        }

        if (table.Rows.Length > 1)
        {
            return MetricReading.Failed($"the query returned {table.Rows.Length} rows; summarize to one row in the query (e.g. '| summarize value = avg(x), samples = count()')");
        }

        if (table.Columns.IsEmpty)
        {
            return MetricReading.Failed("the answer has no columns");
        }

        var row = table.Rows[0];
        if (!TryCell(table, row, spec.Get("valueColumn") ?? table.Columns[0].Name, out var value, out var problem))
        {
            return MetricReading.Failed(problem);
        }

        long? samples = null;
        if (spec.Get("samplesColumn") is { } samplesColumn)
        {
            if (!TryCell(table, row, samplesColumn, out var count, out problem))
            {
                return MetricReading.Failed($"sample count: {problem}");
            }

            if (count < 0)
            {
                return MetricReading.Failed($"sample count in column '{samplesColumn}' is negative: {count}");
            }

            samples = (long)Math.Floor(count);
        }

        return new MetricReading(value, samples, null);
    }

    private static bool TryCell(LogsTable table, ImmutableArray<JsonElement> row, string column, out double value, out string problem)
    {
        value = double.NaN;
        problem = string.Empty;
        var index = -1;
        for (var i = 0; i < table.Columns.Length; i++)
        {
            if (table.Columns[i].Name == column)
            {
                index = i;
                break;
            }
        }

        if (index < 0)
        {
            problem = $"no column '{column}' in the answer (columns: {string.Join(", ", table.Columns.Select(c => c.Name))})";
            return false;
        }

        var cell = row[index];
        var type = table.Columns[index].Type;
        if (cell.ValueKind == JsonValueKind.Null)
        {
            problem = $"column '{column}' is null (no data)";
            return false;
        }

        if (!AzureMonitorSettings.TryNumber(cell, type, out value))
        {
            var raw = cell.GetRawText();
            problem = $"column '{column}' ({type}) is not a number: {(raw.Length <= 80 ? raw : raw[..80] + "…")}";
            return false;
        }

        if (double.IsNaN(value))
        {
            problem = $"column '{column}' is NaN";
            return false;
        }

        if (double.IsInfinity(value))
        {
            problem = $"column '{column}' is infinite";
            return false;
        }

        return true;
    }

    private static (string Kind, string? Id) Target(MetricSourceSpec spec)
    {
        foreach (var kind in Targets)
        {
            if (spec.Get(kind) is { } id)
            {
                return (kind, id);
            }
        }

        return (string.Empty, null);
    }

    private static IEnumerable<(string, string)> Check(MetricSourceSpec spec)
    {
        var targets = Targets.Where(t => spec.Get(t) is not null).ToArray();
        if (targets.Length != 1)
        {
            yield return (targets.Length == 0 ? "workspace" : targets[1], targets.Length == 0
                ? "one of 'workspace' (workspace id), 'resource' (ARM resource id) or 'app' (Application Insights app id) is required"
                : $"give exactly one of 'workspace', 'resource' or 'app' (found {string.Join(", ", targets)})");
        }

        foreach (var key in new[] { "workspace", "app" })
        {
            if (spec.Get(key) is { } id && !Guid.TryParse(id, out _))
            {
                yield return (key, $"'{id}' is not an id (a GUID such as 63613592-b6f7-4c3d-a390-22ba13102111, from the {(key == "app" ? "application's API Access" : "workspace's Properties")} page)");
            }
        }

        if (spec.Get("resource") is { } resource && !AzureMonitorSettings.IsArmScope(resource))
        {
            yield return ("resource", $"'{resource}' is not an Azure resource id (/subscriptions/{{id}}/resourceGroups/{{group}}/providers/...)");
        }

        foreach (var problem in MetricSourceSchema.CheckCommon(spec, "query", "timespan"))
        {
            yield return problem;
        }

        foreach (var key in new[] { "valueColumn", "samplesColumn" })
        {
            if (spec.Get(key) is { } column && string.IsNullOrWhiteSpace(column))
            {
                yield return (key, $"{key} is empty");
            }
        }

        if (spec.Get("timespan") is { } timespan && !IsTimespan(MetricTemplate.Expand(timespan, MetricTemplate.ProbeValues, v => v)))
        {
            yield return ("timespan", $"'{timespan}' is not an ISO 8601 time span: a duration ending now ('PT1H', 'P1D'), 'start/end' or 'start/duration' (e.g. '{{{{since}}}}/PT1H'); the default is from the stage's start to now");
        }

        foreach (var problem in AzureMonitorSettings.CheckEndpoint(spec))
        {
            yield return problem;
        }
    }

    private static bool IsTimespan(string text)
    {
        var parts = text.Split('/');
        static bool IsTime(string s) => DateTimeOffset.TryParse(s, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out _) && s.Contains('T', StringComparison.Ordinal);
        return parts.Length switch
        {
            1 => AzureMonitorSettings.IsIsoDuration(parts[0]),
            2 => IsTime(parts[0]) && (IsTime(parts[1]) || AzureMonitorSettings.IsIsoDuration(parts[1])),
            _ => false,
        };
    }
}
