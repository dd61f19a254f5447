using Rollout.Core.Metrics;
using Rollout.Core.Plans;
using Rollout.Integrations.Metrics;
using Rollout.Integrations.Metrics.AzureMonitor;
using static Rollout.Integrations.Tests.Metrics.AzureMonitor.AzureQueries;

namespace Rollout.Integrations.Tests.Metrics.AzureMonitor;

/// <summary>The settings of the two Azure Monitor source types, as a plan is validated against them.</summary>
[TestClass]
public sealed class AzureMonitorSchemaTests
{
    private const string Component = "/subscriptions/1f3fa6d2-851c-4a91-9087-1a050f3a9c38/resourceGroups/shop/providers/Microsoft.Insights/components/checkout";

    private static (string Key, string Value)[] Logs(params (string Key, string Value)[] settings) =>
        [("query", "AppRequests | summarize avg(DurationMs)"), .. settings];

    private static string[] ProblemsOf(MetricSourceSchema schema, params (string Key, string Value)[] settings) =>
        [.. schema.Validate(Spec(schema.Type, settings)).Select(p => $"{p.Setting}: {p.Problem}")];

    [TestMethod]
    [DataRow("workspace", WorkspaceId)]
    [DataRow("resource", Component)]
    [DataRow("resource", "/subscriptions/1f3fa6d2-851c-4a91-9087-1a050f3a9c38/resourceGroups/shop")]
    [DataRow("app", "34adfa4f-cedf-4dc0-ba29-b6d1a69ab345")]
    public void Validate_LogsWithOneTarget_NoProblems(string key, string value)
    {
        var problems = ProblemsOf(AzureMonitorLogsSource.SchemaDefinition, Logs((key, value), ("timespan", "{{since}}/PT1H"), ("endpoint", "https://api.loganalytics.azure.cn"), ("timeout", "30s"), ("valueColumn", "avg_DurationMs")));

        Assert.IsEmpty(problems, string.Join("; ", problems));
    }

    [TestMethod]
    public void Validate_LogsWithoutTarget_AsksForOne()
    {
        CollectionAssert.AreEqual(
            new[] { "workspace: one of 'workspace' (workspace id), 'resource' (ARM resource id) or 'app' (Application Insights app id) is required" },
            ProblemsOf(AzureMonitorLogsSource.SchemaDefinition, Logs()));
    }

    [TestMethod]
    public void Validate_LogsWithTwoTargets_AsksForExactlyOne()
    {
        var problems = ProblemsOf(AzureMonitorLogsSource.SchemaDefinition, Logs(("workspace", WorkspaceId), ("resource", Component)));

        CollectionAssert.AreEqual(new[] { "resource: give exactly one of 'workspace', 'resource' or 'app' (found workspace, resource)" }, problems);
    }

    [TestMethod]
    [DataRow("workspace", "my-workspace", "workspace: 'my-workspace' is not an id")]
    [DataRow("app", "checkout", "app: 'checkout' is not an id")]
    [DataRow("resource", "subscriptions/x/resourceGroups/y", "resource: 'subscriptions/x/resourceGroups/y' is not an Azure resource id")]
    [DataRow("resource", "/subscriptions/x/resourceGroups/my group", "is not an Azure resource id")]
    public void Validate_LogsBadTarget_Refused(string key, string value, string expected)
    {
        var problems = ProblemsOf(AzureMonitorLogsSource.SchemaDefinition, Logs((key, value)));

        Assert.HasCount(1, problems);
        StringAssert.Contains(problems[0], expected);
    }

