using Rollout.Core.Storage;

namespace Rollout.Core.Api;

/// <summary>
/// One delivery as <c>GET /api/rollouts/{id}/deliveries</c> returns it, on every host: never the payload, which may hold
/// a secret (a gate's job token, an approval link).
/// </summary>
/// <param name="Id">The dedupe id.</param>
/// <param name="Kind">Teams card, exposure write or gate callback.</param>
/// <param name="Target">The channel's name, the exposure target's type, or <c>azure-devops</c>.</param>
/// <param name="Status">Where it stands.</param>
/// <param name="Attempts">Attempts made.</param>
/// <param name="LastError">Why the last attempt failed.</param>
/// <param name="CreatedAt">When it was queued.</param>
/// <param name="NextAttemptAt">When it is tried next (while pending).</param>
/// <param name="CompletedAt">When it became final.</param>
public sealed record DeliveryView(
    string Id,
    DeliveryKind Kind,
    string Target,
    DeliveryStatus Status,
    int Attempts,
    string? LastError,
    DateTimeOffset CreatedAt,
    DateTimeOffset NextAttemptAt,
    DateTimeOffset? CompletedAt)
{
    /// <summary>The view of <paramref name="d"/>.</summary>
    public static DeliveryView From(Delivery d) => new(d.Id, d.Kind, d.Target, d.Status, d.Attempts, d.LastError, d.CreatedAt, d.NextAttemptAt, d.CompletedAt);
}
