using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Rollout.Core.Api;
using Rollout.Core.Engine;

namespace Rollout.Cli.Tests.Hosting;

[TestClass]
public sealed class ApiTests
{
    private static TestHost host = null!;

    [ClassInitialize]
    public static async Task StartHostAsync(TestContext _) => host = await TestHost.StartAsync();

    [ClassCleanup]
    public static async Task StopHostAsync() => await host.DisposeAsync();

    [TestMethod]
    public async Task PostRollouts_ValidPlan_Returns202AndRunsToCompletion()
    {
        using var response = await host.Client.PostAsync("api/rollouts", new StringContent(host.QuickPlan("complete-me"), Encoding.UTF8, "application/json"));
        Assert.AreEqual(HttpStatusCode.Accepted, response.StatusCode);
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        var id = body.GetProperty("id").GetString()!;
        Assert.AreEqual($"/api/rollouts/{id}", body.GetProperty("statusUri").GetString());
        Assert.AreEqual($"/api/rollouts/{id}", response.Headers.Location?.ToString());

        var final = await host.WaitForAsync(id, v => v.Status == RolloutStatus.Completed);
        Assert.AreEqual(2, final.StageIndex);
        Assert.AreEqual(100m, final.Percent);

        var types = (await host.AuditAsync(id)).Select(e => e.Type).ToList();
        CollectionAssert.IsSubsetOf(new[] { AuditType.Started, AuditType.StageEntered, AuditType.ExposureApplied, AuditType.Evaluated, AuditType.Completed }, types);
        Assert.AreEqual(3, types.Count(t => t == AuditType.StageEntered));
        Assert.AreEqual(AuditType.Completed, types[^1]);
    }

    [TestMethod]
    public async Task PostRollouts_YamlPlan_IsAccepted()
    {
        var yaml = $"""
            name: yaml plan
            flag: yaml-flag
            stages:
              - name: everyone
                percent: 100
                minDuration: 1h
            criteria:
              - name: error-rate
                source:
                  type: http
                  url: "{host.Address}demo/metrics/error-rate?flag={"{{flag}}"}&cohort={"{{cohort}}"}"
                  value: $.value
                max: 0.01
            """;
        using var response = await host.Client.PostAsync("api/rollouts", new StringContent(yaml, Encoding.UTF8, "application/yaml"));
        Assert.AreEqual(HttpStatusCode.Accepted, response.StatusCode, await response.Content.ReadAsStringAsync());
        var id = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetString()!;
        var view = await host.GetAsync(id);
        Assert.AreEqual("yaml plan", view.Name);
        Assert.AreEqual("everyone", view.Stage);
        await host.PostJsonAsync($"api/rollouts/{id}/rollback", new { actor = "test", reason = "cleanup" });
    }

