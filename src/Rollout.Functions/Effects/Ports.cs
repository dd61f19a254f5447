using Rollout.Core.Engine;
using Rollout.Functions.Orchestration;
using Rollout.Integrations.Exposure;
using Rollout.Integrations.Outbox;

namespace Rollout.Functions.Effects;

/// <summary>Where a rollout's exposure takes effect (an <see cref="ApplyExposure"/> effect).</summary>
public interface IExposureWriter
{
    /// <summary>
    /// Makes the flag's exposure the one of <paramref name="state"/>; applying the same state twice equals once. Throws
    /// when the exposure could not be written (the orchestrator then holds the rollout and tries again).
    /// </summary>
    Task ApplyAsync(RolloutState state, CancellationToken cancellationToken);
}

/// <summary>Tells people what a rollout did.</summary>
public interface INotifier
{
    /// <summary>Delivers the events; a retry delivers them with the same dedupe key.</summary>
    Task NotifyAsync(NotifyRequest request, CancellationToken cancellationToken);
}

/// <summary>
/// The exposure writer of the app. The built-in flag store always: a rollout's exposure is its checkpointed state, which
/// the evaluate endpoint of every instance reads (<see cref="FlagCache"/>); applying it here makes it visible on this
/// instance at once, the others see it within <see cref="RolloutFunctionsOptions.FlagRefresh"/>. Then, for a plan with an
/// external target (<c>"exposure": {"type": "webhook" | "app-configuration"}</c>) whose exposure is not confirmed yet,
/// the write to that target (one attempt; the orchestrator's retry policy and back-off do the rest). The write carries
/// the same delivery id on every retry (<see cref="OutboxComposer.ExposureDeliveryId"/>), as on the local host.
/// </summary>
public sealed class ExposureWriter(FlagCache cache, IEnumerable<IExposureTarget> targets) : IExposureWriter
{
    private readonly Dictionary<string, IExposureTarget> byType = targets.ToDictionary(t => t.Type, StringComparer.Ordinal);

    /// <inheritdoc/>
    public async Task ApplyAsync(RolloutState state, CancellationToken cancellationToken)
    {
        cache.Apply(state);
        if (!state.ExposurePending)
        {
            return;
        }

        var result = await DesiredExposure.WriteAsync(state, byType, cancellationToken);
        if (!result.Delivered)
        {
            throw new ExposureNotAppliedException($"{state.Plan.Exposure!.Type} target: {result.Error ?? "not applied"}");
        }
    }
}

/// <summary>An external exposure target did not take the write (a timeout, 5xx, 429 or a refusal).</summary>
/// <param name="message">What the target answered; never a secret (URLs with keys are not part of it).</param>
public sealed class ExposureNotAppliedException(string message) : Exception(message);
