using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Rollout.Core.Plans;

/// <summary>
/// Parses and formats the durations a plan is written with: ISO 8601 (<c>PT10S</c>, <c>P2D</c>, <c>P1W</c>)
/// and shorthand (<c>500ms</c>, <c>10s</c>, <c>5m</c>, <c>8h</c>, <c>2d</c>).
/// </summary>
public static partial class Durations
{
    [GeneratedRegex(@"^P(?:(?<w>\d+)W)?(?:(?<d>\d+)D)?(?:T(?:(?<h>\d+)H)?(?:(?<m>\d+)M)?(?:(?<s>\d+(?:\.\d+)?)S)?)?$", RegexOptions.CultureInvariant)]
    private static partial Regex IsoPattern();

    [GeneratedRegex(@"^(?<n>\d+(?:\.\d+)?)(?<u>ms|s|m|h|d|w)$", RegexOptions.CultureInvariant)]
    private static partial Regex ShorthandPattern();

    /// <summary>Parses <paramref name="text"/>; returns false with a reason when it is not a duration.</summary>
    public static bool TryParse(string? text, out TimeSpan duration, out string error)
    {
        duration = TimeSpan.Zero;
        error = string.Empty;
        if (string.IsNullOrWhiteSpace(text))
        {
            error = "a duration is required (ISO 8601 such as 'PT10M' or shorthand such as '10m')";
            return false;
        }

        var value = text.Trim();
        var shorthand = ShorthandPattern().Match(value);
        if (shorthand.Success)
        {
            var n = double.Parse(shorthand.Groups["n"].Value, CultureInfo.InvariantCulture);
            var unit = shorthand.Groups["u"].Value;
            return TryFrom(unit switch
            {
                "ms" => n / 1000d,
                "s" => n,
                "m" => n * 60,
                "h" => n * 3600,
                "d" => n * 86400,
                _ => n * 7 * 86400,
            }, out duration, out error);
        }

        var iso = IsoPattern().Match(value.ToUpperInvariant());
        if (iso.Success && value.Length > 1 && !value.EndsWith('T') && !value.EndsWith('t'))
        {
            double Part(string name) => iso.Groups[name].Success ? double.Parse(iso.Groups[name].Value, CultureInfo.InvariantCulture) : 0d;
            var seconds = (Part("w") * 7 * 86400) + (Part("d") * 86400) + (Part("h") * 3600) + (Part("m") * 60) + Part("s");
            return TryFrom(seconds, out duration, out error);
        }

        error = value.Contains('Y', StringComparison.OrdinalIgnoreCase) || (value.StartsWith('P') && !value.Contains('T') && value.Contains('M'))
            ? $"'{value}' uses years or months, which have no fixed length; use days or weeks"
            : $"'{value}' is not a duration: use ISO 8601 such as 'PT10M' or 'P2D', or shorthand such as '10s', '5m', '8h', '2d'";
        return false;
    }

    /// <summary>Parses <paramref name="text"/> or throws <see cref="FormatException"/>.</summary>
    public static TimeSpan Parse(string text) =>
        TryParse(text, out var duration, out var error) ? duration : throw new FormatException(error);

    private static bool TryFrom(double seconds, out TimeSpan duration, out string error)
    {
        error = string.Empty;
        duration = TimeSpan.Zero;
        if (seconds > TimeSpan.FromDays(3650).TotalSeconds)
        {
            error = "a duration may not exceed 3650 days";
            return false;
        }

        duration = TimeSpan.FromMilliseconds(Math.Round(seconds * 1000d));
        return true;
    }

    /// <summary>Formats a duration in plain words, e.g. "2 days", "8 hours", "1 hour 30 minutes".</summary>
    public static string ToWords(TimeSpan duration)
    {
        if (duration <= TimeSpan.Zero)
        {
            return "no minimum time";
        }

        var parts = new List<string>(4);
        void Add(int n, string unit)
        {
            if (n > 0)
            {
                parts.Add(n == 1 ? $"1 {unit}" : $"{n} {unit}s");
            }
        }

        Add(duration.Days, "day");
        Add(duration.Hours, "hour");
        Add(duration.Minutes, "minute");
        Add(duration.Seconds, "second");
        if (parts.Count == 0)
        {
            parts.Add($"{duration.Milliseconds} ms");
        }

        return string.Join(' ', parts);
    }

    /// <summary>Formats a duration as ISO 8601 (e.g. <c>P2DT4H</c>), the form the API returns.</summary>
    public static string ToIso(TimeSpan duration)
    {
        var sb = new StringBuilder("P");
        if (duration.Days > 0)
        {
            sb.Append(CultureInfo.InvariantCulture, $"{duration.Days}D");
        }

        var rest = duration - TimeSpan.FromDays(duration.Days);
        if (rest > TimeSpan.Zero || duration == TimeSpan.Zero)
        {
            sb.Append('T');
            if (rest.Hours > 0)
            {
                sb.Append(CultureInfo.InvariantCulture, $"{rest.Hours}H");
            }

            if (rest.Minutes > 0)
            {
                sb.Append(CultureInfo.InvariantCulture, $"{rest.Minutes}M");
            }

            var seconds = rest.Seconds + (rest.Milliseconds / 1000m);
            if (seconds > 0 || duration == TimeSpan.Zero)
            {
                sb.Append(seconds.ToString(CultureInfo.InvariantCulture)).Append('S');
            }
        }

        return sb.ToString();
    }
}
