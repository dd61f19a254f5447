using System.Buffers;
using System.Collections.Immutable;
using System.Text.Json;
using Azure;
using Azure.Core;
using Azure.Core.Pipeline;

namespace Rollout.Integrations.Metrics.AzureMonitor;

/// <summary>Whether a logs query answered completely, or with a partial error next to its tables.</summary>
public enum LogsQueryResultStatus
{
    /// <summary>The tables are the whole result.</summary>
    Success,

    /// <summary>The service hit an error during execution; the tables may be incomplete or wrong.</summary>
    PartialFailure,
}

/// <summary>A column of a result table: its name and Kusto type (<c>long</c>, <c>real</c>, <c>string</c>, ...).</summary>
public sealed record LogsTableColumn(string Name, string Type);

/// <summary>One result table. Each row holds one JSON cell per column, in column order.</summary>
public sealed record LogsTable(string Name, ImmutableArray<LogsTableColumn> Columns, ImmutableArray<ImmutableArray<JsonElement>> Rows);

/// <summary>The answer to a logs query.</summary>
/// <param name="AllTables">Every table, in answer order (the first is <c>PrimaryResult</c>).</param>
/// <param name="Status">Complete, or partial with <paramref name="Error"/>.</param>
/// <param name="Error">The partial error as one line (code, message, details), when there is one.</param>
public sealed record LogsQueryResult(ImmutableArray<LogsTable> AllTables, LogsQueryResultStatus Status, string? Error)
{
    /// <summary>The primary result table, or null when the answer has none.</summary>
    public LogsTable? Table => AllTables.IsDefaultOrEmpty ? null : AllTables[0];
}

/// <summary>
/// A small client for the Azure Monitor Logs query API over Azure.Core's pipeline, shaped like
/// <c>Azure.Monitor.Query.LogsQueryClient</c> (<c>QueryWorkspaceAsync</c>, <c>QueryResourceAsync</c>) so it can be
/// swapped for it when that package can be restored. Non-200 answers throw <see cref="RequestFailedException"/>.
/// </summary>
/// <remarks>
/// Wire format, checked against Microsoft's REST reference ("Query - Execute", learn.microsoft.com/rest/api/loganalytics/dataaccess/query/execute;
/// "Query - Execute With Resource Id", learn.microsoft.com/rest/api/logsquery/query/execute-with-resource-id;
/// Application Insights "Query - Execute", learn.microsoft.com/rest/api/application-insights/query/execute) and the
/// Log Analytics v1 swagger (Azure/azure-rest-api-specs, operationalinsights data-plane stable/v1):
/// <list type="bullet">
/// <item>POST <c>{endpoint}/v1/workspaces/{workspaceId}/query</c>, <c>{endpoint}/v1{resourceId}/query</c> or
/// (Application Insights, <c>https://api.applicationinsights.io</c>) <c>{endpoint}/v1/apps/{appId}/query</c>;
/// body <c>{"query": "...", "timespan": "ISO 8601"}</c>, <c>Content-Type: application/json</c>.</item>
/// <item>200: <c>{"tables": [{"name", "columns": [{"name", "type"}], "rows": [[...]]}]}</c>; a non-fatal error during
/// execution still answers 200 with an <c>error</c> object whose code is <c>PartialError</c> next to the tables
/// ("Azure Monitor Log Analytics API response format", learn.microsoft.com/azure/azure-monitor/logs/api/response-format).</item>
/// <item>Other statuses: <c>{"error": {"code", "message", "details"?, "innererror"?}}</c>.</item>
/// </list>
/// </remarks>
public sealed class LogsQueryClient
{
    private readonly HttpPipeline pipeline;

    /// <summary>Creates a client for <paramref name="endpoint"/>; tokens are asked for the endpoint's <c>/.default</c> scope.</summary>
    public LogsQueryClient(Uri endpoint, TokenCredential credential, AzureMonitorClientOptions? options = null)
    {
        Endpoint = endpoint;
        pipeline = AzureMonitorPipeline.Build(endpoint, credential, options ?? new AzureMonitorClientOptions());
    }

    /// <summary>The public cloud's Log Analytics endpoint.</summary>
    public static Uri DefaultEndpoint { get; } = new("https://api.loganalytics.io");

    /// <summary>The public cloud's Application Insights endpoint, for queries by application id.</summary>
    public static Uri ApplicationInsightsEndpoint { get; } = new("https://api.applicationinsights.io");

    /// <summary>The service this client queries.</summary>
    public Uri Endpoint { get; }

