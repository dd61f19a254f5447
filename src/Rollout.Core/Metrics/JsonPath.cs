using System.Collections.Immutable;
using System.Globalization;
using System.Text.Json;

namespace Rollout.Core.Metrics;

/// <summary>
/// The JSONPath subset a metric source reads values with: <c>$</c>, <c>.name</c>, <c>['name']</c> and
/// <c>[index]</c> (negative indexes count from the end), e.g. <c>$.data[0].value</c>.
/// </summary>
public sealed class JsonPath
{
    private readonly ImmutableArray<object> segments;

    private JsonPath(string text, ImmutableArray<object> segments)
    {
        Text = text;
        this.segments = segments;
    }

    /// <summary>The path as written.</summary>
    public string Text { get; }

    /// <summary>Compiles a path, or says why it is not one.</summary>
    public static bool TryCompile(string text, out JsonPath path, out string error)
    {
        path = null!;
        error = string.Empty;
        var parts = ImmutableArray.CreateBuilder<object>();
        if (string.IsNullOrEmpty(text) || text[0] != '$')
        {
            error = $"'{text}' is not a JSONPath: it must start with '$', e.g. '$.value'";
            return false;
        }

        var i = 1;
        while (i < text.Length)
        {
            if (text[i] == '.')
            {
                var start = ++i;
                while (i < text.Length && text[i] != '.' && text[i] != '[')
                {
                    i++;
                }

                if (i == start)
                {
                    error = $"'{text}' has an empty name at position {start}";
                    return false;
                }

                parts.Add(text[start..i]);
            }
            else if (text[i] == '[')
            {
                var close = text.IndexOf(']', i);
                if (close < 0)
                {
                    error = $"'{text}' has an unclosed '[' at position {i}";
                    return false;
                }

                var inner = text[(i + 1)..close].Trim();
                if (inner.Length >= 2 && (inner[0] == '\'' || inner[0] == '"') && inner[^1] == inner[0])
                {
                    parts.Add(inner[1..^1]);
                }
                else if (int.TryParse(inner, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var index))
                {
                    parts.Add(index);
                }
                else
                {
                    error = $"'{text}' has '[{inner}]', which is neither an index nor a quoted name (filters and wildcards are not supported)";
                    return false;
                }

                i = close + 1;
            }
            else
            {
                error = $"'{text}' has an unexpected '{text[i]}' at position {i}";
                return false;
            }
        }

        path = new JsonPath(text, parts.ToImmutable());
        return true;
    }

    /// <summary>Finds the element the path points at.</summary>
    public bool TrySelect(JsonElement root, out JsonElement found)
    {
        found = root;
        foreach (var segment in segments)
        {
            if (segment is string name)
            {
                if (found.ValueKind != JsonValueKind.Object || !found.TryGetProperty(name, out found))
                {
                    return false;
                }
            }
            else
            {
                var index = (int)segment;
                if (found.ValueKind != JsonValueKind.Array)
                {
                    return false;
                }

                var length = found.GetArrayLength();
                if (index < 0)
                {
                    index += length;
                }

                if (index < 0 || index >= length)
                {
                    return false;
                }

                found = found[index];
            }
        }

        return true;
    }
}
