using FsCheck;
using FsCheck.Fluent;
using Rollout.Core.Targeting;

namespace Rollout.Core.Tests.Targeting;

[TestClass]
public sealed class BucketingTests
{
    private static readonly Config Checks = Config.QuickThrowOnFailure.WithMaxTest(300);

    /// <summary>Flag names as plans allow them.</summary>
    private static Gen<string> Flags { get; } =
        Gen.Elements("abcdefghijklmnopqrstuvwxyz0123456789-._".ToCharArray())
            .ArrayOf()
            .Where(cs => cs.Length is > 0 and <= 40)
            .Select(cs => "f" + new string(cs));

    /// <summary>Any non-empty subject, including unusual characters.</summary>
    private static Gen<string> Subjects { get; } =
        ArbMap.Default.GeneratorFor<NonEmptyString>().Select(s => s.Get);

    /// <summary>Percentages as plans allow them: 0 to 100 with up to 3 decimals.</summary>
    private static Gen<decimal> Percents { get; } = Gen.Choose(0, 100_000).Select(n => n / 1000m);

    [TestMethod]
    public void BucketOf_SameFlagAndSubject_SameBucketAndDecision()
    {
        Prop.ForAll(Arb.From(Flags), Arb.From(Subjects), Arb.From(Percents), (flag, subject, percent) =>
        {
            // A copy of the strings, so no reference identity can help.
            var again = new string(subject.AsSpan());
            return Bucketing.BucketOf(flag, subject) == Bucketing.BucketOf(new string(flag.AsSpan()), again)
                && Bucketing.IsIn(flag, subject, percent) == Bucketing.IsIn(flag, again, percent);
        }).Check(Checks);
    }

    [TestMethod]
    public void BucketOf_AnyInput_WithinRange()
    {
        Prop.ForAll(Arb.From(Flags), Arb.From(ArbMap.Default.GeneratorFor<string>().Where(s => s is not null)), (flag, subject) =>
        {
            var bucket = Bucketing.BucketOf(flag, subject);
            return bucket >= 0 && bucket < Bucketing.BucketCount;
        }).Check(Config.QuickThrowOnFailure.WithMaxTest(2000));
    }

    [TestMethod]
    public void IsIn_ExposedAtLowerPercent_ExposedAtEveryHigherPercent()
    {
        var pairs = Percents.Zip(Percents).Select(p => (Low: Math.Min(p.Item1, p.Item2), High: Math.Max(p.Item1, p.Item2)));
        Prop.ForAll(Arb.From(Flags), Arb.From(Subjects), Arb.From(pairs), (flag, subject, pair) =>
            !Bucketing.IsIn(flag, subject, pair.Low) || Bucketing.IsIn(flag, subject, pair.High))
            .Check(Config.QuickThrowOnFailure.WithMaxTest(1000));
    }

    [TestMethod]
    public void IsIn_AtZeroAndHundredPercent_NobodyAndEverybody()
    {
        Prop.ForAll(Arb.From(Flags), Arb.From(Subjects), (flag, subject) =>
            !Bucketing.IsIn(flag, subject, 0m) && Bucketing.IsIn(flag, subject, 100m))
            .Check(Checks);
    }

    [TestMethod]
    public void IsIn_AnyPercent_MatchesTheBucketBoundary()
    {
        Prop.ForAll(Arb.From(Flags), Arb.From(Subjects), Arb.From(Percents), (flag, subject, percent) =>
            Bucketing.IsIn(flag, subject, percent) == (Bucketing.BucketOf(flag, subject) < (int)(percent * Bucketing.Resolution)))
            .Check(Checks);
    }

    [TestMethod]
    public void IsIn_PercentEndingAtTheSubjectsBucket_ExcludesItAndOneMoreIncludesIt()
    {
        Prop.ForAll(Arb.From(Flags), Arb.From(Subjects), (flag, subject) =>
        {
            var bucket = Bucketing.BucketOf(flag, subject);
            var upTo = bucket / (decimal)Bucketing.Resolution;
            var past = (bucket + 1) / (decimal)Bucketing.Resolution;
            return !Bucketing.IsIn(flag, subject, upTo) && Bucketing.IsIn(flag, subject, past);
        }).Check(Checks);
    }

