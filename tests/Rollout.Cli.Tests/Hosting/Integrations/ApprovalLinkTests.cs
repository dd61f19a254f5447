using System.Net;
using System.Text;
using Rollout.Core.Approvals;
using Rollout.Core.Engine;
using Rollout.Testing;

namespace Rollout.Cli.Tests.Hosting.Integrations;

[TestClass]
public sealed class ApprovalLinkTests
{
    public const string SigningKey = "test-approval-signing-key-0123456789abcdef";

    private static Dictionary<string, string?> Settings(bool trustAppService = false) => new()
    {
        ["Approvals:SigningKey"] = SigningKey,
        ["Approvals:TrustAppServiceAuthentication"] = trustAppService ? "true" : null,
    };

    [TestMethod]
    public async Task GetThenPost_LinkFromTeamsCard_ShowsEvidenceThenApprovesOnce()
    {
        await using var teams = await PeerFixture.StartAsync();
        teams.Fallback = new PeerReply(202);
        await using var host = await TestHost.StartAsync(TeamsNotificationTests.Settings(teams), IntegrationTestHost.FastDeliveries);
        var id = await host.StartRolloutAsync(host.QuickPlan("link-flow", firstStageApproval: IntegrationTestHost.Approval, stopOn: """, "notify": ["release-team"]"""));
        await host.WaitForAsync(id, v => v.Status == RolloutStatus.AwaitingApproval);
        var card = await TeamsNotificationTests.WaitForCardAsync(teams, "awaits approval");
        var link = card.RootElement.GetProperty("attachments")[0].GetProperty("content").GetProperty("actions")[0].GetProperty("url").GetString()!;

        using var page = await host.Anonymous.GetAsync(link);
        var html = await page.Content.ReadAsStringAsync();
        Assert.AreEqual(HttpStatusCode.OK, page.StatusCode, html);
        Assert.AreEqual("text/html; charset=utf-8", page.Content.Headers.ContentType?.ToString());
        Assert.AreEqual("no-referrer", page.Headers.GetValues("Referrer-Policy").Single());
        StringAssert.Contains(html, "<html lang=\"en\">");
        StringAssert.Contains(html, "Approve stage &#39;internal&#39; of link-flow plan");
        StringAssert.Contains(html, "<th scope=\"row\">error-rate</th>");
        StringAssert.Contains(html, "<dt>May approve</dt><dd>alex@contoso.com</dd>");
        StringAssert.Contains(html, "<form method=\"post\">");
        Assert.DoesNotContain("<script", html);
        Assert.AreEqual(RolloutStatus.AwaitingApproval, (await host.GetAsync(id)).Status, "showing the page changes nothing");

        using var approved = await PostFormAsync(host, link, "metrics look good");
        StringAssert.Contains(await approved.Content.ReadAsStringAsync(), "Approved");
        Assert.AreEqual(HttpStatusCode.OK, approved.StatusCode);
        var approval = (await host.AuditAsync(id)).Single(e => e.Type == AuditType.Approved);
        Assert.AreEqual("alex@contoso.com", approval.Actor);
        Assert.AreEqual("metrics look good", approval.Details.GetProperty("comment").GetString());
        Assert.AreNotEqual("internal", (await host.GetAsync(id)).Stage);

        using var replay = await PostFormAsync(host, link, "again");
        Assert.AreEqual(HttpStatusCode.Conflict, replay.StatusCode);
        StringAssert.Contains(await replay.Content.ReadAsStringAsync(), "already used");
        Assert.AreEqual(1, (await host.AuditAsync(id)).Count(e => e.Type == AuditType.Approved), "a replay changes nothing");
    }

