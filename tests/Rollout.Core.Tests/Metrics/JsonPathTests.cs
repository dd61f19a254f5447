using System.Text.Json;
using Rollout.Core.Metrics;

namespace Rollout.Core.Tests.Metrics;

[TestClass]
public sealed class JsonPathTests
{
    private const string Body = """
        { "value": 0.004, "count": 1200,
          "data": [ { "value": 1 }, { "value": 2 }, { "value": 3 } ],
          "a.b": { "c d": "quoted" } }
        """;

    [TestMethod]
    [DataRow("$.value", "0.004")]
    [DataRow("$.count", "1200")]
    [DataRow("$.data[0].value", "1")]
    [DataRow("$.data[-1].value", "3")]
    [DataRow("$.data[-3].value", "1")]
    [DataRow("$['a.b'][\"c d\"]", "\"quoted\"")]
    [DataRow("$[ 'data' ][1].value", "2")]
    public void TrySelect_ValidPath_FindsTheElement(string text, string expectedJson)
    {
        Assert.IsTrue(JsonPath.TryCompile(text, out var path, out var error), error);
        Assert.AreEqual(text, path.Text);
        using var doc = JsonDocument.Parse(Body);

        Assert.IsTrue(path.TrySelect(doc.RootElement, out var found));
        Assert.AreEqual(expectedJson, found.GetRawText());
    }

    [TestMethod]
    public void TrySelect_Root_WholeDocument()
    {
        Assert.IsTrue(JsonPath.TryCompile("$", out var path, out _));
        using var doc = JsonDocument.Parse("42");

        Assert.IsTrue(path.TrySelect(doc.RootElement, out var found));
        Assert.AreEqual(42, found.GetInt32());
    }

    [TestMethod]
    [DataRow("$.missing")]
    [DataRow("$.data[3]")]
    [DataRow("$.data[-4]")]
    [DataRow("$.value.deeper")]
    [DataRow("$.data.value")]
    [DataRow("$.count[0]")]
    public void TrySelect_PathNotInDocument_False(string text)
    {
        Assert.IsTrue(JsonPath.TryCompile(text, out var path, out var error), error);
        using var doc = JsonDocument.Parse(Body);

        Assert.IsFalse(path.TrySelect(doc.RootElement, out _));
    }

    [TestMethod]
    [DataRow("value", "must start with '$'")]
    [DataRow("", "must start with '$'")]
    [DataRow("$..value", "empty name")]
    [DataRow("$.", "empty name")]
    [DataRow("$.data[0", "unclosed '['")]
    [DataRow("$.data[*]", "neither an index nor a quoted name")]
    [DataRow("$.data[?(@.value > 1)]", "neither an index nor a quoted name")]
    [DataRow("$value", "unexpected 'v'")]
    public void TryCompile_NotAPath_RefusedWithReason(string text, string fragment)
    {
        Assert.IsFalse(JsonPath.TryCompile(text, out _, out var error));
        StringAssert.Contains(error, fragment, StringComparison.Ordinal);
    }
}
