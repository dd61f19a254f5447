using Rollout.Core.Approvals;
using Rollout.Core.Engine;
using Rollout.Core.Storage;

namespace Rollout.Integrations.Approvals;

/// <summary>The verdict on an approval link: may it be used, by whom, and if not, what the page says.</summary>
/// <param name="Status">The HTTP status of the page: 200 when the link may be used.</param>
/// <param name="Title">The page's heading.</param>
/// <param name="Message">What the person reads.</param>
/// <param name="Token">The verified token, when the signature was good.</param>
/// <param name="State">The rollout, when found.</param>
/// <param name="Approver">Who approves: the App Service principal when trusted, else the token's addressee.</param>
public sealed record ApprovalCheck(int Status, string Title, string Message, ApprovalToken? Token = null, RolloutState? State = null, string? Approver = null)
{
    /// <summary>True when the link may be used.</summary>
    public bool Allowed => Status == 200;
}

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

    /// <summary>Checks a link; see the class summary for the rules.</summary>
    public static async Task<ApprovalCheck> CheckAsync(
        string? tokenText,
        byte[] key,
        DateTimeOffset now,
        Func<string, CancellationToken, Task<RolloutState?>> loadRollout,
        IApprovalNonceStore nonces,
        bool trustAppServiceAuthentication,
        string? principal,
        CancellationToken cancellationToken)
    {
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
                return new ApprovalCheck(401, "Sign-in required", "This host takes the approver from App Service authentication, and no signed-in user came with the request. Nothing was changed.", token, state);
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
}