    [TestMethod]
    public async Task Post_TamperedExpiredOrWrongStageLinks_AreRefusedAndChangeNothing()
    {
        await using var host = await TestHost.StartAsync(Settings(), IntegrationTestHost.FastDeliveries);
        var id = await host.StartRolloutAsync(host.QuickPlan("link-refused", firstStageApproval: IntegrationTestHost.Approval));
        await host.WaitForAsync(id, v => v.Status == RolloutStatus.AwaitingApproval);
        var now = DateTimeOffset.UtcNow;
        var good = new ApprovalToken(id, 0, "alex@contoso.com", now.AddHours(1), "nonce-good").Sign(Encoding.UTF8.GetBytes(SigningKey));
        var forged = new ApprovalToken(id, 0, "alex@contoso.com", now.AddHours(1), "nonce-forged").Sign(Encoding.UTF8.GetBytes("another-key-that-is-long-enough-0123456789"));
        var altered = good[..^3] + (good[^3] == 'A' ? "B" : "A") + good[^2..];
        var expired = new ApprovalToken(id, 0, "alex@contoso.com", now.AddSeconds(-5), "nonce-expired").Sign(Encoding.UTF8.GetBytes(SigningKey));
        var wrongStage = new ApprovalToken(id, 1, "alex@contoso.com", now.AddHours(1), "nonce-stage").Sign(Encoding.UTF8.GetBytes(SigningKey));
        var notApprover = new ApprovalToken(id, 0, "mallory@contoso.com", now.AddHours(1), "nonce-mallory").Sign(Encoding.UTF8.GetBytes(SigningKey));

        foreach (var (token, status, text) in new[]
        {
            (forged, HttpStatusCode.BadRequest, "not issued by this Rollout host"),
            (altered, HttpStatusCode.BadRequest, "not valid"),
            ("not-a-token", HttpStatusCode.BadRequest, "incomplete or damaged"),
            (expired, HttpStatusCode.Gone, "has expired"),
            (wrongStage, HttpStatusCode.Conflict, "is not awaiting approval"),
            (notApprover, HttpStatusCode.Forbidden, "&#39;mallory@contoso.com&#39; is not an approver"),
        })
        {
            using var response = await PostFormAsync(host, $"api/approvals/{token}", "try");
            var html = await response.Content.ReadAsStringAsync();
            Assert.AreEqual(status, response.StatusCode, html);
            StringAssert.Contains(html, text);
            StringAssert.Contains(html, "Nothing was changed.");
            Assert.DoesNotContain("<form", html);
        }

        var view = await host.GetAsync(id);
        Assert.AreEqual(RolloutStatus.AwaitingApproval, view.Status);
        Assert.IsFalse((await host.AuditAsync(id)).Any(e => e.Type == AuditType.Approved));

        using var ok = await PostFormAsync(host, $"api/approvals/{good}", "fine");
        Assert.AreEqual(HttpStatusCode.OK, ok.StatusCode, "the refusals consumed nothing: the good link still works");
    }

    [TestMethod]
    public async Task Post_BehindAppServiceAuthentication_ApproverIsThePrincipal()
    {
        await using var host = await TestHost.StartAsync(Settings(trustAppService: true), IntegrationTestHost.FastDeliveries);
        var id = await host.StartRolloutAsync(host.QuickPlan("link-easyauth", firstStageApproval: IntegrationTestHost.Approval));
        await host.WaitForAsync(id, v => v.Status == RolloutStatus.AwaitingApproval);
        var token = new ApprovalToken(id, 0, "alex@contoso.com", DateTimeOffset.UtcNow.AddHours(1), "nonce-easyauth").Sign(Encoding.UTF8.GetBytes(SigningKey));

        using var anonymous = await PostFormAsync(host, $"api/approvals/{token}", "x");
        using var mallory = await PostFormAsync(host, $"api/approvals/{token}", "x", principal: "mallory@contoso.com");
        Assert.AreEqual(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        StringAssert.Contains(await anonymous.Content.ReadAsStringAsync(), $"<a href=\"/.auth/login/aad?post_login_redirect_uri=%2Fapi%2Fapprovals%2F{Uri.EscapeDataString(token).Replace("%", "%25", StringComparison.Ordinal)}");
        Assert.AreEqual(HttpStatusCode.Forbidden, mallory.StatusCode, "the principal, not the link's addressee, must be an approver");

        using var alex = await PostFormAsync(host, $"api/approvals/{token}", "ok", principal: "Alex@Contoso.com");
        Assert.AreEqual(HttpStatusCode.OK, alex.StatusCode);
        Assert.AreEqual("Alex@Contoso.com", (await host.AuditAsync(id)).Single(e => e.Type == AuditType.Approved).Actor);
    }

    [TestMethod]
    public async Task Post_PrincipalHeaderWithoutTrustSetting_IsIgnored()
    {
        await using var host = await TestHost.StartAsync(Settings(), IntegrationTestHost.FastDeliveries);
        var id = await host.StartRolloutAsync(host.QuickPlan("link-untrusted", firstStageApproval: IntegrationTestHost.Approval));
        await host.WaitForAsync(id, v => v.Status == RolloutStatus.AwaitingApproval);
        var token = new ApprovalToken(id, 0, "mallory@contoso.com", DateTimeOffset.UtcNow.AddHours(1), "nonce-untrusted").Sign(Encoding.UTF8.GetBytes(SigningKey));

        using var response = await PostFormAsync(host, $"api/approvals/{token}", "x", principal: "alex@contoso.com");

        Assert.AreEqual(HttpStatusCode.Forbidden, response.StatusCode, "a forged header does not make mallory's link alex's");
    }

    private static async Task<HttpResponseMessage> PostFormAsync(TestHost host, string link, string comment, string? principal = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, link)
        {
            Content = new FormUrlEncodedContent([KeyValuePair.Create("comment", comment)]),
        };
        if (principal is not null)
        {
            request.Headers.Add("X-MS-CLIENT-PRINCIPAL-NAME", principal);
        }

        return await host.Anonymous.SendAsync(request);
    }
}