    /// <summary>Runs <paramref name="query"/> against a Log Analytics workspace (by workspace id).</summary>
    public Task<Response<LogsQueryResult>> QueryWorkspaceAsync(string workspaceId, string query, QueryTimeRange? timeRange, CancellationToken cancellationToken = default) =>
        QueryAsync("/v1/workspaces/" + Uri.EscapeDataString(workspaceId) + "/query", query, timeRange, cancellationToken);

    /// <summary>
    /// Runs <paramref name="query"/> in the context of an Azure resource (resource-centric: the logs that resource
    /// sent to any workspace; an Application Insights component's ARM id queries its telemetry).
    /// </summary>
    public Task<Response<LogsQueryResult>> QueryResourceAsync(string resourceId, string query, QueryTimeRange? timeRange, CancellationToken cancellationToken = default) =>
        QueryAsync("/v1/" + resourceId.Trim('/') + "/query", query, timeRange, cancellationToken);

    /// <summary>Runs <paramref name="query"/> against an Application Insights application (by application id).</summary>
    public Task<Response<LogsQueryResult>> QueryApplicationAsync(string appId, string query, QueryTimeRange? timeRange, CancellationToken cancellationToken = default) =>
        QueryAsync("/v1/apps/" + Uri.EscapeDataString(appId) + "/query", query, timeRange, cancellationToken);

    private async Task<Response<LogsQueryResult>> QueryAsync(string path, string query, QueryTimeRange? timeRange, CancellationToken cancellationToken)
    {
        using var message = pipeline.CreateMessage();
        var request = message.Request;
        request.Method = RequestMethod.Post;
        request.Uri.Reset(Endpoint);
        request.Uri.AppendPath(path, escape: false);
        request.Headers.Add("Accept", "application/json");
        request.Headers.Add("Content-Type", "application/json");
        request.Content = RequestContent.Create(Body(query, timeRange));

        var response = await AzureMonitorPipeline.SendAsync(pipeline, message, cancellationToken).ConfigureAwait(false);
        return Response.FromValue(Parse(response.Content.ToMemory()), response);
    }

    private static ReadOnlyMemory<byte> Body(string query, QueryTimeRange? timeRange)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("query", query);
            if (timeRange is not null)
            {
                writer.WriteString("timespan", timeRange.Iso);
            }

            writer.WriteEndObject();
        }

        return buffer.WrittenMemory;
    }

    /// <summary>Reads a 200 answer; throws <see cref="JsonException"/> when it is not the documented shape.</summary>
    internal static LogsQueryResult Parse(ReadOnlyMemory<byte> json)
    {
        using var document = JsonDocument.Parse(json);
        var root = document.RootElement.Clone();
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new JsonException("the answer is not a JSON object");
        }

        string? error = null;
        if (root.TryGetProperty("error", out var errorElement) && errorElement.ValueKind == JsonValueKind.Object)
        {
            error = AzureMonitorPipeline.DescribeError(errorElement);
        }

        var tables = ImmutableArray.CreateBuilder<LogsTable>();
        if (root.TryGetProperty("tables", out var tablesElement) && tablesElement.ValueKind == JsonValueKind.Array)
        {
            foreach (var table in tablesElement.EnumerateArray())
            {
                tables.Add(ParseTable(table));
            }
        }
        else if (error is null)
        {
            throw new JsonException("the answer has no 'tables' array");
        }

        return new LogsQueryResult(tables.ToImmutable(), error is null ? LogsQueryResultStatus.Success : LogsQueryResultStatus.PartialFailure, error);
    }

    private static LogsTable ParseTable(JsonElement table)
    {
        if (table.ValueKind != JsonValueKind.Object
            || !table.TryGetProperty("columns", out var columnsElement) || columnsElement.ValueKind != JsonValueKind.Array
            || !table.TryGetProperty("rows", out var rowsElement) || rowsElement.ValueKind != JsonValueKind.Array)
        {
            throw new JsonException("a table lacks 'columns' or 'rows'");
        }

        var columns = columnsElement.EnumerateArray()
            .Select(c => new LogsTableColumn(Text(c, "name") ?? string.Empty, Text(c, "type") ?? string.Empty))
            .ToImmutableArray();
        var rows = ImmutableArray.CreateBuilder<ImmutableArray<JsonElement>>();
        foreach (var row in rowsElement.EnumerateArray())
        {
            if (row.ValueKind != JsonValueKind.Array || row.GetArrayLength() != columns.Length)
            {
                throw new JsonException($"a row does not have one cell per column ({columns.Length})");
            }

            rows.Add([.. row.EnumerateArray()]);
        }

        return new LogsTable(Text(table, "name") ?? string.Empty, columns, rows.ToImmutable());
    }

    private static string? Text(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}
