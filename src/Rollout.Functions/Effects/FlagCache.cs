using Rollout.Core.Engine;
using Rollout.Core.Storage;
using Rollout.Core.Targeting;
using Rollout.Integrations.Exposure;

namespace Rollout.Functions.Effects;

/// <summary>
/// The flag answers of <c>GET /api/flags/{flag}/evaluate</c>, from memory: the built-in <see cref="FlagStore"/>,
/// brought up to date from the store (rollouts changed since the last look) when older than
/// <see cref="RolloutFunctionsOptions.FlagRefresh"/>. Every instance of the app converges within that time.
/// </summary>
public sealed class FlagCache(IRolloutStore store, TimeProvider time, RolloutFunctionsOptions options) : IDisposable
{
    // Rows written just before a look may carry an earlier updated_at than the look: read a little overlap.
    private static readonly TimeSpan Overlap = TimeSpan.FromSeconds(5);
    private readonly FlagStore flags = new();
    private readonly SemaphoreSlim refresh = new(1, 1);
    private DateTimeOffset? refreshedAt;

    /// <summary>Records a rollout's exposure on this instance at once.</summary>
    public void Apply(RolloutState state) => flags.Apply(state);

    /// <summary>Decides the flag for a subject, refreshing first when the answers are stale.</summary>
    public async Task<(FlagDecision Decision, FlagEntry? Entry)> EvaluateAsync(string flag, SubjectContext subject, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        if (refreshedAt is not { } last || now - last >= options.FlagRefresh)
        {
            await RefreshAsync(now, cancellationToken);
        }

        return flags.Evaluate(flag, subject);
    }

    /// <inheritdoc/>
    public void Dispose() => refresh.Dispose();

    private async Task RefreshAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        await refresh.WaitAsync(cancellationToken);
        try
        {
            if (refreshedAt is { } last && now - last < options.FlagRefresh)
            {
                return; // another request refreshed meanwhile
            }

            var since = refreshedAt is { } previous ? previous - Overlap : DateTimeOffset.UnixEpoch;
            foreach (var rollout in await store.ListChangedSinceAsync(since, cancellationToken))
            {
                flags.Apply(rollout.State);
            }

            refreshedAt = now;
        }
        finally
        {
            refresh.Release();
        }
    }
}
