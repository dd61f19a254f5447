using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Rollout.Core.Api;
using Rollout.Core.Engine;
using Rollout.Core.Storage;
using Rollout.Functions.Orchestration;
using Rollout.Functions.Tests.Fakes;
using Rollout.Functions.Tests.Http;
using Rollout.Testing;

namespace Rollout.Functions.Tests.Integrations;

/// <summary>
/// Issue 5 on the Functions app: external exposure written by the orchestrator's activity and confirmed before any
/// promotion, Teams messages through the Table-backed outbox and the delivery timer, approval links, and the Azure
/// DevOps callback gate. Peers are loopback HTTP servers that record what they receive.
/// </summary>
[TestClass]
public sealed class IntegrationTests
{
    private const string SigningKey = "functions-test-signing-key-0123456789abcdef";
    private static readonly CancellationToken None = CancellationToken.None;

    private static (string, string)[] TeamsSettings(PeerFixture teams) =>
        [("Notifications:Teams:release-ops", new Uri(teams.Address, "workflows/release-ops").ToString()), ("Approvals:SigningKey", SigningKey)];

    private static string WithWebhook(string plan, PeerFixture target) =>
        plan.TrimEnd().TrimEnd('}') + $$""", "exposure": { "type": "webhook", "url": "{{target.Address}}flags" } }""";

    private static string WithNotify(string plan) => plan.TrimEnd().TrimEnd('}') + """, "notify": ["release-ops"] }""";

    [TestMethod]
    public async Task RunAsync_WebhookExposure_WritesEveryStageAndConfirmsItBeforePromoting()
    {
        await using var target = await PeerFixture.StartAsync();
        await using var rig = await FunctionsRig.CreateAsync();

        var harness = await rig.StartAsync(WithWebhook(TestPlans.Days("hook-flow"), target));
        await harness.RunUntilAsync(h => h.IsCompleted);

        var writes = target.Requests.Where(r => r.RawTarget == "/flags").ToList();
        CollectionAssert.AreEqual(
            new[] { "internal", "10%", "50%", "100%" },
            writes.Select(w => JsonDocument.Parse(w.Body).RootElement.GetProperty("stage").GetString()).ToArray());
        CollectionAssert.AreEqual(
            new[] { 0, 1, 2, 3 }.Select(i => $"exposure:{harness.InstanceId}:{i}").ToArray(),
            writes.Select(w => w.Header("x-rollout-delivery")).ToArray());
        Assert.AreEqual(100m, JsonDocument.Parse(writes[^1].Body).RootElement.GetProperty("percent").GetDecimal());

        var audit = await rig.AuditAsync(harness.InstanceId);
        var entered = audit.Where(a => a.Type == AuditType.StageEntered).ToList();
        var confirmed = audit.Where(a => a.Type == AuditType.ExposureConfirmed).ToList();
        Assert.HasCount(4, confirmed);
        for (var stage = 1; stage < entered.Count; stage++)
        {
            Assert.IsLessThan(entered[stage].Seq, confirmed[stage - 1].Seq, $"stage {stage} was entered before stage {stage - 1}'s exposure was confirmed");
        }

        Assert.AreEqual("webhook", confirmed[0].Details.GetProperty("target").GetString());
        Assert.AreEqual(RolloutStatus.Completed, (await rig.StateAsync(harness.InstanceId)).Status);
    }

