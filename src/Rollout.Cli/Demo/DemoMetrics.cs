using System.Globalization;
using Rollout.Core.Targeting;
using Rollout.Integrations.Exposure;

namespace Rollout.Cli.Demo;

/// <summary>
/// A stand-in monitoring endpoint for the demo (enabled by <c>rollout serve --demo-metrics</c> and by
/// <c>rollout demo</c>): a healthy error rate, or, with <c>regressAt=N</c>, a regression once the flag's
/// exposure reaches N percent. It answers in the shape the <c>http</c> source reads: <c>{value, count}</c>.
/// </summary>
internal static class DemoMetrics
{
    public static void Map(WebApplication app) =>
        app.MapGet("/demo/metrics/error-rate", (string flag, string? cohort, string? regressAt, FlagStore flags) =>
        {
            var (_, entry) = flags.Evaluate(flag, default(SubjectContext));
            var percent = entry?.Exposure.Percent ?? 0m;
            var regressing = decimal.TryParse(regressAt, NumberStyles.Number, CultureInfo.InvariantCulture, out var threshold) && percent >= threshold;
            return cohort == "baseline"
                ? Results.Json(new { value = 0.0050, count = 5000 })
                : Results.Json(new { value = regressing ? 0.0420 : 0.0046, count = 800 });
        });
}
