using System.Globalization;
using Rollout.Core.Metrics;
using Rollout.Core.Plans;

namespace Rollout.Core.Gates;

/// <summary>
/// Judges a criterion from its readings. Anything short of a complete, finite reading with enough samples
/// is <see cref="Outcome.NoData"/> with its reason: missing data never passes.
/// </summary>
public static class GateEvaluator
{
    /// <summary>
    /// Judges <paramref name="criterion"/> from the treatment reading and, when the criterion compares with
    /// the baseline, the baseline reading.
    /// </summary>
    public static CriterionResult Evaluate(CriterionPlan criterion, MetricReading treatment, MetricReading? baseline)
    {
        if (Inconclusive(criterion, treatment) is { } treatmentProblem)
        {
            return NoData(criterion, treatment, baseline, treatmentProblem);
        }

        var value = treatment.Value!.Value;
        if (criterion.Max is { } max && value > max)
        {
            return Result(criterion, Outcome.Fail, treatment, baseline, $"{F(value)} is above max {F(max)}");
        }

        if (criterion.Min is { } min && value < min)
        {
            return Result(criterion, Outcome.Fail, treatment, baseline, $"{F(value)} is below min {F(min)}");
        }

        if (criterion.MaxBaselineRatio is not { } maxRatio)
        {
            return Result(criterion, Outcome.Pass, treatment, baseline, Bounds(criterion, value));
        }

        if (baseline is not { } b)
        {
            return NoData(criterion, treatment, baseline, "baseline: not queried");
        }

        if (Inconclusive(criterion, b) is { } baselineProblem)
        {
            return NoData(criterion, treatment, baseline, $"baseline: {baselineProblem}");
        }

        var baselineValue = b.Value!.Value;
        if (baselineValue == 0)
        {
            // A zero baseline makes every non-zero treatment infinitely worse; treat that as a failure, not a pass.
            return value == 0
                ? Result(criterion, Outcome.Pass, treatment, baseline, $"{Bounds(criterion, value)}; baseline and treatment are both 0")
                : Result(criterion, Outcome.Fail, treatment, baseline, $"baseline is 0 and treatment is {F(value)}: the ratio is unbounded (max {F(maxRatio)})");
        }

        var ratio = value / baselineValue;
        return ratio > maxRatio
            ? Result(criterion, Outcome.Fail, treatment, baseline, $"{F(value)} is {F(ratio)}x the baseline {F(baselineValue)}, above maxBaselineRatio {F(maxRatio)}")
            : Result(criterion, Outcome.Pass, treatment, baseline, $"{Bounds(criterion, value)}; {F(ratio)}x the baseline {F(baselineValue)} (max {F(maxRatio)}x)");
    }

    private static string? Inconclusive(CriterionPlan criterion, MetricReading reading)
    {
        if (reading.Error is { } error)
        {
            return error;
        }

        if (reading.Value is not { } value)
        {
            return "no value";
        }

        if (double.IsNaN(value))
        {
            return "value is NaN";
        }

        if (double.IsInfinity(value))
        {
            return "value is infinite";
        }

        if (reading.Samples is { } samples)
        {
            if (samples <= 0)
            {
                return "no samples";
            }

            if (samples < criterion.MinSamples)
            {
                return $"{samples} samples, below minSamples {criterion.MinSamples}";
            }
        }
        else if (criterion.MinSamples > 0)
        {
            return $"no sample count, and minSamples is {criterion.MinSamples}";
        }

        return null;
    }

    private static CriterionResult NoData(CriterionPlan criterion, MetricReading treatment, MetricReading? baseline, string reason) =>
        Result(criterion, Outcome.NoData, treatment, baseline, reason);

    private static CriterionResult Result(CriterionPlan criterion, Outcome outcome, MetricReading treatment, MetricReading? baseline, string reason) =>
        new(criterion.Name, outcome, Finite(treatment.Value), Finite(baseline?.Value), treatment.Samples, baseline?.Samples, reason);

    private static double? Finite(double? value) => value is { } v && double.IsFinite(v) ? v : null;

    private static string Bounds(CriterionPlan criterion, double value) => (criterion.Min, criterion.Max) switch
    {
        ({ } min, { } max) => $"{F(value)} is within [{F(min)}, {F(max)}]",
        (null, { } max) => $"{F(value)} is at or below max {F(max)}",
        ({ } min, null) => $"{F(value)} is at or above min {F(min)}",
        _ => $"value {F(value)}",
    };

    private static string F(double value) => value.ToString("0.######", CultureInfo.InvariantCulture);
}
