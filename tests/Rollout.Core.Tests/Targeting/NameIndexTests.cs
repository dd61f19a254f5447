using System.Collections.Frozen;
using Rollout.Core.Targeting;

namespace Rollout.Core.Tests.Targeting;

[TestClass]
public sealed class NameIndexTests
{
    private static readonly string[] Keys =
    [
        "gal@contoso.com", "internal", "flagship", "fabrikam", "northwind", "qa", "a", "staff-engineering",
        "a-name-longer-than-sixty-four-characters-to-use-the-last-length-bit@contoso.com", "straße", "İstanbul", "kelvin",
    ];

    private static readonly string[] Probes =
    [
        "GAL@CONTOSO.COM", "Gal@Contoso.Com", "gal@contoso.co", "INTERNAL", "internaL", "Flagship", "FABRIKAM", "northwinD", "QA", "Qa", "A",
        "b", "", "staff-Engineering", "A-NAME-LONGER-THAN-SIXTY-FOUR-CHARACTERS-TO-USE-THE-LAST-LENGTH-BIT@CONTOSO.COM",
        "a-name-longer-than-sixty-four-characters-to-use-the-last-length-bit@contoso.org", "STRASSE", "STRAßE", "straße", "İSTANBUL",
        "istanbul", "\u212Aelvin", "KELVIN", "kelvın", "ſtaff-engineering", "flagshiP\u0301", "tenant-5", "employees",
    ];

    [TestMethod]
    public void TryGetValue_AnyProbe_AnswersLikeAFrozenDictionaryIgnoringCase()
    {
        var map = Keys.ToDictionary(k => k, k => $"reason of {k}", StringComparer.OrdinalIgnoreCase);
        var frozen = map.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);
        var index = new NameIndex(map);

        foreach (var probe in Probes.Concat(Keys).Concat(Keys.Select(k => k.ToUpperInvariant())).Concat(Keys.Select(k => k.ToLowerInvariant())))
        {
            var expected = frozen.TryGetValue(probe, out var expectedValue);
            var actual = index.TryGetValue(probe, out var actualValue);
            Assert.AreEqual(expected, actual, $"'{probe}'");
            Assert.AreEqual(expectedValue, actualValue, $"'{probe}'");
        }
    }

    [TestMethod]
    public void TryGetValue_AsciiKeysOnly_StillMatchesNonAsciiProbesThatOrdinalIgnoreCaseEquates()
    {
        string[] keys = ["kelvin", "skip", "ink"];
        var map = keys.ToDictionary(k => k, k => k, StringComparer.OrdinalIgnoreCase);
        var frozen = map.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);
        var index = new NameIndex(map);

        foreach (var probe in new[] { "\u212Aelvin", "\u017Fkip", "\u0131nk", "\u0130nk", "KELVIN", "SKIP", "INK", "ink!" })
        {
            Assert.AreEqual(frozen.TryGetValue(probe, out _), index.TryGetValue(probe, out _), $"'{probe}'");
        }
    }

    [TestMethod]
    public void TryGetValue_ManyKeys_FindsEveryOneInAnyCase()
    {
        var map = Enumerable.Range(0, 5000).ToDictionary(i => $"user-{i}@contoso.com", i => $"r{i}", StringComparer.OrdinalIgnoreCase);
        var index = new NameIndex(map);

        for (var i = 0; i < 5000; i++)
        {
            Assert.IsTrue(index.TryGetValue($"USER-{i}@Contoso.com", out var reason));
            Assert.AreEqual($"r{i}", reason);
        }

        Assert.IsFalse(index.TryGetValue("user-5000@contoso.com", out _));
    }
}
