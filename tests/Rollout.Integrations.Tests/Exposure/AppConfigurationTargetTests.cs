using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Azure.Core;
using Microsoft.FeatureManagement;
using Microsoft.FeatureManagement.FeatureFilters;
using Rollout.Core.Plans;
using Rollout.Integrations.Exposure;
using Rollout.Testing;

namespace Rollout.Integrations.Tests.Exposure;

[TestClass]
public sealed class AppConfigurationTargetTests
{
    private static readonly byte[] Secret = Encoding.ASCII.GetBytes("app-configuration-access-key-value-0123");
    private static readonly DateTimeOffset Now = new(2026, 3, 1, 10, 0, 0, TimeSpan.Zero);

    private static ExposureTargetSpec Spec(string? label = "prod") => new(
        ExposureTargetSpec.AppConfiguration,
        label is null
            ? System.Collections.Immutable.ImmutableSortedDictionary.CreateRange(StringComparer.Ordinal, [KeyValuePair.Create("connection", "main"), KeyValuePair.Create("timeout", "500ms")])
            : System.Collections.Immutable.ImmutableSortedDictionary.CreateRange(StringComparer.Ordinal, [KeyValuePair.Create("connection", "main"), KeyValuePair.Create("label", label), KeyValuePair.Create("timeout", "500ms")]));

    private static AppConfigurationExposureTarget Target(PeerFixture store, TokenCredential? credential = null, bool accessKey = true) => new(
        new HttpClient(),
        new FixedTime(Now),
        name => name == "main"
            ? AppConfigurationConnection.Parse(accessKey ? $"Endpoint={store.Address.GetLeftPart(UriPartial.Authority)};Id=ak-0001;Secret={Convert.ToBase64String(Secret)}" : store.Address.AbsoluteUri)
            : null,
        credential);

