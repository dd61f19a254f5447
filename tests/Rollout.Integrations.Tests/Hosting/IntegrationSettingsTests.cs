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
    public void From_OutboxRetentionDays_DefaultsTo30AndReadsWholeDays()
    {
        Assert.AreEqual(TimeSpan.FromDays(30), From().OutboxRetention);
        Assert.AreEqual(TimeSpan.FromDays(7), From(("Outbox:RetentionDays", "7")).OutboxRetention);
        Assert.AreEqual(TimeSpan.FromDays(1), From(("Outbox:RetentionDays", " 1 ")).OutboxRetention);
    }

    [TestMethod]
    [DataRow("0")]
    [DataRow("-3")]
    [DataRow("1.5")]
    [DataRow("30d")]
    [DataRow("3651")]
    [DataRow("99999999999")]
    public void From_BadOutboxRetentionDays_ThrowsNamingTheSetting(string value)
    {
        var error = Assert.ThrowsExactly<InvalidOperationException>(() => From(("Outbox:RetentionDays", value)));

        StringAssert.Contains(error.Message, "Outbox:RetentionDays");
    }

    [TestMethod]
    public void OutboxRetention_Cutoffs_KeepNoncesAtLeastALinkLifetime()
    {
        var now = new DateTimeOffset(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);
        var defaults = From();
        var shortRetention = From(("Outbox:RetentionDays", "1"), ("Approvals:LinkLifetime", "72h"));

        Assert.AreEqual(now.AddDays(-30), Outbox.OutboxRetention.CompletedBefore(defaults, now));
        Assert.AreEqual(now.AddDays(-30), Outbox.OutboxRetention.NoncesConsumedBefore(defaults, now));
        Assert.AreEqual(now.AddDays(-30), Outbox.OutboxRetention.ComposeHorizon(defaults, now));
        Assert.AreEqual(now.AddDays(-1), Outbox.OutboxRetention.CompletedBefore(shortRetention, now));
        Assert.AreEqual(now.AddHours(-73), Outbox.OutboxRetention.NoncesConsumedBefore(shortRetention, now), "a nonce outlives its link, whatever the retention");
    }

    [TestMethod]
    public void From_MalformedAppConfigurationConnection_ThrowsNamingTheSettingButNotItsValue()
    {
        var error = Assert.ThrowsExactly<InvalidOperationException>(() => From(("Exposure:AppConfiguration:main", "Endpoint=https://store.azconfig.io;Id=ak;Secret=SECRETVALUE!!")));

        StringAssert.Contains(error.Message, "Exposure:AppConfiguration:main");
        StringAssert.Contains(error.Message, "base64");
        Assert.DoesNotContain("SECRETVALUE", error.Message);
    }

    [TestMethod]
    public void From_NoSigningKeyAndNoDataDirectory_HasNoKey()
    {
        Assert.IsNull(From().SigningKey);
        Assert.ThrowsExactly<InvalidOperationException>(() => From(("Approvals:SigningKey", "too-short")));
        Assert.HasCount(40, From(("Approvals:SigningKey", new string('k', 40))).SigningKey!);
    }
}
