using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Net;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;

namespace Rollout.Testing;

/// <summary>A request as a peer fixture received it: method, raw target (path and query exactly as sent), headers and body.</summary>
internal sealed record PeerRequest(string Method, string RawTarget, IReadOnlyDictionary<string, string> Headers, string Body, DateTimeOffset At)
{
    public string? Header(string name) => Headers.TryGetValue(name, out var value) ? value : null;
}

/// <summary>A scripted answer: status, body, optional delay (a slow or hung peer) and Retry-After.</summary>
internal sealed record PeerReply(int Status, string Body = "", TimeSpan Delay = default, string? RetryAfter = null, string ContentType = "application/json")
{
    public static PeerReply Ok(string body = "") => new(200, body);
}

/// <summary>
/// A loopback Kestrel server (127.0.0.1, a free port) standing in for a peer (Azure DevOps, a Teams Workflows webhook,
/// a webhook exposure target, App Configuration): it records every request and answers with the scripted replies in
/// order, then with <see cref="Fallback"/>. (Types are written out in full: this file is compiled into test projects
/// of both the Web SDK, whose implicit usings cover ASP.NET Core, and the plain SDK.)
/// </summary>
internal sealed class PeerFixture : IAsyncDisposable
{
    private readonly ConcurrentQueue<PeerRequest> requests = new();
    private readonly ConcurrentQueue<PeerReply> script;
    private readonly SemaphoreSlim arrived = new(0);
    private Microsoft.AspNetCore.Builder.WebApplication app = null!;

    private PeerFixture(IEnumerable<PeerReply> replies) => script = new ConcurrentQueue<PeerReply>(replies);

    public Uri Address { get; private set; } = null!;

    /// <summary>The answer once the script is used up (default 200).</summary>
    public PeerReply Fallback { get; set; } = PeerReply.Ok();

    public ImmutableArray<PeerRequest> Requests => [.. requests];

    public static async Task<PeerFixture> StartAsync(params PeerReply[] replies)
    {
        var fixture = new PeerFixture(replies);
        var builder = Microsoft.AspNetCore.Builder.WebApplication.CreateSlimBuilder();
        foreach (var provider in builder.Services.Where(d => d.ServiceType == typeof(Microsoft.Extensions.Logging.ILoggerProvider)).ToList())
        {
            builder.Services.Remove(provider); // a quiet fixture: no logging providers
        }
        Microsoft.AspNetCore.Hosting.WebHostBuilderKestrelExtensions.ConfigureKestrel(builder.WebHost, k => k.Listen(IPAddress.Loopback, 0));
        fixture.app = builder.Build();
        Microsoft.AspNetCore.Builder.RunExtensions.Run(fixture.app, fixture.HandleAsync);
        await fixture.app.StartAsync();
        var server = (IServer)fixture.app.Services.GetService(typeof(IServer))!;
        fixture.Address = new Uri(server.Features.Get<IServerAddressesFeature>()!.Addresses.First() + "/");
        return fixture;
    }

    /// <summary>Waits until at least <paramref name="count"/> requests arrived.</summary>
    public async Task<ImmutableArray<PeerRequest>> WaitForAsync(int count, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        while (requests.Count < count)
        {
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero)
            {
                Assert.Fail($"expected {count} request(s) at the peer fixture, got {requests.Count}");
            }

            await arrived.WaitAsync(left < TimeSpan.FromMilliseconds(200) ? left : TimeSpan.FromMilliseconds(200));
        }

        return Requests;
    }

    private async Task HandleAsync(Microsoft.AspNetCore.Http.HttpContext context)
    {
        using var reader = new StreamReader(context.Request.Body);
        var body = await reader.ReadToEndAsync(context.RequestAborted);
        var headers = context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase);
        var raw = context.Features.Get<IHttpRequestFeature>()!.RawTarget;
        requests.Enqueue(new PeerRequest(context.Request.Method, raw, headers, body, DateTimeOffset.UtcNow));
        arrived.Release();

        var reply = script.TryDequeue(out var next) ? next : Fallback;
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

        if (reply.Body.Length > 0)
        {
            context.Response.ContentType = reply.ContentType;
            await Microsoft.AspNetCore.Http.HttpResponseWritingExtensions.WriteAsync(context.Response, reply.Body, context.RequestAborted);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await app.StopAsync();
        await app.DisposeAsync();
        arrived.Dispose();
    }
}
