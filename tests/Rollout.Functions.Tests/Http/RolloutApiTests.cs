using Microsoft.DurableTask.Client;
using Rollout.Core.Api;
using Rollout.Core.Engine;
using Rollout.Functions.Http;
using Rollout.Functions.Orchestration;
using Rollout.Functions.Tests.Fakes;

namespace Rollout.Functions.Tests.Http;

[TestClass]
public sealed class RolloutApiTests
{
    private static readonly CancellationToken None = CancellationToken.None;

    [TestMethod]
    public async Task StartRollout_ValidPlan_Answers202WithTheStatusUrlAndStartsTheOrchestration()
    {
        await using var rig = await FunctionsRig.CreateAsync();
        var request = HttpCall.Request("POST", "/api/rollouts", TestPlans.Days("checkout-v2"));

        var answer = await rig.Api.StartRollout(request, rig.Client, None).RunAsync(request);

        Assert.AreEqual(202, answer.Status);
        var id = answer.Json.GetProperty("id").GetString()!;
        StringAssert.StartsWith(id, "r-20260302-");
        Assert.AreEqual($"/api/rollouts/{id}", answer.Location);
        Assert.AreEqual(answer.Location, answer.Json.GetProperty("statusUri").GetString());
        Assert.AreEqual("Running", answer.Json.GetProperty("status").GetString());
        StringAssert.StartsWith(answer.ContentType, "application/json");
        var scheduled = rig.Client.Scheduled.Single();
        Assert.AreEqual(nameof(RolloutOrchestrator), scheduled.Orchestrator);
        Assert.AreEqual(id, scheduled.InstanceId);
        Assert.IsTrue(FunctionsRig.Deserialize<RolloutCheckpoint>(scheduled.InputJson).ExposureOwed);
        Assert.AreEqual(TestPlans.Approver, (await rig.AuditAsync(id))[0].Actor);
        Assert.AreEqual(0, rig.Exposure.Applied.Single().StageIndex, "the first stage's exposure was not applied");
    }

    [TestMethod]
    public async Task StartRollout_InvalidPlan_Answers400WithEveryProblemByJsonPathAndStoresNothing()
    {
        await using var rig = await FunctionsRig.CreateAsync();
        var plan = TestPlans.Days("bad").Replace("\"percent\": 50", "\"percent\": 5", StringComparison.Ordinal).Replace("\"percent\": 100, \"minDuration\": \"P1D\"", "\"percent\": 100, \"minDuration\": \"soon\"", StringComparison.Ordinal);
        var request = HttpCall.Request("POST", "/api/rollouts", plan);

        var answer = await rig.Api.StartRollout(request, rig.Client, None).RunAsync(request);

        Assert.AreEqual(400, answer.Status);
        Assert.AreEqual("application/problem+json", answer.ContentType);
        Assert.AreEqual("The plan is invalid", answer.Json.GetProperty("title").GetString());
        var errors = answer.Json.GetProperty("errors");
        Assert.IsTrue(errors.TryGetProperty("$.stages[2].percent", out _), errors.GetRawText());
        Assert.IsTrue(errors.TryGetProperty("$.stages[3].minDuration", out _), errors.GetRawText());
        Assert.AreEqual("2 problem(s); nothing was stored", answer.Json.GetProperty("detail").GetString());
        Assert.AreEqual(0, (await rig.Store.ListAsync(null, 10, None)).Count);
        Assert.AreEqual(0, rig.Client.Scheduled.Count);
    }

    [TestMethod]
    public async Task StartRollout_PlanNamingConnectionsAndChannelsThisAppLacks_Answers400AndStoresNothing()
    {
        await using var rig = await FunctionsRig.CreateAsync(null, ("Notifications:Teams:release-ops", "https://prod-00.westeurope.logic.azure.com/workflows/1"));
        var plan = System.Text.Json.Nodes.JsonNode.Parse(TestPlans.Days("external-flag"))!.AsObject();
        plan["exposure"] = System.Text.Json.Nodes.JsonNode.Parse("""{ "type": "app-configuration", "connection": "main" }""");
        plan["notify"] = System.Text.Json.Nodes.JsonNode.Parse("""["release-ops", "release-channel"]""");
        var request = HttpCall.Request("POST", "/api/rollouts", plan.ToJsonString());

        var answer = await rig.Api.StartRollout(request, rig.Client, None).RunAsync(request);

        Assert.AreEqual(400, answer.Status, answer.Body);
        var errors = answer.Json.GetProperty("errors");
        StringAssert.Contains(errors.GetProperty("$.exposure.connection")[0].GetString(), "Exposure:AppConfiguration:main");
        StringAssert.Contains(errors.GetProperty("$.notify[1]")[0].GetString(), "configured: release-ops");
        Assert.IsFalse(errors.TryGetProperty("$.notify[0]", out _), "a configured channel was refused");
        Assert.DoesNotContain("logic.azure.com", answer.Body, "a webhook URL (a secret) was shown");
        Assert.AreEqual(0, rig.Client.Scheduled.Count);
        Assert.IsEmpty(await rig.Store.ListAsync(null, 10, None));
    }

