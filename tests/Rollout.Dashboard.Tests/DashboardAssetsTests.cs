using System.Text;
using System.Text.RegularExpressions;

namespace Rollout.Dashboard.Tests;

[TestClass]
public sealed partial class DashboardAssetsTests
{
    [TestMethod]
    [DataRow(null)]
    [DataRow("")]
    [DataRow("/")]
    [DataRow("index.html")]
    [DataRow("/dashboard/index.html")]
    public void TryGet_RootOrIndex_ReturnsThePage(string? path)
    {
        Assert.IsTrue(DashboardAssets.TryGet(path, out var content, out var contentType));
        Assert.AreEqual("text/html; charset=utf-8", contentType);
        StringAssert.Contains(Encoding.UTF8.GetString(content.Span), """<script type="module" src="dashboard/app.js"></script>""");
    }

    [TestMethod]
    [DataRow("app.js", "text/javascript; charset=utf-8")]
    [DataRow("/dashboard/chart.js", "text/javascript; charset=utf-8")]
    [DataRow("dashboard/app.css", "text/css; charset=utf-8")]
    [DataRow("icon.svg", "image/svg+xml")]
    public void TryGet_KnownFile_ReturnsItsBytesAndContentType(string path, string expectedType)
    {
        Assert.IsTrue(DashboardAssets.TryGet(path, out var content, out var contentType));
        Assert.AreEqual(expectedType, contentType);
        Assert.IsGreaterThan(100, content.Length);
    }

    [TestMethod]
    [DataRow("missing.js")]
    [DataRow("APP.JS")]
    [DataRow("../Rollout.Dashboard.dll")]
    [DataRow("dashboard/../index.html")]
    [DataRow("./app.js")]
    [DataRow("wwwroot/app.js")]
    [DataRow("..\\app.js")]
    [DataRow("app.js/")]
    public void TryGet_UnknownOrTraversingPath_IsNotFound(string path)
    {
        Assert.IsFalse(DashboardAssets.TryGet(path, out var content, out var contentType));
        Assert.AreEqual(0, content.Length);
        Assert.AreEqual(string.Empty, contentType);
    }

    [TestMethod]
    public void Paths_EveryFileThePageAndItsModulesReferTo_IsEmbedded()
    {
        var referenced = new HashSet<string>(StringComparer.Ordinal);
        Assert.IsTrue(DashboardAssets.TryGet(DashboardAssets.IndexPath, out var index, out _));
        foreach (Match m in PageReference().Matches(Encoding.UTF8.GetString(index.Span)))
        {
            referenced.Add(m.Groups[1].Value);
        }

        foreach (var script in DashboardAssets.Paths.Where(p => p.EndsWith(".js", StringComparison.Ordinal)))
        {
            Assert.IsTrue(DashboardAssets.TryGet(script, out var js, out _));
            foreach (Match m in ModuleImport().Matches(Encoding.UTF8.GetString(js.Span)))
            {
                referenced.Add(m.Groups[1].Value);
            }
        }

        CollectionAssert.IsSubsetOf(new[] { "app.js", "app.css", "icon.svg", "api.js", "chart.js", "format.js", "markdown.js" }, referenced.ToList());
        foreach (var path in referenced)
        {
            Assert.IsTrue(DashboardAssets.TryGet(path, out _, out _), $"'{path}' is referenced but not embedded");
        }
    }

    [TestMethod]
    public void Paths_NoFile_RefersToAnythingOnTheInternet()
    {
        foreach (var path in DashboardAssets.Paths)
        {
            Assert.IsTrue(DashboardAssets.TryGet(path, out var content, out _));
            var text = Encoding.UTF8.GetString(content.Span).Replace("http://www.w3.org/2000/svg", string.Empty, StringComparison.Ordinal);
            Assert.IsFalse(AbsoluteUrl().IsMatch(text), $"{path} refers to {AbsoluteUrl().Match(text).Value}");
        }
    }

    [TestMethod]
    public void ContentSecurityPolicy_AllowsOnlyTheSameOrigin()
    {
        StringAssert.StartsWith(DashboardAssets.ContentSecurityPolicy, "default-src 'none'");
        foreach (var directive in new[] { "script-src 'self'", "style-src 'self'", "connect-src 'self'", "frame-ancestors 'none'" })
        {
            StringAssert.Contains(DashboardAssets.ContentSecurityPolicy, directive);
        }

        Assert.DoesNotContain("unsafe", DashboardAssets.ContentSecurityPolicy);
    }

    [GeneratedRegex("""(?:href|src)="dashboard/([^"]+)" """, RegexOptions.IgnorePatternWhitespace)]
    private static partial Regex PageReference();

    [GeneratedRegex("""from\s+'\./([^']+)'""")]
    private static partial Regex ModuleImport();

    [GeneratedRegex("""(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}""", RegexOptions.IgnoreCase)]
    private static partial Regex AbsoluteUrl();
}
