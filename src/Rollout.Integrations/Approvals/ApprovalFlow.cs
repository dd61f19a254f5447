using System.Text.Json;
using Rollout.Core.Api;
using Rollout.Core.Approvals;
using Rollout.Core.Engine;
using Rollout.Core.Storage;
using Rollout.Integrations.Hosting;

namespace Rollout.Integrations.Approvals;

/// <summary>The verdict on an approval link: may it be used, by whom, and if not, what the page says.</summary>
/// <param name="Status">The HTTP status of the page: 200 when the link may be used.</param>
/// <param name="Title">The page's heading.</param>
/// <param name="Message">What the person reads.</param>
/// <param name="Token">The verified token, when the signature was good.</param>
/// <param name="State">The rollout, when found.</param>
/// <param name="Approver">Who approves: the App Service principal when trusted, else the token's addressee.</param>
/// <param name="SignInPath">Where to sign in with App Service authentication and come back to this page (a 401).</param>
public sealed record ApprovalCheck(int Status, string Title, string Message, ApprovalToken? Token = null, RolloutState? State = null, string? Approver = null, string? SignInPath = null)
{
    /// <summary>True when the link may be used.</summary>
    public bool Allowed => Status == 200;
}

/// <summary>An approval page to send: its HTTP status and HTML (served with <see cref="ApprovalPage.SecurityHeaders"/>).</summary>
/// <param name="Status">The HTTP status.</param>
/// <param name="Html">The page.</param>
public sealed record ApprovalPageResponse(int Status, string Html);

/// <summary>What a host answered to the approve command of a link.</summary>
/// <param name="Result">The rollout's answer; null when the rollout no longer exists or has not answered yet.</param>
/// <param name="State">The rollout after the command, when known.</param>
/// <param name="Pending">The command is stored and queued, but not applied yet (the Functions app answered in time to no one).</param>
public sealed record ApprovalApplied(CommandResult? Result, RolloutState? State, bool Pending = false);

/// <summary>
/// The rules of approval links, shared by every host: the token must be signed with the host's key (else "tampered"),
/// not expired, not used before, and name the rollout's current stage while it awaits approval; the approver is the
/// App Service principal (<c>X-MS-CLIENT-PRINCIPAL-NAME</c>) when the host trusts App Service authentication, otherwise
/// the token's addressee, and must be one of the stage's approvers. Checking changes nothing; only
/// <see cref="IApprovalNonceStore.TryConsumeAsync"/> followed by the approve command does.
/// </summary>
public static class ApprovalFlow
{
    /// <summary>The header App Service authentication sets to the signed-in user's name.</summary>
    public const string PrincipalHeader = "X-MS-CLIENT-PRINCIPAL-NAME";