    [TestMethod]
    public async Task GetPlan_StartedRollout_AnswersThePlanAsTheLocalHostDoes()
    {
        await using var rig = await FunctionsRig.CreateAsync();
        var harness = await rig.StartAsync(TestPlans.Days("plan-read"));

        var request = HttpCall.Get($"/api/rollouts/{harness.InstanceId}/plan");
        var answer = await rig.Api.GetPlan(request, harness.InstanceId, None).RunAsync(request);
        var missing = HttpCall.Get("/api/rollouts/r-nope/plan");

        Assert.AreEqual(200, answer.Status);
        Assert.AreEqual("plan-read", answer.Json.GetProperty("flag").GetString());
        Assert.AreEqual(0.01, answer.Json.GetProperty("criteria")[0].GetProperty("max").GetDouble());
        Assert.AreEqual(System.Text.Json.JsonSerializer.Serialize(harness.Checkpoint.State.Plan, RolloutJson.Options), answer.Body);
        Assert.AreEqual(404, (await rig.Api.GetPlan(missing, "r-nope", None).RunAsync(missing)).Status);
    }

    [TestMethod]
    public async Task StartRollout_YamlPlan_IsReadByItsContentType()
    {
        await using var rig = await FunctionsRig.CreateAsync();
        const string yaml = """
            name: yaml-plan
            flag: yaml-flag
            stages:
              - name: everyone
                percent: 100
                minDuration: 1h
            criteria: []
            """;
        var request = HttpCall.Request("POST", "/api/rollouts", yaml, "application/yaml; charset=utf-8");

        var answer = await rig.Api.StartRollout(request, rig.Client, None).RunAsync(request);

        Assert.AreEqual(202, answer.Status, answer.Body);
        Assert.AreEqual("yaml-flag", (await rig.StateAsync(answer.Json.GetProperty("id").GetString()!)).Plan.Flag);
    }

    [TestMethod]
    public async Task StartRollout_BodyOverOneMegabyte_Answers413()
    {
        await using var rig = await FunctionsRig.CreateAsync();
        var big = new string(' ', (int)RequestBody.MaxBytes + 1);
        var declared = HttpCall.Request("POST", "/api/rollouts", "{}", contentLength: RequestBody.MaxBytes + 1);
        var streamed = HttpCall.Request("POST", "/api/rollouts", big);
        streamed.ContentLength = null;

        Assert.AreEqual(413, (await rig.Api.StartRollout(declared, rig.Client, None).RunAsync(declared)).Status);
        Assert.AreEqual(413, (await rig.Api.StartRollout(streamed, rig.Client, None).RunAsync(streamed)).Status);
    }

    [TestMethod]
    public async Task StartRollout_FlagWithAnUnfinishedRollout_Answers409NamingIt()
    {
        await using var rig = await FunctionsRig.CreateAsync();
        var first = await rig.StartAsync(TestPlans.Days("busy-flag"));
        var request = HttpCall.Request("POST", "/api/rollouts", TestPlans.Days("busy-flag"));

        var answer = await rig.Api.StartRollout(request, rig.Client, None).RunAsync(request);

        Assert.AreEqual(409, answer.Status);
        Assert.AreEqual(first.InstanceId, answer.Json.GetProperty("activeRolloutId").GetString());
        Assert.AreEqual(1, rig.Client.Scheduled.Count);
    }

