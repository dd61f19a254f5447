using System.Collections.Immutable;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using Rollout.Core.Engine;
using Rollout.Core.Targeting;
using Rollout.Functions.Effects;
using Rollout.Functions.Orchestration;
using Rollout.Functions.Tests.Fakes;

namespace Rollout.Functions.Tests.Effects;

[TestClass]
public sealed class EffectsTests
{
    [TestMethod]
    public async Task WebhookNotifier_Delivers_SignedJsonWithAStableDedupeKey()
    {
        var handler = new CapturingHandler(HttpStatusCode.NoContent);
        var key = Encoding.UTF8.GetBytes("s3cret");
        var notifier = new WebhookNotifier(new HttpClient(handler), new Uri("https://hooks.example/rollout"), key, NullLogger<WebhookNotifier>.Instance);
        var request = Request();

        await notifier.NotifyAsync(request, CancellationToken.None);
        await notifier.NotifyAsync(request, CancellationToken.None);

        Assert.AreEqual(2, handler.Requests.Count);
        var (message, body) = handler.Requests[0];
        Assert.AreEqual("r-1:7-9", message.Headers.GetValues(WebhookNotifier.DedupeHeader).Single());
        Assert.AreEqual(message.Headers.GetValues(WebhookNotifier.DedupeHeader).Single(), handler.Requests[1].Message.Headers.GetValues(WebhookNotifier.DedupeHeader).Single());
        Assert.AreEqual("sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(key, body)), message.Headers.GetValues(WebhookNotifier.SignatureHeader).Single());
        using var json = JsonDocument.Parse(body);
        Assert.AreEqual("checkout-v2", json.RootElement.GetProperty("flag").GetString());
        Assert.AreEqual("RolledBack", json.RootElement.GetProperty("events")[2].GetProperty("type").GetString());
    }

    [TestMethod]
    public async Task WebhookNotifier_ErrorStatus_ThrowsSoTheActivityIsRetried()
    {
        var notifier = new WebhookNotifier(new HttpClient(new CapturingHandler(HttpStatusCode.BadGateway)), new Uri("https://hooks.example/rollout"), null, NullLogger<WebhookNotifier>.Instance);

        var error = await Assert.ThrowsExactlyAsync<HttpRequestException>(() => notifier.NotifyAsync(Request(), CancellationToken.None));

        Assert.AreEqual(HttpStatusCode.BadGateway, error.StatusCode);
    }

    [TestMethod]
    public void WebhookNotifier_From_WithoutAUrl_IsNone()
    {
        var none = new ConfigurationBuilder().AddInMemoryCollection([]).Build();
        var some = new ConfigurationBuilder().AddInMemoryCollection([new(RolloutSettings.NotifyWebhookUrl, "https://hooks.example/x")]).Build();

        Assert.IsNull(WebhookNotifier.From(none, NullLogger<WebhookNotifier>.Instance));
        Assert.IsNotNull(WebhookNotifier.From(some, NullLogger<WebhookNotifier>.Instance));
    }

    [TestMethod]
    public async Task FlagCache_ChangeCheckpointedByAnotherInstance_IsSeenAfterTheRefreshInterval()
    {
        await using var rig = await FunctionsRig.CreateAsync();
        var harness = await rig.StartAsync(TestPlans.Days("other-instance"));
        using var elsewhere = new FlagCache(rig.Store, rig.Clock, rig.Options);
        var insider = new SubjectContext("u1", ["internal"], null, null, null);
        Assert.IsTrue((await elsewhere.EvaluateAsync("other-instance", insider, CancellationToken.None)).Decision.Enabled);

        await rig.SendAsync(harness, "rollback", new(Actor: "a@contoso.com", Reason: "r"));
        await rig.RunAsync(harness);

        Assert.IsTrue((await elsewhere.EvaluateAsync("other-instance", insider, CancellationToken.None)).Decision.Enabled, "refreshed before its interval");
        rig.Clock.Now += rig.Options.FlagRefresh;
        var (decision, entry) = await elsewhere.EvaluateAsync("other-instance", insider, CancellationToken.None);
        Assert.IsFalse(decision.Enabled);
        Assert.AreEqual(RolloutStatus.RolledBack, entry!.Status);
    }

    private static NotifyRequest Request()
    {
        var details = JsonSerializer.SerializeToElement(new { stage = "10%" });
        var at = VirtualClock.T0;
        return new NotifyRequest("r-1", "checkout-v2", ImmutableArray.Create(
            new AuditEvent(7, at, AuditType.Paused, "a", details),
            new AuditEvent(8, at, AuditType.Resumed, "a", details),
            new AuditEvent(9, at, AuditType.RolledBack, "a", details)));
    }

    private sealed class CapturingHandler(HttpStatusCode status) : HttpMessageHandler
    {
        public List<(HttpRequestMessage Message, byte[] Body)> Requests { get; } = [];

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Requests.Add((request, await request.Content!.ReadAsByteArrayAsync(cancellationToken)));
            return new HttpResponseMessage(status);
        }
    }
}