    [TestMethod]
    [DataRow("{", "$", DisplayName = "not JSON")]
    [DataRow("[]", "$", DisplayName = "not an object")]
    [DataRow("""{"flag":"f","stages":[{"name":"a","percent":5,"minDuration":"1h"}]}""", "$.name", DisplayName = "missing name")]
    [DataRow("""{"name":"n","flag":"bad flag!","stages":[{"name":"a","percent":5,"minDuration":"1h"}]}""", "$.flag", DisplayName = "bad flag")]
    [DataRow("""{"name":"n","flag":"f","stages":[{"name":"a","percent":5,"minDuration":"soon"}]}""", "$.stages[0].minDuration", DisplayName = "bad duration")]
    [DataRow("""{"name":"n","flag":"f","stages":[{"name":"a","percent":50,"minDuration":"1h"},{"name":"b","percent":10,"minDuration":"1h"}]}""", "$.stages[1].percent", DisplayName = "decreasing percent")]
    [DataRow("""{"name":"n","flag":"f","stages":[{"name":"a","percent":5,"minDuration":"1h","approval":{"approvers":[]}}]}""", "$.stages[0].approval.approvers", DisplayName = "no approvers")]
    [DataRow("""{"name":"n","flag":"f","stages":[{"name":"a","percent":5,"minDuration":"1h"}],"criteria":[{"name":"c","source":{"type":"carrier-pigeon"},"max":1}]}""", "$.criteria[0].source.type", DisplayName = "unknown source")]
    [DataRow("""{"name":"n","flag":"f","stages":[{"name":"a","percent":5,"minDuration":"1h"}],"evaluation":{"onFailure":"panic"}}""", "$.evaluation.onFailure", DisplayName = "bad action")]
    [DataRow("""{"name":"n","flag":"f","stages":[{"name":"a","percent":5,"minDurtion":"1h"}]}""", "$.stages[0].minDurtion", DisplayName = "typo in a property")]
    public async Task PostRollouts_InvalidPlan_Returns400ProblemAndStoresNothing(string plan, string expectedPath)
    {
        var before = await CountAsync();
        using var response = await host.Client.PostAsync("api/rollouts", new StringContent(plan, Encoding.UTF8, "application/json"));
        Assert.AreEqual(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.AreEqual("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.AreEqual(400, problem.GetProperty("status").GetInt32());
        Assert.IsTrue(problem.GetProperty("errors").TryGetProperty(expectedPath, out var messages), $"no error at {expectedPath}: {problem}");
        Assert.IsTrue(messages.GetArrayLength() > 0);
        Assert.AreEqual(before, await CountAsync());
    }

    [TestMethod]
    public async Task PostRollouts_PlanWithManyProblems_ListsEveryProblem()
    {
        const string plan = """{"flag":"no spaces","stages":[{"name":"a","percent":500},{"name":"a","percent":5,"minDuration":"1h"}],"evaluation":{"interval":"forever"}}""";
        using var response = await host.Client.PostAsync("api/rollouts", new StringContent(plan, Encoding.UTF8, "application/json"));
        var errors = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("errors");
        var paths = errors.EnumerateObject().Select(p => p.Name).ToHashSet();
        foreach (var expected in new[] { "$.name", "$.flag", "$.stages[0].percent", "$.stages[0].minDuration", "$.stages[1].name", "$.evaluation.interval" })
        {
            Assert.Contains(expected, paths, $"missing {expected} in {errors}");
        }
    }

    [TestMethod]
    public async Task PostRollouts_FiveMegabyteBody_Refused413AndHostStaysHealthy()
    {
        var before = await CountAsync();
        var huge = "{\"name\":\"" + new string('x', 5 * 1024 * 1024) + "\"}";
        // With Expect: 100-continue the host answers from the Content-Length alone, before the body is sent.
        using var sized = new HttpRequestMessage(HttpMethod.Post, "api/rollouts") { Content = new StringContent(huge, Encoding.UTF8, "application/json") };
        sized.Headers.ExpectContinue = true;
        using var response = await host.Client.SendAsync(sized);
        Assert.AreEqual(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);

        // Chunked, without a Content-Length, the limit is enforced while reading: the host answers 413 and
        // may close the connection before the client has finished sending, which the client sees as a reset.
        using var chunked = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes(huge)));
        chunked.Headers.ContentType = new("application/json");
        using var request = new HttpRequestMessage(HttpMethod.Post, "api/rollouts") { Content = chunked };
        request.Headers.TransferEncodingChunked = true;
        try
        {
            using var chunkedResponse = await host.Client.SendAsync(request);
            Assert.AreEqual(HttpStatusCode.RequestEntityTooLarge, chunkedResponse.StatusCode);
        }
        catch (HttpRequestException ex) when (ex.InnerException is IOException)
        {
        }

        Assert.AreEqual(before, await CountAsync());
        Assert.AreEqual("ok", await host.Anonymous.GetStringAsync("healthz"));
    }