    [TestMethod]
    [DataRow("endpoint", "http://api.loganalytics.io", "endpoint: 'http://api.loganalytics.io' is not an https origin")]
    [DataRow("endpoint", "https://api.loganalytics.io/v1", "endpoint: 'https://api.loganalytics.io/v1' is not an https origin")]
    [DataRow("timeout", "10m", "timeout: timeout must be above 0 and at most 5 minutes")]
    [DataRow("timespan", "1h", "timespan: '1h' is not an ISO 8601 time span")]
    [DataRow("timespan", "yesterday/PT1H", "timespan: 'yesterday/PT1H' is not an ISO 8601 time span")]
    [DataRow("query", "T | where cohort == '{{cohrt}}'", "query: unknown template '{{cohrt}}'")]
    [DataRow("samplesColumn", " ", "samplesColumn: samplesColumn is empty")]
    public void Validate_LogsBadSetting_Refused(string key, string value, string expected)
    {
        var problems = ProblemsOf(AzureMonitorLogsSource.SchemaDefinition, [.. Logs(("workspace", WorkspaceId)).Where(s => s.Key != key), (key, value)]);

        Assert.HasCount(1, problems, string.Join("; ", problems));
        StringAssert.StartsWith(problems[0], expected);
    }

    [TestMethod]
    [DataRow("PT1H")]
    [DataRow("P1D")]
    [DataRow("2026-03-01T08:00:00Z/2026-03-01T09:00:00Z")]
    [DataRow("{{since}}/PT30M")]
    public void Validate_LogsIsoTimespan_Accepted(string timespan)
    {
        Assert.IsEmpty(ProblemsOf(AzureMonitorLogsSource.SchemaDefinition, Logs(("workspace", WorkspaceId), ("timespan", timespan))));
    }

    [TestMethod]
    public void Validate_MetricsWithEverySetting_NoProblems()
    {
        var problems = ProblemsOf(
            AzureMonitorMetricsSource.SchemaDefinition,
            ("resource", Component), ("metric", "requests/failed"), ("aggregation", "Total"), ("interval", "PT5M"), ("namespace", "microsoft.insights/components"),
            ("filter", "customDimensions/cohort eq '{{cohort}}'"), ("endpoint", "https://management.usgovcloudapi.net"), ("timeout", "20s"));

        Assert.IsEmpty(problems, string.Join("; ", problems));
    }

    [TestMethod]
    [DataRow("aggregation", "Median", "aggregation: 'Median' is not an aggregation (one of Average, Total, Count, Minimum, Maximum)")]
    [DataRow("interval", "5m", "interval: '5m' is not an interval")]
    [DataRow("metric", "Requests,Errors", "metric: 'Requests,Errors' is not one metric name")]
    [DataRow("resource", "/subscriptions/1f3fa6d2-851c-4a91-9087-1a050f3a9c38/resourceGroups/shop", "resource: '/subscriptions/1f3fa6d2-851c-4a91-9087-1a050f3a9c38/resourceGroups/shop' is not an Azure resource id")]
    [DataRow("filter", "Cohort eq '{{group}}'", "filter: unknown template '{{group}}'")]
    [DataRow("endpoint", "management.azure.com", "endpoint: 'management.azure.com' is not an https origin")]
    public void Validate_MetricsBadSetting_Refused(string key, string value, string expected)
    {
        (string Key, string Value)[] valid = [("resource", Component), ("metric", "requests/failed"), ("aggregation", "Average")];
        var problems = ProblemsOf(AzureMonitorMetricsSource.SchemaDefinition, [.. valid.Where(s => s.Key != key), (key, value)]);

        Assert.HasCount(1, problems, string.Join("; ", problems));
        StringAssert.StartsWith(problems[0], expected);
    }

    [TestMethod]
    public void Parse_PlanWithAzureMonitorSources_ValidWhenRegistered()
    {
        var result = PlanParser.Parse(Plan("""
            { "type": "azure-monitor-logs", "workspace": "63613592-b6f7-4c3d-a390-22ba13102111",
              "query": "AppRequests | where Properties.cohort == '{{cohort}}' | summarize rate = countif(Success == false) * 1.0 / count(), n = count()",
              "valueColumn": "rate", "samplesColumn": "n", "timeout": "30s" }
            """, """
            { "type": "azure-monitor-metrics", "resource": "/subscriptions/1f3fa6d2-851c-4a91-9087-1a050f3a9c38/resourceGroups/shop/providers/Microsoft.Web/sites/checkout",
              "metric": "Http5xx", "aggregation": "Total", "interval": "FULL" }
            """), isYaml: false, Catalog());

        Assert.IsTrue(result.IsValid, string.Join("; ", result.Errors.SelectMany(e => e.Value.Select(m => $"{e.Key}: {m}"))));
        Assert.AreEqual("azure-monitor-logs", result.Plan!.Criteria[0].Source.Type);
        Assert.AreEqual("rate", result.Plan.Criteria[0].Source.Get("valueColumn"));
        Assert.AreEqual("azure-monitor-metrics", result.Plan.Criteria[1].Source.Type);
    }

