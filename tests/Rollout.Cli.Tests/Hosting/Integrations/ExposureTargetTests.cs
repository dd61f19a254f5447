using System.Text.Json;
using Rollout.Core.Engine;
using Rollout.Testing;

namespace Rollout.Cli.Tests.Hosting.Integrations;

[TestClass]
public sealed class ExposureTargetTests
{
    [TestMethod]
    public async Task WebhookTarget_FailsThenRecovers_RolloutHoldsItsStageThenPromotesThroughEveryStageInOrder()
    {
        await using var target = await PeerFixture.StartAsync();
        target.Fallback = new PeerReply(503, "down");
        await using var host = await TestHost.StartAsync(deliveries: IntegrationTestHost.FastDeliveries);
        var exposure = $$""", "exposure": { "type": "webhook", "url": "{{target.Address}}flags", "timeout": "500ms" }""";
        var id = await host.StartRolloutAsync(host.QuickPlan("hook-hold", stopOn: exposure));

        await target.WaitForAsync(3);
        await Task.Delay(2500); // two more passing evaluations (every second) while the webhook is down
        var held = await host.GetAsync(id);
        Assert.AreEqual(0, held.StageIndex, "no promotion past an exposure that was not applied");
        Assert.AreEqual(RolloutStatus.Running, held.Status);
        Assert.IsTrue((await host.AuditAsync(id)).Count(e => e.Type == AuditType.Evaluated) >= 2, "checks go on while held");
        Assert.IsFalse((await host.AuditAsync(id)).Any(e => e.Type == AuditType.ExposureConfirmed));

        target.Fallback = new PeerReply(204);
        var final = await host.WaitForAsync(id, v => v.Status == RolloutStatus.Completed);
        Assert.AreEqual(2, final.StageIndex);

        var delivered = target.Requests.Where(r => r.Body.Length > 0).Select(r => r.Body).Distinct().ToList();
        Assert.AreEqual(
            """{"flag":"hook-hold","stage":"internal","percent":0,"audience":{"users":[],"groups":["internal"],"tenants":[],"regions":[],"roles":[]}}""",
            delivered[0]);
        CollectionAssert.AreEqual(new[] { "internal", "10%", "100%" }, delivered.Select(b => JsonDocument.Parse(b).RootElement.GetProperty("stage").GetString()).ToArray(), "every stage, in order, none skipped");
        Assert.IsTrue(target.Requests.All(r => r.Header("x-rollout-delivery") is { Length: > 0 } && r.Header("Content-Type") == "application/json; charset=utf-8"));
        var audit = await host.AuditAsync(id);
        Assert.AreEqual(3, audit.Count(e => e.Type == AuditType.ExposureConfirmed));
        var firstConfirmed = audit.First(e => e.Type == AuditType.ExposureConfirmed);
        var secondEntered = audit.Where(e => e.Type == AuditType.StageEntered).ElementAt(1);
        Assert.IsLessThan(secondEntered.Seq, firstConfirmed.Seq, "stage 2 was entered only after stage 1's exposure was confirmed");
    }

    [TestMethod]
    public async Task WebhookTarget_RollbackWhileStageWriteFails_WritesNobodyAndSupersedesTheStage()
    {
        await using var target = await PeerFixture.StartAsync();
        target.Fallback = new PeerReply(500, "down");
        await using var host = await TestHost.StartAsync(deliveries: IntegrationTestHost.FastDeliveries);
        var exposure = $$""", "exposure": { "type": "webhook", "url": "{{target.Address}}flags", "timeout": "500ms" }""";
        var id = await host.StartRolloutAsync(host.QuickPlan("hook-rollback", stopOn: exposure));
        await target.WaitForAsync(2);

        await host.PostJsonAsync($"api/rollouts/{id}/rollback", new { actor = "gal@contoso.com", reason = "incident" });
        target.Fallback = new PeerReply(200);

        await AzureDevOpsGateTests.WaitForDeliveryAsync(host, id, "Delivered", "Exposure");

        // The stage's write, still backing off when the rollback came, is superseded at its next attempt, never written.
        string? stageWrite = null;
        for (var deadline = DateTime.UtcNow.AddSeconds(15); DateTime.UtcNow < deadline && stageWrite != "Superseded"; await Task.Delay(100))
        {
            var deliveries = (await host.Client.GetFromJsonAsyncElement($"api/rollouts/{id}/deliveries")).EnumerateArray().ToList();
            stageWrite = deliveries.Single(d => d.GetProperty("id").GetString()!.EndsWith(":0", StringComparison.Ordinal)).GetProperty("status").GetString();
        }

        Assert.AreEqual("Superseded", stageWrite);
        var last = JsonDocument.Parse(target.Requests[^1].Body).RootElement;
        Assert.AreEqual(JsonValueKind.Null, last.GetProperty("stage").ValueKind);
        Assert.AreEqual(0, last.GetProperty("percent").GetDecimal());
        Assert.AreEqual(RolloutStatus.RolledBack, (await host.GetAsync(id)).Status);
    }
}
