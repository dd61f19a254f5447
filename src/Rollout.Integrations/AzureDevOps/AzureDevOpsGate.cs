using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Rollout.Core.Api;
using Rollout.Core.Storage;
using Rollout.Integrations.Outbox;

namespace Rollout.Integrations.AzureDevOps;

/// <summary>
/// The Azure DevOps side of the callback gate. The <c>AzureFunction@1</c> task (Invoke Azure Function, agentless job or
/// release gate) in Callback mode sends, by default, the headers <c>PlanUrl</c>, <c>ProjectId</c>, <c>HubName</c>,
/// <c>PlanId</c>, <c>JobId</c>, <c>TimelineId</c>, <c>TaskInstanceId</c> and <c>AuthToken</c>, and waits until the function
/// posts <c>{"name":"TaskCompleted","taskId":...,"jobId":...,"result":"succeeded"|"failed"}</c> to
/// <c>{PlanUrl}/{ProjectId}/_apis/distributedtask/hubs/{HubName}/plans/{PlanId}/events?api-version=2.0-preview.1</c>
/// with the job's token as a bearer token (task reference of AzureFunction@1, "Where should a task signal completion
/// when Callback is chosen"; REST reference Distributed Task, Events - Post Event).
/// </summary>
public static class AzureDevOpsGate
{
    /// <summary>The api-version the task's documentation posts the event with (served by Azure DevOps Services and Server).</summary>
    public const string ApiVersion = "2.0-preview.1";

    /// <summary>The headers the task sends by default, in its order.</summary>
    public static readonly IReadOnlyList<string> Headers = ["PlanUrl", "ProjectId", "HubName", "PlanId", "JobId", "TimelineId", "TaskInstanceId", "AuthToken"];

    /// <summary>Reads the task's headers; every missing or invalid one is named (the token's value never is).</summary>
    public static (GateCallback? Callback, Dictionary<string, string[]> Errors) Parse(Func<string, string?> header)
    {
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        string Required(string name, int max = 200)
        {
            var value = header(name)?.Trim();
            if (string.IsNullOrEmpty(value))
            {
                errors[name] = [$"header '{name}' is required (the AzureFunction@1 task sends it by default in Callback mode)"];
                return string.Empty;
            }

            if (value.Length > max)
            {
                errors[name] = [$"header '{name}' may be at most {max} characters"];
            }

            return value;
        }

        var planUrl = Required("PlanUrl", 2000);
        var callback = new GateCallback(planUrl, Required("ProjectId"), Required("HubName"), Required("PlanId"), Required("JobId"), Required("TaskInstanceId"), Required("AuthToken", 16_000), header("TimelineId")?.Trim() is { Length: > 0 and <= 200 } timeline ? timeline : null);
        if (planUrl.Length > 0 && (!Uri.TryCreate(planUrl, UriKind.Absolute, out var uri) || uri.Scheme is not ("https" or "http") || !string.IsNullOrEmpty(uri.UserInfo)))
        {
            errors["PlanUrl"] = ["header 'PlanUrl' must be an absolute http(s) URL, e.g. $(system.CollectionUri)"];
        }

        foreach (var (name, value) in new[] { ("ProjectId", callback.ProjectId), ("HubName", callback.HubName), ("PlanId", callback.PlanId), ("JobId", callback.JobId), ("TaskInstanceId", callback.TaskInstanceId) })
        {
            if (value.Length > 0 && value.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')))
            {
                errors[name] = [$"header '{name}' may hold only letters, digits, '-', '_' and '.'"];
            }
        }

        return errors.Count == 0 ? (callback, errors) : (null, errors);
    }

    /// <summary>The plan's events endpoint.</summary>
    public static Uri EventsUri(GateCallback callback) => new(
        $"{callback.PlanUrl.TrimEnd('/')}/{Uri.EscapeDataString(callback.ProjectId)}/_apis/distributedtask/hubs/{Uri.EscapeDataString(callback.HubName)}/plans/{Uri.EscapeDataString(callback.PlanId)}/events?api-version={ApiVersion}");

    /// <summary>The <c>TaskCompleted</c> event's body.</summary>
    public static string TaskCompletedBody(GateCallback callback, string result) => JsonSerializer.Serialize(
        new TaskCompletedEvent("TaskCompleted", callback.TaskInstanceId, callback.JobId, result), RolloutJson.Options);

    private sealed record TaskCompletedEvent(string Name, string TaskId, string JobId, string Result);
}

/// <summary>What a gate-callback delivery carries: where to post and the result to report.</summary>
public sealed record GateCallbackPayload(GateCallback Callback, string Result, string WaiterId)
{
    /// <summary>The stored form.</summary>
    public string Serialize() => JsonSerializer.Serialize(this, RolloutJson.Options);

    /// <summary>Reads the stored form.</summary>
    public static GateCallbackPayload Deserialize(string text) =>
        JsonSerializer.Deserialize<GateCallbackPayload>(text, RolloutJson.Options) ?? throw new InvalidDataException("empty gate callback payload");
}

/// <summary>
/// Posts <c>TaskCompleted</c> to the plan's events endpoint with the job's token as a bearer token. 400, 401, 403 and
/// 404 are final (the job is gone or its token expired); timeouts, 429 (with <c>Retry-After</c>) and 5xx are retried.
/// </summary>
public sealed class AzureDevOpsGateHandler(HttpClient client, TimeProvider time, TimeSpan? timeout = null) : IDeliveryHandler
{
    /// <inheritdoc/>
    public DeliveryKind Kind => DeliveryKind.GateCallback;

    /// <inheritdoc/>
    public Task<DeliveryResult> DeliverAsync(Delivery delivery, CancellationToken cancellationToken)
    {
        var payload = GateCallbackPayload.Deserialize(delivery.Payload);
        var body = AzureDevOpsGate.TaskCompletedBody(payload.Callback, payload.Result);
        return PeerCall.SendAsync(
            client,
            () =>
            {
                var request = new HttpRequestMessage(HttpMethod.Post, AzureDevOpsGate.EventsUri(payload.Callback))
                {
                    Content = new StringContent(body, Encoding.UTF8, "application/json"),
                };
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", payload.Callback.AuthToken);
                return request;
            },
            timeout ?? TimeSpan.FromSeconds(30),
            time,
            cancellationToken,
            status => status is HttpStatusCode.BadRequest or HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden or HttpStatusCode.NotFound);
    }
}
