using Rollout.Core.Gates;

namespace Rollout.Core.Tests.Gates;

[TestClass]
public sealed class StatisticsTests
{
    [TestMethod]
    [DataRow(0d, 0.5)]
    [DataRow(1.959964, 0.975)]
    [DataRow(-1.644854, 0.05)]
    [DataRow(3d, 0.998650)]
    public void NormalCdf_KnownQuantiles_MatchTables(double z, double expected) =>
        Assert.AreEqual(expected, Statistics.NormalCdf(z), 1e-6);

    [TestMethod]
    public void TwoProportionPValue_DoubledErrorRateOnFiveThousandEach_IsSignificant()
    {
        // pooled 0.015, standard error 0.002431, z = 4.11
        var p = Statistics.TwoProportionPValue(0.02, 5000, 0.01, 5000);
        Assert.IsNotNull(p);
        Assert.AreEqual(1.95e-5, p.Value, 0.3e-5);
    }

    [TestMethod]
    public void TwoProportionPValue_SmallDifference_IsNotSignificant()
    {
        // pooled 0.0115, standard error 0.004768, z = 0.629
        var p = Statistics.TwoProportionPValue(0.013, 1000, 0.01, 1000)!.Value;
        Assert.AreEqual(0.2647, p, 0.002);
    }

    [TestMethod]
    public void TwoProportionPValue_LowerIsWorse_TestsTheOtherTail()
    {
        var worse = Statistics.TwoProportionPValue(0.08, 5000, 0.10, 5000, higherIsWorse: false)!.Value;
        var better = Statistics.TwoProportionPValue(0.12, 5000, 0.10, 5000, higherIsWorse: false)!.Value;
        Assert.IsLessThan(0.001, worse);
        Assert.IsGreaterThan(0.999, better);
    }

    [TestMethod]
    public void TwoProportionPValue_TooFewExpectedEvents_IsNull() =>
        Assert.IsNull(Statistics.TwoProportionPValue(0.02, 200, 0.01, 200));

    [TestMethod]
    public void MannWhitneyPValue_TreatmentAllLarger_IsTiny()
    {
        // U = 400 of 400, mean 200, variance 1366.67: z = 5.396
        var p = Statistics.MannWhitneyPValue(Range(21, 20), Range(1, 20))!.Value;
        Assert.IsLessThan(1e-6, p);
        Assert.IsGreaterThan(1e-9, p);
    }

    [TestMethod]
    public void MannWhitneyPValue_SameDistribution_IsAboutOneHalf()
    {
        var p = Statistics.MannWhitneyPValue(Range(1, 30), Range(1, 30))!.Value;
        Assert.AreEqual(0.5, p, 0.05);
    }

    [TestMethod]
    public void MannWhitneyPValue_AllTied_IsOneHalf() =>
        Assert.AreEqual(0.5, Statistics.MannWhitneyPValue(Enumerable.Repeat(5d, 25).ToArray(), Enumerable.Repeat(5d, 25).ToArray()));

    [TestMethod]
    public void MannWhitneyPValue_FewerThanTwentyPerCohort_IsNull() =>
        Assert.IsNull(Statistics.MannWhitneyPValue(Range(1, 19), Range(1, 40)));

    private static double[] Range(int start, int count) => Enumerable.Range(start, count).Select(i => (double)i).ToArray();
}
