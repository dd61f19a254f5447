using System.Collections.Immutable;

namespace Rollout.Core.Gates;

/// <summary>A criterion's verdict in one evaluation.</summary>
public enum Outcome
{
    /// <summary>The metric is within its thresholds with enough samples.</summary>
    Pass,

    /// <summary>The metric breaks a threshold.</summary>
    Fail,

    /// <summary>Inconclusive: missing, sparse, NaN or errored data. Holds the stage; never a pass.</summary>
    NoData,
}

/// <summary>One criterion's verdict with its evidence.</summary>
public sealed record CriterionResult(
    string Name,
    Outcome Outcome,
    double? Value,
    double? Baseline,
    long? Samples,
    long? BaselineSamples,
    string Reason);

/// <summary>
/// The verdicts of every criterion of a plan at one moment, for one stage. Its overall outcome is
/// <see cref="Outcome.Fail"/> if any criterion failed, else <see cref="Outcome.NoData"/> if any had no data,
/// else <see cref="Outcome.Pass"/>.
/// </summary>
public sealed record Evaluation(DateTimeOffset At, int StageIndex, ImmutableArray<CriterionResult> Criteria)
{
    /// <summary>The overall outcome.</summary>
    public Outcome Outcome =>
        Criteria.Any(c => c.Outcome == Outcome.Fail) ? Outcome.Fail
        : Criteria.Any(c => c.Outcome == Outcome.NoData) ? Outcome.NoData
        : Outcome.Pass;
}