    [TestMethod]
    public async Task RunAsync_AppConfigurationExposure_PutsASignedFeatureFlagPerStage()
    {
        await using var store = await PeerFixture.StartAsync(new PeerReply(429, "{}", RetryAfter: "1"));
        var secret = Convert.ToBase64String("app-configuration-access-key-value"u8.ToArray());
        await using var rig = await FunctionsRig.CreateAsync(null, ("Exposure:AppConfiguration:main", $"Endpoint={store.Address.GetLeftPart(UriPartial.Authority)};Id=ak-7;Secret={secret}"));

        var plan = TestPlans.Days("checkout-appconfig").TrimEnd().TrimEnd('}') + """, "exposure": { "type": "app-configuration", "connection": "main", "label": "prod" } }""";
        var harness = await rig.StartAsync(plan);
        await harness.RunUntilAsync(h => h.IsCompleted);

        var puts = store.Requests.Where(r => r.Method == "PUT").ToList();
        Assert.HasCount(5, puts, "a throttled write and one per stage");
        Assert.IsTrue(puts.All(p => p.RawTarget == "/kv/.appconfig.featureflag%2Fcheckout-appconfig?label=prod&api-version=1.0"), puts[0].RawTarget);
        StringAssert.StartsWith(puts[^1].Header("Authorization"), "HMAC-SHA256 Credential=ak-7&SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=");
        Assert.IsNotNull(puts[^1].Header("x-ms-content-sha256"));
        var flag = JsonDocument.Parse(JsonDocument.Parse(puts[^1].Body).RootElement.GetProperty("value").GetString()!).RootElement;
        Assert.AreEqual("checkout-appconfig", flag.GetProperty("id").GetString());
        Assert.IsTrue(flag.GetProperty("enabled").GetBoolean());
        var targeting = flag.GetProperty("conditions").GetProperty("client_filters")[0];
        Assert.AreEqual("Microsoft.Targeting", targeting.GetProperty("name").GetString());
        Assert.AreEqual(100, targeting.GetProperty("parameters").GetProperty("Audience").GetProperty("DefaultRolloutPercentage").GetInt32());
        Assert.AreEqual(4, (await rig.AuditAsync(harness.InstanceId)).Count(a => a.Type == AuditType.ExposureConfirmed));
        Assert.AreEqual(RolloutStatus.Completed, (await rig.StateAsync(harness.InstanceId)).Status);
    }

    [TestMethod]
    public async Task RunAsync_WebhookExposureDown_HoldsTheStageAndStillAppliesARollback()
    {
        await using var target = await PeerFixture.StartAsync();
        target.Fallback = new PeerReply(503, "{\"error\":\"maintenance\"}");
        await using var rig = await FunctionsRig.CreateAsync();
        var harness = await rig.StartAsync(WithWebhook(TestPlans.Days("hook-down"), target));

        // Two days: past the first stage's bake time and many passing evaluations, but its exposure was never applied.
        await harness.AdvanceToAsync(VirtualClock.T0 + TimeSpan.FromDays(2));
        var held = await rig.StateAsync(harness.InstanceId);
        Assert.AreEqual(0, held.StageIndex, "promoted past an exposure the target never took");
        Assert.IsTrue(held.ExposurePending);
        Assert.IsTrue(target.Requests.Length > 20, $"only {target.Requests.Length} attempts in two days");
        Assert.IsFalse((await rig.AuditAsync(harness.InstanceId)).Any(a => a.Type == AuditType.ExposureConfirmed));

        // Commands are applied between attempts: the rollback lands while the target is still down.
        var rollback = await rig.SendAsync(harness, "rollback", new CommandBody(Actor: TestPlans.Approver, Reason: "target flapping"));
        await harness.RunUntilIdleAsync();
        Assert.AreEqual(CommandStatus.Accepted, (await rig.AnswerAsync(harness.InstanceId, rollback))!.Status);
        Assert.AreEqual(RolloutStatus.RolledBack, (await rig.StateAsync(harness.InstanceId)).Status);
        Assert.IsFalse(harness.IsCompleted, "the orchestration ended with the rollback's exposure unwritten");

        // The target recovers: the rollback's exposure (nobody) is written and confirmed, then the orchestration ends.
        target.Fallback = PeerReply.Ok();
        await harness.RunUntilAsync(h => h.IsCompleted);
        var last = JsonDocument.Parse(target.Requests[^1].Body).RootElement;
        Assert.AreEqual(JsonValueKind.Null, last.GetProperty("stage").ValueKind);
        Assert.AreEqual(0m, last.GetProperty("percent").GetDecimal());
        Assert.AreEqual($"exposure:{harness.InstanceId}:none", target.Requests[^1].Header("x-rollout-delivery"));
        Assert.IsFalse((await rig.StateAsync(harness.InstanceId)).ExposurePending);
    }

