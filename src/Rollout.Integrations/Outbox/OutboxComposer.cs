using System.Security.Cryptography;
using System.Text.Json;
using Rollout.Core.Api;
using Rollout.Core.Approvals;
using Rollout.Core.Engine;
using Rollout.Core.Storage;
using Rollout.Integrations.Hosting;
using Rollout.Integrations.Notifications;

namespace Rollout.Integrations.Outbox;

/// <summary>
/// Turns a rollout's notifications and pending exposure into outbox deliveries with stable ids: <c>notify:{rollout}:{seq}:{channel}</c>
/// (one per audit entry and channel) and <c>exposure:{rollout}:{stage|none}</c> (one per stage; stages only advance).
/// Enqueueing a composed delivery again keeps the first, so hosts may compose the same notification more than once.
/// </summary>
public sealed class OutboxComposer(IntegrationSettings settings)
{
    /// <summary>
    /// One Teams delivery per channel of <paramref name="notify"/>. An approval request carries a signed link for each
    /// approver (at most five) when the host has a signing key.
    /// </summary>
    public IEnumerable<Delivery> Notifications(RolloutState state, NotifyChannels notify, DateTimeOffset now)
    {
        var links = new List<ApprovalLink>();
        if (settings.SigningKey is not null
            && notify.Event.Type == AuditType.ApprovalRequested
            && notify.Event.Details.TryGetProperty("stage", out var stageElement)
            && state.Plan.Stages.Select((s, i) => (s, i)).FirstOrDefault(x => x.s.Name == stageElement.GetString()) is { s.Approval: { } approval } stage)
        {
            foreach (var approver in approval.Approvers.Take(5))
            {
                links.Add(new ApprovalLink(approver, LinkFor(state.Id, stage.i, approver, now)));
            }
        }

        var message = TeamsCards.Message(state.Plan, state.Id, notify.Event, links).ToJsonString();
        foreach (var channel in notify.Channels)
        {
            yield return new Delivery($"notify:{notify.DedupeKey}:{channel}", DeliveryKind.Notification, state.Id, channel, message, now, now);
        }
    }

    /// <summary>The delivery of <paramref name="state"/>'s desired exposure to the plan's external target.</summary>
    public Delivery Exposure(RolloutState state, DateTimeOffset now)
    {
        var stage = state.DesiredExposureStage;
        return new Delivery(
            ExposureDeliveryId(state),
            DeliveryKind.Exposure,
            state.Id,
            state.Plan.Exposure!.Type,
            JsonSerializer.Serialize(new ExposurePayload(stage), RolloutJson.Options),
            now,
            now);
    }

    /// <summary>
    /// The id of the write of <paramref name="state"/>'s desired exposure, <c>exposure:{rollout}:{stage|none}</c>: the same
    /// on every retry, so a target can drop repeats (it is the webhook's <c>x-rollout-delivery</c>).
    /// </summary>
    public static string ExposureDeliveryId(RolloutState state) =>
        $"exposure:{state.Id}:{(state.DesiredExposureStage is { } i ? i.ToString(System.Globalization.CultureInfo.InvariantCulture) : "none")}";

    /// <summary>A signed, single-use, expiring link for <paramref name="approver"/> to approve stage <paramref name="stageIndex"/>.</summary>
    public Uri LinkFor(string rolloutId, int stageIndex, string approver, DateTimeOffset now)
    {
        var key = settings.SigningKey ?? throw new InvalidOperationException("approval links are off on this host: set Approvals:SigningKey");
        var token = new ApprovalToken(rolloutId, stageIndex, approver, now + settings.LinkLifetime, Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16)));
        var baseUrl = settings.PublicUrl ?? new Uri("http://127.0.0.1:7071/");
        return new Uri(baseUrl, $"api/approvals/{token.Sign(key)}");
    }
}

/// <summary>What an exposure delivery carries: the stage whose exposure to write (null: nobody).</summary>
/// <param name="StageIndex">The stage.</param>
public sealed record ExposurePayload(int? StageIndex);