    [TestMethod]
    public async Task MutatingRoutes_WithoutOrWithWrongKey_Return401AndChangeNothing()
    {
        var id = await host.StartRolloutAsync(host.QuickPlan("auth-flag", firstStageApproval: """, "approval": { "approvers": ["alex@contoso.com"] }"""));
        var auditBefore = (await host.AuditAsync(id)).Count(e => e.Type != AuditType.Evaluated);
        using var wrongKey = new HttpClient { BaseAddress = host.Address };
        wrongKey.DefaultRequestHeaders.Add("x-functions-key", "not-the-key");
        foreach (var client in new[] { host.Anonymous, wrongKey })
        {
            foreach (var (path, body) in new (string, object)[]
            {
                ("api/rollouts", new { name = "x" }),
                ($"api/rollouts/{id}/pause", new { actor = "a", reason = "r" }),
                ($"api/rollouts/{id}/resume", new { actor = "a" }),
                ($"api/rollouts/{id}/rollback", new { actor = "a", reason = "r" }),
                ($"api/rollouts/{id}/approve", new { approver = "alex@contoso.com" }),
                ($"api/rollouts/{id}/signals", new { signal = "critical-issue", source = "a" }),
            })
            {
                using var response = await host.PostJsonAsync(path, body, client);
                Assert.AreEqual(HttpStatusCode.Unauthorized, response.StatusCode, path);
            }
        }

        Assert.AreEqual(auditBefore, (await host.AuditAsync(id)).Count(e => e.Type != AuditType.Evaluated));
        Assert.AreNotEqual(RolloutStatus.RolledBack, (await host.GetAsync(id)).Status);
        await host.PostJsonAsync($"api/rollouts/{id}/rollback", new { actor = "test", reason = "cleanup" });
    }

