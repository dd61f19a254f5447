namespace Rollout.Core.Gates;

/// <summary>The one-sided tests used to decide whether the treatment is worse than the baseline.</summary>
public static class Statistics
{
    /// <summary>
    /// Two-proportion z-test. Returns the one-sided p-value of "the treatment's rate is higher than the baseline's"
    /// (or lower, when <paramref name="higherIsWorse"/> is false), or null when the data does not allow the
    /// normal approximation (fewer than 5 expected events or non-events in a cohort).
    /// </summary>
    public static double? TwoProportionPValue(double treatmentRate, long treatmentSamples, double baselineRate, long baselineSamples, bool higherIsWorse = true)
    {
        if (treatmentSamples <= 0 || baselineSamples <= 0 || treatmentRate is < 0 or > 1 || baselineRate is < 0 or > 1)
        {
            return null;
        }

        var pooled = ((treatmentRate * treatmentSamples) + (baselineRate * baselineSamples)) / (treatmentSamples + baselineSamples);
        var expectedMinimum = Math.Min(
            Math.Min(pooled * treatmentSamples, (1 - pooled) * treatmentSamples),
            Math.Min(pooled * baselineSamples, (1 - pooled) * baselineSamples));
        if (expectedMinimum < 5)
        {
            return null;
        }

        var standardError = Math.Sqrt(pooled * (1 - pooled) * ((1d / treatmentSamples) + (1d / baselineSamples)));
        var z = (treatmentRate - baselineRate) / standardError;
        return higherIsWorse ? 1 - NormalCdf(z) : NormalCdf(z);
    }

    /// <summary>
    /// Mann-Whitney U test with tie correction and the normal approximation. Returns the one-sided p-value of
    /// "treatment values tend to be larger than baseline values" (smaller when <paramref name="higherIsWorse"/>
    /// is false), or null with fewer than <paramref name="minimumPerCohort"/> values in a cohort.
    /// </summary>
    public static double? MannWhitneyPValue(IReadOnlyList<double> treatment, IReadOnlyList<double> baseline, bool higherIsWorse = true, int minimumPerCohort = 20)
    {
        var n1 = treatment.Count;
        var n2 = baseline.Count;
        if (n1 < minimumPerCohort || n2 < minimumPerCohort)
        {
            return null;
        }

        var all = new (double Value, bool Treatment)[n1 + n2];
        for (var i = 0; i < n1; i++)
        {
            all[i] = (treatment[i], true);
        }

        for (var i = 0; i < n2; i++)
        {
            all[n1 + i] = (baseline[i], false);
        }

        Array.Sort(all, (a, b) => a.Value.CompareTo(b.Value));
        double rankSumTreatment = 0;
        double tieTerm = 0;
        for (var i = 0; i < all.Length;)
        {
            var j = i;
            while (j + 1 < all.Length && all[j + 1].Value == all[i].Value)
            {
                j++;
            }

            var rank = (i + j + 2) / 2d; // average of the 1-based ranks i+1 .. j+1
            for (var k = i; k <= j; k++)
            {
                if (all[k].Treatment)
                {
                    rankSumTreatment += rank;
                }
            }

            var ties = j - i + 1;
            tieTerm += (Math.Pow(ties, 3) - ties);
            i = j + 1;
        }

        var u = rankSumTreatment - (n1 * (n1 + 1) / 2d);
        var mean = n1 * n2 / 2d;
        var n = n1 + n2;
        var variance = n1 * n2 / 12d * ((n + 1) - (tieTerm / (n * (n - 1d))));
        if (variance <= 0)
        {
            return 0.5;
        }

        // Continuity correction towards the mean.
        var z = (u - mean - (higherIsWorse ? 0.5 : -0.5)) / Math.Sqrt(variance);
        return higherIsWorse ? 1 - NormalCdf(z) : NormalCdf(z);
    }

    /// <summary>The standard normal cumulative distribution function.</summary>
    public static double NormalCdf(double z) => 0.5 * Erfc(-z / Math.Sqrt(2));

    // Complementary error function by the Chebyshev fit known as erfcc (fractional error below 1.2e-7).
    private static double Erfc(double x)
    {
        var z = Math.Abs(x);
        var t = 1 / (1 + (0.5 * z));
        double[] c = [-1.26551223, 1.00002368, 0.37409196, 0.09678418, -0.18628806, 0.27886807, -1.13520398, 1.48851587, -0.82215223, 0.17087277];
        var poly = 0d;
        for (var i = c.Length - 1; i >= 0; i--)
        {
            poly = c[i] + (t * poly);
        }

        var r = t * Math.Exp((-z * z) + poly);
        return x >= 0 ? r : 2 - r;
    }
}