    [TestMethod]
    public async Task PauseRollout_RunningRollout_Answers200WithTheOrchestratorsAnswer()
    {
        await using var rig = await FunctionsRig.CreateAsync();
        var harness = await rig.StartAsync(TestPlans.Days("pause-api"));
        var request = HttpCall.Post($"/api/rollouts/{harness.InstanceId}/pause", new { actor = "oncall@contoso.com", reason = "support tickets" });

        var answer = await rig.Api.PauseRollout(request, rig.Client, harness.InstanceId, None).RunAsync(request);

        Assert.AreEqual(200, answer.Status, answer.Body);
        var command = answer.Json.GetProperty("command");
        Assert.AreEqual("pause", command.GetProperty("kind").GetString());
        Assert.AreEqual("Accepted", command.GetProperty("status").GetString());
        Assert.AreEqual(32, command.GetProperty("id").GetString()!.Length);
        Assert.AreEqual("Paused", answer.Json.GetProperty("rollout").GetProperty("status").GetString());
        Assert.AreEqual("support tickets", answer.Json.GetProperty("rollout").GetProperty("statusReason").GetString());
        var raised = rig.Client.Raised.Single();
        Assert.AreEqual(RolloutOrchestrator.CommandEvent, raised.EventName);
        Assert.AreEqual("pause", FunctionsRig.Deserialize<CommandEnvelope>(raised.PayloadJson).Kind);
    }

    [TestMethod]
    public async Task AzureMonitorAlert_FiredForTheFlag_RaisesTheStopSignalOnItsRollout()
    {
        await using var rig = await FunctionsRig.CreateAsync();
        var harness = await rig.StartAsync(TestPlans.Days("alerted-flag"));
        var alert = """
            { "schemaId": "azureMonitorCommonAlertSchema",
              "data": { "essentials": { "alertId": "/alerts/1", "alertRule": "checkout-5xx", "severity": "Sev1", "monitorCondition": "Fired", "description": "5xx above 2%" },
                        "alertContext": {}, "customProperties": { "rolloutFlag": "alerted-flag" } } }
            """;
        var request = HttpCall.Request("POST", "/api/alerts/azure-monitor", alert);

        var answer = await rig.Api.AzureMonitorAlert(request, rig.Client, None).RunAsync(request);

        Assert.AreEqual(200, answer.Status, answer.Body);
        Assert.AreEqual(harness.InstanceId, answer.Json.GetProperty("rollouts")[0].GetProperty("rolloutId").GetString());
        var raised = rig.Client.Raised.Single();
        Assert.AreEqual("signal", FunctionsRig.Deserialize<CommandEnvelope>(raised.PayloadJson).Kind);

        var invalid = HttpCall.Request("POST", "/api/alerts/azure-monitor", """{ "schemaId": "other" }""");
        Assert.AreEqual(400, (await rig.Api.AzureMonitorAlert(invalid, rig.Client, None).RunAsync(invalid)).Status);
    }

    [TestMethod]
    public async Task PauseRollout_MissingFields_Answers400ByJsonPathAndRaisesNothing()
    {
        await using var rig = await FunctionsRig.CreateAsync();
        var harness = await rig.StartAsync(TestPlans.Days("bad-command"));
        var request = HttpCall.Post($"/api/rollouts/{harness.InstanceId}/pause", new { });

        var answer = await rig.Api.PauseRollout(request, rig.Client, harness.InstanceId, None).RunAsync(request);

        Assert.AreEqual(400, answer.Status);
        Assert.AreEqual("application/problem+json", answer.ContentType);
        var errors = answer.Json.GetProperty("errors");
        Assert.IsTrue(errors.TryGetProperty("$.actor", out _));
        Assert.IsTrue(errors.TryGetProperty("$.reason", out _));
        Assert.AreEqual(0, rig.Client.Raised.Count);
    }

    [TestMethod]
    public async Task SignalRollout_UnknownRollout_Answers404()
    {
        await using var rig = await FunctionsRig.CreateAsync();
        var request = HttpCall.Post("/api/rollouts/r-nope/signals", new { signal = "critical-issue", source = "sentry" });

        var answer = await rig.Api.SignalRollout(request, rig.Client, "r-nope", None).RunAsync(request);

        Assert.AreEqual(404, answer.Status);
        Assert.AreEqual("no rollout 'r-nope'", answer.Json.GetProperty("detail").GetString());
    }

