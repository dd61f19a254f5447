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
            return Result(criterion, Outcome.NoData, treatment, baseline, treatmentProblem);
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

        if (!criterion.ComparesWithBaseline)
        {
            return Result(criterion, Outcome.Pass, treatment, baseline, Bounds(criterion, value));
        }

        if (baseline is not { } b)
        {
            return Result(criterion, Outcome.NoData, treatment, baseline, "baseline: not queried");
        }

        if (Inconclusive(criterion, b) is { } baselineProblem)
        {
            return Result(criterion, Outcome.NoData, treatment, baseline, $"baseline: {baselineProblem}");
        }

        var (breach, higherIsWorse, comparison) = Compare(criterion, value, b.Value!.Value);
        if (breach is null)
        {
            return Result(criterion, Outcome.Pass, treatment, baseline, $"{Bounds(criterion, value)}; {comparison}");
        }

        if (criterion.Test is not { } test)
        {
            return Result(criterion, Outcome.Fail, treatment, baseline, breach);
        }

        // A breach only fails once a test finds the treatment significantly worse; until then it holds.
        var (pValue, why) = test.Kind switch
        {
            BaselineTestKind.TwoProportion => (Statistics.TwoProportionPValue(value, treatment.Samples ?? 0, b.Value!.Value, b.Samples ?? 0, higherIsWorse),
                "too few events for a two-proportion test (fewer than 5 expected in a cohort)"),
            _ => (Statistics.MannWhitneyPValue(Values(treatment), Values(b), higherIsWorse),
                $"too few values for a Mann-Whitney test ({Values(treatment).Count} and {Values(b).Count}; 20 per cohort needed)"),
        };
        var alpha = 1 - test.Confidence;
        var testName = test.Kind == BaselineTestKind.TwoProportion ? "two-proportion test" : "Mann-Whitney test";
        return pValue switch
        {
            null => Result(criterion, Outcome.NoData, treatment, baseline, $"{breach}, but {why}"),
            { } p when p < alpha => Result(criterion, Outcome.Fail, treatment, baseline, $"{breach}; significant by {testName} (p={P(p)} < {P(alpha)})"),
            { } p => Result(criterion, Outcome.NoData, treatment, baseline, $"{breach}, not yet significant by {testName} (p={P(p)}, needs < {P(alpha)}); waiting for more data"),
        };
    }

    /// <summary>
    /// Judges an error-budget criterion from the error ratio read for each burn-rate window (and the budget
    /// window, when set). Fails when every burn-rate window burns too fast or the budget is spent; holds
    /// (NoData) when only some windows burn too fast; passes otherwise.
    /// </summary>
    public static CriterionResult EvaluateErrorBudget(CriterionPlan criterion, IReadOnlyDictionary<TimeSpan, MetricReading> readings)
    {
        var policy = criterion.ErrorBudget ?? throw new ArgumentException("not an error-budget criterion", nameof(criterion));
        var allowed = 1 - policy.Slo;
        var parts = new List<string>();
        var burning = 0;
        double? shortest = null;
        long? samples = null;
        foreach (var window in policy.Windows)
        {
            var reading = readings.TryGetValue(window.Window, out var r) ? r : MetricReading.Failed("not queried");
            if (Inconclusive(criterion, reading) is { } problem)
            {
                return new CriterionResult(criterion.Name, Outcome.NoData, null, null, reading.Samples, null, $"{MetricTemplate.WindowText(window.Window)} window: {problem}");
            }

            var burn = reading.Value!.Value / allowed;
            shortest ??= burn;
            samples ??= reading.Samples;
            var over = burn > window.MaxBurnRate;
            burning += over ? 1 : 0;
            parts.Add($"{MetricTemplate.WindowText(window.Window)} burns {F(burn)}x ({(over ? "above" : "within")} {F(window.MaxBurnRate)}x)");
        }

        if (policy.BudgetWindow is { } budgetWindow && policy.MaxBudgetSpent is { } maxSpent)
        {
            var reading = readings.TryGetValue(budgetWindow, out var r) ? r : MetricReading.Failed("not queried");
            if (Inconclusive(criterion, reading) is { } problem)
            {
                return new CriterionResult(criterion.Name, Outcome.NoData, shortest, null, samples, null, $"budget window {MetricTemplate.WindowText(budgetWindow)}: {problem}");
            }

            var spent = reading.Value!.Value / allowed;
            if (spent >= maxSpent)
            {
                return new CriterionResult(criterion.Name, Outcome.Fail, shortest, null, samples, null,
                    $"error budget spent: {P(spent * 100)}% of the {MetricTemplate.WindowText(budgetWindow)} budget of SLO {F(policy.Slo)} (limit {P(maxSpent * 100)}%)");
            }

            parts.Add($"{P(spent * 100)}% of the {MetricTemplate.WindowText(budgetWindow)} budget spent");
        }

        var summary = string.Join("; ", parts);
        return burning == 0 ? new CriterionResult(criterion.Name, Outcome.Pass, shortest, null, samples, null, summary)
            : burning == policy.Windows.Length ? new CriterionResult(criterion.Name, Outcome.Fail, shortest, null, samples, null, $"every window burns the error budget too fast: {summary}")
            : new CriterionResult(criterion.Name, Outcome.NoData, shortest, null, samples, null, $"hold: {summary}");
    }

    private static (string? Breach, bool HigherIsWorse, string Comparison) Compare(CriterionPlan criterion, double value, double baseline)
    {
        var notes = new List<string>();
        if (criterion.MinBaselineRatio is { } minRatio)
        {
            var ratio = baseline == 0 ? (value == 0 ? 1 : double.PositiveInfinity) : value / baseline;
            if (ratio < minRatio)
            {
                return ($"{F(value)} is {F(ratio)}x the baseline {F(baseline)}, below minBaselineRatio {F(minRatio)}", false, string.Empty);
            }

            notes.Add($"{F(ratio)}x the baseline {F(baseline)} (min {F(minRatio)}x)");
        }

        if (criterion.MaxBaselineRatio is { } maxRatio)
        {
            if (baseline == 0)
            {
                // A zero baseline makes every non-zero treatment infinitely worse; that is a breach, not a pass.
                if (value != 0)
                {
                    return ($"baseline is 0 and treatment is {F(value)}: the ratio is unbounded (max {F(maxRatio)})", true, string.Empty);
                }

                notes.Add("baseline and treatment are both 0");
            }
            else
            {
                var ratio = value / baseline;
                if (ratio > maxRatio)
                {
                    return ($"{F(value)} is {F(ratio)}x the baseline {F(baseline)}, above maxBaselineRatio {F(maxRatio)}", true, string.Empty);
                }

                notes.Add($"{F(ratio)}x the baseline {F(baseline)} (max {F(maxRatio)}x)");
            }
        }

        if (criterion.MaxBaselineDifference is { } maxDifference)
        {
            var difference = value - baseline;
            if (difference > maxDifference)
            {
                return ($"{F(value)} is {F(difference)} above the baseline {F(baseline)}, more than maxBaselineDifference {F(maxDifference)}", true, string.Empty);
            }

            notes.Add($"{F(difference)} from the baseline {F(baseline)} (max +{F(maxDifference)})");
        }

        if (notes.Count == 0)
        {
            // Only a test is configured: any deterioration is a candidate breach for it to confirm.
            return value > baseline
                ? ($"{F(value)} is above the baseline {F(baseline)}", true, string.Empty)
                : (null, true, $"not above the baseline {F(baseline)}");
        }

        return (null, true, string.Join("; ", notes));
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

    private static IReadOnlyList<double> Values(MetricReading reading) => reading.Values.IsDefault ? [] : reading.Values;

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

    private static string P(double value) => value.ToString("0.####", CultureInfo.InvariantCulture);
}
