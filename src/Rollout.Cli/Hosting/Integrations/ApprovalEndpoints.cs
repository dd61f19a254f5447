using System.Text.Json;
using Rollout.Core.Api;
using Rollout.Core.Engine;
using Rollout.Core.Storage;
using Rollout.Integrations.Approvals;

namespace Rollout.Cli.Hosting.Integrations;

/// <summary>
/// <c>GET /api/approvals/{token}</c> shows the approval page (it changes nothing: link previews and crawlers may fetch
/// it); <c>POST /api/approvals/{token}</c> (the page's form) consumes the link's nonce and applies the approve command
/// through the same runtime path as <c>POST /api/rollouts/{id}/approve</c>. The token is the credential: no API key.
/// </summary>
internal static class ApprovalEndpoints
{
    private const int MaxComment = 2000;

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
        if (!check.Allowed)
        {
            return Page(context, check.Status, ApprovalPage.Render(check));
        }

        string? comment = null;
        if (context.Request.HasFormContentType)
        {
            var form = await context.Request.ReadFormAsync(ct);
            comment = form["comment"].ToString().Trim() is { Length: > 0 } text ? text[..Math.Min(text.Length, MaxComment)] : null;
        }

        var verified = check.Token!;
        if (!await nonces.TryConsumeAsync(verified.Nonce, verified.RolloutId, check.Approver!, time.GetUtcNow(), ct))
        {
            return Page(context, StatusCodes.Status409Conflict, ApprovalPage.Render(check with { Status = 409, Title = "This approval link was already used", Message = "Each approval link works once. Nothing was changed." }));
        }

        var commandId = ApprovalFlow.CommandId(verified);
        var command = new ApproveCommand(check.Approver!, comment ?? "approved from an approval link", commandId);
        var body = JsonSerializer.Serialize(new CommandBody(Approver: command.Actor, Comment: command.Comment, CommandId: commandId), RolloutJson.Options);
        var outcome = await runtime.ExecuteAsync(verified.RolloutId, command, body, ct);
        log.LogInformation("Approval link of rollout {Id}, stage {Stage}, used by {Approver}: {Status}", verified.RolloutId, verified.StageIndex, check.Approver, outcome?.Result.Status);
        return outcome is { Result.Succeeded: true }
            ? Page(context, StatusCodes.Status200OK, ApprovalPage.Result("Approved", outcome.Result.Message, outcome.State, succeeded: true))
            : Page(context, outcome?.Result.Status == CommandStatus.Forbidden ? 403 : 409, ApprovalPage.Result("Not approved", outcome?.Result.Message ?? "the rollout no longer exists", outcome?.State, succeeded: false));
    }

    private static Task<ApprovalCheck> CheckAsync(string token, HttpContext context, RolloutRuntime runtime, IApprovalNonceStore nonces, IntegrationSettings settings, TimeProvider time, CancellationToken ct) =>
        ApprovalFlow.CheckAsync(
            token,
            settings.SigningKey,
            time.GetUtcNow(),
            async (id, c) => (await runtime.Store.GetAsync(id, c))?.State,
            nonces,
            settings.TrustAppServiceAuthentication,
            settings.TrustAppServiceAuthentication ? context.Request.Headers[ApprovalFlow.PrincipalHeader].ToString() : null,
            ct);

    private static IResult Page(HttpContext context, int status, string html)
    {
        foreach (var (name, value) in ApprovalPage.SecurityHeaders)
        {
            context.Response.Headers[name] = value;
        }

        return Results.Content(html, "text/html; charset=utf-8", statusCode: status);
    }
}