    [TestMethod]
    public async Task ApproveRollout_NotAnApproverOfTheStage_Answers403()
    {
        await using var rig = await FunctionsRig.CreateAsync();
        var harness = await rig.StartAsync(TestPlans.WithApproval("approve-api"));
        await harness.RunUntilAsync(h => h.Checkpoint.State.Status == RolloutStatus.AwaitingApproval);
        var stranger = HttpCall.Post($"/api/rollouts/{harness.InstanceId}/approve", new { approver = "mallory@contoso.com" });
        var approver = HttpCall.Post($"/api/rollouts/{harness.InstanceId}/approve", new { approver = TestPlans.Approver });

        var refused = await rig.Api.ApproveRollout(stranger, rig.Client, harness.InstanceId, None).RunAsync(stranger);
        var accepted = await rig.Api.ApproveRollout(approver, rig.Client, harness.InstanceId, None).RunAsync(approver);

        Assert.AreEqual(403, refused.Status);
        Assert.IsTrue(refused.Json.TryGetProperty("commandId", out _));
        Assert.AreEqual(200, accepted.Status);
        Assert.AreEqual("everyone", accepted.Json.GetProperty("rollout").GetProperty("stage").GetString());
    }

    [TestMethod]
    public async Task ResumeRollout_NotPaused_Answers409()
    {
        await using var rig = await FunctionsRig.CreateAsync();
        var harness = await rig.StartAsync(TestPlans.Days("resume-running"));
        var request = HttpCall.Post($"/api/rollouts/{harness.InstanceId}/resume", new { actor = "a@contoso.com" });

        var answer = await rig.Api.ResumeRollout(request, rig.Client, harness.InstanceId, None).RunAsync(request);

        Assert.AreEqual(409, answer.Status);
        StringAssert.Contains(answer.Json.GetProperty("detail").GetString(), "not Paused");
    }

    [TestMethod]
    public async Task PauseRollout_FinishedRollout_Answers409WithoutRaisingAnEvent()
    {
        await using var rig = await FunctionsRig.CreateAsync();
        var harness = await rig.StartAsync(TestPlans.Days("finished"));
        var rollback = HttpCall.Post($"/api/rollouts/{harness.InstanceId}/rollback", new { actor = "a@contoso.com", reason = "bad" });
        Assert.AreEqual(200, (await rig.Api.RollbackRollout(rollback, rig.Client, harness.InstanceId, None).RunAsync(rollback)).Status);
        Assert.IsTrue(harness.IsCompleted);
        var pause = HttpCall.Post($"/api/rollouts/{harness.InstanceId}/pause", new { actor = "a@contoso.com", reason = "late" });

        var answer = await rig.Api.PauseRollout(pause, rig.Client, harness.InstanceId, None).RunAsync(pause);

        Assert.AreEqual(409, answer.Status);
        StringAssert.Contains(answer.Json.GetProperty("detail").GetString(), "RolledBack");
        Assert.AreEqual(1, rig.Client.Raised.Count);
    }

    [TestMethod]
    public async Task SignalRollout_SameCommandIdTwice_SecondAnswersDuplicate()
    {
        await using var rig = await FunctionsRig.CreateAsync();
        var harness = await rig.StartAsync(TestPlans.Days("dup-api"));
        var body = new { signal = "oncall-paged", source = "pagerduty", commandId = "incident-7" };
        var first = HttpCall.Post($"/api/rollouts/{harness.InstanceId}/signals", body);
        var second = HttpCall.Post($"/api/rollouts/{harness.InstanceId}/signals", body);

        var a = await rig.Api.SignalRollout(first, rig.Client, harness.InstanceId, None).RunAsync(first);
        var b = await rig.Api.SignalRollout(second, rig.Client, harness.InstanceId, None).RunAsync(second);

        Assert.AreEqual("Accepted", a.Json.GetProperty("command").GetProperty("status").GetString());
        Assert.AreEqual("Duplicate", b.Json.GetProperty("command").GetProperty("status").GetString());
        Assert.AreEqual("incident-7", b.Json.GetProperty("command").GetProperty("id").GetString());
        Assert.AreEqual(1, rig.Client.Raised.Count);
        Assert.AreEqual(1, (await rig.AuditAsync(harness.InstanceId)).Count(e => e.Type == AuditType.SignalReceived));
    }

