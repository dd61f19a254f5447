using System.Net;
using System.Text;
using System.Text.Json;
using Rollout.Core.Engine;

namespace Rollout.Cli.Tests.Hosting;

[TestClass]
public sealed class AzureMonitorAlertTests
{
    private static TestHost host = null!;

    [ClassInitialize]
    public static async Task StartHostAsync(TestContext _) => host = await TestHost.StartAsync();

    [ClassCleanup]
    public static async Task StopHostAsync() => await host.DisposeAsync();

    [TestMethod]
    public async Task Alert_FiredForFlag_RaisesStopSignalOnce()
    {
        var id = await host.StartRolloutAsync(host.QuickPlan("alert-flag", firstStageApproval: """, "approval": { "approvers": ["alex@contoso.com"] }""",
            stopOn: """, "stopOn": [ { "signal": "azure-monitor-alert", "action": "rollback" } ]"""));

        using var first = await PostAlertAsync(Payload("Fired", """{ "rolloutFlag": "alert-flag" }"""));
        Assert.AreEqual(HttpStatusCode.OK, first.StatusCode, await first.Content.ReadAsStringAsync());
        var answer = JsonDocument.Parse(await first.Content.ReadAsStringAsync()).RootElement;
        Assert.AreEqual(id, answer.GetProperty("rollouts")[0].GetProperty("rolloutId").GetString());
        Assert.AreEqual("Accepted", answer.GetProperty("rollouts")[0].GetProperty("status").GetString());
        Assert.AreEqual(RolloutStatus.RolledBack, (await host.GetAsync(id)).Status);

        // Azure Monitor retries webhooks: the same alert again changes nothing.
        using var retry = await PostAlertAsync(Payload("Fired", """{ "rolloutFlag": "alert-flag" }"""));
        Assert.AreEqual("Duplicate", JsonDocument.Parse(await retry.Content.ReadAsStringAsync()).RootElement.GetProperty("rollouts")[0].GetProperty("status").GetString());
        var audit = await host.AuditAsync(id);
        var signal = audit.Single(e => e.Type == AuditType.SignalReceived);
        Assert.AreEqual("azure-monitor:checkout-errors", signal.Actor);
        StringAssert.Contains(signal.Details.GetProperty("message").GetString(), "Sev1 checkout-errors Fired");
    }

    [TestMethod]
    public async Task Alert_KeyAsCodeQueryAndFlagInUrl_Accepted_ResolvedIsOnlyRecorded()
    {
        var id = await host.StartRolloutAsync(host.QuickPlan("alert-url-flag", firstStageApproval: """, "approval": { "approvers": ["alex@contoso.com"] }""",
            stopOn: """, "stopOn": [ { "signal": "azure-monitor-alert", "action": "rollback" } ]"""));
        using var response = await host.Anonymous.PostAsync($"api/alerts/azure-monitor?flag=alert-url-flag&code={TestHost.Key}", Json(Payload("Resolved", "null")));
        Assert.AreEqual(HttpStatusCode.OK, response.StatusCode, await response.Content.ReadAsStringAsync());
        Assert.AreNotEqual(RolloutStatus.RolledBack, (await host.GetAsync(id)).Status);
        var signal = (await host.AuditAsync(id)).Single(e => e.Type == AuditType.SignalReceived);
        Assert.AreEqual("azure-monitor-alert-resolved", signal.Details.GetProperty("signal").GetString());
        await host.PostJsonAsync($"api/rollouts/{id}/rollback", new { actor = "test", reason = "cleanup" });
    }

    [TestMethod]
    public async Task Alert_WithoutKey_Returns401()
    {
        using var response = await host.Anonymous.PostAsync("api/alerts/azure-monitor?flag=x", Json(Payload("Fired", "null")));
        Assert.AreEqual(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [TestMethod]
    [DataRow("""{ "schemaId": "Microsoft.Insights/activityLogs", "data": {} }""", "$.schemaId")]
    [DataRow("""{ "schemaId": "azureMonitorCommonAlertSchema", "data": { "essentials": { "alertId": "a", "monitorCondition": "Fired" } } }""", "$.data.customProperties")]
    [DataRow("""{ "schemaId": "azureMonitorCommonAlertSchema", "data": { "essentials": { "alertId": "a", "monitorCondition": "Maybe" }, "customProperties": { "rolloutFlag": "f" } } }""", "$.data.essentials.monitorCondition")]
    [DataRow("not json", "$")]
    public async Task Alert_Unusable_Returns400WithPath(string body, string path)
    {
        using var response = await PostAlertAsync(body);
        Assert.AreEqual(HttpStatusCode.BadRequest, response.StatusCode);
        var errors = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("errors");
        Assert.IsTrue(errors.TryGetProperty(path, out _), errors.ToString());
    }

    private static Task<HttpResponseMessage> PostAlertAsync(string body) => host.Client.PostAsync("api/alerts/azure-monitor", Json(body));

    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    private static string Payload(string condition, string customProperties) => $$"""
        {
          "schemaId": "azureMonitorCommonAlertSchema",
          "data": {
            "essentials": {
              "alertId": "/subscriptions/s/providers/Microsoft.AlertsManagement/alerts/{{condition.Length}}-alert",
              "alertRule": "checkout-errors",
              "severity": "Sev1",
              "signalType": "Metric",
              "monitorCondition": "{{condition}}",
              "monitoringService": "Platform",
              "alertTargetIDs": [ "/subscriptions/s/resourcegroups/rg/providers/microsoft.insights/components/checkout" ],
              "configurationItems": [ "checkout" ],
              "originAlertId": "origin",
              "firedDateTime": "2026-11-22T10:00:00.000Z",
              "description": "checkout 5xx above 2%",
              "essentialsVersion": "1.0",
              "alertContextVersion": "1.0"
            },
            "alertContext": { "properties": null, "conditionType": "SingleResourceMultipleMetricCriteria" },
            "customProperties": {{customProperties}}
          }
        }
        """;
}
