using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Azure;
using Azure.Core;
using Azure.Core.Pipeline;

namespace Rollout.Integrations.Storage.TableStorage;

/// <summary>How an update writes the entity: replace it whole (Update Entity, PUT) or merge properties (Merge Entity, MERGE).</summary>
internal enum TableUpdateMode
{
    Replace,
    Merge,
}

/// <summary>What one operation of an entity-group transaction does.</summary>
internal enum TableTransactionActionType
{
    Add,
    UpdateReplace,
    UpdateMerge,
    Delete,
}

/// <summary>One operation of an entity-group transaction; <see cref="IfMatch"/> is required for updates and deletes (<c>*</c> for any).</summary>
internal sealed record TableTransactionAction(TableTransactionActionType ActionType, TableEntity Entity, string? IfMatch = null);

/// <summary>An entity-group transaction failed as a whole; <see cref="FailedIndex"/> is the operation the service named, when it did.</summary>
internal sealed class TableTransactionFailedException(int status, string message, string? errorCode, int? failedIndex)
    : RequestFailedException(status, message, errorCode, null)
{
    public int? FailedIndex { get; } = failedIndex;
}

/// <summary>Options of the Table REST pipeline (Azure.Core's retries, transport and diagnostics).</summary>
internal sealed class TableRestClientOptions : ClientOptions
{
}

/// <summary>
/// A small client of one table over the Table service REST API, shaped like Azure.Data.Tables' TableClient (which
/// does not restore here), on Azure.Core's pipeline so authentication, retries and the transport are the SDK's own.
/// </summary>
/// <remarks>
/// REST facts, each checked on learn.microsoft.com (REST API reference for the Table service) and in Azurite 3.37's
/// table handlers, which the tests run against:
/// <list type="bullet">
/// <item><c>x-ms-version: 2019-02-02</c> (the version Azure.Data.Tables sends), <c>DataServiceVersion: 3.0</c>; JSON needs 2013-08-15 or later.</item>
/// <item><c>Accept: application/json;odata=minimalmetadata</c>, not nometadata: with nometadata a query's entities carry no
/// <c>odata.etag</c> ("Payload format for Table service operations"; Azurite's TableHandler adds it only for minimal/full
/// metadata), and the store needs each queried row's ETag for conditional updates.</item>
/// <item>Insert Entity: POST to the table; <c>Prefer: return-no-content</c> answers 204 with the ETag header instead of
/// 201 with the entity; an existing key answers 409 <c>EntityAlreadyExists</c> and changes nothing.</item>
/// <item>Update Entity (PUT, replaces every property) and Merge Entity (MERGE) require <c>If-Match</c>: the entity's ETag,
/// or <c>*</c> for unconditional; a mismatch answers 412 <c>UpdateConditionNotSatisfied</c>, a missing entity 404.</item>
/// <item>Entity address: <c>/table(PartitionKey='pk',RowKey='rk')</c>, a single quote doubled inside the literal and the
/// literal URL-encoded ("Update Entity", "Query Entities").</item>
/// <item>Query Entities: <c>GET /table()?$filter=...&amp;$select=...&amp;$top=n</c>; at most 1,000 entities per response;
/// more are announced by <c>x-ms-continuation-NextPartitionKey</c>/<c>-NextRowKey</c> headers, passed back as the
/// <c>NextPartitionKey</c>/<c>NextRowKey</c> query parameters with the same filter; a page may be empty and still
/// continue ("Query timeout and pagination").</item>
/// <item>Entity-group transactions: POST <c>/$batch</c>, <c>multipart/mixed</c> with one changeset of
/// <c>application/http</c> parts; every entity in one table and one partition, each entity at most once, at most 100
/// operations and 4 MiB; all or nothing; a failure answers the one failing operation, its error message prefixed
/// with the operation's 0-based index ("Performing entity group transactions").</item>
/// <item>Create Table: POST <c>/Tables</c> with <c>{"TableName":...}</c>, 409 <c>TableAlreadyExists</c> if it exists;
/// Delete Table: DELETE <c>/Tables('name')</c>. Table names match <c>^[A-Za-z][A-Za-z0-9]{2,62}$</c>
/// ("Understanding the Table service data model").</item>
/// </list>
/// </remarks>
internal sealed partial class TableRestClient
{
    public const string ServiceVersion = "2019-02-02";
    private const string JsonMinimalMetadata = "application/json;odata=minimalmetadata";
    private static readonly RequestMethod Merge = new("MERGE");
    private readonly HttpPipeline pipeline;
    private readonly Uri endpoint;

