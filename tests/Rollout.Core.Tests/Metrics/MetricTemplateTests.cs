using System.Collections.Immutable;
using Rollout.Core.Metrics;
using Rollout.Core.Plans;

namespace Rollout.Core.Tests.Metrics;

[TestClass]
public sealed class MetricTemplateTests
{
    private static MetricQuery Query(Cohort cohort) => new(
        new MetricSourceSpec("http", ImmutableSortedDictionary<string, string>.Empty),
        cohort,
        "ro 1",
        "checkout-v2",
        "10%",
        new DateTimeOffset(2026, 3, 2, 11, 30, 15, TimeSpan.FromHours(2)));

    [TestMethod]
    public void Expand_KnownPlaceholders_ReplacedAndEncoded()
    {
        var url = MetricTemplate.Expand(
            "http://127.0.0.1:9000/error-rate?cohort={{cohort}}&since={{since}}&stage={{ stage }}&id={{rolloutId}}&flag={{flag}}",
            MetricTemplate.Values(Query(Cohort.Baseline)),
            Uri.EscapeDataString);

        Assert.AreEqual("http://127.0.0.1:9000/error-rate?cohort=baseline&since=2026-03-02T09%3A30%3A15Z&stage=10%25&id=ro%201&flag=checkout-v2", url);
    }

    [TestMethod]
    public void Expand_UnknownPlaceholder_LeftAsWritten()
    {
        var text = MetricTemplate.Expand("{{cohort}}/{{colour}}", MetricTemplate.Values(Query(Cohort.Treatment)), v => v);

        Assert.AreEqual("treatment/{{colour}}", text);
        CollectionAssert.AreEqual(new[] { "colour" }, MetricTemplate.UnknownPlaceholders("{{colour}} {{cohort}} {{ colour }}").ToArray());
    }

    [TestMethod]
    public void EscapeQueryLiteral_QuotesAndBackslash_Escaped()
    {
        Assert.AreEqual("a\\\"b\\'c\\\\d", MetricTemplate.EscapeQueryLiteral("a\"b'c\\d"));
    }
}
