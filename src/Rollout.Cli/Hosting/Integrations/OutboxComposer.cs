using System.Security.Cryptography;
using System.Text.Json;
using Rollout.Core.Api;
using Rollout.Core.Approvals;
using Rollout.Core.Engine;
using Rollout.Core.Storage;
using Rollout.Integrations.Exposure;
using Rollout.Integrations.Notifications;
using Rollout.Integrations.Outbox;

namespace Rollout.Cli.Hosting.Integrations;

/// <summary>
/// Turns a rollout's notifications and pending exposure into outbox deliveries with stable ids: <c>notify:{rollout}:{seq}:{channel}</c>
/// (one per audit entry and channel) and <c>exposure:{rollout}:{stage|none}</c> (one per stage; stages only advance).
/// </summary>
internal sealed class OutboxComposer(IntegrationSettings settings)
{
    public IEnumerable<Delivery> Notifications(RolloutState state, NotifyChannels notify, DateTimeOffset now)
    {
        var links = new List<ApprovalLink>();
        if (notify.Event.Type == AuditType.ApprovalRequested
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

    public Delivery Exposure(RolloutState state, DateTimeOffset now)
    {
        var stage = state.DesiredExposureStage;
        return new Delivery(
            $"exposure:{state.Id}:{(stage is { } i ? i.ToString(System.Globalization.CultureInfo.InvariantCulture) : "none")}",
            DeliveryKind.Exposure,
            state.Id,
            state.Plan.Exposure!.Type,
            JsonSerializer.Serialize(new ExposurePayload(stage), RolloutJson.Options),
            now,
            now);
    }

    /// <summary>A signed, single-use, expiring link for <paramref name="approver"/> to approve stage <paramref name="stageIndex"/>.</summary>
    public Uri LinkFor(string rolloutId, int stageIndex, string approver, DateTimeOffset now)
    {
        var token = new ApprovalToken(rolloutId, stageIndex, approver, now + settings.LinkLifetime, Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16)));
        var baseUrl = settings.PublicUrl ?? new Uri("http://127.0.0.1:7071/");
        return new Uri(baseUrl, $"api/approvals/{token.Sign(settings.SigningKey)}");
    }
}

/// <summary>What an exposure delivery carries: the stage whose exposure to write (null: nobody).</summary>
internal sealed record ExposurePayload(int? StageIndex);

/// <summary>
/// Delivers external exposure: writes the stage's exposure to the plan's target, then records the confirmation in the
/// rollout (a checkpoint), which is what lets the engine promote. A delivery for an exposure the rollout has moved past
/// (a stage's, after a rollback) is superseded, never written after the newer one.
/// </summary>
internal sealed class ExposureDeliveryHandler(RolloutRuntime runtime, IEnumerable<IExposureTarget> targets) : IDeliveryHandler
{
    private readonly Dictionary<string, IExposureTarget> byType = targets.ToDictionary(t => t.Type, StringComparer.Ordinal);

    public DeliveryKind Kind => DeliveryKind.Exposure;

    public async Task<DeliveryResult> DeliverAsync(Delivery delivery, CancellationToken cancellationToken)
    {
        var payload = JsonSerializer.Deserialize<ExposurePayload>(delivery.Payload, RolloutJson.Options) ?? new ExposurePayload(null);
        if (await runtime.Store.GetAsync(delivery.RolloutId, cancellationToken) is not { } rollout)
        {
            return DeliveryResult.GiveUp($"rollout {delivery.RolloutId} no longer exists");
        }

        var state = rollout.State;
        if (!state.ExposurePending || state.DesiredExposureStage != payload.StageIndex)
        {
            return DeliveryWorker.SupersededResult;
        }

        if (!byType.TryGetValue(state.Plan.Exposure!.Type, out var target))
        {
            return DeliveryResult.Retry($"exposure target '{state.Plan.Exposure.Type}' is not available on this host");
        }

        var result = await target.ApplyAsync(ExposureSnapshot.Of(state.Plan, state.Id, payload.StageIndex), state.Plan.Exposure, delivery.Id, cancellationToken);
        if (result.Delivered)
        {
            await runtime.ConfirmExposureAsync(state.Id, payload.StageIndex, target.Type, cancellationToken);
        }

        return result;
    }
}
