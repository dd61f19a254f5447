using System.Net;
using System.Text.Json;
using Rollout.Core.Engine;
using Rollout.Testing;

namespace Rollout.Cli.Tests.Hosting.Integrations;

[TestClass]
public sealed class AzureDevOpsGateTests
{
    // The peer fixture listens on loopback over http: allowed only because the setting names it.
    private static readonly Dictionary<string, string?> LoopbackDevOps = new() { ["AzureDevOps:AllowedHosts"] = "127.0.0.1" };

    private const string EventsPath = "/org/5d2c2a4e-7d47-4c3a-9a4a-0a8d3f1f2b11/_apis/distributedtask/hubs/build/plans/8e1f5a0b-3a57-4ee0-b2e5-5c0d1f0c9a77/events?api-version=2.0-preview.1";

    [TestMethod]
    public async Task PostGate_CallbackHeaders_AnswersAtOnceThenPostsTaskCompletedSucceeded()
    {
        await using var devops = await PeerFixture.StartAsync();
        await using var host = await TestHost.StartAsync(LoopbackDevOps, deliveries: IntegrationTestHost.FastDeliveries);
        var id = await host.StartRolloutAsync(host.QuickPlan("gate-ok", firstStageApproval: IntegrationTestHost.Approval));

        var started = DateTime.UtcNow;
        using var response = await IntegrationTestHost.PostGateAsync(host, id, "completed", IntegrationTestHost.TaskHeaders(new Uri(devops.Address, "org/")));
        var answer = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;

        Assert.AreEqual(HttpStatusCode.OK, response.StatusCode, answer.ToString());
        Assert.IsLessThan(TimeSpan.FromSeconds(1), DateTime.UtcNow - started, "the callback gate answers at once");
        Assert.AreEqual("Waiting", answer.GetProperty("waiter").GetString());
        Assert.AreEqual("pending", answer.GetProperty("gate").GetProperty("status").GetString());
        Assert.IsEmpty(devops.Requests, "nothing is posted before the rollout completes");

        await host.WaitForAsync(id, v => v.Status == RolloutStatus.AwaitingApproval);
        await host.PostJsonAsync($"api/rollouts/{id}/approve", new { approver = "alex@contoso.com" });
        await host.WaitForAsync(id, v => v.Status == RolloutStatus.Completed);

        var posted = (await devops.WaitForAsync(1)).Single();
        Assert.AreEqual("POST", posted.Method);
        Assert.AreEqual(EventsPath, posted.RawTarget);
        Assert.AreEqual("Bearer job-access-token-5f1a", posted.Header("Authorization"));
        Assert.AreEqual("application/json; charset=utf-8", posted.Header("Content-Type"));
        Assert.AreEqual("""{"name":"TaskCompleted","taskId":"61153303-347e-5f06-a6a1-ce2102bd68eb","jobId":"3a7e60dc-c5b0-5009-86eb-0f217c12e2ea","result":"succeeded"}""", posted.Body);

        await Task.Delay(500);
        Assert.HasCount(1, devops.Requests, "a delivered callback is posted once");
    }

    [TestMethod]
    public async Task PostGate_RolloutRolledBack_PostsTaskCompletedFailed()
    {
        await using var devops = await PeerFixture.StartAsync();
        await using var host = await TestHost.StartAsync(LoopbackDevOps, deliveries: IntegrationTestHost.FastDeliveries);
        var id = await host.StartRolloutAsync(host.QuickPlan("gate-rollback", firstStageApproval: IntegrationTestHost.Approval));
        using var response = await IntegrationTestHost.PostGateAsync(host, id, "10%", IntegrationTestHost.TaskHeaders(devops.Address));
        Assert.AreEqual(HttpStatusCode.OK, response.StatusCode);

        await host.PostJsonAsync($"api/rollouts/{id}/rollback", new { actor = "gal@contoso.com", reason = "checkout errors" });

        var posted = (await devops.WaitForAsync(1)).Single();
        Assert.AreEqual(EventsPath[4..], posted.RawTarget, "a PlanUrl without a trailing slash gives the same endpoint");
        Assert.AreEqual("""{"name":"TaskCompleted","taskId":"61153303-347e-5f06-a6a1-ce2102bd68eb","jobId":"3a7e60dc-c5b0-5009-86eb-0f217c12e2ea","result":"failed"}""", posted.Body);
    }

    [TestMethod]
    public async Task PostGate_StageAlreadyReached_PostsSucceededWithoutWaiting()
    {
        await using var devops = await PeerFixture.StartAsync();
        await using var host = await TestHost.StartAsync(LoopbackDevOps, deliveries: IntegrationTestHost.FastDeliveries);
        var id = await host.StartRolloutAsync(host.QuickPlan("gate-reached", firstStageApproval: IntegrationTestHost.Approval));

        using var response = await IntegrationTestHost.PostGateAsync(host, id, "internal", IntegrationTestHost.TaskHeaders(devops.Address));
        Assert.AreEqual("succeeded", JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("gate").GetProperty("status").GetString());

        var posted = (await devops.WaitForAsync(1)).Single();
        StringAssert.Contains(posted.Body, "\"result\":\"succeeded\"");
    }