    [TestMethod]
    public async Task Replay_ExposureFailuresConfirmationsAndCarriedCards_GiveTheSameDecisions()
    {
        await using var target = await PeerFixture.StartAsync(new PeerReply(503), new PeerReply(503), new PeerReply(503), new PeerReply(503));
        await using var teams = await PeerFixture.StartAsync();
        await using var rig = await FunctionsRig.CreateAsync(null, TeamsSettings(teams));
        rig.Outbox.EnqueueFailuresLeft = 5;

        var harness = await rig.StartAsync(WithNotify(WithWebhook(TestPlans.Days("replay-integrations"), target)));
        await harness.RunUntilAsync(h => h.IsCompleted);

        Assert.IsTrue(harness.Generations.Any(g => g.Actions.Any(a => a.Detail.StartsWith(nameof(RolloutActivities.EnqueueNotifications), StringComparison.Ordinal))));
        Assert.IsTrue(harness.Generations.Any(g => FunctionsRig.Deserialize<RolloutCheckpoint>(g.InputJson).NotifyOwed is not null), "no generation carried cards");
        var executions = harness.ActivityExecutions.Count;
        foreach (var (generation, index) in harness.Generations.Select((g, i) => (g, i)))
        {
            CollectionAssert.AreEqual(generation.Actions.ToList(), harness.Replay(generation).ToList(), $"generation {index} decided differently on replay");
        }

        Assert.AreEqual(executions, harness.ActivityExecutions.Count, "a replay executed an activity");
    }

    [TestMethod]
    public async Task DeliverOutbox_TeamsFailingThenThrottling_RetriesUntilEveryCardIsDeliveredOnce()
    {
        await using var teams = await PeerFixture.StartAsync(new PeerReply(500, "boom"), new PeerReply(429, "slow down", RetryAfter: "30"));
        teams.Fallback = new PeerReply(202);
        await using var rig = await FunctionsRig.CreateAsync(null, TeamsSettings(teams));
        var harness = await rig.StartAsync(WithNotify(TestPlans.WithApproval("cards")));
        await harness.RunUntilAsync(h => h.Checkpoint.State.Status == RolloutStatus.AwaitingApproval);

        // Queued by the orchestrator, one per notified audit entry and channel; the rollout never waited on Teams.
        var queued = await rig.Outbox.ListAsync(harness.InstanceId, None);
        CollectionAssert.AreEquivalent(
            (await rig.AuditAsync(harness.InstanceId)).Where(a => a.Type is AuditType.StageEntered or AuditType.ApprovalRequested).Select(a => $"notify:{harness.InstanceId}:{a.Seq}:release-ops").ToArray(),
            queued.Select(d => d.Id).ToArray());

        for (var pass = 0; pass < 10 && (await rig.Outbox.ListAsync(harness.InstanceId, None)).Any(d => d.Status == DeliveryStatus.Pending); pass++)
        {
            await rig.DeliverAsync();
            rig.Clock.Now += TimeSpan.FromSeconds(31);
        }

        var delivered = await rig.Outbox.ListAsync(harness.InstanceId, None);
        Assert.IsTrue(delivered.All(d => d.Status == DeliveryStatus.Delivered), string.Join(", ", delivered.Select(d => $"{d.Id} {d.Status} {d.LastError}")));
        Assert.AreEqual(3, delivered.MinBy(d => d.CreatedAt)!.Attempts, "the first card: 500, then 429, then delivered");
        Assert.HasCount(4, teams.Requests, "two failed attempts and one delivery per card");
        Assert.IsTrue(teams.Requests.All(r => r.RawTarget == "/workflows/release-ops" && r.Method == "POST"));
        var card = CardOf(teams.Requests[^1]);
        StringAssert.StartsWith(ApprovalUrl(card), "https://rollout-test.azurewebsites.net/api/approvals/");
        Assert.AreEqual(RolloutStatus.AwaitingApproval, (await rig.StateAsync(harness.InstanceId)).Status);
    }

