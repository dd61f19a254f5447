using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Rollout.Core.Engine;
using Rollout.Testing;

namespace Rollout.Cli.Tests.Hosting.Integrations;

[TestClass]
public sealed class TeamsNotificationTests
{
    private const string Notify = """, "notify": ["release-team"]""";

    internal static Dictionary<string, string?> Settings(PeerFixture teams) => new()
    {
        // The shape of a Workflows webhook URL: the signature in the query is the secret.
        ["Notifications:Teams:release-team"] = new Uri(teams.Address, "workflows/7c1e/triggers/manual/paths/invoke?api-version=1&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=SECRET-SIG-123").AbsoluteUri,
        ["Approvals:SigningKey"] = ApprovalLinkTests.SigningKey,
    };

    [TestMethod]
    public async Task Pause_NotifyChannel_PostsExactAdaptiveCardMessage()
    {
        await using var teams = await PeerFixture.StartAsync();
        teams.Fallback = new PeerReply(202);
        await using var host = await TestHost.StartAsync(Settings(teams), IntegrationTestHost.FastDeliveries);
        var id = await host.StartRolloutAsync(host.QuickPlan("teams-pause", firstStageApproval: IntegrationTestHost.Approval, stopOn: Notify));
        await teams.WaitForAsync(1); // stage 'internal' entered

        await host.PostJsonAsync($"api/rollouts/{id}/pause", new { actor = "gal@contoso.com", reason = "support ticket 4711" });
        var paused = (await host.AuditAsync(id)).Single(e => e.Type == AuditType.Paused);
        var requests = await teams.WaitForAsync(2);
        var card = requests.Single(r => r.Body.Contains("paused in stage", StringComparison.Ordinal));

        Assert.AreEqual("POST", card.Method);
        Assert.AreEqual("/workflows/7c1e/triggers/manual/paths/invoke?api-version=1&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=SECRET-SIG-123", card.RawTarget);
        Assert.AreEqual("application/json; charset=utf-8", card.Header("Content-Type"));
        var at = paused.At.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss 'UTC'", System.Globalization.CultureInfo.InvariantCulture);
        var expected = $$$"""
            {"type":"message","attachments":[{"contentType":"application/vnd.microsoft.card.adaptive","contentUrl":null,"content":{
              "$schema":"http://adaptivecards.io/schemas/adaptive-card.json","type":"AdaptiveCard","version":"1.4",
              "body":[
                {"type":"TextBlock","size":"Medium","weight":"Bolder","color":"Warning","text":"teams-pause plan: paused in stage 'internal'","wrap":true},
                {"type":"FactSet","facts":[
                  {"title":"Flag","value":"teams-pause"},{"title":"Rollout","value":"{{{id}}}"},
                  {"title":"Stage","value":"internal (1 of 3)"},{"title":"Exposure","value":"0% + 1 named users, groups, tenants, regions or roles"},
                  {"title":"By","value":"gal@contoso.com"},{"title":"At","value":"{{{at}}}"}]},
                {"type":"TextBlock","text":"Reason: support ticket 4711","wrap":true,"weight":"Bolder"}]}}]}
            """;
        Assert.AreEqual(JsonNode.Parse(expected)!.ToJsonString(), card.Body);
    }

    [TestMethod]
    public async Task Rollout_NotifyChannel_CardsForEachNotableEntryWithApprovalLinksAndFailingEvidence()
    {
        await using var teams = await PeerFixture.StartAsync();
        teams.Fallback = new PeerReply(202);
        await using var host = await TestHost.StartAsync(Settings(teams), IntegrationTestHost.FastDeliveries);
        var id = await host.StartRolloutAsync(host.QuickPlan("teams-flow", firstStageApproval: IntegrationTestHost.Approval, extraQuery: "&regressAt=1", stopOn: Notify));

        await host.WaitForAsync(id, v => v.Status == RolloutStatus.AwaitingApproval);
        var approvalCard = (await WaitForCardAsync(teams, "awaits approval")).RootElement.GetProperty("attachments")[0].GetProperty("content");
        var action = approvalCard.GetProperty("actions")[0];
        Assert.AreEqual("Action.OpenUrl", action.GetProperty("type").GetString());
        Assert.AreEqual("Review and approve as alex@contoso.com", action.GetProperty("title").GetString());
        StringAssert.StartsWith(action.GetProperty("url").GetString(), $"{host.Address}api/approvals/");
        StringAssert.Contains(approvalCard.ToString(), "error-rate", "the card shows the evidence");

        await host.PostJsonAsync($"api/rollouts/{id}/approve", new { approver = "alex@contoso.com" });
        await host.WaitForAsync(id, v => v.Status == RolloutStatus.RolledBack); // regressAt=1: errors once stage 1 is reached
        var rolledBack = (await WaitForCardAsync(teams, "rolled back in stage")).RootElement.ToString();
        StringAssert.Contains(rolledBack, "Failing evidence");
        StringAssert.Contains(rolledBack, "error-rate");

        var titles = teams.Requests.Select(r => JsonDocument.Parse(r.Body).RootElement.GetProperty("attachments")[0].GetProperty("content").GetProperty("body")[0].GetProperty("text").GetString()).ToList();
        CollectionAssert.AreEqual(
            new[] { "teams-flow plan: stage 'internal' entered", "teams-flow plan: stage 'internal' awaits approval", "teams-flow plan: stage '10%' entered", "teams-flow plan: rolled back in stage '10%'" },
            titles);

        var deliveries = await host.Client.GetStringAsync($"api/rollouts/{id}/deliveries");
        Assert.DoesNotContain("SECRET-SIG", deliveries, "the webhook URL is a secret");
        Assert.DoesNotContain("SECRET-SIG", await host.Client.GetStringAsync($"api/rollouts/{id}/audit"));
    }

