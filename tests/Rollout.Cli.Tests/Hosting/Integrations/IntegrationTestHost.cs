using Rollout.Cli.Hosting.Integrations;
using Rollout.Integrations.Outbox;

namespace Rollout.Cli.Tests.Hosting.Integrations;

/// <summary>Delivery settings that make retries fast enough for tests, and the task's headers for the callback gate.</summary>
internal static class IntegrationTestHost
{
    public const string Approval = """, "approval": { "approvers": ["alex@contoso.com"] }""";

    /// <summary>Polls every 50 ms; backoff 100 ms doubling to 400 ms; Retry-After honoured up to 3 s; peers time out after 500 ms.</summary>
    public static DeliveryServiceOptions FastDeliveries { get; } = new(
        TimeSpan.FromMilliseconds(50),
        new DeliveryOptions(TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(400), TimeSpan.FromSeconds(3), 6, 50, null),
        PeerTimeout: TimeSpan.FromMilliseconds(500));

    /// <summary>The AzureFunction@1 task's default headers, as a release pipeline sends them.</summary>
    public static Dictionary<string, string> TaskHeaders(Uri planUrl, string jobId = "3a7e60dc-c5b0-5009-86eb-0f217c12e2ea", string token = "job-access-token-5f1a") => new()
    {
        ["PlanUrl"] = planUrl.AbsoluteUri,
        ["ProjectId"] = "5d2c2a4e-7d47-4c3a-9a4a-0a8d3f1f2b11",
        ["HubName"] = "build",
        ["PlanId"] = "8e1f5a0b-3a57-4ee0-b2e5-5c0d1f0c9a77",
        ["JobId"] = jobId,
        ["TimelineId"] = "1b8a2c33-1c4d-4d3e-8a4e-33d8e1a0c0aa",
        ["TaskInstanceId"] = "61153303-347e-5f06-a6a1-ce2102bd68eb",
        ["AuthToken"] = token,
    };

    public static async Task<HttpResponseMessage> PostGateAsync(TestHost host, string id, string until, IReadOnlyDictionary<string, string> headers, bool withKey = true)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"api/rollouts/{id}/gate?until={Uri.EscapeDataString(until)}")
        {
            Content = new StringContent("{}", System.Text.Encoding.UTF8, "application/json"),
        };
        foreach (var (name, value) in headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        return await (withKey ? host.Client : host.Anonymous).SendAsync(request);
    }
}