    [TestMethod]
    public async Task RunAsync_OutboxDownWhenMessagesAreDue_CarriesThemUntilTheyAreQueued()
    {
        await using var teams = await PeerFixture.StartAsync();
        await using var rig = await FunctionsRig.CreateAsync(null, TeamsSettings(teams));
        rig.Outbox.EnqueueFailuresLeft = 5; // the first generation's whole retry policy

        var harness = await rig.StartAsync(WithNotify(TestPlans.WithApproval("outbox-down")));
        await harness.RunUntilIdleAsync();

        Assert.IsNotNull(harness.Checkpoint.NotifyOwed, "the messages were dropped instead of carried");
        Assert.IsEmpty(await rig.Outbox.ListAsync(harness.InstanceId, None));

        await harness.RunUntilAsync(h => h.Checkpoint.NotifyOwed is null);
        var queued = await rig.Outbox.ListAsync(harness.InstanceId, None);
        Assert.AreEqual($"notify:{harness.InstanceId}:2:release-ops", queued.Single().Id, "the first stage's StageEntered (audit #2)");
        var queuedAfter = queued.Single().CreatedAt - VirtualClock.T0;
        Assert.IsTrue(queuedAfter > TimeSpan.FromSeconds(30) && queuedAfter < TimeSpan.FromMinutes(5), $"queued after {queuedAfter}: not by the generation after the back-off");
    }

    [TestMethod]
    public async Task ApprovalLink_FromTheCard_ShowsThePageApprovesOnceAndRefusesReplaysAndTampering()
    {
        await using var teams = await PeerFixture.StartAsync();
        teams.Fallback = new PeerReply(202);
        await using var rig = await FunctionsRig.CreateAsync(null, TeamsSettings(teams));
        var harness = await rig.StartAsync(WithNotify(TestPlans.WithApproval("link-flow")));
        await harness.RunUntilAsync(h => h.Checkpoint.State.Status == RolloutStatus.AwaitingApproval);
        await rig.DeliverAsync();
        await rig.DeliverAsync();
        var token = ApprovalUrl(CardOf(teams.Requests.Single(r => r.Body.Contains("Action.OpenUrl", StringComparison.Ordinal))))!.Split('/')[^1];

        var show = HttpCall.Request("GET", $"/api/approvals/{token}");
        var page = await rig.IntegrationApi.ShowApproval(show, token, None).RunAsync(show);
        Assert.AreEqual(200, page.Status, page.Body);
        Assert.AreEqual("text/html; charset=utf-8", page.ContentType);
        StringAssert.Contains(page.Body, "<form method=\"post\">");
        StringAssert.Contains(page.Body, $"<dt>May approve</dt><dd>{TestPlans.Approver}</dd>");
        Assert.AreEqual("no-referrer", show.HttpContext.Response.Headers["Referrer-Policy"].ToString());
        Assert.AreEqual(RolloutStatus.AwaitingApproval, (await rig.StateAsync(harness.InstanceId)).Status, "showing the page changes nothing");

        var tampered = token[..^2] + (token[^2] == 'A' ? "BB" : "AA");
        var forged = await PostFormAsync(rig, tampered, "sneaky");
        Assert.AreEqual(400, forged.Status);
        StringAssert.Contains(forged.Body, "not valid");
        Assert.IsFalse((await rig.AuditAsync(harness.InstanceId)).Any(a => a.Type == AuditType.Approved));

        var approved = await PostFormAsync(rig, token, "metrics look good");
        Assert.AreEqual(200, approved.Status, approved.Body);
        StringAssert.Contains(approved.Body, "Approved");
        var approval = (await rig.AuditAsync(harness.InstanceId)).Single(a => a.Type == AuditType.Approved);
        Assert.AreEqual(TestPlans.Approver, approval.Actor);
        Assert.AreEqual("metrics look good", approval.Details.GetProperty("comment").GetString());

        var replay = await PostFormAsync(rig, token, "again");
        Assert.AreEqual(409, replay.Status);
        StringAssert.Contains(replay.Body, "already used");
        Assert.AreEqual(1, (await rig.AuditAsync(harness.InstanceId)).Count(a => a.Type == AuditType.Approved), "a replay changed something");
    }

