using System.Globalization;

namespace Rollout.LoadHarness;

/// <summary>Percentiles of a sample (nearest rank).</summary>
internal static class Stats
{
    public static double Percentile(IReadOnlyList<double> sorted, double p) =>
        sorted.Count == 0 ? double.NaN : sorted[Math.Clamp((int)Math.Ceiling(p / 100 * sorted.Count) - 1, 0, sorted.Count - 1)];

    public static string Summary(IEnumerable<double> values, string unit = "ms")
    {
        var sorted = values.Order().ToList();
        return sorted.Count == 0
            ? "no samples"
            : string.Create(CultureInfo.InvariantCulture,
                $"n={sorted.Count} p50={Percentile(sorted, 50):0.00}{unit} p90={Percentile(sorted, 90):0.00}{unit} p99={Percentile(sorted, 99):0.00}{unit} max={sorted[^1]:0.00}{unit}");
    }
}
