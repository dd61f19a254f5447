using Rollout.Integrations.Hosting;

namespace Rollout.Integrations.Tests.Hosting;

[TestClass]
public sealed class IntegrationSettingsTests
{
    private static IntegrationSettings From(params (string Key, string Value)[] settings) =>
        IntegrationSettings.From(new ConfigurationBuilder().AddInMemoryCollection(settings.Select(s => new KeyValuePair<string, string?>(s.Key, s.Value))).Build(), dataDirectory: null);

    [TestMethod]
    [DataRow("https://dev.azure.com/fabrikam/")]
    [DataRow("https://vsrm.dev.azure.com/fabrikam/")]
    [DataRow("https://fabrikam.visualstudio.com/")]
    [DataRow("https://DEV.AZURE.COM/fabrikam")]
    public void AllowsPlanUrl_AzureDevOpsServicesByDefault_IsAllowed(string planUrl) =>
        Assert.IsTrue(From().AllowsPlanUrl(new Uri(planUrl)));

    [TestMethod]
    [DataRow("http://dev.azure.com/fabrikam/")]
    [DataRow("https://dev.azure.com.attacker.example/")]
    [DataRow("https://evildev.azure.com/")]
    [DataRow("https://visualstudio.com/")]
    [DataRow("https://127.0.0.1/")]
    [DataRow("https://169.254.169.254/metadata/")]
    public void AllowsPlanUrl_OtherHostsOrPlainHttpByDefault_IsRefused(string planUrl) =>
        Assert.IsFalse(From().AllowsPlanUrl(new Uri(planUrl)));

    [TestMethod]
    public void AllowsPlanUrl_ConfiguredServerHost_AllowsItOverHttpAndNothingElse()
    {
        var settings = From(("AzureDevOps:AllowedHosts", "tfs.contoso.local, *.devops.contoso.com"));

        Assert.IsTrue(settings.AllowsPlanUrl(new Uri("http://tfs.contoso.local:8080/tfs/DefaultCollection/")));
        Assert.IsTrue(settings.AllowsPlanUrl(new Uri("https://eu.devops.contoso.com/")));
        Assert.IsFalse(settings.AllowsPlanUrl(new Uri("https://devops.contoso.com/")), "'*.' allows subdomains only");
        Assert.IsFalse(settings.AllowsPlanUrl(new Uri("https://dev.azure.com/fabrikam/")), "the setting replaces the default list");
    }

    [TestMethod]
    [DataRow("*")]
    [DataRow("https://dev.azure.com/")]
    [DataRow("dev.*.com")]
    [DataRow(" , ")]
    public void From_MalformedAllowedHosts_ThrowsNamingTheSetting(string value)
    {
        var error = Assert.ThrowsExactly<InvalidOperationException>(() => From(("AzureDevOps:AllowedHosts", value)));

        StringAssert.Contains(error.Message, "AzureDevOps:AllowedHosts");
    }

    [TestMethod]
    public void From_TeamsChannelThatIsNotAUrl_ThrowsNamingTheSettingButNotItsValue()
    {
        var error = Assert.ThrowsExactly<InvalidOperationException>(() => From(("Notifications:Teams:ops", "not-a-url-sig=SECRET")));

        StringAssert.Contains(error.Message, "Notifications:Teams:ops");
        Assert.DoesNotContain("SECRET", error.Message);
    }

    [TestMethod]
    [DataRow(null, null, false)]
    [DataRow(null, "True", true)]
    [DataRow("false", "True", false)]
    [DataRow("true", null, true)]
    public void From_TrustAppServiceAuthentication_FollowsTheSettingElseThePlatform(string? setting, string? platform, bool expected)
    {
        var settings = new List<(string, string)>();
        if (setting is not null)
        {
            settings.Add(("Approvals:TrustAppServiceAuthentication", setting));
        }

        if (platform is not null)
        {
            settings.Add(("WEBSITE_AUTH_ENABLED", platform));
        }

        Assert.AreEqual(expected, From([.. settings]).TrustAppServiceAuthentication);
    }

    [TestMethod]
    public void From_NoSigningKeyAndNoDataDirectory_HasNoKey()
    {
        Assert.IsNull(From().SigningKey);
        Assert.ThrowsExactly<InvalidOperationException>(() => From(("Approvals:SigningKey", "too-short")));
        Assert.HasCount(40, From(("Approvals:SigningKey", new string('k', 40))).SigningKey!);
    }
}
