using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Azure.Core;
using Azure.Core.Pipeline;
using Azure.Identity;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Rollout.Core.Gates;
using Rollout.Core.Metrics;
using Rollout.Core.Plans;
using Rollout.Integrations.Metrics.AzureMonitor;

namespace Rollout.Integrations.Tests.Metrics.AzureMonitor;

/// <summary>A request as the fixture received it.</summary>
internal sealed record FixtureRequest(
    string Method,
    string Path,
    IReadOnlyDictionary<string, string> Query,
    string? Authorization,
    string? ContentType,
    string Body,
    DateTimeOffset At);

/// <summary>What the fixture answers: a status, a JSON body, an optional delay and <c>Retry-After</c>.</summary>
internal sealed record FixtureReply(int Status, string Body, TimeSpan Delay = default, string? RetryAfter = null)
{
    public static FixtureReply Ok(string body) => new(200, body);
}

/// <summary>
/// A loopback HTTPS server (Kestrel, a self-signed certificate made in memory) standing in for Azure Monitor: it
/// records every request and answers with the given replies in order, repeating the last one. Bearer tokens are
/// refused over plain http by Azure.Core, hence HTTPS; the client trusts exactly this certificate.
/// </summary>
internal sealed class AzureFixture : IAsyncDisposable
{
    public const string Token = "fixture-token-123";

    private static readonly Lazy<X509Certificate2> Certificate = new(CreateCertificate);

    private readonly ConcurrentQueue<FixtureRequest> requests = new();
    private readonly ImmutableArray<FixtureReply> replies;
    private WebApplication app = null!;
    private int served;

    private AzureFixture(ImmutableArray<FixtureReply> replies) => this.replies = replies;

    /// <summary>The fixture's origin, e.g. <c>https://127.0.0.1:43123</c>: the sources' <c>endpoint</c> override.</summary>
    public Uri Endpoint { get; private set; } = null!;

    public FakeCredential Credential { get; } = new();

    public IReadOnlyList<FixtureRequest> Requests => [.. requests];

    public static async Task<AzureFixture> StartAsync(params FixtureReply[] replies)
    {
        var fixture = new AzureFixture([.. replies]);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, listen => listen.UseHttps(Certificate.Value)));
        fixture.app = builder.Build();
        fixture.app.Run(fixture.HandleAsync);
        await fixture.app.StartAsync();
        var address = fixture.app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        fixture.Endpoint = new Uri(address);
        return fixture;
    }

    /// <summary>
    /// A connection to this fixture: the fake credential, a transport that trusts exactly the fixture's certificate,
    /// and Azure.Core's retry with short delays (a server's Retry-After still wins).
    /// </summary>
    public AzureMonitorConnection Connect(int maxRetries = 2, TokenCredential? credential = null)
    {
        var expected = Certificate.Value.Thumbprint;
        var options = new AzureMonitorClientOptions
        {
            Transport = new HttpClientTransport(new HttpClientHandler
            {
                ServerCertificateCustomValidationCallback = (_, certificate, _, _) => certificate is not null && certificate.Thumbprint == expected,
            }),
        };
        options.Retry.MaxRetries = maxRetries;
        options.Retry.Delay = TimeSpan.FromMilliseconds(20);
        options.Retry.MaxDelay = TimeSpan.FromMilliseconds(100);
        return new AzureMonitorConnection(credential ?? Credential, options);
    }

    private async Task HandleAsync(HttpContext context)
    {
        using var reader = new StreamReader(context.Request.Body);
        var body = await reader.ReadToEndAsync(context.RequestAborted);
        requests.Enqueue(new FixtureRequest(
            context.Request.Method,
            context.Request.Path.Value ?? string.Empty,
            context.Request.Query.ToDictionary(q => q.Key, q => q.Value.ToString(), StringComparer.Ordinal),
            context.Request.Headers.Authorization.FirstOrDefault(),
            context.Request.ContentType,
            body,
            DateTimeOffset.UtcNow));

        var index = Interlocked.Increment(ref served) - 1;
        var reply = replies[Math.Min(index, replies.Length - 1)];
        if (reply.Delay > TimeSpan.Zero)
        {
            try
            {
                await Task.Delay(reply.Delay, context.RequestAborted);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }

        context.Response.StatusCode = reply.Status;
        if (reply.RetryAfter is { } retryAfter)
        {
            context.Response.Headers.RetryAfter = retryAfter;
        }

        context.Response.ContentType = "application/json; charset=utf-8";
        await context.Response.WriteAsync(reply.Body, context.RequestAborted);
    }

    public async ValueTask DisposeAsync()
    {
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        await app.StopAsync(stop.Token);
        await app.DisposeAsync();
    }

    private static X509Certificate2 CreateCertificate()
    {
        using var rsa = RSA.Create(2048);
        var request = new CertificateRequest("CN=127.0.0.1", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        // Re-import so that Kestrel gets a certificate whose private key it can use on every platform.
        return X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pfx), null);
    }
}