    /// <summary>
    /// Checks a link with the host's <paramref name="settings"/> (key, whether to trust App Service authentication); see
    /// the class summary for the rules. <paramref name="principalHeader"/> is the request's <see cref="PrincipalHeader"/>,
    /// read only when the settings trust it (a client could forge it otherwise).
    /// </summary>
    public static async Task<ApprovalCheck> CheckAsync(
        string? tokenText,
        IntegrationSettings settings,
        DateTimeOffset now,
        Func<string, CancellationToken, Task<RolloutState?>> loadRollout,
        IApprovalNonceStore nonces,
        string? principalHeader,
        CancellationToken cancellationToken)
    {
        var key = settings.SigningKey;
        var trustAppServiceAuthentication = settings.TrustAppServiceAuthentication;
        var principal = trustAppServiceAuthentication ? principalHeader : null;
        if (key is null)
        {
            return new ApprovalCheck(404, "Approval links are off on this host", "This Rollout host has no Approvals:SigningKey, so it issues and accepts no approval links. Approve with 'rollout approve' or the API. Nothing was changed.");
        }

        var (token, problem) = ApprovalToken.Verify(tokenText, key, now);
        switch (problem)
        {
            case ApprovalTokenProblem.Malformed:
                return new ApprovalCheck(400, "This approval link is not valid", "The link is incomplete or damaged. Open it again from the Teams card, or approve with 'rollout approve'. Nothing was changed.");
            case ApprovalTokenProblem.Tampered:
                return new ApprovalCheck(400, "This approval link is not valid", "The link was altered or was not issued by this Rollout host, so it is refused. Nothing was changed.");
            case ApprovalTokenProblem.Expired:
                return new ApprovalCheck(410, "This approval link has expired", $"The link expired at {token!.ExpiresAt.UtcDateTime:yyyy-MM-dd HH:mm} UTC. Ask for a new one or approve with 'rollout approve'. Nothing was changed.", token);
        }

        if (await nonces.IsConsumedAsync(token!.Nonce, cancellationToken))
        {
            return new ApprovalCheck(409, "This approval link was already used", "Each approval link works once. Nothing was changed.", token);
        }

        if (await loadRollout(token.RolloutId, cancellationToken) is not { } state)
        {
            return new ApprovalCheck(404, "Rollout not found", $"There is no rollout '{token.RolloutId}' on this host. Nothing was changed.", token);
        }

        if (token.StageIndex >= state.Plan.Stages.Length)
        {
            return new ApprovalCheck(400, "This approval link is not valid", "The link names a stage the plan does not have. Nothing was changed.", token, state);
        }

        var stage = state.Plan.Stages[token.StageIndex];
        if (state.StageIndex != token.StageIndex || state.Status != RolloutStatus.AwaitingApproval)
        {
            return new ApprovalCheck(409, $"Stage '{stage.Name}' is not awaiting approval", $"The rollout is {state.Status} in stage '{state.Stage.Name}'. This link approves only stage '{stage.Name}' while it awaits approval. Nothing was changed.", token, state);
        }

        string approver;
        if (trustAppServiceAuthentication)
        {
            if (string.IsNullOrWhiteSpace(principal))
            {
                // App Service authentication's login endpoint for Microsoft Entra ID, back to this very page afterwards.
                var signIn = $"/.auth/login/aad?post_login_redirect_uri={Uri.EscapeDataString($"/api/approvals/{tokenText}")}";
                return new ApprovalCheck(401, "Sign-in required", "This host takes the approver from App Service authentication, and no signed-in user came with the request. Nothing was changed.", token, state, SignInPath: signIn);
            }

            approver = principal.Trim();
        }
        else
        {
            approver = token.Addressee;
        }

        if (stage.Approval is not { } approval || !approval.Allows(approver))
        {
            return new ApprovalCheck(403, "You may not approve this stage", $"'{approver}' is not an approver of stage '{stage.Name}'. Approvers: {string.Join(", ", stage.Approval?.Approvers ?? [])}. Nothing was changed.", token, state, approver);
        }

        return new ApprovalCheck(200, $"Approve stage '{stage.Name}' of {state.Plan.Name}", $"You are approving as {approver}.", token, state, approver);
    }

    /// <summary>The command id of a link's approval: the same for every retry of one link.</summary>
    public static string CommandId(ApprovalToken token) => $"approval-link-{token.Nonce}";

    /// <summary>The longest comment kept from the page's form.</summary>
    public const int MaxComment = 2000;

    /// <summary>
    /// Uses a checked link (the page's POST): consumes its nonce (a second use is refused, changing nothing), then has the
    /// host apply the approve command (<paramref name="apply"/>: the same path as <c>POST /api/rollouts/{id}/approve</c>,
    /// given the command and its stored body) and renders the answer.
    /// </summary>
    public static async Task<ApprovalPageResponse> UseAsync(
        ApprovalCheck check,
        string? comment,
        IApprovalNonceStore nonces,
        DateTimeOffset now,
        Func<ApproveCommand, string, CancellationToken, Task<ApprovalApplied>> apply,
        CancellationToken cancellationToken)
    {
        if (!check.Allowed)
        {
            return new ApprovalPageResponse(check.Status, ApprovalPage.Render(check));
        }

        var token = check.Token!;
        if (!await nonces.TryConsumeAsync(token.Nonce, token.RolloutId, check.Approver!, now, cancellationToken))
        {
            return new ApprovalPageResponse(409, ApprovalPage.Render(check with { Status = 409, Title = "This approval link was already used", Message = "Each approval link works once. Nothing was changed." }));
        }

        comment = comment?.Trim() is { Length: > 0 } text ? text[..Math.Min(text.Length, MaxComment)] : null;
        var commandId = CommandId(token);
        var command = new ApproveCommand(check.Approver!, comment ?? "approved from an approval link", commandId);
        var body = JsonSerializer.Serialize(new CommandBody(Approver: command.Actor, Comment: command.Comment, CommandId: commandId), RolloutJson.Options);
        var applied = await apply(command, body, cancellationToken);
        return applied switch
        {
            { Pending: true } => new ApprovalPageResponse(202, ApprovalPage.Result("Approval received", "Your approval is recorded and the rollout applies it within moments. Nothing more to do.", applied.State, succeeded: true)),
            { Result.Succeeded: true } => new ApprovalPageResponse(200, ApprovalPage.Result("Approved", applied.Result.Message, applied.State, succeeded: true)),
            _ => new ApprovalPageResponse(
                applied.Result?.Status == CommandStatus.Forbidden ? 403 : 409,
                ApprovalPage.Result("Not approved", applied.Result?.Message ?? "the rollout no longer exists", applied.State, succeeded: false)),
        };
    }
}