    [TestMethod]
    public async Task PostGate_PeerAnswers503Then429ThenHangs_RetriesHonouringRetryAfterUntilDelivered()
    {
        await using var devops = await PeerFixture.StartAsync(
            new PeerReply(503, """{"message":"service unavailable"}"""),
            new PeerReply(429, """{"message":"too many requests"}""", RetryAfter: "1"),
            new PeerReply(200, Delay: TimeSpan.FromSeconds(5)));
        await using var host = await TestHost.StartAsync(LoopbackDevOps, deliveries: IntegrationTestHost.FastDeliveries);
        var id = await host.StartRolloutAsync(host.QuickPlan("gate-retry"));
        using var response = await IntegrationTestHost.PostGateAsync(host, id, "completed", IntegrationTestHost.TaskHeaders(devops.Address));
        Assert.AreEqual(HttpStatusCode.OK, response.StatusCode);

        var final = await host.WaitForAsync(id, v => v.Status == RolloutStatus.Completed);
        Assert.AreEqual(2, final.StageIndex, "a failing Azure DevOps never holds the rollout");

        var requests = await devops.WaitForAsync(4);
        Assert.IsTrue(requests.All(r => r.Body == requests[0].Body && r.Header("Authorization") == "Bearer job-access-token-5f1a"), "every retry posts the same event");
        Assert.IsGreaterThanOrEqualTo(TimeSpan.FromSeconds(0.95), requests[2].At - requests[1].At, "the 429's Retry-After: 1 is honoured");

        var deliveries = await WaitForDeliveryAsync(host, id, "Delivered");
        Assert.AreEqual(4, deliveries.GetProperty("attempts").GetInt32(), "503, 429, a timeout, then 200");
        var listed = await host.Client.GetStringAsync($"api/rollouts/{id}/deliveries");
        Assert.DoesNotContain("job-access-token-5f1a", listed, "the job's token is never returned");
        Assert.DoesNotContain("job-access-token-5f1a", await host.Client.GetStringAsync($"api/rollouts/{id}/audit"));
    }

    [TestMethod]
    public async Task PostGate_SameTaskTwice_RegistersOneWaiterAndPostsOnce()
    {
        await using var devops = await PeerFixture.StartAsync();
        await using var host = await TestHost.StartAsync(LoopbackDevOps, deliveries: IntegrationTestHost.FastDeliveries);
        var id = await host.StartRolloutAsync(host.QuickPlan("gate-twice", firstStageApproval: IntegrationTestHost.Approval));
        var headers = IntegrationTestHost.TaskHeaders(devops.Address);

        using var first = await IntegrationTestHost.PostGateAsync(host, id, "completed", headers);
        using var second = await IntegrationTestHost.PostGateAsync(host, id, "completed", headers);
        var firstId = JsonDocument.Parse(await first.Content.ReadAsStringAsync()).RootElement.GetProperty("waiterId").GetString();
        Assert.AreEqual(firstId, JsonDocument.Parse(await second.Content.ReadAsStringAsync()).RootElement.GetProperty("waiterId").GetString());

        await host.WaitForAsync(id, v => v.Status == RolloutStatus.AwaitingApproval);
        await host.PostJsonAsync($"api/rollouts/{id}/approve", new { approver = "alex@contoso.com" });
        await devops.WaitForAsync(1);
        await Task.Delay(800);
        Assert.HasCount(1, devops.Requests);
    }

    [TestMethod]
    public async Task PostGate_HostRestartsWhileWaiting_WaiterSurvivesAndCompletes()
    {
        await using var devops = await PeerFixture.StartAsync();
        var data = Path.Combine(Path.GetTempPath(), $"rollout-test-{Guid.NewGuid():N}");
        string id;
        await using (var first = await TestHost.StartAsync(LoopbackDevOps, deliveries: IntegrationTestHost.FastDeliveries, dataDirectory: data, keepData: true))
        {
            id = await first.StartRolloutAsync(first.QuickPlan("gate-restart", firstStageApproval: IntegrationTestHost.Approval));
            // Until the stage the approval promotes to (the plan's metrics live on the first host's port, gone after the restart).
            using var response = await IntegrationTestHost.PostGateAsync(first, id, "10%", IntegrationTestHost.TaskHeaders(devops.Address));
            Assert.AreEqual(HttpStatusCode.OK, response.StatusCode);
            await first.WaitForAsync(id, v => v.Status == RolloutStatus.AwaitingApproval);
        }

        await using var second = await TestHost.StartAsync(LoopbackDevOps, deliveries: IntegrationTestHost.FastDeliveries, dataDirectory: data);
        Assert.IsEmpty(devops.Requests);
        await second.PostJsonAsync($"api/rollouts/{id}/approve", new { approver = "alex@contoso.com" });

        var posted = (await devops.WaitForAsync(1)).Single();
        StringAssert.Contains(posted.Body, "\"result\":\"succeeded\"");
    }

