using Rollout.Core.Api;
using Rollout.Core.Storage;
using Rollout.Integrations.AzureDevOps;

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
    private static async Task<IResult> RegisterGateAsync(string id, string? until, HttpRequest request, RolloutRuntime runtime, IGateWaiterStore waiters, TimeProvider time, CancellationToken ct)
    {
        if (await runtime.Store.GetAsync(id, ct) is not { } rollout)
        {
            return Problem(StatusCodes.Status404NotFound, "Not found", $"no rollout '{id}'");
        }

        var target = string.IsNullOrWhiteSpace(until) ? "completed" : until.Trim();
        if (!string.Equals(target, "completed", StringComparison.OrdinalIgnoreCase)
            && !rollout.State.Plan.Stages.Any(s => string.Equals(s.Name, target, StringComparison.OrdinalIgnoreCase)))
        {
            return Problem(StatusCodes.Status400BadRequest, "Unknown stage", $"'until' must be 'completed' or a stage of the plan ({string.Join(", ", rollout.State.Plan.Stages.Select(s => s.Name))})");
        }

        var (callback, errors) = AzureDevOpsGate.Parse(name => request.Headers[name].ToString());
        if (callback is null)
        {
            return Results.Json(
                new { type = "https://rollout.dev/problems/invalid-gate", title = "The gate request is missing the task's headers", status = 400, detail = "nothing was registered", errors },
                RolloutJson.Options,
                "application/problem+json",
                StatusCodes.Status400BadRequest);
        }

        var waiter = await waiters.RegisterAsync(new GateWaiter(callback.WaiterId, id, target, callback, time.GetUtcNow()), ct);
        return Results.Json(
            new { waiterId = waiter.Id, waiter = waiter.Status, until = waiter.Until, gate = GateView.From(rollout.State, waiter.Until) },
            RolloutJson.Options);
    }

    private static async Task<IResult> ListDeliveriesAsync(string id, RolloutRuntime runtime, IDeliveryStore deliveries, CancellationToken ct)
    {
        if (await runtime.Store.GetAsync(id, ct) is null)
        {
            return Problem(StatusCodes.Status404NotFound, "Not found", $"no rollout '{id}'");
        }

        // Never the payload: it may hold a secret (a gate's job token, an approval link).
        var list = await deliveries.ListAsync(id, ct);
        return Results.Json(list.Select(d => new { d.Id, d.Kind, d.Target, d.Status, d.Attempts, d.LastError, d.CreatedAt, d.NextAttemptAt, d.CompletedAt }), RolloutJson.Options);
    }

    internal static IResult Problem(int status, string title, string detail) => Results.Json(
        new Dictionary<string, object?> { ["type"] = "about:blank", ["title"] = title, ["status"] = status, ["detail"] = detail },
        RolloutJson.Options,
        "application/problem+json",
        status);
}
