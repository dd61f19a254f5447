using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.Logging;
using Rollout.Core.Api;
using Rollout.Core.Storage;
using Rollout.Functions.Http;
using Rollout.Integrations.Approvals;
using Rollout.Integrations.AzureDevOps;
using Rollout.Integrations.Hosting;

namespace Rollout.Functions.Integrations;

/// <summary>
/// The routes of the release integrations on Azure, the same as the local host's: the Azure DevOps callback gate
/// (<c>POST /api/rollouts/{id}/gate</c>, function key), a rollout's deliveries (<c>GET /api/rollouts/{id}/deliveries</c>,
/// function key) and the approval page and form (<c>GET|POST /api/approvals/{token}</c>: anonymous at the Functions
/// level, the signed link is the credential; behind App Service authentication the signed-in user is the approver).
/// The rules live in Rollout.Integrations (<see cref="CallbackGate"/>, <see cref="ApprovalFlow"/>); these are adapters.
/// </summary>
public sealed class IntegrationApi(
    IRolloutStore store,
    IGateWaiterStore waiters,
    IDeliveryStore deliveries,
    IApprovalNonceStore nonces,
    IntegrationSettings settings,
    RolloutCommands commands,
    TimeProvider time,
    ILogger<IntegrationApi> log)
{
    /// <summary>
    /// <c>POST /api/rollouts/{id}/gate?until=&lt;stage&gt;|completed</c>: the callback gate. Registers a durable waiter from the
    /// AzureFunction@1 task's default headers and answers at once; the delivery timer posts <c>TaskCompleted</c> when the
    /// rollout reaches <c>until</c> (succeeded) or rolls back (failed).
    /// </summary>
    [Function(nameof(RegisterGate))]
    public async Task<IActionResult> RegisterGate(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = RolloutApi.RolloutsRoute + "/{id}/gate")] HttpRequest request,
        string id,
        CancellationToken cancellationToken)
    {
        var rollout = await store.GetAsync(id, cancellationToken);
        var (registered, problem) = await CallbackGate.RegisterAsync(id, rollout?.State, request.Query["until"].ToString(), name => request.Headers[name].ToString(), settings.AllowsPlanUrl, waiters, time.GetUtcNow(), cancellationToken);
        if (problem is not null)
        {
            var extensions = problem.Errors is null ? null : new Dictionary<string, object?> { ["errors"] = problem.Errors };
            return ApiResults.Problem(problem.Status, problem.Title, problem.Detail, extensions);
        }

        return ApiResults.Ok(registered);
    }

    /// <summary><c>GET /api/rollouts/{id}/deliveries</c>: the rollout's outbox (Teams messages, gate callbacks), never the payloads.</summary>
    [Function(nameof(ListDeliveries))]
    public async Task<IActionResult> ListDeliveries(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = RolloutApi.RolloutsRoute + "/{id}/deliveries")] HttpRequest request,
        string id,
        CancellationToken cancellationToken)
    {
        if (await store.GetAsync(id, cancellationToken) is null)
        {
            return ApiResults.NotFound(id);
        }

        return ApiResults.Ok((await deliveries.ListAsync(id, cancellationToken)).Select(DeliveryView.From).ToList());
    }

    /// <summary><c>GET /api/approvals/{token}</c>: the approval page. It changes nothing (link previews and crawlers fetch it).</summary>
    [Function(nameof(ShowApproval))]
    public async Task<IActionResult> ShowApproval(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "api/approvals/{token}")] HttpRequest request,
        string token,
        CancellationToken cancellationToken)
    {
        var check = await CheckAsync(request, token, cancellationToken);
        return new ApprovalPageResult(new ApprovalPageResponse(check.Status, ApprovalPage.Render(check)));
    }

    /// <summary>
    /// <c>POST /api/approvals/{token}</c> (the page's form, <c>comment</c> optional): consumes the link and approves through
    /// the same path as <c>POST /api/rollouts/{id}/approve</c>. A replayed, expired or tampered link changes nothing.
    /// </summary>
    [Function(nameof(UseApproval))]
    public async Task<IActionResult> UseApproval(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "api/approvals/{token}")] HttpRequest request,
        [DurableClient] DurableTaskClient client,
        string token,
        CancellationToken cancellationToken)
    {
        var check = await CheckAsync(request, token, cancellationToken);
        var comment = check.Allowed && request.HasFormContentType ? (await request.ReadFormAsync(cancellationToken))["comment"].ToString() : null;
        var page = await ApprovalFlow.UseAsync(check, comment, nonces, time.GetUtcNow(), async (command, body, ct) =>
        {
            var outcome = await commands.ExecuteAsync(client, check.Token!.RolloutId, command, body, ct);
            log.LogInformation("Approval link of rollout {Id}, stage {Stage}, used by {Approver}: {Status}", check.Token.RolloutId, check.Token.StageIndex, command.Actor, outcome is null ? "NotFound" : outcome.Pending ? "Pending" : outcome.Result.Status);
            return new ApprovalApplied(outcome is { Pending: false } ? outcome.Result : null, outcome?.State, outcome?.Pending ?? false);
        }, cancellationToken);
        return new ApprovalPageResult(page);
    }

    private Task<ApprovalCheck> CheckAsync(HttpRequest request, string token, CancellationToken cancellationToken) =>
        ApprovalFlow.CheckAsync(token, settings, time.GetUtcNow(), async (id, ct) => (await store.GetAsync(id, ct))?.State, nonces, request.Headers[ApprovalFlow.PrincipalHeader].ToString(), cancellationToken);

    /// <summary>An approval page with its status and security headers.</summary>
    private sealed record ApprovalPageResult(ApprovalPageResponse Page) : IActionResult
    {
        public async Task ExecuteResultAsync(ActionContext context)
        {
            var response = context.HttpContext.Response;
            response.StatusCode = Page.Status;
            response.ContentType = "text/html; charset=utf-8";
            foreach (var (name, value) in ApprovalPage.SecurityHeaders)
            {
                response.Headers[name] = value;
            }

            await response.WriteAsync(Page.Html, context.HttpContext.RequestAborted);
        }
    }
}
