using Rollout.Core.Storage;
using Rollout.Integrations.Approvals;
using Rollout.Integrations.Hosting;

namespace Rollout.Cli.Hosting.Integrations;

/// <summary>
/// <c>GET /api/approvals/{token}</c> shows the approval page (it changes nothing: link previews and crawlers may fetch
/// it); <c>POST /api/approvals/{token}</c> (the page's form) consumes the link's nonce and applies the approve command
/// through the same runtime path as <c>POST /api/rollouts/{id}/approve</c>. The token is the credential: no API key.
/// </summary>
internal static class ApprovalEndpoints
{
    public static void Map(RouteGroupBuilder api)
    {
        api.MapGet("/approvals/{token}", ShowAsync);
        api.MapPost("/approvals/{token}", ApproveAsync);
    }

    private static async Task<IResult> ShowAsync(string token, HttpContext context, RolloutRuntime runtime, IApprovalNonceStore nonces, IntegrationSettings settings, TimeProvider time, CancellationToken ct)
    {
        var check = await CheckAsync(token, context, runtime, nonces, settings, time, ct);
        return Page(context, check.Status, ApprovalPage.Render(check));
    }

    private static async Task<IResult> ApproveAsync(string token, HttpContext context, RolloutRuntime runtime, IApprovalNonceStore nonces, IntegrationSettings settings, TimeProvider time, ILogger<IntegrationSettings> log, CancellationToken ct)
    {
        var check = await CheckAsync(token, context, runtime, nonces, settings, time, ct);
        var comment = check.Allowed && context.Request.HasFormContentType ? (await context.Request.ReadFormAsync(ct))["comment"].ToString() : null;
        var page = await ApprovalFlow.UseAsync(check, comment, nonces, time.GetUtcNow(), async (command, body, c) =>
        {
            var outcome = await runtime.ExecuteAsync(check.Token!.RolloutId, command, body, c);
            log.LogInformation("Approval link of rollout {Id}, stage {Stage}, used by {Approver}: {Status}", check.Token.RolloutId, check.Token.StageIndex, command.Actor, outcome?.Result.Status);
            return new ApprovalApplied(outcome?.Result, outcome?.State);
        }, ct);
        return Page(context, page.Status, page.Html);
    }

    private static Task<ApprovalCheck> CheckAsync(string token, HttpContext context, RolloutRuntime runtime, IApprovalNonceStore nonces, IntegrationSettings settings, TimeProvider time, CancellationToken ct) =>
        ApprovalFlow.CheckAsync(token, settings, time.GetUtcNow(), async (id, c) => (await runtime.Store.GetAsync(id, c))?.State, nonces, context.Request.Headers[ApprovalFlow.PrincipalHeader].ToString(), ct);

    private static IResult Page(HttpContext context, int status, string html)
    {
        foreach (var (name, value) in ApprovalPage.SecurityHeaders)
        {
            context.Response.Headers[name] = value;
        }

        return Results.Content(html, "text/html; charset=utf-8", statusCode: status);
    }
}