    [TestMethod]
    public async Task PauseRollout_OrchestratorSlowToAnswer_Answers202ThenTheResentIdAnswersTheResult()
    {
        await using var rig = await FunctionsRig.CreateAsync();
        var harness = await rig.StartAsync(TestPlans.Days("slow"));
        rig.ForwardEvents = false;
        var body = new { actor = "a@contoso.com", reason = "r", commandId = "slow-1" };
        var request = HttpCall.Post($"/api/rollouts/{harness.InstanceId}/pause", body);

        var pending = await rig.Api.PauseRollout(request, rig.Client, harness.InstanceId, None).RunAsync(request);

        Assert.AreEqual(202, pending.Status);
        Assert.AreEqual($"/api/rollouts/{harness.InstanceId}", pending.Location);
        Assert.AreEqual("Pending", pending.Json.GetProperty("command").GetProperty("status").GetString());
        Assert.AreEqual(pending.Location, pending.Json.GetProperty("statusUri").GetString());

        // The orchestrator gets to it later; resending the same id then returns what happened.
        var raised = rig.Client.Raised.Single();
        harness.RaiseJson(raised.EventName, raised.PayloadJson);
        await rig.RunAsync(harness);
        var again = HttpCall.Post($"/api/rollouts/{harness.InstanceId}/pause", body);
        var answer = await rig.Api.PauseRollout(again, rig.Client, harness.InstanceId, None).RunAsync(again);
        Assert.AreEqual(200, answer.Status);
        Assert.AreEqual("Duplicate", answer.Json.GetProperty("command").GetProperty("status").GetString());
        Assert.AreEqual("Paused", answer.Json.GetProperty("rollout").GetProperty("status").GetString());
    }

    [TestMethod]
    public async Task PauseRollout_OrchestrationGone_RestartsItFromTheStoredStateAndApplies()
    {
        await using var rig = await FunctionsRig.CreateAsync();
        var harness = await rig.StartAsync(TestPlans.Days("revived"));
        await harness.AdvanceToAsync(VirtualClock.T0 + TimeSpan.FromHours(5));
        rig.Client.Statuses[harness.InstanceId] = OrchestrationRuntimeStatus.Failed;
        var stored = await rig.StateAsync(harness.InstanceId);
        var request = HttpCall.Post($"/api/rollouts/{harness.InstanceId}/pause", new { actor = "a@contoso.com", reason = "r" });

        var answer = await rig.Api.PauseRollout(request, rig.Client, harness.InstanceId, None).RunAsync(request);

        Assert.AreEqual(200, answer.Status, answer.Body);
        Assert.AreEqual(2, rig.Client.Scheduled.Count);
        var restarted = FunctionsRig.Deserialize<RolloutCheckpoint>(rig.Client.Scheduled[1].InputJson);
        Assert.AreEqual(stored.AuditSeq, restarted.State.AuditSeq);
        Assert.AreEqual(RolloutStatus.Paused, (await rig.StateAsync(harness.InstanceId)).Status);
    }

    [TestMethod]
    public async Task ListRollouts_StatusAndLimit_FilterAndRefuseNonsense()
    {
        await using var rig = await FunctionsRig.CreateAsync();
        var one = await rig.StartAsync(TestPlans.Days("list-one"));
        await rig.StartAsync(TestPlans.Days("list-two"));
        await rig.SendAsync(one, "pause", new CommandBody(Actor: "a", Reason: "r"));
        await rig.RunAsync(one);

        var all = HttpCall.Get("/api/rollouts");
        var paused = HttpCall.Get("/api/rollouts", ("status", "paused"));
        var bad = HttpCall.Get("/api/rollouts", ("status", "Sleeping"));
        var badLimit = HttpCall.Get("/api/rollouts", ("limit", "lots"));

        Assert.AreEqual(2, (await rig.Api.ListRollouts(all, None).RunAsync(all)).Json.GetArrayLength());
        var onlyPaused = (await rig.Api.ListRollouts(paused, None).RunAsync(paused)).Json;
        Assert.AreEqual(1, onlyPaused.GetArrayLength());
        Assert.AreEqual(one.InstanceId, onlyPaused[0].GetProperty("id").GetString());
        Assert.AreEqual(400, (await rig.Api.ListRollouts(bad, None).RunAsync(bad)).Status);
        Assert.AreEqual(400, (await rig.Api.ListRollouts(badLimit, None).RunAsync(badLimit)).Status);
    }

    [TestMethod]
    public async Task GetRollout_KnownAndUnknown_AnswerTheViewOr404()
    {
        await using var rig = await FunctionsRig.CreateAsync();
        var harness = await rig.StartAsync(TestPlans.Days("view"));
        var known = HttpCall.Get($"/api/rollouts/{harness.InstanceId}");
        var unknown = HttpCall.Get("/api/rollouts/r-missing");

        var view = (await rig.Api.GetRollout(known, harness.InstanceId, None).RunAsync(known)).Json;

        foreach (var field in new[] { "id", "name", "flag", "status", "stageIndex", "stage", "stageCount", "percent", "stageStartedAt", "nextEvaluationAt", "consecutiveFailures", "consecutiveNoData", "approvers", "createdAt", "updatedAt" })
        {
            Assert.IsTrue(view.TryGetProperty(field, out _), $"no '{field}' in {view}");
        }

        Assert.AreEqual(4, view.GetProperty("stageCount").GetInt32());
        Assert.AreEqual(404, (await rig.Api.GetRollout(unknown, "r-missing", None).RunAsync(unknown)).Status);
    }

