using System.Net;
using System.Text.Json;
using Rollout.Cli.Tests;

namespace Rollout.Dashboard.Tests;

/// <summary>The dashboard's routes and the plan route on a real local host, without a browser.</summary>
[TestClass]
public sealed class DashboardEndpointsTests
{
    private static TestHost host = null!;

    [ClassInitialize]
    public static async Task StartHostAsync(TestContext _) => host = await TestHost.StartAsync();

    [ClassCleanup]
    public static async Task StopHostAsync() => await host.DisposeAsync();

    [TestMethod]
    public async Task GetRoot_Anonymous_ServesThePageWithSecurityHeaders()
    {
        using var response = await host.Anonymous.GetAsync(new Uri("/", UriKind.Relative));
        Assert.AreEqual(HttpStatusCode.OK, response.StatusCode);
        Assert.AreEqual("text/html", response.Content.Headers.ContentType?.MediaType);
        Assert.AreEqual(DashboardAssets.ContentSecurityPolicy, response.Headers.GetValues("Content-Security-Policy").Single());
        Assert.AreEqual("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());
        StringAssert.Contains(await response.Content.ReadAsStringAsync(), "<title>Rollout</title>");
    }

    [TestMethod]
    public async Task GetDashboardFile_Known_ServesTheEmbeddedBytes()
    {
        foreach (var path in DashboardAssets.Paths)
        {
            using var response = await host.Anonymous.GetAsync(new Uri($"/dashboard/{path}", UriKind.Relative));
            Assert.AreEqual(HttpStatusCode.OK, response.StatusCode, path);
            Assert.IsTrue(DashboardAssets.TryGet(path, out var expected, out var contentType));
            CollectionAssert.AreEqual(expected.ToArray(), await response.Content.ReadAsByteArrayAsync(), path);
            Assert.AreEqual(contentType, response.Content.Headers.ContentType?.ToString(), path);
        }
    }

    [TestMethod]
    [DataRow("/dashboard/missing.js")]
    [DataRow("/dashboard/%2E%2E/Rollout.Dashboard.dll")]
    [DataRow("/dashboard/sub/../../rollout.db")]
    public async Task GetDashboardFile_UnknownOrTraversing_Returns404(string path)
    {
        using var response = await host.Anonymous.GetAsync(new Uri(path, UriKind.Relative));
        Assert.AreEqual(HttpStatusCode.NotFound, response.StatusCode);
    }

    [TestMethod]
    public async Task GetDashboardFolder_RedirectsToThePage()
    {
        using var handler = new HttpClientHandler { AllowAutoRedirect = false };
        using var client = new HttpClient(handler) { BaseAddress = host.Address };
        using var response = await client.GetAsync(new Uri("/dashboard/", UriKind.Relative));
        Assert.AreEqual(HttpStatusCode.Redirect, response.StatusCode);
        Assert.AreEqual("/", response.Headers.Location?.ToString());
    }

    [TestMethod]
    public async Task PostToDashboardRoutes_WithoutKey_ChangesNothing()
    {
        var id = await host.StartRolloutAsync(host.Plan("post-to-dashboard", bake: "1h"));
        foreach (var path in new[] { "/", "/dashboard/app.js", $"/dashboard/rollouts/{id}/rollback" })
        {
            using var response = await host.Anonymous.PostAsync(new Uri(path, UriKind.Relative), new StringContent("""{"actor":"x","reason":"y"}"""));
            Assert.IsFalse(response.IsSuccessStatusCode, $"POST {path} answered {response.StatusCode}");
        }

        using var rollback = await host.Anonymous.PostAsync(new Uri($"/api/rollouts/{id}/rollback", UriKind.Relative), new StringContent("""{"actor":"x","reason":"y"}"""));
        Assert.AreEqual(HttpStatusCode.Unauthorized, rollback.StatusCode);
        Assert.AreEqual(Core.Engine.RolloutStatus.Running, (await host.GetAsync(id)).Status);
    }

    [TestMethod]
    public async Task GetPlan_Anonymous_ReturnsTheStoredPlan()
    {
        var id = await host.StartRolloutAsync(host.Plan("plan-route", bake: "1h"));
        using var response = await host.Anonymous.GetAsync(new Uri($"/api/rollouts/{id}/plan", UriKind.Relative));
        Assert.AreEqual(HttpStatusCode.OK, response.StatusCode);
        var plan = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.AreEqual("plan-route", plan.GetProperty("flag").GetString());
        CollectionAssert.AreEqual(new[] { "internal", "10%", "50%", "100%" }, plan.GetProperty("stages").EnumerateArray().Select(s => s.GetProperty("name").GetString()).ToArray());
        Assert.AreEqual("01:00:00", plan.GetProperty("stages")[0].GetProperty("minDuration").GetString());
        var criterion = plan.GetProperty("criteria")[0];
        Assert.AreEqual("error-rate", criterion.GetProperty("name").GetString());
        Assert.AreEqual(0.01, criterion.GetProperty("max").GetDouble());
        Assert.AreEqual(1.5, criterion.GetProperty("maxBaselineRatio").GetDouble());
        Assert.AreEqual(100, criterion.GetProperty("minSamples").GetInt64());
        Assert.AreEqual(2, plan.GetProperty("evaluation").GetProperty("failureLimit").GetInt32());
        Assert.AreEqual("Rollback", plan.GetProperty("evaluation").GetProperty("onFailure").GetString());
    }

    [TestMethod]
    public async Task GetPlan_UnknownRollout_Returns404Problem()
    {
        using var response = await host.Anonymous.GetAsync(new Uri("/api/rollouts/r-nope/plan", UriKind.Relative));
        Assert.AreEqual(HttpStatusCode.NotFound, response.StatusCode);
        Assert.AreEqual("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.AreEqual("no rollout 'r-nope'", JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("detail").GetString());
    }
}
