using Rollout.Core.Engine;
using Rollout.Functions.Orchestration;

namespace Rollout.Functions.Effects;

/// <summary>Where a rollout's exposure takes effect (an <see cref="ApplyExposure"/> effect).</summary>
public interface IExposureTarget
{
    /// <summary>Makes the flag's exposure the one of <paramref name="state"/>; applying the same state twice equals once.</summary>
    Task ApplyAsync(RolloutState state, CancellationToken cancellationToken);
}

/// <summary>Tells people what a rollout did.</summary>
public interface INotifier
{
    /// <summary>Delivers the events; a retry delivers them with the same dedupe key.</summary>
    Task NotifyAsync(NotifyRequest request, CancellationToken cancellationToken);
}

/// <summary>
/// The built-in flag store on Azure: a rollout's exposure is its checkpointed state, which the evaluate endpoint of
/// every instance reads (<see cref="FlagCache"/>). Applying it here makes it visible on this instance at once; the
/// others see it within <see cref="RolloutFunctionsOptions.FlagRefresh"/>. (An App Configuration target is issue 5.)
/// </summary>
public sealed class StoreExposureTarget(FlagCache cache) : IExposureTarget
{
    /// <inheritdoc/>
    public Task ApplyAsync(RolloutState state, CancellationToken cancellationToken)
    {
        cache.Apply(state);
        return Task.CompletedTask;
    }
}