    [TestMethod]
    public async Task PruneOutbox_AfterTheRetention_RemovesDeliveredCardsAndUsedNoncesAndKeepsPendingDeliveries()
    {
        await using var teams = await PeerFixture.StartAsync();
        teams.Fallback = new PeerReply(202);
        await using var rig = await FunctionsRig.CreateAsync(null, TeamsSettings(teams));
        var harness = await rig.StartAsync(WithNotify(TestPlans.WithApproval("pruned")));
        var id = harness.InstanceId;
        await harness.RunUntilAsync(h => h.Checkpoint.State.Status == RolloutStatus.AwaitingApproval);
        await rig.DeliverAsync();
        await rig.DeliverAsync();
        var token = ApprovalUrl(CardOf(teams.Requests.Single(r => r.Body.Contains("Action.OpenUrl", StringComparison.Ordinal))))!.Split('/')[^1];
        var nonce = Rollout.Core.Approvals.ApprovalToken.Verify(token, rig.Settings.SigningKey, rig.Clock.Now).Token!.Nonce;
        Assert.AreEqual(200, (await PostFormAsync(rig, token, "ship it")).Status);
        await rig.Outbox.EnqueueAsync(new Delivery("exposure:later", DeliveryKind.Notification, id, "release-ops", "{}", rig.Clock.Now, rig.Clock.Now.AddDays(90)), None);
        var before = await rig.Outbox.ListAsync(id, None);
        var delivered = before.Where(d => d.Status == DeliveryStatus.Delivered).Select(d => d.Id).ToArray();
        var pending = before.Where(d => d.Status == DeliveryStatus.Pending).Select(d => d.Id).ToArray();
        Assert.HasCount(2, delivered, "the stage-entered and approval cards");
        Assert.Contains("exposure:later", pending);
        Assert.IsTrue(await rig.Outbox.IsConsumedAsync(nonce, None));

        rig.Clock.Now += TimeSpan.FromDays(29);
        await rig.PruneAsync();

        Assert.AreSequenceEqual(before.Select(d => d.Id).ToArray(), (await rig.Outbox.ListAsync(id, None)).Select(d => d.Id).ToArray(), "younger than Outbox:RetentionDays (30)");
        Assert.IsTrue(await rig.Outbox.IsConsumedAsync(nonce, None));

        rig.Clock.Now += TimeSpan.FromDays(2);
        await rig.PruneAsync();

        var after = await rig.Outbox.ListAsync(id, None);
        Assert.AreSequenceEqual(pending, after.Select(d => d.Id).ToArray(), "the delivered cards went, the pending deliveries stayed");
        Assert.IsTrue(after.All(d => d.Status == DeliveryStatus.Pending));
        Assert.IsFalse(await rig.Outbox.IsConsumedAsync(nonce, None), "the used nonce went too");
        var replay = await PostFormAsync(rig, token, "again");
        Assert.AreEqual(410, replay.Status, "its link expired long before: a replay is refused as expired");
        Assert.AreEqual(1, (await rig.AuditAsync(id)).Count(a => a.Type == AuditType.Approved));
    }

