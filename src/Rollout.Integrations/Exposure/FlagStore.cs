using System.Collections.Concurrent;
using Rollout.Core.Engine;
using Rollout.Core.Targeting;

namespace Rollout.Integrations.Exposure;

/// <summary>The exposure a rollout last applied to its flag.</summary>
public sealed record FlagEntry(Core.Targeting.Exposure Exposure, string RolloutId, RolloutStatus Status, DateTimeOffset UpdatedAt);

/// <summary>
/// The built-in flag store: the exposure each rollout last applied, held in memory so that every flag
/// evaluation is a dictionary lookup, not a database round trip. Fed after every checkpoint and rebuilt
/// from the store at start-up.
/// </summary>
public sealed class FlagStore
{
    private readonly ConcurrentDictionary<string, FlagEntry> flags = new(StringComparer.Ordinal);

    /// <summary>Records the exposure of <paramref name="state"/> if it is newer than what the flag holds.</summary>
    public void Apply(RolloutState state)
    {
        var rolledBack = state.Status == RolloutStatus.RolledBack;
        int? stage = rolledBack ? null : state.StageIndex;

        // Most checkpoints (an evaluation that holds) leave the exposure as it was: keep the compiled one.
        var exposure = flags.TryGetValue(state.Plan.Flag, out var existing) && existing.RolloutId == state.Id && existing.Exposure.StageIndex == stage
            ? existing.Exposure
            : rolledBack
                ? Core.Targeting.Exposure.None(state.Plan.Flag)
                : Core.Targeting.Exposure.AtStage(state.Plan, state.StageIndex);
        var entry = new FlagEntry(exposure, state.Id, state.Status, state.UpdatedAt);
        flags.AddOrUpdate(
            state.Plan.Flag,
            entry,
            (_, current) => Wins(entry, current) ? entry : current);
    }

    /// <summary>Decides the flag for a subject; unknown flags are off.</summary>
    public (FlagDecision Decision, FlagEntry? Entry) Evaluate(string flag, in SubjectContext context) =>
        flags.TryGetValue(flag, out var entry)
            ? (entry.Exposure.Evaluate(context), entry)
            : (new FlagDecision(false, "no rollout for this flag"), null);

    // The same rollout only moves forward in time; a different rollout takes the flag when it is newer
    // (only one unfinished rollout per flag exists, so the newest one is the live one).
    private static bool Wins(FlagEntry candidate, FlagEntry current) =>
        candidate.UpdatedAt >= current.UpdatedAt;
}
