using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Rollout.Integrations.Storage.TableStorage;

/// <summary>
/// One entity: its keys, its ETag (when read) and its typed properties. Shaped like Azure.Data.Tables' TableEntity,
/// reduced to the types this store writes: string, long (Edm.Int64), int, bool and byte[] (Edm.Binary).
/// </summary>
/// <remarks>
/// JSON shape checked against learn.microsoft.com "Payload format for Table service operations": Edm.Int64 and
/// Edm.Binary values are strings with a <c>Name@odata.type</c> annotation (Int64 as decimal text, Binary as base64);
/// strings, Int32 and booleans are plain JSON. Read back with minimal metadata, each entity carries
/// <c>odata.etag</c> and the type annotations of non-string properties.
/// </remarks>
internal sealed class TableEntity
{
    private readonly Dictionary<string, object> properties = new(StringComparer.Ordinal);

    public TableEntity(string partitionKey, string rowKey)
    {
        PartitionKey = partitionKey;
        RowKey = rowKey;
    }

    public string PartitionKey { get; }

    public string RowKey { get; }

    /// <summary>The ETag the service returned with the entity; null for an entity built to be written.</summary>
    public string? ETag { get; init; }

    public IEnumerable<string> PropertyNames => properties.Keys;

    /// <summary>The ETag of an entity read from the service, for a conditional write; throws when the service sent none.</summary>
    public string RequireETag() =>
        ETag ?? throw new InvalidDataException($"the service returned entity '{PartitionKey}/{RowKey}' without an ETag");

    /// <summary>Sets a property (string, long, int, bool or byte[]); null removes it.</summary>
    public object? this[string name]
    {
        get => properties.GetValueOrDefault(name);
        set
        {
            if (value is null)
            {
                properties.Remove(name);
                return;
            }

            properties[name] = value is string or long or int or bool or byte[] or JsonElement
                ? value
                : throw new ArgumentException($"property '{name}' has type {value.GetType().Name}, which this client does not write", nameof(value));
        }
    }

    public bool Contains(string name) => properties.ContainsKey(name);

    public string? GetString(string name) => properties.GetValueOrDefault(name) switch
    {
        null => null,
        string s => s,
        JsonElement { ValueKind: JsonValueKind.String } e => e.GetString(),
        JsonElement e => e.GetRawText(),
        var other => Convert.ToString(other, CultureInfo.InvariantCulture),
    };

    public long? GetInt64(string name) => properties.GetValueOrDefault(name) switch
    {
        null => null,
        long l => l,
        int i => i,
        JsonElement { ValueKind: JsonValueKind.String } e => long.Parse(e.GetString()!, NumberStyles.Integer, CultureInfo.InvariantCulture),
        JsonElement { ValueKind: JsonValueKind.Number } e => e.GetInt64(),
        var other => throw new InvalidDataException($"property '{name}' is a {other.GetType().Name}, not a 64-bit integer"),
    };

    public bool? GetBoolean(string name) => properties.GetValueOrDefault(name) switch
    {
        null => null,
        bool b => b,
        JsonElement { ValueKind: JsonValueKind.True } => true,
        JsonElement { ValueKind: JsonValueKind.False } => false,
        var other => throw new InvalidDataException($"property '{name}' is a {other.GetType().Name}, not a boolean"),
    };

    public byte[]? GetBinary(string name) => properties.GetValueOrDefault(name) switch
    {
        null => null,
        byte[] b => b,
        JsonElement { ValueKind: JsonValueKind.String } e => Convert.FromBase64String(e.GetString()!),
        var other => throw new InvalidDataException($"property '{name}' is a {other.GetType().Name}, not binary"),
    };

    /// <summary>Writes the entity as the JSON body of an insert, update or merge.</summary>
    public void WriteTo(Utf8JsonWriter writer)
    {
        writer.WriteStartObject();
        writer.WriteString("PartitionKey", PartitionKey);
        writer.WriteString("RowKey", RowKey);
        foreach (var (name, value) in properties)
        {
            switch (value)
            {
                case string s:
                    writer.WriteString(name, s);
                    break;
                case long l:
                    writer.WriteString(name + "@odata.type", "Edm.Int64");
                    writer.WriteString(name, l.ToString(CultureInfo.InvariantCulture));
                    break;
                case int i:
                    writer.WriteNumber(name, i);
                    break;
                case bool b:
                    writer.WriteBoolean(name, b);
                    break;
                case byte[] bytes:
                    writer.WriteString(name + "@odata.type", "Edm.Binary");
                    writer.WriteBase64String(name, bytes);
                    break;
                case JsonElement element:
                    writer.WritePropertyName(name);
                    element.WriteTo(writer);
                    break;
            }
        }

        writer.WriteEndObject();
    }

    public byte[] ToJsonBytes()
    {
        using var buffer = new MemoryStream();
        // Minimal escaping: the default encoder writes '"' and every non-ASCII character as \uXXXX, which would
        // inflate large values up to six times against the 1 MiB entity and 4 MiB transaction limits.
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            WriteTo(writer);
        }

        return buffer.ToArray();
    }

    /// <summary>Reads an entity from a minimal-metadata JSON object; the ETag comes from <c>odata.etag</c> or <paramref name="etag"/>.</summary>
    public static TableEntity Read(JsonElement json, string? etag = null)
    {
        var entity = new TableEntity(
            json.TryGetProperty("PartitionKey", out var pk) ? pk.GetString() ?? string.Empty : string.Empty,
            json.TryGetProperty("RowKey", out var rk) ? rk.GetString() ?? string.Empty : string.Empty)
        {
            ETag = json.TryGetProperty("odata.etag", out var tag) ? tag.GetString() : etag,
        };
        foreach (var property in json.EnumerateObject())
        {
            var name = property.Name;
            if (name is "PartitionKey" or "RowKey" || name.StartsWith("odata.", StringComparison.Ordinal) || name.EndsWith("@odata.type", StringComparison.Ordinal))
            {
                continue;
            }

            entity.properties[name] = property.Value.Clone();
        }

        return entity;
    }
}