    [TestMethod]
    public async Task Notify_WebhookFails500Then429ThenHangs_RetriesOnceEachAndRolloutCompletes()
    {
        await using var teams = await PeerFixture.StartAsync(
            new PeerReply(500, "boom"),
            new PeerReply(429, "Microsoft Teams endpoint returned HTTP error 429", RetryAfter: "1"),
            new PeerReply(202, Delay: TimeSpan.FromSeconds(5)));
        teams.Fallback = new PeerReply(202);
        await using var host = await TestHost.StartAsync(Settings(teams), IntegrationTestHost.FastDeliveries);
        var id = await host.StartRolloutAsync(host.QuickPlan("teams-retry", stopOn: Notify));

        var final = await host.WaitForAsync(id, v => v.Status == RolloutStatus.Completed);
        Assert.AreEqual(2, final.StageIndex, "a failing webhook never blocks the rollout");

        // Stage entered ×3 and completed: 4 notifications, the first one tried 4 times (500, 429, timeout, 202).
        await AzureDevOpsGateTests.WaitForDeliveryAsync(host, id, "Delivered", "Notification");
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (DateTime.UtcNow < deadline && (await host.Client.GetFromJsonAsyncElement($"api/rollouts/{id}/deliveries")).EnumerateArray().Count(d => d.GetProperty("status").GetString() == "Delivered") < 4)
        {
            await Task.Delay(100);
        }

        var deliveries = (await host.Client.GetFromJsonAsyncElement($"api/rollouts/{id}/deliveries")).EnumerateArray().ToList();
        Assert.HasCount(4, deliveries);
        Assert.IsTrue(deliveries.All(d => d.GetProperty("status").GetString() == "Delivered"), string.Join(", ", deliveries));
        var requests = teams.Requests;
        Assert.HasCount(7, requests, "4 cards, plus one retry for each failure (500, 429, timeout)");
        Assert.AreEqual(7, deliveries.Sum(d => d.GetProperty("attempts").GetInt32()));
        Assert.AreEqual(4, requests.Select(r => r.Body).Distinct().Count(), "each delivery posts the same card on every attempt");
        var throttled = requests[1];
        var retried = requests.Skip(2).First(r => r.Body == throttled.Body);
        Assert.IsGreaterThanOrEqualTo(TimeSpan.FromSeconds(0.95), retried.At - throttled.At, "the 429's Retry-After: 1 is honoured");
    }

    [TestMethod]
    public async Task PostRollouts_UnknownChannel_Returns400NamingConfiguredOnes()
    {
        await using var host = await TestHost.StartAsync(new Dictionary<string, string?> { ["Notifications:Teams:ops"] = "https://contoso.example/hook?sig=x" }, IntegrationTestHost.FastDeliveries);

        using var response = await host.Client.PostAsync("api/rollouts", new StringContent(host.QuickPlan("teams-unknown", stopOn: Notify), Encoding.UTF8, "application/json"));
        var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;

        Assert.AreEqual(HttpStatusCode.BadRequest, response.StatusCode);
        var message = problem.GetProperty("errors").GetProperty("$.notify[0]")[0].GetString()!;
        StringAssert.Contains(message, "no notification channel 'release-team'");
        StringAssert.Contains(message, "configured: ops");
        Assert.DoesNotContain("sig=x", message);
    }

    internal static async Task<JsonDocument> WaitForCardAsync(PeerFixture teams, string titleContains)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            if (teams.Requests.FirstOrDefault(r => r.Body.Contains(titleContains, StringComparison.Ordinal)) is { } found)
            {
                return JsonDocument.Parse(found.Body);
            }

            await Task.Delay(50);
        }

        Assert.Fail($"no card with '{titleContains}' arrived; got {teams.Requests.Length} request(s)");
        return null!;
    }
}