    [TestMethod]
    public async Task ApplyAsync_AccessKey_PutsFeatureFlagWithExactBodyAndHmacHeaders()
    {
        await using var store = await PeerFixture.StartAsync();
        var exposure = ExposureSnapshot.Of(TestPlans.Checkout("checkout-v2"), "r-1", 1);

        var result = await Target(store).ApplyAsync(exposure, Spec(), "exposure:r-1:1", CancellationToken.None);

        Assert.IsTrue(result.Delivered, result.Error);
        var put = store.Requests.Single();
        Assert.AreEqual("PUT", put.Method);
        Assert.AreEqual("/kv/.appconfig.featureflag%2Fcheckout-v2?label=prod&api-version=1.0", put.RawTarget);
        Assert.AreEqual("application/vnd.microsoft.appconfig.kv+json; charset=utf-8", put.Header("Content-Type"));
        var flag = """{"id":"checkout-v2","description":"Managed by Rollout: rollout r-1, stage 'canary 5%'","enabled":true,"conditions":{"client_filters":[{"name":"Microsoft.Targeting","parameters":{"Audience":{"Users":["alice@contoso.com"],"Groups":[{"Name":"internal","RolloutPercentage":100},{"Name":"tenant:flagship","RolloutPercentage":100}],"DefaultRolloutPercentage":5}}}]}}""";
        Assert.AreEqual($$"""{"value":"{{flag.Replace("\"", "\\\"", StringComparison.Ordinal)}}","content_type":"application/vnd.microsoft.appconfig.ff+json;charset=utf-8"}""", put.Body);

        // The documented HMAC-SHA256 scheme, computed independently: METHOD \n path_and_query \n date;host;content-hash.
        var date = "Sun, 01 Mar 2026 10:00:00 GMT";
        var hash = Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(put.Body)));
        var toSign = $"PUT\n/kv/.appconfig.featureflag%2Fcheckout-v2?label=prod&api-version=1.0\n{date};{store.Address.Authority};{hash}";
        var signature = Convert.ToBase64String(HMACSHA256.HashData(Secret, Encoding.ASCII.GetBytes(toSign)));
        Assert.AreEqual(date, put.Header("x-ms-date"));
        Assert.AreEqual(hash, put.Header("x-ms-content-sha256"));
        Assert.AreEqual($"HMAC-SHA256 Credential=ak-0001&SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature={signature}", put.Header("Authorization"));
    }

    [TestMethod]
    public async Task ApplyAsync_EntraIdConnection_SendsBearerTokenForAppConfigurationScope()
    {
        await using var store = await PeerFixture.StartAsync();
        var credential = new FakeCredential();

        var result = await Target(store, credential, accessKey: false).ApplyAsync(ExposureSnapshot.Of(TestPlans.Checkout("checkout-v2"), "r-1", null), Spec(label: null), "d", CancellationToken.None);

        Assert.IsTrue(result.Delivered, result.Error);
        var put = store.Requests.Single();
        Assert.AreEqual("/kv/.appconfig.featureflag%2Fcheckout-v2?api-version=1.0", put.RawTarget);
        Assert.AreEqual("Bearer entra-token-42", put.Header("Authorization"));
        Assert.IsNull(put.Header("x-ms-content-sha256"));
        CollectionAssert.AreEqual(new[] { "https://azconfig.io/.default" }, credential.Scopes);
        StringAssert.Contains(put.Body, "\\\"enabled\\\":false", "a rollback writes the flag disabled");
    }

    [TestMethod]
    [DataRow(429, "7", DisplayName = "429 with Retry-After")]
    [DataRow(503, null, DisplayName = "503")]
    [DataRow(409, null, DisplayName = "409 locked key")]
    [DataRow(401, null, DisplayName = "401 bad key")]
    public async Task ApplyAsync_PeerRefuses_IsRetriedWithItsRetryAfter(int status, string? retryAfter)
    {
        await using var store = await PeerFixture.StartAsync(new PeerReply(status, """{"title":"nope"}""", RetryAfter: retryAfter));

        var result = await Target(store).ApplyAsync(ExposureSnapshot.Of(TestPlans.Checkout("checkout-v2"), "r-1", 0), Spec(), "d", CancellationToken.None);

        Assert.IsFalse(result.Delivered);
        Assert.IsFalse(result.Permanent, "a failed write holds the rollout and is retried, never skipped");
        StringAssert.Contains(result.Error, $"answered {status}");
        Assert.AreEqual(retryAfter is null ? null : TimeSpan.FromSeconds(7), result.RetryAfter);
    }

    [TestMethod]
    public async Task ApplyAsync_PeerHangs_TimesOutAsRetry()
    {
        await using var store = await PeerFixture.StartAsync(new PeerReply(200, Delay: TimeSpan.FromSeconds(5)));

        var result = await Target(store).ApplyAsync(ExposureSnapshot.Of(TestPlans.Checkout("checkout-v2"), "r-1", 0), Spec(), "d", CancellationToken.None);

        Assert.IsFalse(result.Delivered);
        StringAssert.Contains(result.Error, "no answer within 0.5 s");
    }

    [TestMethod]
    public async Task WrittenFlag_EvaluatedByMicrosoftFeatureManagement_EnablesExactlyTheStagesUsersAndGroups()
    {
        await using var store = await PeerFixture.StartAsync();
        var plan = TestPlans.Checkout("checkout-v2");
        await Target(store).ApplyAsync(ExposureSnapshot.Of(plan, "r-1", 0), Spec(), "d", CancellationToken.None);
        var manager = FeatureManagerFor(store.Requests.Single().Body);

        Assert.IsTrue(await manager.IsEnabledAsync("checkout-v2", new TargetingContext { UserId = "alice@contoso.com" }), "a named user");
        Assert.IsTrue(await manager.IsEnabledAsync("checkout-v2", new TargetingContext { UserId = "carol@contoso.com", Groups = ["staff", "internal"] }), "a member of a named group");
        Assert.IsTrue(await manager.IsEnabledAsync("checkout-v2", new TargetingContext { UserId = "dave@flagship.example", Groups = ["tenant:flagship"] }), "a tenant, as group tenant:<name>");
        var others = Enumerable.Range(0, 500).Select(i => $"user-{i}@example.org").ToList();
        foreach (var user in others)
        {
            Assert.IsFalse(await manager.IsEnabledAsync("checkout-v2", new TargetingContext { UserId = user, Groups = ["external"] }), $"{user} is not in stage 'internal'");
        }

        await Target(store).ApplyAsync(ExposureSnapshot.Of(plan, "r-1", null), Spec(), "d", CancellationToken.None);
        var rolledBack = FeatureManagerFor(store.Requests[^1].Body);
        Assert.IsFalse(await rolledBack.IsEnabledAsync("checkout-v2", new TargetingContext { UserId = "alice@contoso.com", Groups = ["internal"] }), "after a rollback nobody");
    }

    [TestMethod]
    public async Task WrittenFlag_PercentStage_BucketsAboutThePercentButNotTheSameSubjectsAsTheBuiltInStore()
    {
        await using var store = await PeerFixture.StartAsync();
        var plan = TestPlans.Parse("""
            { "name": "p", "flag": "search-v2", "stages": [ { "name": "half", "percent": 50, "minDuration": "1h" } ] }
            """);
        await Target(store).ApplyAsync(ExposureSnapshot.Of(plan, "r-2", 0), Spec(), "d", CancellationToken.None);
        var manager = FeatureManagerFor(store.Requests.Single().Body);
        var builtIn = Core.Targeting.Exposure.AtStage(plan, 0);

        var users = Enumerable.Range(0, 4000).Select(i => $"user-{i}").ToList();
        var enabled = new HashSet<string>();
        foreach (var user in users)
        {
            if (await manager.IsEnabledAsync("search-v2", new TargetingContext { UserId = user }))
            {
                enabled.Add(user);
            }
        }

        var builtInEnabled = users.Where(u => builtIn.Evaluate(new Core.Targeting.SubjectContext(u, null, null, null, null)).Enabled).ToHashSet();
        Assert.IsTrue(enabled.Count is > 1800 and < 2200, $"{enabled.Count} of 4000 at 50%");
        Assert.IsTrue(builtInEnabled.Count is > 1800 and < 2200, $"{builtInEnabled.Count} of 4000 at 50% (built-in)");
        var both = enabled.Intersect(builtInEnabled).Count();
        Assert.IsTrue(both is > 800 and < 1200, $"independent hashes: about a quarter in both, got {both}");
    }

    private static IFeatureManager FeatureManagerFor(string putBody)
    {
        // What the App Configuration provider does with a .appconfig.featureflag/ key-value: its value becomes one entry of
        // feature_management:feature_flags (the Microsoft Feature Management schema).
        var value = JsonDocument.Parse(putBody).RootElement.GetProperty("value").GetString()!;
        var json = $$"""{ "feature_management": { "feature_flags": [ {{value}} ] } }""";
        var configuration = new ConfigurationBuilder().AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(json))).Build();
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(configuration);
        services.AddFeatureManagement();
        return services.BuildServiceProvider().GetRequiredService<IFeatureManager>();
    }

    private sealed class FixedTime(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }

    private sealed class FakeCredential : TokenCredential
    {
        public List<string> Scopes { get; } = [];

        public override AccessToken GetToken(TokenRequestContext requestContext, CancellationToken cancellationToken)
        {
            Scopes.AddRange(requestContext.Scopes);
            return new AccessToken("entra-token-42", DateTimeOffset.UtcNow.AddHours(1));
        }

        public override ValueTask<AccessToken> GetTokenAsync(TokenRequestContext requestContext, CancellationToken cancellationToken) =>
            new(GetToken(requestContext, cancellationToken));
    }
}
