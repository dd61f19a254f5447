using Rollout.Core.Metrics;

namespace Rollout.Functions.Tests;

/// <summary>Plans as a client sends them.</summary>
internal static class TestPlans
{
    public const string Approver = "alex@contoso.com";

    public static MetricSourceCatalog Catalog { get; } = new([MetricSourceSchema.Http]);

    /// <summary>Four stages over six days, a check every four hours, stop rules for two signals.</summary>
    public static string Days(string flag) => $$$"""
        {
          "name": "checkout-v2",
          "flag": "{{{flag}}}",
          "owner": "{{{Approver}}}",
          "stages": [
            { "name": "internal", "audience": { "groups": ["internal"] }, "minDuration": "P1D" },
            { "name": "10%", "percent": 10, "minDuration": "P2D" },
            { "name": "50%", "percent": 50, "minDuration": "P2D" },
            { "name": "100%", "percent": 100, "minDuration": "P1D" }
          ],
          "criteria": [
            { "name": "error-rate",
              "source": { "type": "http", "url": "http://127.0.0.1:9/error-rate?cohort={{cohort}}&since={{since}}", "value": "$.value", "samples": "$.count" },
              "max": 0.01, "maxBaselineRatio": 1.5, "minSamples": 100 }
          ],
          "evaluation": { "interval": "PT4H", "failureLimit": 2, "noDataLimit": 3, "onFailure": "rollback", "onNoData": "pause" },
          "stopOn": [ { "signal": "critical-issue", "action": "rollback" }, { "signal": "oncall-paged", "action": "pause" } ]
        }
        """;

    /// <summary>A first stage that needs sign-off, then everyone; a check every 30 minutes.</summary>
    public static string WithApproval(string flag) => $$$"""
        {
          "name": "search-v3",
          "flag": "{{{flag}}}",
          "owner": "{{{Approver}}}",
          "stages": [
            { "name": "internal", "audience": { "groups": ["internal"] }, "minDuration": "PT1H", "approval": { "approvers": ["{{{Approver}}}"] } },
            { "name": "everyone", "percent": 100, "minDuration": "PT1H" }
          ],
          "criteria": [
            { "name": "error-rate",
              "source": { "type": "http", "url": "http://127.0.0.1:9/error-rate?cohort={{cohort}}", "value": "$.value", "samples": "$.count" },
              "max": 0.01, "minSamples": 100 }
          ],
          "evaluation": { "interval": "PT30M", "failureLimit": 2, "noDataLimit": 3 }
        }
        """;
}
