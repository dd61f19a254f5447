using Rollout.Core.Api;
using Rollout.Core.Storage;
using Rollout.Integrations.AzureDevOps;
using Rollout.Integrations.Hosting;

namespace Rollout.Cli.Hosting.Integrations;

/// <summary>
/// The routes of issue 5 on the local host: the Azure DevOps callback gate, the approval page and form, and the
/// deliveries of a rollout. The logic they call lives in Rollout.Core and Rollout.Integrations, so the Functions app's
/// triggers can call the same.
/// </summary>
internal static class IntegrationEndpoints
{
    public static void Map(RouteGroupBuilder api, RouteGroupBuilder mutating)
    {
        mutating.MapPost("/rollouts/{id}/gate", RegisterGateAsync);
        api.MapGet("/rollouts/{id}/deliveries", ListDeliveriesAsync);
        ApprovalEndpoints.Map(api);
    }

    /// <summary>
    /// The callback gate: registers a durable waiter from the AzureFunction@1 task's default headers and answers at once;
    /// the host posts <c>TaskCompleted</c> when the rollout reaches <c>until</c> (succeeded) or rolls back (failed).
    /// </summary>
    private static async Task<IResult> RegisterGateAsync(string id, string? until, HttpRequest request, RolloutRuntime runtime, IGateWaiterStore waiters, IntegrationSettings settings, TimeProvider time, CancellationToken ct)
    {
        var rollout = await runtime.Store.GetAsync(id, ct);
        var (registered, problem) = await CallbackGate.RegisterAsync(id, rollout?.State, until, name => request.Headers[name].ToString(), settings.AllowsPlanUrl, waiters, time.GetUtcNow(), ct);
        return problem is null
            ? Results.Json(registered, RolloutJson.Options)
            : Results.Json(
                new Dictionary<string, object?> { ["type"] = "about:blank", ["title"] = problem.Title, ["status"] = problem.Status, ["detail"] = problem.Detail, ["errors"] = problem.Errors },
                RolloutJson.Options,
                "application/problem+json",
                problem.Status);
    }

    private static async Task<IResult> ListDeliveriesAsync(string id, RolloutRuntime runtime, IDeliveryStore deliveries, CancellationToken ct)
    {
        if (await runtime.Store.GetAsync(id, ct) is null)
        {
            return Problem(StatusCodes.Status404NotFound, "Not found", $"no rollout '{id}'");
        }

        return Results.Json((await deliveries.ListAsync(id, ct)).Select(DeliveryView.From), RolloutJson.Options);
    }

    internal static IResult Problem(int status, string title, string detail) => Results.Json(
        new Dictionary<string, object?> { ["type"] = "about:blank", ["title"] = title, ["status"] = status, ["detail"] = detail },
        RolloutJson.Options,
        "application/problem+json",
        status);
}