    [TestMethod]
    public async Task ApprovalLink_WithoutASigningKey_CardsHaveNoLinksAndThePageSaysSo()
    {
        await using var teams = await PeerFixture.StartAsync();
        teams.Fallback = new PeerReply(202);
        await using var rig = await FunctionsRig.CreateAsync(null, ("Notifications:Teams:release-ops", new Uri(teams.Address, "workflows/release-ops").ToString()));
        var harness = await rig.StartAsync(WithNotify(TestPlans.WithApproval("no-key")));
        await harness.RunUntilAsync(h => h.Checkpoint.State.Status == RolloutStatus.AwaitingApproval);
        await rig.DeliverAsync();
        await rig.DeliverAsync();

        Assert.HasCount(2, teams.Requests);
        Assert.IsTrue(teams.Requests.All(r => !r.Body.Contains("/api/approvals/", StringComparison.Ordinal)));
        var show = HttpCall.Request("GET", "/api/approvals/anything");
        var page = await rig.IntegrationApi.ShowApproval(show, "anything", None).RunAsync(show);
        Assert.AreEqual(404, page.Status);
        StringAssert.Contains(page.Body, "Approvals:SigningKey");
    }

    [TestMethod]
    public async Task RegisterGate_TaskHeaders_PostsTaskCompletedWhenTheRolloutCompletes()
    {
        await using var devops = await PeerFixture.StartAsync(new PeerReply(503, "busy"));
        await using var rig = await FunctionsRig.CreateAsync(null, ("AzureDevOps:AllowedHosts", "127.0.0.1"));
        var harness = await rig.StartAsync(TestPlans.Days("gated"));

        var request = GateRequest(harness.InstanceId, devops, "completed");
        var registered = await rig.IntegrationApi.RegisterGate(request, harness.InstanceId, None).RunAsync(request);
        Assert.AreEqual(200, registered.Status, registered.Body);
        Assert.AreEqual("Waiting", registered.Json.GetProperty("waiter").GetString());
        Assert.AreEqual("pending", registered.Json.GetProperty("gate").GetProperty("status").GetString());
        var again = GateRequest(harness.InstanceId, devops, "completed");
        Assert.AreEqual(registered.Json.GetProperty("waiterId").GetString(), (await rig.IntegrationApi.RegisterGate(again, harness.InstanceId, None).RunAsync(again)).Json.GetProperty("waiterId").GetString(), "a retried registration is the same waiter");

        await rig.DeliverAsync();
        Assert.IsEmpty(devops.Requests, "the gate completed before the rollout did");

        await harness.RunUntilAsync(h => h.IsCompleted);
        await rig.DeliverAsync(); // 503: retried
        rig.Clock.Now += TimeSpan.FromSeconds(5);
        await rig.DeliverAsync();

        Assert.HasCount(2, devops.Requests);
        var posted = devops.Requests[^1];
        Assert.AreEqual("POST", posted.Method);
        Assert.AreEqual("/fabrikam/_apis/distributedtask/hubs/release/plans/plan-7/events?api-version=2.0-preview.1", posted.RawTarget);
        Assert.AreEqual("Bearer job-token-secret", posted.Header("Authorization"));
        var body = JsonDocument.Parse(posted.Body).RootElement;
        Assert.AreEqual("TaskCompleted", body.GetProperty("name").GetString());
        Assert.AreEqual("task-3", body.GetProperty("taskId").GetString());
        Assert.AreEqual("job-5", body.GetProperty("jobId").GetString());
        Assert.AreEqual("succeeded", body.GetProperty("result").GetString());

        var list = HttpCall.Get($"/api/rollouts/{harness.InstanceId}/deliveries");
        var deliveries = await rig.IntegrationApi.ListDeliveries(list, harness.InstanceId, None).RunAsync(list);
        Assert.AreEqual("Delivered", deliveries.Json[0].GetProperty("status").GetString());
        Assert.DoesNotContain("job-token-secret", deliveries.Body, "a delivery listing showed the job's token");
    }

