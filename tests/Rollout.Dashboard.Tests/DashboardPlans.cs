using Rollout.Cli.Tests;

namespace Rollout.Dashboard.Tests;

/// <summary>The plans the dashboard tests start: four stages, so the chart has bands to draw.</summary>
internal static class DashboardPlans
{
    /// <summary>
    /// A plan checked every second against the demo metrics. <paramref name="bake"/> is every stage's bake time;
    /// <paramref name="regressAt"/> makes the demo's error rate jump once exposure reaches that percent;
    /// <paramref name="approvalOnFirstStage"/> asks alex@contoso.com to sign off the first stage;
    /// <paramref name="exposureWebhook"/> writes each stage's exposure to that webhook (an external exposure target).
    /// </summary>
    public static string Plan(this TestHost host, string flag, string bake = "0s", decimal? regressAt = null, bool approvalOnFirstStage = false, Uri? exposureWebhook = null)
    {
        var exposure = exposureWebhook is null ? string.Empty : $$""", "exposure": { "type": "webhook", "url": "{{exposureWebhook}}", "timeout": "2s" }""";
        var regress = regressAt is { } r ? $"&regressAt={r.ToString(System.Globalization.CultureInfo.InvariantCulture)}" : string.Empty;
        var approval = approvalOnFirstStage ? """, "approval": { "approvers": ["alex@contoso.com"] }""" : string.Empty;
        return $$"""
            {
              "name": "{{flag}}", "flag": "{{flag}}", "owner": "alex@contoso.com",
              "description": "Dashboard test plan for {{flag}}.",
              "stages": [
                { "name": "internal", "audience": { "groups": ["internal"] }, "minDuration": "{{bake}}"{{approval}} },
                { "name": "10%", "percent": 10, "minDuration": "{{bake}}" },
                { "name": "50%", "percent": 50, "minDuration": "{{bake}}" },
                { "name": "100%", "percent": 100, "minDuration": "{{bake}}" }
              ],
              "criteria": [
                { "name": "error-rate",
                  "source": { "type": "http", "url": "{{host.Address}}demo/metrics/error-rate?flag={{"{{flag}}"}}&cohort={{"{{cohort}}"}}{{regress}}",
                              "value": "$.value", "samples": "$.count", "timeout": "2s" },
                  "max": 0.01, "maxBaselineRatio": 1.5, "minSamples": 100 }
              ],
              "evaluation": { "interval": "1s", "failureLimit": 2, "noDataLimit": 3 },
              "stopOn": [ { "signal": "critical-issue", "action": "rollback" } ]{{exposure}}
            }
            """;
    }
}