    [TestMethod]
    public async Task Commands_OnFinishedRollout_Return409AndChangeNothing()
    {
        var id = await host.StartRolloutAsync(host.QuickPlan("finished-flag"));
        using (var rollback = await host.PostJsonAsync($"api/rollouts/{id}/rollback", new { actor = "sam", reason = "bad idea" }))
        {
            Assert.AreEqual(HttpStatusCode.OK, rollback.StatusCode);
        }

        var audit = await host.AuditAsync(id);
        foreach (var (kind, body) in new (string, object)[]
        {
            ("pause", new { actor = "a", reason = "r" }),
            ("resume", new { actor = "a" }),
            ("rollback", new { actor = "a", reason = "again" }),
            ("approve", new { approver = "alex@contoso.com" }),
            ("signals", new { signal = "critical-issue", source = "pager" }),
        })
        {
            using var response = await host.PostJsonAsync($"api/rollouts/{id}/{kind}", body);
            Assert.AreEqual(HttpStatusCode.Conflict, response.StatusCode, kind);
            Assert.AreEqual("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        }

        Assert.AreEqual(audit.Count, (await host.AuditAsync(id)).Count);
    }

    [TestMethod]
    public async Task Commands_MissingFields_Return400WithPaths()
    {
        var id = await host.StartRolloutAsync(host.QuickPlan("fields-flag"));
        using var pause = await host.PostJsonAsync($"api/rollouts/{id}/pause", new { });
        Assert.AreEqual(HttpStatusCode.BadRequest, pause.StatusCode);
        var errors = JsonDocument.Parse(await pause.Content.ReadAsStringAsync()).RootElement.GetProperty("errors");
        Assert.IsTrue(errors.TryGetProperty("$.actor", out _));
        Assert.IsTrue(errors.TryGetProperty("$.reason", out _));
        using var notFound = await host.PostJsonAsync("api/rollouts/r-none/pause", new { actor = "a", reason = "r" });
        Assert.AreEqual(HttpStatusCode.NotFound, notFound.StatusCode);
        await host.PostJsonAsync($"api/rollouts/{id}/rollback", new { actor = "test", reason = "cleanup" });
    }

    [TestMethod]
    public async Task Approve_ByNonApprover_Returns403_ByApprover_Promotes()
    {
        var id = await host.StartRolloutAsync(host.QuickPlan("approval-flag", firstStageApproval: """, "approval": { "approvers": ["alex@contoso.com"] }"""));
        await host.WaitForAsync(id, v => v.Status == RolloutStatus.AwaitingApproval);

        using (var forbidden = await host.PostJsonAsync($"api/rollouts/{id}/approve", new { approver = "mallory@contoso.com" }))
        {
            Assert.AreEqual(HttpStatusCode.Forbidden, forbidden.StatusCode);
        }

        Assert.AreEqual(RolloutStatus.AwaitingApproval, (await host.GetAsync(id)).Status);
        using (var approved = await host.PostJsonAsync($"api/rollouts/{id}/approve", new { approver = "ALEX@contoso.com" }))
        {
            Assert.AreEqual(HttpStatusCode.OK, approved.StatusCode);
        }

        var view = await host.WaitForAsync(id, v => v.StageIndex >= 1);
        Assert.AreNotEqual(RolloutStatus.AwaitingApproval, view.Status);
        var audit = await host.AuditAsync(id);
        Assert.AreEqual("ALEX@contoso.com", audit.Single(e => e.Type == AuditType.Approved).Actor);
        await host.PostJsonAsync($"api/rollouts/{id}/rollback", new { actor = "test", reason = "cleanup" });
    }

    [TestMethod]
    public async Task PauseResume_WithCommandIdRepeated_AppliesOnce()
    {
        var id = await host.StartRolloutAsync(host.QuickPlan("pause-flag", firstStageApproval: """, "approval": { "approvers": ["alex@contoso.com"] }"""));
        for (var i = 0; i < 3; i++)
        {
            using var response = await host.PostJsonAsync($"api/rollouts/{id}/pause", new { actor = "oncall", reason = "investigating", commandId = "pause-1" });
            Assert.AreEqual(HttpStatusCode.OK, response.StatusCode);
            var status = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("command").GetProperty("status").GetString();
            Assert.AreEqual(i == 0 ? "Accepted" : "Duplicate", status);
        }

        Assert.AreEqual(RolloutStatus.Paused, (await host.GetAsync(id)).Status);
        using (var resume = await host.PostJsonAsync($"api/rollouts/{id}/resume", new { actor = "oncall" }))
        {
            Assert.AreEqual(HttpStatusCode.OK, resume.StatusCode);
        }

        using (var again = await host.PostJsonAsync($"api/rollouts/{id}/resume", new { actor = "oncall" }))
        {
            Assert.AreEqual(HttpStatusCode.Conflict, again.StatusCode);
        }

        var audit = await host.AuditAsync(id);
        Assert.AreEqual(1, audit.Count(e => e.Type == AuditType.Paused));
        Assert.AreEqual(1, audit.Count(e => e.Type == AuditType.Resumed));
        await host.PostJsonAsync($"api/rollouts/{id}/rollback", new { actor = "test", reason = "cleanup" });
    }

    [TestMethod]
    public async Task Signal_ListedInStopOn_RollsBackAndFlagTurnsOff()
    {
        var id = await host.StartRolloutAsync(host.QuickPlan("signal-flag", firstStageApproval: """, "approval": { "approvers": ["alex@contoso.com"] }""",
            stopOn: """, "stopOn": [ { "signal": "critical-issue", "action": "rollback" } ]"""));
        var on = await host.Anonymous.GetFromJsonAsync<JsonElement>("api/flags/signal-flag/evaluate?subject=u1&group=internal");
        Assert.IsTrue(on.GetProperty("enabled").GetBoolean());
        Assert.AreEqual(id, on.GetProperty("rolloutId").GetString());

        using (var unlisted = await host.PostJsonAsync($"api/rollouts/{id}/signals", new { signal = "coffee-spilled", source = "gal" }))
        {
            Assert.AreEqual(HttpStatusCode.OK, unlisted.StatusCode);
        }

        Assert.AreNotEqual(RolloutStatus.RolledBack, (await host.GetAsync(id)).Status);
        using (var critical = await host.PostJsonAsync($"api/rollouts/{id}/signals", new { signal = "critical-issue", source = "gal@contoso.com", message = "checkout fails" }))
        {
            Assert.AreEqual(HttpStatusCode.OK, critical.StatusCode);
        }

        Assert.AreEqual(RolloutStatus.RolledBack, (await host.GetAsync(id)).Status);
        var off = await host.Anonymous.GetFromJsonAsync<JsonElement>("api/flags/signal-flag/evaluate?subject=u1&group=internal");
        Assert.IsFalse(off.GetProperty("enabled").GetBoolean());
        var audit = await host.AuditAsync(id);
        Assert.AreEqual(2, audit.Count(e => e.Type == AuditType.SignalReceived));
    }

    [TestMethod]
    public async Task Regression_FailureLimitReached_RollsBackAutomatically()
    {
        var id = await host.StartRolloutAsync(host.QuickPlan("regress-flag", extraQuery: "&regressAt=0"));
        var view = await host.WaitForAsync(id, v => v.Status == RolloutStatus.RolledBack);
        Assert.AreEqual(0, view.StageIndex);
        Assert.IsNotNull(view.StatusReason);
        StringAssert.Contains(view.StatusReason, "error-rate");
        var fails = (await host.AuditAsync(id)).Count(e => e.Type == AuditType.Evaluated && e.Details.GetProperty("outcome").GetString() == "Fail");
        Assert.AreEqual(2, fails);
    }

    [TestMethod]
    public async Task EvaluateFlag_FollowsExposure_StickyPerSubject()
    {
        var id = await host.StartRolloutAsync(host.QuickPlan("sticky-flag"));
        await host.WaitForAsync(id, v => v.Status == RolloutStatus.Completed);
        var first = await host.Anonymous.GetFromJsonAsync<JsonElement>("api/flags/sticky-flag/evaluate?subject=someone");
        Assert.IsTrue(first.GetProperty("enabled").GetBoolean());
        Assert.AreEqual("100%", first.GetProperty("stage").GetString());
        var unknown = await host.Anonymous.GetFromJsonAsync<JsonElement>("api/flags/never-heard-of/evaluate?subject=someone");
        Assert.IsFalse(unknown.GetProperty("enabled").GetBoolean());
    }

    [TestMethod]
    public async Task StartRollout_FlagWithUnfinishedRollout_Returns409()
    {
        var id = await host.StartRolloutAsync(host.QuickPlan("busy-flag", firstStageApproval: """, "approval": { "approvers": ["alex@contoso.com"] }"""));
        using var second = await host.Client.PostAsync("api/rollouts", new StringContent(host.QuickPlan("busy-flag"), Encoding.UTF8, "application/json"));
        Assert.AreEqual(HttpStatusCode.Conflict, second.StatusCode);
        Assert.AreEqual(id, JsonDocument.Parse(await second.Content.ReadAsStringAsync()).RootElement.GetProperty("activeRolloutId").GetString());
        await host.PostJsonAsync($"api/rollouts/{id}/rollback", new { actor = "test", reason = "cleanup" });
        Assert.AreNotEqual(id, await host.StartRolloutAsync(host.QuickPlan("busy-flag")));
    }

    [TestMethod]
    public async Task GateAndBrief_ReflectTheRollout()
    {
        var id = await host.StartRolloutAsync(host.QuickPlan("gate-flag", firstStageApproval: """, "approval": { "approvers": ["alex@contoso.com"] }"""));
        var pending = await host.Anonymous.GetFromJsonAsync<JsonElement>($"api/rollouts/{id}/gate");
        Assert.AreEqual("pending", pending.GetProperty("status").GetString());
        var reached = await host.Anonymous.GetFromJsonAsync<JsonElement>($"api/rollouts/{id}/gate?until=internal");
        Assert.AreEqual("succeeded", reached.GetProperty("status").GetString());

        var brief = await host.Anonymous.GetStringAsync($"api/rollouts/{id}/brief");
        StringAssert.Contains(brief, "# Release brief: gate-flag plan");
        StringAssert.Contains(brief, $"rollout rollback {id}");
        StringAssert.Contains(brief, "alex@contoso.com");

        await host.PostJsonAsync($"api/rollouts/{id}/rollback", new { actor = "test", reason = "cleanup" });
        var failed = await host.Anonymous.GetFromJsonAsync<JsonElement>($"api/rollouts/{id}/gate");
        Assert.AreEqual("failed", failed.GetProperty("status").GetString());
    }

    [TestMethod]
    public async Task ListRollouts_StatusFilter_FiltersAndRejectsUnknownStatus()
    {
        var id = await host.StartRolloutAsync(host.QuickPlan("list-flag"));
        await host.PostJsonAsync($"api/rollouts/{id}/rollback", new { actor = "test", reason = "list" });
        var rolledBack = await host.Anonymous.GetFromJsonAsync<List<RolloutView>>("api/rollouts?status=RolledBack", RolloutJson.Options);
        Assert.IsTrue(rolledBack!.Any(r => r.Id == id));
        Assert.IsTrue(rolledBack!.All(r => r.Status == RolloutStatus.RolledBack));
        using var bad = await host.Anonymous.GetAsync("api/rollouts?status=Sleeping");
        Assert.AreEqual(HttpStatusCode.BadRequest, bad.StatusCode);
    }

    private static async Task<int> CountAsync() =>
        (await host.Anonymous.GetFromJsonAsync<List<RolloutView>>("api/rollouts?limit=1000", RolloutJson.Options))!.Count;
}
