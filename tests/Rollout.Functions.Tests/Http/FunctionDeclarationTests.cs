using System.Reflection;
using Microsoft.Azure.Functions.Worker;
using Rollout.Core.Api;
using Rollout.Functions.Http;
using Rollout.Functions.Integrations;
using Rollout.Functions.Orchestration;

namespace Rollout.Functions.Tests.Http;

[TestClass]
public sealed class FunctionDeclarationTests
{
    // The routes of the local host (src/Rollout.Cli/Hosting/Api.cs) and the README's API table; host.json sets an
    // empty route prefix, so a trigger's route is the full path.
    private static readonly string[] LocalHostRoutes =
    [
        "POST api/rollouts",
        "GET api/rollouts",
        "GET api/rollouts/{id}",
        "POST api/rollouts/{id}/pause",
        "POST api/rollouts/{id}/resume",
        "POST api/rollouts/{id}/rollback",
        "POST api/rollouts/{id}/approve",
        "POST api/rollouts/{id}/signals",
        "GET api/rollouts/{id}/audit",
        "GET api/rollouts/{id}/plan",
        "GET api/rollouts/{id}/brief",
        "GET api/rollouts/{id}/gate",
        "POST api/rollouts/{id}/gate",
        "GET api/rollouts/{id}/deliveries",
        "GET api/approvals/{token}",
        "POST api/approvals/{token}",
        "GET api/flags/{flag}/evaluate",
        "POST api/alerts/azure-monitor",
        "GET healthz",
    ];

    [TestMethod]
    public void HttpTriggers_RoutesAndMethods_AreThoseOfTheLocalHost()
    {
        var routes = Triggers().Select(t => $"{string.Join(",", t.Trigger.Methods!).ToUpperInvariant()} {t.Trigger.Route}").ToArray();

        CollectionAssert.AreEquivalent(LocalHostRoutes, routes);
        CollectionAssert.IsSubsetOf(CommandCodec.Kinds.Select(k => $"POST api/rollouts/{{id}}/{k}").ToArray(), routes);
    }

    [TestMethod]
    public void HttpTriggers_Keys_AreRequiredExceptForFlagsAndHealth()
    {
        foreach (var (method, trigger) in Triggers())
        {
            // The approval page's link is its own credential (signed, expiring, single-use); an approver has no function key.
            var anonymous = trigger.Route is "healthz" || trigger.Route!.StartsWith("api/flags/", StringComparison.Ordinal) || trigger.Route.StartsWith("api/approvals/", StringComparison.Ordinal);
            Assert.AreEqual(anonymous ? AuthorizationLevel.Anonymous : AuthorizationLevel.Function, trigger.AuthLevel, method.Name);
        }
    }

    [TestMethod]
    public void Functions_Names_AreTheirMethodNames()
    {
        var functions = typeof(RolloutApi).Assembly.GetTypes()
            .SelectMany(t => t.GetMethods())
            .Select(m => (Method: m, Function: m.GetCustomAttribute<FunctionAttribute>()))
            .Where(f => f.Function is not null)
            .ToList();

        Assert.AreEqual(functions.Count, functions.Select(f => f.Function!.Name).Distinct().Count(), "two functions share a name");
        foreach (var (method, function) in functions)
        {
            var expected = method.DeclaringType == typeof(RolloutOrchestrator) ? nameof(RolloutOrchestrator) : method.Name;
            Assert.AreEqual(expected, function!.Name);
        }
    }

    [TestMethod]
    public void DurableFunctions_OrchestratorAndEveryActivity_AreDeclaredWithTheirTriggers()
    {
        var orchestrator = typeof(RolloutOrchestrator).GetMethod(nameof(RolloutOrchestrator.RunAsync))!;
        Assert.IsNotNull(orchestrator.GetParameters()[0].GetCustomAttribute<OrchestrationTriggerAttribute>());

        var activities = typeof(RolloutActivities).GetMethods().Where(m => m.GetCustomAttribute<FunctionAttribute>() is not null).ToList();
        CollectionAssert.AreEquivalent(
            new[] { nameof(RolloutActivities.EvaluateCriteria), nameof(RolloutActivities.ApplyExposure), nameof(RolloutActivities.Notify), nameof(RolloutActivities.EnqueueNotifications), nameof(RolloutActivities.AppendAudit) },
            activities.Select(a => a.Name).ToArray());
        Assert.IsTrue(activities.All(a => a.GetParameters()[0].GetCustomAttribute<ActivityTriggerAttribute>() is not null));

        // Every POST that applies a command reaches the orchestrator; registering a gate waiter only writes the store.
        var commands = Triggers().Where(t => t.Trigger.Methods!.Contains("post") && !t.Trigger.Route!.EndsWith("/gate", StringComparison.Ordinal)).Select(t => t.Method);
        Assert.IsTrue(commands.All(m => m.GetParameters().Any(p => p.GetCustomAttribute<DurableClientAttribute>() is not null)), "a POST trigger has no Durable client");
    }

    [TestMethod]
    public void DeliverOutbox_Timer_FiresEveryTenSeconds()
    {
        var method = typeof(DeliveryFunctions).GetMethod(nameof(DeliveryFunctions.DeliverOutbox))!;
        var timer = method.GetParameters()[0].GetCustomAttribute<TimerTriggerAttribute>();

        Assert.IsNotNull(timer);
        Assert.AreEqual("*/10 * * * * *", timer.Schedule);
        Assert.IsFalse(timer.RunOnStartup);
    }

    [TestMethod]
    public void PruneOutbox_Timer_FiresDailyAt031700()
    {
        var method = typeof(DeliveryFunctions).GetMethod(nameof(DeliveryFunctions.PruneOutbox))!;
        var timer = method.GetParameters()[0].GetCustomAttribute<TimerTriggerAttribute>();

        Assert.AreEqual(nameof(DeliveryFunctions.PruneOutbox), method.GetCustomAttribute<FunctionAttribute>()?.Name);
        Assert.IsNotNull(timer);
        Assert.AreEqual("0 17 3 * * *", timer.Schedule, "seconds, minutes, hours: 03:17:00 every day");
        Assert.IsFalse(timer.RunOnStartup, "a restart does not scan the tables");
        Assert.IsTrue(timer.UseMonitor, "a missed day is run when the app is back");
        CollectionAssert.AreEquivalent(
            new[] { nameof(DeliveryFunctions.DeliverOutbox), nameof(DeliveryFunctions.PruneOutbox) },
            typeof(DeliveryFunctions).GetMethods().Where(m => m.GetCustomAttribute<FunctionAttribute>() is not null).Select(m => m.Name).ToArray());
    }

    private static IEnumerable<(MethodInfo Method, HttpTriggerAttribute Trigger)> Triggers() =>
        new[] { typeof(RolloutApi), typeof(IntegrationApi) }.SelectMany(t => t.GetMethods())
            .Where(m => m.GetCustomAttribute<FunctionAttribute>() is not null)
            .Select(m => (m, m.GetParameters().Select(p => p.GetCustomAttribute<HttpTriggerAttribute>()).Single(a => a is not null)!));
}
