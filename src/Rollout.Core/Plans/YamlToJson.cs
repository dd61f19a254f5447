using System.Globalization;
using System.Text.Json.Nodes;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Rollout.Core.Plans;

/// <summary>Converts a YAML plan into the JSON document the validator reads, keeping plain scalars' types.</summary>
internal static class YamlToJson
{
    public static JsonNode? Convert(string yaml)
    {
        var stream = new YamlStream();
        using var reader = new StringReader(yaml);
        stream.Load(reader);
        if (stream.Documents.Count == 0)
        {
            throw new FormatException("the YAML body holds no document");
        }

        if (stream.Documents.Count > 1)
        {
            throw new FormatException("the YAML body holds more than one document; send one plan per request");
        }

        return ToNode(stream.Documents[0].RootNode, 0);
    }

    private static JsonNode? ToNode(YamlNode node, int depth)
    {
        if (depth > 32)
        {
            throw new FormatException("the YAML document is nested too deeply");
        }

        switch (node)
        {
            case YamlMappingNode mapping:
                var obj = new JsonObject();
                foreach (var (key, value) in mapping.Children)
                {
                    var name = key is YamlScalarNode scalarKey ? scalarKey.Value ?? string.Empty : throw new FormatException($"line {key.Start.Line}: mapping keys must be plain text");
                    if (obj.ContainsKey(name))
                    {
                        throw new FormatException($"line {key.Start.Line}: key '{name}' appears twice");
                    }

                    obj[name] = ToNode(value, depth + 1);
                }

                return obj;
            case YamlSequenceNode sequence:
                var array = new JsonArray();
                foreach (var item in sequence.Children)
                {
                    array.Add(ToNode(item, depth + 1));
                }

                return array;
            case YamlScalarNode scalar:
                return Scalar(scalar);
            default:
                throw new FormatException($"line {node.Start.Line}: aliases and tags are not supported in plans");
        }
    }

    private static JsonValue? Scalar(YamlScalarNode scalar)
    {
        var text = scalar.Value ?? string.Empty;
        if (scalar.Style != ScalarStyle.Plain)
        {
            return JsonValue.Create(text);
        }

        switch (text)
        {
            case "" or "~" or "null" or "Null" or "NULL":
                return null;
            case "true" or "True" or "TRUE":
                return JsonValue.Create(true);
            case "false" or "False" or "FALSE":
                return JsonValue.Create(false);
        }

        if (decimal.TryParse(text, NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var number))
        {
            // Parsed back as JSON so the value reads as any numeric type, exactly as a JSON body would.
            return JsonNode.Parse(number.ToString(CultureInfo.InvariantCulture))!.AsValue();
        }

        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var real) && double.IsFinite(real))
        {
            return JsonNode.Parse(real.ToString("R", CultureInfo.InvariantCulture))!.AsValue();
        }

        return JsonValue.Create(text);
    }
}