    [TestMethod]
    public async Task GetAudit_After_AnswersOnlyLaterEntries()
    {
        await using var rig = await FunctionsRig.CreateAsync();
        var harness = await rig.StartAsync(TestPlans.Days("audit"));
        var all = HttpCall.Get($"/api/rollouts/{harness.InstanceId}/audit");
        var later = HttpCall.Get($"/api/rollouts/{harness.InstanceId}/audit", ("after", "2"));

        var entries = (await rig.Api.GetAudit(all, harness.InstanceId, None).RunAsync(all)).Json;
        var tail = (await rig.Api.GetAudit(later, harness.InstanceId, None).RunAsync(later)).Json;

        Assert.AreEqual("Started", entries[0].GetProperty("type").GetString());
        Assert.AreEqual(entries.GetArrayLength() - 2, tail.GetArrayLength());
        Assert.AreEqual(3, tail[0].GetProperty("seq").GetInt64());
    }

    [TestMethod]
    public async Task GetBrief_AnswersTheReleaseBriefAsMarkdown()
    {
        await using var rig = await FunctionsRig.CreateAsync();
        var harness = await rig.StartAsync(TestPlans.Days("brief"));
        var request = HttpCall.Get($"/api/rollouts/{harness.InstanceId}/brief");

        var answer = await rig.Api.GetBrief(request, harness.InstanceId, None).RunAsync(request);

        Assert.AreEqual(200, answer.Status);
        Assert.AreEqual("text/markdown; charset=utf-8", answer.ContentType);
        StringAssert.Contains(answer.Body, "checkout-v2");
        StringAssert.Contains(answer.Body, "error-rate");
    }

    [TestMethod]
    public async Task GetGate_UntilAStage_IsPendingThenSucceeded()
    {
        await using var rig = await FunctionsRig.CreateAsync();
        var harness = await rig.StartAsync(TestPlans.Days("gate"));
        var before = HttpCall.Get($"/api/rollouts/{harness.InstanceId}/gate", ("until", "10%"));
        Assert.AreEqual("pending", (await rig.Api.GetGate(before, harness.InstanceId, None).RunAsync(before)).Json.GetProperty("status").GetString());

        await harness.RunUntilAsync(h => h.Checkpoint.State.StageIndex == 1);
        var after = HttpCall.Get($"/api/rollouts/{harness.InstanceId}/gate", ("until", "10%"));
        var gate = (await rig.Api.GetGate(after, harness.InstanceId, None).RunAsync(after)).Json;

        Assert.AreEqual("succeeded", gate.GetProperty("status").GetString());
        Assert.AreEqual("10%", gate.GetProperty("until").GetString());
    }

    [TestMethod]
    public async Task EvaluateFlag_AfterStart_AnswersFromMemoryByAudience()
    {
        await using var rig = await FunctionsRig.CreateAsync();
        var harness = await rig.StartAsync(TestPlans.Days("flagged"));
        var member = HttpCall.Get("/api/flags/flagged/evaluate", ("subject", "u1"), ("group", "contractors"), ("group", "internal"));
        var outsider = HttpCall.Get("/api/flags/flagged/evaluate", ("subject", "u2"));

        var yes = (await rig.Api.EvaluateFlag(member, "flagged", None).RunAsync(member)).Json;
        var no = (await rig.Api.EvaluateFlag(outsider, "flagged", None).RunAsync(outsider)).Json;

        Assert.IsTrue(yes.GetProperty("enabled").GetBoolean());
        Assert.AreEqual("internal", yes.GetProperty("stage").GetString());
        Assert.AreEqual(harness.InstanceId, yes.GetProperty("rolloutId").GetString());
        Assert.IsFalse(no.GetProperty("enabled").GetBoolean());
    }

    [TestMethod]
    public async Task Health_AnswersOk()
    {
        await using var rig = await FunctionsRig.CreateAsync();
        var request = HttpCall.Get("/healthz");

        var answer = await rig.Api.Health(request).RunAsync(request);

        Assert.AreEqual(200, answer.Status);
        Assert.AreEqual("ok", answer.Body);
    }
}