    [TestMethod]
    public void Parse_LogsWithMinSamplesButNoSamplesColumn_AsksForIt()
    {
        var result = PlanParser.Parse(Plan("""
            { "type": "azure-monitor-logs", "workspace": "63613592-b6f7-4c3d-a390-22ba13102111", "query": "T | summarize avg(x)", "valueColum": "avg_x" }
            """), isYaml: false, Catalog());

        Assert.IsFalse(result.IsValid);
        StringAssert.StartsWith(result.Errors["$.criteria[0].source.samplesColumn"].Single(), "minSamples is 100, so the source must say where the sample count is ('samplesColumn')");
        StringAssert.StartsWith(result.Errors["$.criteria[0].source.valueColum"].Single(), "unknown setting for a 'azure-monitor-logs' source");
    }

    [TestMethod]
    public void Catalog_BuiltWithoutCredential_CreatesNoCredential()
    {
        var connection = new AzureMonitorConnection();

        var result = PlanParser.Parse(Plan("""{ "type": "azure-monitor-metrics", "resource": "/subscriptions/s/resourceGroups/g/providers/Microsoft.Web/sites/a", "metric": "Http5xx", "aggregation": "Total" }"""), false, Catalog(connection));

        Assert.IsTrue(result.IsValid);
        Assert.IsFalse(connection.IsCredentialCreated, "DefaultAzureCredential is created on the first query, not at start-up or validation");
    }

    [TestMethod]
    [DataRow("https://api.loganalytics.io", "https://api.loganalytics.io/.default")]
    [DataRow("https://api.applicationinsights.io", "https://api.applicationinsights.io/.default")]
    [DataRow("https://management.azure.com", "https://management.azure.com/.default")]
    [DataRow("https://api.loganalytics.azure.cn", "https://api.loganalytics.azure.cn/.default")]
    [DataRow("https://management.chinacloudapi.cn/", "https://management.chinacloudapi.cn/.default")]
    public void ScopeFor_Endpoint_IsItsOriginDotDefault(string endpoint, string scope)
    {
        Assert.AreEqual(scope, AzureMonitorPipeline.ScopeFor(new Uri(endpoint)));
    }

    [TestMethod]
    public void DefaultEndpoints_AreThePublicCloudsDocumentedHosts()
    {
        Assert.AreEqual(new Uri("https://api.loganalytics.io"), LogsQueryClient.DefaultEndpoint);
        Assert.AreEqual(new Uri("https://api.applicationinsights.io"), LogsQueryClient.ApplicationInsightsEndpoint);
        Assert.AreEqual(new Uri("https://management.azure.com"), MetricsQueryClient.DefaultEndpoint);
    }

    private static MetricSourceCatalog Catalog(AzureMonitorConnection? connection = null)
    {
        connection ??= new AzureMonitorConnection();
        return new CriteriaEvaluator([new AzureMonitorLogsSource(connection, TimeProvider.System), new AzureMonitorMetricsSource(connection, TimeProvider.System)], TimeProvider.System).Catalog;
    }

    private static string Plan(params string[] sources) => $$"""
        { "name": "checkout-v2", "flag": "checkout-v2",
          "stages": [ { "name": "10%", "percent": 10, "minDuration": "PT1H" } ],
          "criteria": [ {{string.Join(",", sources.Select((s, i) => $$"""{ "name": "c{{i}}", "source": {{s}}, "max": 0.01, "minSamples": 100 }"""))}} ] }
        """;
}
