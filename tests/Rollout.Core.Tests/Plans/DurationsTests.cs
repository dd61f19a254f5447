using FsCheck;
using FsCheck.Fluent;
using Rollout.Core.Plans;

namespace Rollout.Core.Tests.Plans;

[TestClass]
public sealed class DurationsTests
{
    [TestMethod]
    [DataRow("PT10S", 10_000L)]
    [DataRow("P2D", 2 * 86_400_000L)]
    [DataRow("P1W", 7 * 86_400_000L)]
    [DataRow("PT1H30M", 90 * 60_000L)]
    [DataRow("PT0.5S", 500L)]
    [DataRow("P1DT4H", 28 * 3_600_000L)]
    [DataRow("P1W2D", 9 * 86_400_000L)]
    [DataRow("pt5m", 5 * 60_000L)]
    [DataRow("PT0S", 0L)]
    public void TryParse_Iso8601_GivesTheDuration(string text, long expectedMilliseconds)
    {
        Assert.IsTrue(Durations.TryParse(text, out var duration, out var error), error);
        Assert.AreEqual(TimeSpan.FromMilliseconds(expectedMilliseconds), duration);
        Assert.AreEqual(string.Empty, error);
    }

    [TestMethod]
    [DataRow("500ms", 500L)]
    [DataRow("10s", 10_000L)]
    [DataRow("5m", 5 * 60_000L)]
    [DataRow("8h", 8 * 3_600_000L)]
    [DataRow("2d", 2 * 86_400_000L)]
    [DataRow("1w", 7 * 86_400_000L)]
    [DataRow("1.5h", 90 * 60_000L)]
    [DataRow(" 30m ", 30 * 60_000L)]
    public void TryParse_Shorthand_GivesTheDuration(string text, long expectedMilliseconds)
    {
        Assert.IsTrue(Durations.TryParse(text, out var duration, out var error), error);
        Assert.AreEqual(TimeSpan.FromMilliseconds(expectedMilliseconds), duration);
    }

    [TestMethod]
    [DataRow("P1M")]
    [DataRow("P1Y")]
    [DataRow("P1Y2M")]
    [DataRow("2y")]
    public void TryParse_MonthsOrYears_RefusedAsHavingNoFixedLength(string text)
    {
        Assert.IsFalse(Durations.TryParse(text, out var duration, out var error));
        Assert.AreEqual(TimeSpan.Zero, duration);
        StringAssert.Contains(error, "years or months", StringComparison.Ordinal);
        StringAssert.Contains(error, text, StringComparison.Ordinal);
    }

    [TestMethod]
    [DataRow("soon")]
    [DataRow("10")]
    [DataRow("10 minutes")]
    [DataRow("P")]
    [DataRow("PT")]
    [DataRow("P1DT")]
    [DataRow("-5m")]
    [DataRow("5M")]
    [DataRow("PT1,5S")]
    [DataRow("1e3s")]
    public void TryParse_Garbage_RefusedWithExamples(string text)
    {
        Assert.IsFalse(Durations.TryParse(text, out _, out var error));
        StringAssert.Contains(error, $"'{text}' is not a duration", StringComparison.Ordinal);
        StringAssert.Contains(error, "PT10M", StringComparison.Ordinal);
    }

    [TestMethod]
    [DataRow(null)]
    [DataRow("")]
    [DataRow("   ")]
    public void TryParse_Missing_SaysItIsRequired(string? text)
    {
        Assert.IsFalse(Durations.TryParse(text, out _, out var error));
        StringAssert.Contains(error, "required", StringComparison.Ordinal);
    }

    [TestMethod]
    public void TryParse_LongerThanTenYears_Refused()
    {
        Assert.IsTrue(Durations.TryParse("3650d", out var longest, out _));
        Assert.AreEqual(TimeSpan.FromDays(3650), longest);

        Assert.IsFalse(Durations.TryParse("3651d", out _, out var error));
        StringAssert.Contains(error, "3650 days", StringComparison.Ordinal);
    }

    [TestMethod]
    public void Parse_Garbage_ThrowsFormatExceptionWithTheReason()
    {
        var ex = Assert.ThrowsExactly<FormatException>(() => Durations.Parse("P1M"));

        StringAssert.Contains(ex.Message, "years or months", StringComparison.Ordinal);
    }

    [TestMethod]
    [DataRow("PT8H", "8 hours")]
    [DataRow("P2D", "2 days")]
    [DataRow("PT48H", "2 days")]
    [DataRow("P1W", "7 days")]
    [DataRow("PT1H30M", "1 hour 30 minutes")]
    [DataRow("P1DT1M1S", "1 day 1 minute 1 second")]
    [DataRow("500ms", "500 ms")]
    [DataRow("PT0S", "no minimum time")]
    public void ToWords_Duration_PlainWords(string text, string expected)
    {
        Assert.AreEqual(expected, Durations.ToWords(Durations.Parse(text)));
    }

    [TestMethod]
    [DataRow("PT10S", "PT10S")]
    [DataRow("2d", "P2D")]
    [DataRow("P1W", "P7D")]
    [DataRow("90m", "PT1H30M")]
    [DataRow("PT0.5S", "PT0.5S")]
    [DataRow("P1DT4H", "P1DT4H")]
    [DataRow("0s", "PT0S")]
    [DataRow("1.001s", "PT1.001S")]
    public void ToIso_ParsedDuration_CanonicalForm(string text, string expected)
    {
        Assert.AreEqual(expected, Durations.ToIso(Durations.Parse(text)));
    }

    [TestMethod]
    public void ToIso_AnyWholeMillisecondDuration_ParsesBackToItself()
    {
        var tenYearsInMs = (long)TimeSpan.FromDays(3650).TotalMilliseconds;
        var durations = Gen.Choose(0, int.MaxValue)
            .Zip(Gen.Choose(0, int.MaxValue))
            .Select(p => TimeSpan.FromMilliseconds((((long)p.Item1 << 31) | (uint)p.Item2) % (tenYearsInMs + 1)));
        var interesting = Gen.Elements(TimeSpan.Zero, TimeSpan.FromMilliseconds(1), TimeSpan.FromDays(1), TimeSpan.FromDays(3650), new TimeSpan(1, 0, 0, 0, 1));

        Prop.ForAll(Arb.From(Gen.OneOf(durations, interesting)), d => Durations.Parse(Durations.ToIso(d)) == d)
            .Check(Config.QuickThrowOnFailure.WithMaxTest(500));
    }

    [TestMethod]
    public void ToWords_AnyWholeSecondDuration_NamesEachNonZeroPartOnce()
    {
        var durations = Gen.Choose(1, 3650 * 86_400).Select(s => TimeSpan.FromSeconds(s));

        Prop.ForAll(Arb.From(durations), d =>
        {
            var words = Durations.ToWords(d).Split(' ');
            var total = TimeSpan.Zero;
            for (var i = 0; i < words.Length; i += 2)
            {
                var n = int.Parse(words[i], System.Globalization.CultureInfo.InvariantCulture);
                total += words[i + 1].TrimEnd('s') switch
                {
                    "day" => TimeSpan.FromDays(n),
                    "hour" => TimeSpan.FromHours(n),
                    "minute" => TimeSpan.FromMinutes(n),
                    "second" => TimeSpan.FromSeconds(n),
                    var unit => throw new AssertFailedException($"unexpected unit '{unit}' in '{Durations.ToWords(d)}'"),
                };
            }

            return total == d;
        }).Check(Config.QuickThrowOnFailure.WithMaxTest(300));
    }
}