    public TableRestClient(HttpPipeline pipeline, Uri endpoint, string tableName)
    {
        this.pipeline = pipeline;
        this.endpoint = new Uri(endpoint.AbsoluteUri.TrimEnd('/'));
        Name = tableName;
    }

    public string Name { get; }

    /// <summary>Builds the pipeline: Azure.Core's retries and transport, plus Shared Key or bearer-token authentication.</summary>
    public static HttpPipeline CreatePipeline(HttpPipelinePolicy authentication, HttpPipelineTransport? transport)
    {
        var options = new TableRestClientOptions();
        if (transport is not null)
        {
            options.Transport = transport;
        }

        // Per-retry: each try is signed again (a fresh x-ms-date) or gets a valid token.
        return HttpPipelineBuilder.Build(options, [new VersionHeadersPolicy()], [authentication], null);
    }

    public async Task CreateIfNotExistsAsync(CancellationToken ct)
    {
        using var message = CreateMessage(RequestMethod.Post, "/Tables");
        SetJsonContent(message.Request, JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, string> { ["TableName"] = Name }));
        message.Request.Headers.Add("Prefer", "return-no-content");
        var response = await SendAsync(message, ct);
        if (response.Status is 201 or 204 || (response.Status == 409 && ErrorOf(response).Code == "TableAlreadyExists"))
        {
            return;
        }