    [TestMethod]
    public async Task PostGate_MissingHeaders_Returns400NamingEachAndRegistersNothing()
    {
        await using var host = await TestHost.StartAsync(LoopbackDevOps, deliveries: IntegrationTestHost.FastDeliveries);
        var id = await host.StartRolloutAsync(host.QuickPlan("gate-bad"));
        var headers = IntegrationTestHost.TaskHeaders(new Uri("https://dev.azure.com/org/"));
        headers.Remove("AuthToken");
        headers.Remove("PlanId");

        using var response = await IntegrationTestHost.PostGateAsync(host, id, "completed", headers);
        var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;

        Assert.AreEqual(HttpStatusCode.BadRequest, response.StatusCode);
        CollectionAssert.AreEquivalent(new[] { "AuthToken", "PlanId" }, problem.GetProperty("errors").EnumerateObject().Select(p => p.Name).ToArray());
        await host.WaitForAsync(id, v => v.Status == RolloutStatus.Completed);
        await Task.Delay(300);
        Assert.AreEqual(0, (await host.Client.GetFromJsonAsyncElement($"api/rollouts/{id}/deliveries")).GetArrayLength());
    }

    [TestMethod]
    public async Task PostGate_UnknownStageOrNoKey_IsRefused()
    {
        await using var host = await TestHost.StartAsync(LoopbackDevOps, deliveries: IntegrationTestHost.FastDeliveries);
        var id = await host.StartRolloutAsync(host.QuickPlan("gate-refused"));
        var headers = IntegrationTestHost.TaskHeaders(new Uri("https://dev.azure.com/org/"));

        using var unknown = await IntegrationTestHost.PostGateAsync(host, id, "75%", headers);
        using var anonymous = await IntegrationTestHost.PostGateAsync(host, id, "completed", headers, withKey: false);
        using var missing = await IntegrationTestHost.PostGateAsync(host, "r-nope", "completed", headers);

        Assert.AreEqual(HttpStatusCode.BadRequest, unknown.StatusCode);
        Assert.AreEqual(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.AreEqual(HttpStatusCode.NotFound, missing.StatusCode);
    }

    [TestMethod]
    public async Task PostGate_PlanUrlOutsideTheAllowedHosts_Returns400AndRegistersNothing()
    {
        await using var devops = await PeerFixture.StartAsync();
        await using var host = await TestHost.StartAsync(deliveries: IntegrationTestHost.FastDeliveries);
        var id = await host.StartRolloutAsync(host.QuickPlan("gate-foreign"));

        using var foreign = await IntegrationTestHost.PostGateAsync(host, id, "completed", IntegrationTestHost.TaskHeaders(new Uri("https://dev.azure.com.attacker.example/org/")));
        using var loopback = await IntegrationTestHost.PostGateAsync(host, id, "completed", IntegrationTestHost.TaskHeaders(devops.Address));
        using var plainHttp = await IntegrationTestHost.PostGateAsync(host, id, "completed", IntegrationTestHost.TaskHeaders(new Uri("http://dev.azure.com/org/")));

        foreach (var refused in new[] { foreign, loopback, plainHttp })
        {
            Assert.AreEqual(HttpStatusCode.BadRequest, refused.StatusCode);
            var problem = JsonDocument.Parse(await refused.Content.ReadAsStringAsync()).RootElement;
            StringAssert.Contains(problem.GetProperty("errors").GetProperty("PlanUrl")[0].GetString(), "AzureDevOps:AllowedHosts");
        }

        await host.WaitForAsync(id, v => v.Status == RolloutStatus.Completed);
        await Task.Delay(300);
        Assert.IsEmpty(devops.Requests, "a job token was posted to a host that is not allowed");
    }

    internal static async Task<JsonElement> WaitForDeliveryAsync(TestHost host, string id, string status, string? kind = null)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            var list = await host.Client.GetFromJsonAsyncElement($"api/rollouts/{id}/deliveries");
            foreach (var delivery in list.EnumerateArray())
            {
                if (delivery.GetProperty("status").GetString() == status && (kind is null || delivery.GetProperty("kind").GetString() == kind))
                {
                    return delivery;
                }
            }

            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"no {kind} delivery of rollout {id} reached {status}: {list}");
            }

            await Task.Delay(100);
        }
    }
}

internal static class JsonClientExtensions
{
    public static async Task<JsonElement> GetFromJsonAsyncElement(this HttpClient client, string path) =>
        JsonDocument.Parse(await client.GetStringAsync(path)).RootElement;
}