    [TestMethod]
    public void BucketOf_DifferentFlags_IndependentBuckets()
    {
        const int subjects = 4000;
        var pairs = Flags.Zip(Flags).Where(p => p.Item1 != p.Item2);
        Prop.ForAll(Arb.From(pairs), flags =>
        {
            var (a, b) = flags;
            int inA = 0, inB = 0, inBoth = 0, sameBucket = 0;
            for (var i = 0; i < subjects; i++)
            {
                var subject = $"user-{i}@contoso.com";
                var bucketA = Bucketing.BucketOf(a, subject);
                var bucketB = Bucketing.BucketOf(b, subject);
                var exposedA = bucketA < Bucketing.BucketsFor(50m);
                var exposedB = bucketB < Bucketing.BucketsFor(50m);
                inA += exposedA ? 1 : 0;
                inB += exposedB ? 1 : 0;
                inBoth += exposedA && exposedB ? 1 : 0;
                sameBucket += bucketA == bucketB ? 1 : 0;
            }

            // Independent halves overlap on a quarter of the subjects (sd ≈ 0.7%; 5% is far outside chance).
            var both = inBoth / (double)subjects;
            return Math.Abs(both - 0.25) < 0.05
                && Math.Abs((inA / (double)subjects) - 0.5) < 0.05
                && Math.Abs((inB / (double)subjects) - 0.5) < 0.05
                && sameBucket < 5;
        }).Check(Config.QuickThrowOnFailure.WithMaxTest(50));
    }

    [TestMethod]
    public void IsIn_TenPercentOf100000Subjects_WithinHalfAPoint()
    {
        const int subjects = 100_000;
        var exposed = 0;
        for (var i = 0; i < subjects; i++)
        {
            if (Bucketing.IsIn("checkout-v2", $"user-{i}@contoso.com", 10m))
            {
                exposed++;
            }
        }

        var share = exposed / (double)subjects;
        Assert.IsTrue(Math.Abs(share - 0.10) <= 0.005, $"{share:P3} of subjects were exposed at 10%");
    }

    [TestMethod]
    [DataRow("demo-checkout", "user-{0}", 10)]
    [DataRow("demo-checkout", "user-{0}", 50)]
    [DataRow("new-checkout", "u{0}", 25)]
    [DataRow("f", "{0}", 10)]
    [DataRow("search-ranking", "0000000{0}", 50)]
    public void IsIn_SequentialIdsOfAnyLength_WithinOnePoint(string flag, string format, int percent)
    {
        // Sequential ids of 1 to 12 UTF-16 units cover whole 4-unit words, tails, and both together.
        const int subjects = 50_000;
        var exposed = 0;
        for (var i = 0; i < subjects; i++)
        {
            if (Bucketing.IsIn(flag, string.Format(System.Globalization.CultureInfo.InvariantCulture, format, i), percent))
            {
                exposed++;
            }
        }

        var share = exposed / (double)subjects;
        Assert.IsTrue(Math.Abs(share - (percent / 100d)) <= 0.01, $"{share:P3} of '{format}' ids were exposed at {percent}% of '{flag}'");
    }

    [TestMethod]
    public void BucketOf_100000Subjects_SpreadEvenlyOverTenths()
    {
        const int subjects = 100_000;
        var tenths = new int[10];
        for (var i = 0; i < subjects; i++)
        {
            tenths[Bucketing.BucketOf("search-ranking", $"tenant-{i % 97}/user-{i}") * 10 / Bucketing.BucketCount]++;
        }

        foreach (var count in tenths)
        {
            Assert.IsTrue(Math.Abs(count - (subjects / 10)) < 500, $"uneven spread: {string.Join(", ", tenths)}");
        }
    }

    [TestMethod]
    [DataRow(10.5, 10_500)]
    [DataRow(0.001, 1)]
    [DataRow(100, 100_000)]
    [DataRow(150, 100_000)]
    [DataRow(-1, 0)]
    public void BucketsFor_Percent_CoversThatShareOfBuckets(double percent, int expected)
    {
        Assert.AreEqual(expected, Bucketing.BucketsFor((decimal)percent));
    }
}
