using System.Text.Json;
using Rollout.Core.Api;
using Rollout.Core.Storage;
using Rollout.Integrations.Exposure;
using Rollout.Integrations.Outbox;

namespace Rollout.Cli.Hosting.Integrations;

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

        var result = await DesiredExposure.WriteAsync(state, byType, cancellationToken);
        if (result.Delivered)
        {
            await runtime.ConfirmExposureAsync(state.Id, payload.StageIndex, state.Plan.Exposure!.Type, cancellationToken);
        }

        return result;
    }
}