        throw Failure(response, $"creating table '{Name}'");
    }

    public async Task DeleteAsync(CancellationToken ct)
    {
        using var message = CreateMessage(RequestMethod.Delete, $"/Tables({Uri.EscapeDataString(Literal(Name))})");
        var response = await SendAsync(message, ct);
        if (response.Status is 204 or 404)
        {
            return;
        }

        throw Failure(response, $"deleting table '{Name}'");
    }

    /// <summary>Inserts an entity; a 409 (the key exists) throws <see cref="RequestFailedException"/> with that status. Returns the new ETag.</summary>
    public async Task<string?> AddEntityAsync(TableEntity entity, CancellationToken ct)
    {
        using var message = CreateMessage(RequestMethod.Post, "/" + Name);
        SetJsonContent(message.Request, entity.ToJsonBytes());
        message.Request.Headers.Add("Prefer", "return-no-content");
        var response = await SendAsync(message, ct);
        return response.Status is 201 or 204 ? ETagOf(response) : throw Failure(response, $"inserting into '{Name}'");
    }

    /// <summary>Replaces or merges an entity if its ETag still is <paramref name="ifMatch"/> (412 otherwise). Returns the new ETag.</summary>
    public async Task<string?> UpdateEntityAsync(TableEntity entity, string ifMatch, TableUpdateMode mode, CancellationToken ct)
    {
        using var message = CreateMessage(mode == TableUpdateMode.Replace ? RequestMethod.Put : Merge, EntityPath(entity.PartitionKey, entity.RowKey));
        SetJsonContent(message.Request, entity.ToJsonBytes());
        message.Request.Headers.Add("If-Match", ifMatch);
        var response = await SendAsync(message, ct);
        return response.Status == 204 ? ETagOf(response) : throw Failure(response, $"updating an entity of '{Name}'");
    }

    /// <summary>Deletes an entity if its ETag still is <paramref name="ifMatch"/>.</summary>
    public async Task DeleteEntityAsync(string partitionKey, string rowKey, string ifMatch, CancellationToken ct)
    {
        using var message = CreateMessage(RequestMethod.Delete, EntityPath(partitionKey, rowKey));
        message.Request.Headers.Add("If-Match", ifMatch);
        var response = await SendAsync(message, ct);
        if (response.Status != 204)
        {
            throw Failure(response, $"deleting an entity of '{Name}'");
        }
    }

    /// <summary>Reads one entity with its ETag, or null when it does not exist.</summary>
    public async Task<TableEntity?> GetEntityAsync(string partitionKey, string rowKey, CancellationToken ct)
    {
        using var message = CreateMessage(RequestMethod.Get, EntityPath(partitionKey, rowKey));
        var response = await SendAsync(message, ct);
        if (response.Status == 404)
        {
            return null;
        }

        if (response.Status != 200)
        {
            throw Failure(response, $"reading an entity of '{Name}'");
        }

        using var json = JsonDocument.Parse(response.Content.ToMemory());
        return TableEntity.Read(json.RootElement, ETagOf(response));
    }

    /// <summary>
    /// Every entity matching <paramref name="filter"/> (an OData expression, or null for all), following continuation
    /// tokens until the last page. <paramref name="maxPerPage"/> is <c>$top</c>: the size of a page, not of the result.
    /// </summary>
    public async IAsyncEnumerable<TableEntity> QueryAsync(string? filter, IReadOnlyList<string>? select = null, int? maxPerPage = null, [EnumeratorCancellation] CancellationToken ct = default)
    {
        string? nextPartitionKey = null;
        string? nextRowKey = null;
        do
        {
            using var message = CreateMessage(RequestMethod.Get, $"/{Name}()");
            var uri = message.Request.Uri;
            if (filter is not null)
            {
                uri.AppendQuery("$filter", filter, escapeValue: true);
            }

            if (select is { Count: > 0 })
            {
                uri.AppendQuery("$select", string.Join(',', select), escapeValue: true);
            }

            if (maxPerPage is { } top)
            {
                uri.AppendQuery("$top", top.ToString(CultureInfo.InvariantCulture), escapeValue: false);
            }

            if (nextPartitionKey is not null)
            {
                uri.AppendQuery("NextPartitionKey", nextPartitionKey, escapeValue: true);
            }

            if (nextRowKey is not null)
            {
                uri.AppendQuery("NextRowKey", nextRowKey, escapeValue: true);
            }

            var response = await SendAsync(message, ct);
            if (response.Status != 200)
            {
                throw Failure(response, $"querying '{Name}'");
            }

            List<TableEntity> page;
            using (var json = JsonDocument.Parse(response.Content.ToMemory()))
            {
                page = json.RootElement.TryGetProperty("value", out var values)
                    ? [.. values.EnumerateArray().Select(e => TableEntity.Read(e))]
                    : [];
            }

            foreach (var entity in page)
            {
                yield return entity;
            }

            nextPartitionKey = response.Headers.TryGetValue("x-ms-continuation-NextPartitionKey", out var npk) && npk.Length > 0 ? npk : null;
            nextRowKey = response.Headers.TryGetValue("x-ms-continuation-NextRowKey", out var nrk) && nrk.Length > 0 ? nrk : null;
        }
        while (nextPartitionKey is not null || nextRowKey is not null);
    }

    /// <summary>
    /// Runs the actions as one entity-group transaction: all of them or none. Throws
    /// <see cref="TableTransactionFailedException"/> with the failing operation's status when the service refuses it.
    /// </summary>
    public async Task SubmitTransactionAsync(IReadOnlyList<TableTransactionAction> actions, CancellationToken ct)
    {
        if (actions.Count == 0)
        {
            return;
        }

        if (actions.Count > 100)
        {
            throw new InvalidOperationException($"an entity-group transaction holds at most 100 operations, not {actions.Count}");
        }

        if (actions.Select(a => a.Entity.PartitionKey).Distinct(StringComparer.Ordinal).Skip(1).Any())
        {
            throw new InvalidOperationException("an entity-group transaction must stay in one partition");
        }

        var batch = "batch_" + Guid.NewGuid().ToString("D");
        var changeset = "changeset_" + Guid.NewGuid().ToString("D");
        var body = new StringBuilder();
        body.Append("--").Append(batch).Append("\r\n")
            .Append("Content-Type: multipart/mixed; boundary=").Append(changeset).Append("\r\n\r\n");
        foreach (var action in actions)
        {
            var entity = action.Entity;
            var (verb, path) = action.ActionType switch
            {
                TableTransactionActionType.Add => ("POST", "/" + Name),
                TableTransactionActionType.UpdateReplace => ("PUT", EntityPath(entity.PartitionKey, entity.RowKey)),
                TableTransactionActionType.UpdateMerge => ("MERGE", EntityPath(entity.PartitionKey, entity.RowKey)),
                _ => ("DELETE", EntityPath(entity.PartitionKey, entity.RowKey)),
            };
            body.Append("--").Append(changeset).Append("\r\n")
                .Append("Content-Type: application/http\r\n")
                .Append("Content-Transfer-Encoding: binary\r\n\r\n")
                .Append(verb).Append(' ').Append(endpoint.AbsoluteUri).Append(path).Append(" HTTP/1.1\r\n")
                .Append("Accept: ").Append(JsonMinimalMetadata).Append("\r\n")
                .Append("DataServiceVersion: 3.0\r\n");
            if (action.ActionType == TableTransactionActionType.Add)
            {
                body.Append("Prefer: return-no-content\r\n");
            }
            else
            {
                body.Append("If-Match: ").Append(action.IfMatch ?? throw new InvalidOperationException($"{action.ActionType} needs If-Match")).Append("\r\n");
            }

            if (action.ActionType == TableTransactionActionType.Delete)
            {
                body.Append("\r\n");
            }
            else
            {
                // One line of JSON: the part's body runs to the next boundary.
                body.Append("Content-Type: application/json\r\n\r\n")
                    .Append(Encoding.UTF8.GetString(entity.ToJsonBytes())).Append("\r\n");
            }
        }

        body.Append("--").Append(changeset).Append("--\r\n")
            .Append("--").Append(batch).Append("--\r\n");

        using var message = CreateMessage(RequestMethod.Post, "/$batch");
        message.Request.Headers.Add("Content-Type", $"multipart/mixed; boundary={batch}");
        message.Request.Content = RequestContent.Create(Encoding.UTF8.GetBytes(body.ToString()));
        var response = await SendAsync(message, ct);
        if (response.Status != 202)
        {
            throw Failure(response, $"a transaction on '{Name}'");
        }

        // The answer is multipart too: one "HTTP/1.1 <status>" part per operation, or only the failing one.
        var text = response.Content.ToString();
        foreach (Match status in StatusLine().Matches(text))
        {
            var code = int.Parse(status.Groups[1].Value, CultureInfo.InvariantCulture);
            if (code < 300)
            {
                continue;
            }

            var jsonStart = text.IndexOf('{', status.Index);
            var error = jsonStart < 0 ? default : ParseError(text[jsonStart..]);
            var index = error.Message is { } m && IndexPrefix().Match(m) is { Success: true } prefix
                ? int.Parse(prefix.Groups[1].Value, CultureInfo.InvariantCulture)
                : (int?)null;
            throw new TableTransactionFailedException(code, $"a transaction on '{Name}' failed: {code} {error.Code}: {FirstLine(error.Message)}", error.Code, index);
        }
    }

    /// <summary>An OData string literal: single quotes around, a quote inside doubled.</summary>
    public static string Literal(string value) => "'" + value.Replace("'", "''", StringComparison.Ordinal) + "'";

    /// <summary>An Edm.Int64 literal in a filter (OData: digits with an L suffix).</summary>
    public static string Int64Literal(long value) => value.ToString(CultureInfo.InvariantCulture) + "L";

    /// <summary>Every entity matching <paramref name="filter"/>, all pages read into one list.</summary>
    public async Task<List<TableEntity>> QueryListAsync(string? filter, IReadOnlyList<string>? select, CancellationToken ct)
    {
        var rows = new List<TableEntity>();
        await foreach (var row in QueryAsync(filter, select, null, ct))
        {
            rows.Add(row);
        }

        return rows;
    }

    private string EntityPath(string partitionKey, string rowKey) =>
        $"/{Name}(PartitionKey={Uri.EscapeDataString(Literal(partitionKey))},RowKey={Uri.EscapeDataString(Literal(rowKey))})";

    private HttpMessage CreateMessage(RequestMethod method, string path)
    {
        var message = pipeline.CreateMessage();
        message.Request.Method = method;
        message.Request.Uri.Reset(endpoint);
        message.Request.Uri.AppendPath(path, escape: false);
        message.Request.Headers.Add("Accept", JsonMinimalMetadata);
        return message;
    }

    private static void SetJsonContent(Request request, byte[] json)
    {
        request.Headers.Add("Content-Type", "application/json");
        request.Content = RequestContent.Create(json);
    }

    private async Task<Response> SendAsync(HttpMessage message, CancellationToken ct)
    {
        await pipeline.SendAsync(message, ct);
        return message.Response;
    }

    private static string? ETagOf(Response response) => response.Headers.TryGetValue("ETag", out var etag) ? etag : null;

    private static (string? Code, string? Message) ErrorOf(Response response)
    {
        var error = ParseError(response.Content.ToString());
        return error.Code is null && response.Headers.TryGetValue("x-ms-error-code", out var header) ? (header, error.Message) : error;
    }

    private static (string? Code, string? Message) ParseError(string text)
    {
        try
        {
            var trimmed = text.TrimStart();
            using var json = JsonDocument.Parse(trimmed[..FindJsonEnd(trimmed)]);
            if (json.RootElement.TryGetProperty("odata.error", out var error))
            {
                var code = error.TryGetProperty("code", out var c) ? c.GetString() : null;
                var message = error.TryGetProperty("message", out var m)
                    ? m.ValueKind == JsonValueKind.Object && m.TryGetProperty("value", out var v) ? v.GetString() : m.GetString()
                    : null;
                return (code, message);
            }
        }
        catch (JsonException)
        {
        }

        return (null, null);
    }

    private static int FindJsonEnd(string text)
    {
        // The error body is one JSON object, possibly followed by a multipart boundary.
        var depth = 0;
        var inString = false;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (inString)
            {
                if (c == '\\')
                {
                    i++;
                }
                else if (c == '"')
                {
                    inString = false;
                }
            }
            else if (c == '"')
            {
                inString = true;
            }
            else if (c == '{')
            {
                depth++;
            }
            else if (c == '}' && --depth == 0)
            {
                return i + 1;
            }
        }

        return text.Length;
    }

    private RequestFailedException Failure(Response response, string what)
    {
        var (code, message) = ErrorOf(response);
        return new RequestFailedException(response.Status, $"{what} failed: {response.Status} {code ?? response.ReasonPhrase}: {FirstLine(message)}", code, null);
    }

    private static string FirstLine(string? message) => message is null ? string.Empty : message.Split('\n')[0].Trim();

    [GeneratedRegex(@"^HTTP/1\.1 (\d{3})", RegexOptions.Multiline)]
    private static partial Regex StatusLine();

    [GeneratedRegex(@"^(\d+):")]
    private static partial Regex IndexPrefix();

    /// <summary>Adds the service version headers to every request.</summary>
    private sealed class VersionHeadersPolicy : HttpPipelineSynchronousPolicy
    {
        public override void OnSendingRequest(HttpMessage message)
        {
            message.Request.Headers.SetValue("x-ms-version", ServiceVersion);
            message.Request.Headers.SetValue("DataServiceVersion", "3.0");
            message.Request.Headers.SetValue("MaxDataServiceVersion", "3.0;NetFx");
        }
    }
}