    [TestMethod]
    public async Task RegisterGate_MissingHeadersUnknownStageOrForeignHost_Answers400AndRegistersNothing()
    {
        await using var devops = await PeerFixture.StartAsync();
        await using var rig = await FunctionsRig.CreateAsync();
        var harness = await rig.StartAsync(TestPlans.Days("gate-bad"));

        var bare = HttpCall.Request("POST", $"/api/rollouts/{harness.InstanceId}/gate", "{}");
        var missing = await rig.IntegrationApi.RegisterGate(bare, harness.InstanceId, None).RunAsync(bare);
        Assert.AreEqual(400, missing.Status);
        Assert.AreEqual("application/problem+json", missing.ContentType);
        foreach (var header in new[] { "PlanUrl", "ProjectId", "HubName", "PlanId", "JobId", "TaskInstanceId", "AuthToken" })
        {
            Assert.IsTrue(missing.Json.GetProperty("errors").TryGetProperty(header, out _), $"{header} not named: {missing.Body}");
        }

        var unknown = GateRequest(harness.InstanceId, devops, "75%");
        var refused = await rig.IntegrationApi.RegisterGate(unknown, harness.InstanceId, None).RunAsync(unknown);
        Assert.AreEqual(400, refused.Status);
        StringAssert.Contains(refused.Body, "internal, 10%, 50%, 100%");

        // Without AzureDevOps:AllowedHosts naming it, a loopback (or any non-Azure DevOps) PlanUrl never gets the job's token.
        var foreign = GateRequest(harness.InstanceId, devops, "completed");
        var refusedHost = await rig.IntegrationApi.RegisterGate(foreign, harness.InstanceId, None).RunAsync(foreign);
        Assert.AreEqual(400, refusedHost.Status);
        StringAssert.Contains(refusedHost.Json.GetProperty("errors").GetProperty("PlanUrl")[0].GetString(), "AzureDevOps:AllowedHosts");

        var nowhere = GateRequest("r-missing", devops, "completed");
        Assert.AreEqual(404, (await rig.IntegrationApi.RegisterGate(nowhere, "r-missing", None).RunAsync(nowhere)).Status);
        Assert.IsEmpty(await rig.Outbox.WaitingAsync(None));
    }

    [TestMethod]
    public async Task StartRollout_NotifyChannelNotConfigured_Answers400NamingTheSettingAndStoresNothing()
    {
        await using var rig = await FunctionsRig.CreateAsync();
        var request = HttpCall.Request("POST", "/api/rollouts", WithNotify(TestPlans.Days("no-channel")));

        var answer = await rig.Api.StartRollout(request, rig.Client, None).RunAsync(request);

        Assert.AreEqual(400, answer.Status);
        StringAssert.Contains(answer.Json.GetProperty("errors").GetProperty("$.notify[0]")[0].GetString(), "Notifications:Teams:release-ops");
        Assert.IsEmpty(await rig.Store.ListAsync(null, 10, None));
    }

    private static HttpRequest GateRequest(string id, PeerFixture devops, string until)
    {
        var request = HttpCall.Request("POST", $"/api/rollouts/{id}/gate", "{}", query: [new("until", until)]);
        foreach (var (name, value) in new[]
        {
            ("PlanUrl", devops.Address.ToString()), ("ProjectId", "fabrikam"), ("HubName", "release"), ("PlanId", "plan-7"),
            ("JobId", "job-5"), ("TimelineId", "timeline-1"), ("TaskInstanceId", "task-3"), ("AuthToken", "job-token-secret"),
        })
        {
            request.Headers[name] = value;
        }

        return request;
    }

    private static async Task<HttpAnswer> PostFormAsync(FunctionsRig rig, string token, string comment)
    {
        var request = HttpCall.Request("POST", $"/api/approvals/{token}", $"comment={Uri.EscapeDataString(comment)}", "application/x-www-form-urlencoded");
        return await rig.IntegrationApi.UseApproval(request, rig.Client, token, None).RunAsync(request);
    }

    private static JsonElement CardOf(PeerRequest request) =>
        JsonDocument.Parse(request.Body).RootElement.GetProperty("attachments")[0].GetProperty("content");

    private static string? ApprovalUrl(JsonElement card) =>
        card.TryGetProperty("actions", out var actions)
            ? actions.EnumerateArray().Where(a => a.GetProperty("type").GetString() == "Action.OpenUrl").Select(a => a.GetProperty("url").GetString()).FirstOrDefault(u => u!.Contains("/api/approvals/", StringComparison.Ordinal))
            : null;
}
