using System.Reflection;
using Microsoft.Azure.Functions.Worker;
using Rollout.Functions.Http;

namespace Rollout.Functions.Tests.Http;

[TestClass]
public sealed class DashboardApiTests
{
    [TestMethod]
    [DataRow(null, "text/html")]
    [DataRow("", "text/html")]
    [DataRow("app.js", "javascript")]
    [DataRow("app.css", "text/css")]
    public async Task Dashboard_KnownFile_ServedWithItsTypeAndSecurityHeaders(string? path, string expectedType)
    {
        var request = HttpCall.Get("/dashboard/" + path);
        var answer = await new DashboardApi().Dashboard(request, path).RunAsync(request);

        Assert.AreEqual(200, answer.Status);
        StringAssert.Contains(answer.ContentType, expectedType);
        Assert.IsTrue(answer.Body.Length > 100);
        Assert.AreEqual(Dashboard.DashboardAssets.ContentSecurityPolicy, request.HttpContext.Response.Headers.ContentSecurityPolicy.ToString());
        Assert.AreEqual("nosniff", request.HttpContext.Response.Headers.XContentTypeOptions.ToString());
    }

    [TestMethod]
    public async Task Dashboard_UnknownFile_Returns404Problem()
    {
        var request = HttpCall.Get("/dashboard/../secrets.json");
        var answer = await new DashboardApi().Dashboard(request, "../secrets.json").RunAsync(request);
        Assert.AreEqual(404, answer.Status);
        Assert.AreEqual("application/problem+json", answer.ContentType);
    }

    [TestMethod]
    public void Dashboard_Trigger_IsAnonymousGetOnTheDashboardRoute()
    {
        var trigger = typeof(DashboardApi).GetMethod(nameof(DashboardApi.Dashboard))!.GetParameters()
            .Select(p => p.GetCustomAttribute<HttpTriggerAttribute>()).Single(a => a is not null)!;
        Assert.AreEqual("dashboard/{*path}", trigger.Route);
        Assert.AreEqual(AuthorizationLevel.Anonymous, trigger.AuthLevel);
        CollectionAssert.AreEqual(new[] { "get" }, trigger.Methods);
    }
}
