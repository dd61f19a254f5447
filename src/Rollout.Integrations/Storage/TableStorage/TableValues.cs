using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;

namespace Rollout.Integrations.Storage.TableStorage;

/// <summary>How ids become keys, and how long text is spread over properties.</summary>
/// <remarks>
/// Limits checked on learn.microsoft.com "Understanding the Table service data model": PartitionKey and RowKey are
/// strings of up to 1 KiB and may not contain <c>/ \ # ?</c> or control characters (U+0000-U+001F, U+007F-U+009F);
/// a string property holds up to 64 KiB (UTF-16, so 32 K characters), a binary one 64 KiB; an entity holds at most
/// 255 properties (252 of them custom) and 1 MiB in all.
/// </remarks>
internal static class TableValues
{
    /// <summary>Characters per string property: 60,000 bytes as UTF-16, under the 64 KiB limit.</summary>
    internal const int CharsPerProperty = 30_000;

    /// <summary>Bytes per binary property, under the 64 KiB limit.</summary>
    internal const int BytesPerProperty = 60_000;

    /// <summary>Properties one long value may use: about 900,000 bytes, leaving room in the 1 MiB entity for the rest.</summary>
    internal const int MaxPropertiesPerValue = 15;

    /// <summary>
    /// Bytes one value may take in the request's JSON (UTF-8, escaped). The service measures the entity as UTF-16;
    /// Azurite measures the JSON body as UTF-8. Text under both limits stays text; anything larger is compressed.
    /// </summary>
    internal const int MaxJsonBytesPerValue = 900_000;

    private const int MaxEncodedKeyLength = 400;

    /// <summary>
    /// A key for any id: letters, digits, <c>-</c>, <c>_</c> and <c>.</c> stay; every other character becomes
    /// <c>!</c> and four hex digits. Too long a result becomes <c>~</c> and the SHA-256 of the id (the id itself is
    /// kept in a property, so nothing needs to decode a key).
    /// </summary>
    public static string Key(string id)
    {
        if (id.Length == 0)
        {
            return "!";
        }

        var key = new StringBuilder(id.Length);
        foreach (var c in id)
        {
            if (char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')
            {
                key.Append(c);
            }
            else
            {
                key.Append('!').Append(((int)c).ToString("X4", System.Globalization.CultureInfo.InvariantCulture));
            }
        }

        return key.Length <= MaxEncodedKeyLength
            ? key.ToString()
            : "~" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(id)));
    }

    /// <summary>
    /// Writes <paramref name="text"/> as string properties <c>Name</c>, <c>Name1</c>, <c>Name2</c>... of up to 30,000
    /// characters each (never splitting a surrogate pair); when that would take more than 15 properties, as gzip in
    /// binary properties <c>NameGz</c>, <c>NameGz1</c>... instead.
    /// </summary>
    public static void WriteText(TableEntity entity, string name, string text)
    {
        if (text.Length <= CharsPerProperty * MaxPropertiesPerValue && EscapedUtf8Length(text) <= MaxJsonBytesPerValue)
        {
            var index = 0;
            var start = 0;
            do
            {
                var length = Math.Min(CharsPerProperty, text.Length - start);
                if (length == CharsPerProperty && start + length < text.Length && char.IsHighSurrogate(text[start + length - 1]))
                {
                    length--;
                }

                entity[Part(name, index++)] = text.Substring(start, length);
                start += length;
            }
            while (start < text.Length);
            return;
        }

        byte[] compressed;
        using (var buffer = new MemoryStream())
        {
            using (var gzip = new GZipStream(buffer, CompressionLevel.Optimal, leaveOpen: true))
            {
                gzip.Write(Encoding.UTF8.GetBytes(text));
            }

            compressed = buffer.ToArray();
        }

        if (compressed.Length > BytesPerProperty * MaxPropertiesPerValue)
        {
            throw new InvalidOperationException(
                $"{name} is {text.Length} characters ({compressed.Length} bytes compressed), more than one table entity holds");
        }

        for (int index = 0, start = 0; start < compressed.Length; index++, start += BytesPerProperty)
        {
            entity[Part(name + "Gz", index)] = compressed.AsSpan(start, Math.Min(BytesPerProperty, compressed.Length - start)).ToArray();
        }
    }

    /// <summary>Reads what <see cref="WriteText"/> wrote, or null when there is nothing under <paramref name="name"/>.</summary>
    public static string? ReadText(TableEntity entity, string name)
    {
        if (entity.Contains(name))
        {
            var text = new StringBuilder();
            for (var index = 0; entity.GetString(Part(name, index)) is { } part; index++)
            {
                text.Append(part);
            }

            return text.ToString();
        }

        if (!entity.Contains(name + "Gz"))
        {
            return null;
        }

        using var compressed = new MemoryStream();
        for (var index = 0; entity.GetBinary(Part(name + "Gz", index)) is { } part; index++)
        {
            compressed.Write(part);
        }

        compressed.Position = 0;
        using var gzip = new GZipStream(compressed, CompressionMode.Decompress);
        using var reader = new StreamReader(gzip, Encoding.UTF8);
        return reader.ReadToEnd();
    }

    private static int EscapedUtf8Length(string text) =>
        Encoding.UTF8.GetByteCount(text) + text.Count(c => c is '"' or '\\' || char.IsControl(c)) * 5;

    private static string Part(string name, int index) => index == 0 ? name : name + index.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