/// <summary>A credential that hands out a fixed token and records the scopes it was asked for.</summary>
internal sealed class FakeCredential : TokenCredential
{
    private readonly ConcurrentQueue<string> scopes = new();

    public IReadOnlyList<string> Scopes => [.. scopes];

    public override AccessToken GetToken(TokenRequestContext requestContext, CancellationToken cancellationToken)
    {
        foreach (var scope in requestContext.Scopes)
        {
            scopes.Enqueue(scope);
        }

        return new AccessToken(AzureFixture.Token, DateTimeOffset.UtcNow.AddHours(1));
    }

    public override ValueTask<AccessToken> GetTokenAsync(TokenRequestContext requestContext, CancellationToken cancellationToken) =>
        ValueTask.FromResult(GetToken(requestContext, cancellationToken));
}

/// <summary>A credential that cannot authenticate, as DefaultAzureCredential is where no identity is configured.</summary>
internal sealed class UnavailableCredential : TokenCredential
{
    public override AccessToken GetToken(TokenRequestContext requestContext, CancellationToken cancellationToken) =>
        throw new CredentialUnavailableException("DefaultAzureCredential failed to retrieve a token from the included credentials.");

    public override ValueTask<AccessToken> GetTokenAsync(TokenRequestContext requestContext, CancellationToken cancellationToken) =>
        throw new CredentialUnavailableException("DefaultAzureCredential failed to retrieve a token from the included credentials.");
}

/// <summary>A clock fixed at <see cref="AzureQueries.Now"/>; timers are the system's, so timeouts still fire.</summary>
internal sealed class FixedClock : TimeProvider
{
    public static FixedClock Instance { get; } = new();

    public override DateTimeOffset GetUtcNow() => AzureQueries.Now;
}

/// <summary>Queries and assertions shared by the Azure Monitor source tests.</summary>
internal static class AzureQueries
{
    public const string WorkspaceId = "63613592-b6f7-4c3d-a390-22ba13102111";

    public static readonly DateTimeOffset Since = new(2026, 3, 1, 8, 0, 0, TimeSpan.Zero);

    public static readonly DateTimeOffset Now = new(2026, 3, 1, 9, 30, 0, TimeSpan.Zero);

    /// <summary>A source spec; a later setting replaces an earlier one of the same name.</summary>
    public static MetricSourceSpec Spec(string type, params (string Key, string Value)[] settings)
    {
        var builder = ImmutableSortedDictionary.CreateBuilder<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in settings)
        {
            builder[key] = value;
        }

        return new(type, builder.ToImmutable());
    }

    public static MetricQuery Query(MetricSourceSpec spec, Cohort cohort = Cohort.Treatment, string stage = "50%") =>
        new(spec, cohort, "r-1", "checkout-v2", stage, Since);

    /// <summary>
    /// The reading is missing data with a reason containing <paramref name="reason"/>, and a criterion judged on it
    /// (even one with no thresholds it could break) is NoData: it can never promote.
    /// </summary>
    public static void AssertNoData(MetricReading reading, string reason)
    {
        Assert.IsNull(reading.Value, $"a failed reading has no value (error: {reading.Error})");
        Assert.IsNotNull(reading.Error);
        StringAssert.Contains(reading.Error, reason);
        var criterion = new CriterionPlan("c", Spec("any"), Min: null, Max: double.MaxValue, MaxBaselineRatio: null, MinSamples: 0);
        Assert.AreEqual(Outcome.NoData, GateEvaluator.Evaluate(criterion, reading, null).Outcome);
    }
}
