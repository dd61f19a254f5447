using System.Globalization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask.Client;
using Rollout.Core.Api;
using Rollout.Core.Briefs;
using Rollout.Core.Engine;
using Rollout.Core.Plans;
using Rollout.Core.Storage;
using Rollout.Core.Targeting;
using Rollout.Functions.Effects;
using Rollout.Integrations.Hosting;
using Rollout.Integrations.Metrics;

namespace Rollout.Functions.Http;

/// <summary>
/// The HTTP API of the design as HTTP triggers: the local host's routes (host.json sets an empty route prefix, so the
/// routes here are the full paths) and payloads. Keys are the host's job: every route under <c>/api/rollouts</c> is
/// <see cref="AuthorizationLevel.Function"/>, so the host answers 401 unless <c>x-functions-key</c> (or <c>?code=</c>)
/// holds a function or host key, before any code here runs. Flag evaluation and the health probe are anonymous.
/// </summary>
public sealed class RolloutApi(IRolloutStore store, CriteriaEvaluator evaluator, FlagCache flags, RolloutCommands commands, IntegrationSettings integrations)
{
    /// <summary>Route of the collection.</summary>
    public const string RolloutsRoute = "api/rollouts";

    /// <summary><c>POST /api/rollouts</c>: a plan (JSON, or YAML by content type) → 202 with the status URL.</summary>
    [Function(nameof(StartRollout))]
    public async Task<IActionResult> StartRollout(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = RolloutsRoute)] HttpRequest request,
        [DurableClient] DurableTaskClient client,
        CancellationToken cancellationToken)
    {
        var (body, tooLarge) = await RequestBody.ReadAsync(request, cancellationToken);
        if (tooLarge)
        {
            return ApiResults.Problem(StatusCodes.Status413PayloadTooLarge, "Plan too large", $"a plan may be at most {RequestBody.MaxBytes} bytes");
        }

        var mediaType = request.ContentType?.Split(';')[0].Trim().ToLowerInvariant();
        var isYaml = mediaType is "application/yaml" or "application/x-yaml" or "text/yaml" or "text/x-yaml";
        // Channels and App Configuration connections the plan names must be configured on this app.
        var parsed = integrations.Check(PlanParser.Parse(body, isYaml, evaluator.Catalog));
        if (!parsed.IsValid)
        {
            return ApiResults.InvalidPlan(parsed.Errors);
        }

        var plan = parsed.Plan!;
        var actor = request.Headers["x-rollout-actor"].ToString() is { Length: > 0 and <= 200 } a ? a : plan.Owner ?? "api";
        try
        {
            var state = await commands.StartAsync(client, plan, actor, cancellationToken);
            var uri = $"/{RolloutsRoute}/{state.Id}";
            return new JsonPayloadResult(new { id = state.Id, status = state.Status, statusUri = uri }, StatusCodes.Status202Accepted, Location: uri);
        }
        catch (FlagBusyException ex)
        {
            return ApiResults.Problem(StatusCodes.Status409Conflict, "Flag busy", ex.Message, new Dictionary<string, object?> { ["activeRolloutId"] = ex.ActiveRolloutId });
        }
    }

    /// <summary><c>GET /api/rollouts?status=&amp;limit=</c>: newest first.</summary>
    [Function(nameof(ListRollouts))]
    public async Task<IActionResult> ListRollouts(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = RolloutsRoute)] HttpRequest request,
        CancellationToken cancellationToken)
    {
        RolloutStatus? filter = null;
        if (request.Query["status"].ToString() is { Length: > 0 } status)
        {
            if (!Enum.TryParse<RolloutStatus>(status, ignoreCase: true, out var parsed) || int.TryParse(status, out _))
            {
                return ApiResults.Problem(StatusCodes.Status400BadRequest, "Bad status", $"'{status}' is not a status: use {string.Join(", ", Enum.GetNames<RolloutStatus>())}");
            }

            filter = parsed;
        }

        var limit = 200;
        if (request.Query["limit"].ToString() is { Length: > 0 } text && !int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out limit))
        {
            return ApiResults.Problem(StatusCodes.Status400BadRequest, "Bad limit", $"'{text}' is not a number");
        }

        var list = await store.ListAsync(filter, Math.Clamp(limit, 1, 1000), cancellationToken);
        return ApiResults.Ok(list.Select(r => RolloutView.From(r.State)).ToList());
    }

    /// <summary><c>GET /api/rollouts/{id}</c>.</summary>
    [Function(nameof(GetRollout))]
    public async Task<IActionResult> GetRollout(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = RolloutsRoute + "/{id}")] HttpRequest request,
        string id,
        CancellationToken cancellationToken) =>
        await store.GetAsync(id, cancellationToken) is { } r ? ApiResults.Ok(RolloutView.From(r.State)) : ApiResults.NotFound(id);

    /// <summary><c>GET /api/rollouts/{id}/audit?after=seq</c>.</summary>
    [Function(nameof(GetAudit))]
    public async Task<IActionResult> GetAudit(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = RolloutsRoute + "/{id}/audit")] HttpRequest request,
        string id,
        CancellationToken cancellationToken)
    {
        var after = 0L;
        if (request.Query["after"].ToString() is { Length: > 0 } text && !long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out after))
        {
            return ApiResults.Problem(StatusCodes.Status400BadRequest, "Bad after", $"'{text}' is not a sequence number");
        }

        return await store.GetAsync(id, cancellationToken) is null
            ? ApiResults.NotFound(id)
            : ApiResults.Ok(await store.GetAuditAsync(id, after, cancellationToken));
    }

    /// <summary><c>GET /api/rollouts/{id}/plan</c>: the stored plan (the dashboard reads the thresholds from it).</summary>
    [Function(nameof(GetPlan))]
    public async Task<IActionResult> GetPlan(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = RolloutsRoute + "/{id}/plan")] HttpRequest request,
        string id,
        CancellationToken cancellationToken) =>
        await store.GetAsync(id, cancellationToken) is { } r ? ApiResults.Ok(r.State.Plan) : ApiResults.NotFound(id);

    /// <summary><c>GET /api/rollouts/{id}/brief</c>: the release brief as Markdown.</summary>
    [Function(nameof(GetBrief))]
    public async Task<IActionResult> GetBrief(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = RolloutsRoute + "/{id}/brief")] HttpRequest request,
        string id,
        CancellationToken cancellationToken) =>
        await store.GetAsync(id, cancellationToken) is { } r
            ? new TextPayloadResult(ReleaseBrief.Render(r.State.Plan, id), "text/markdown; charset=utf-8")
            : ApiResults.NotFound(id);

    /// <summary><c>GET /api/rollouts/{id}/gate?until=</c>: the Azure DevOps gate.</summary>
    [Function(nameof(GetGate))]
    public async Task<IActionResult> GetGate(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = RolloutsRoute + "/{id}/gate")] HttpRequest request,
        string id,
        CancellationToken cancellationToken) =>
        await store.GetAsync(id, cancellationToken) is { } r
            ? ApiResults.Ok(GateView.From(r.State, request.Query["until"].ToString()))
            : ApiResults.NotFound(id);

    /// <summary><c>POST /api/rollouts/{id}/pause</c> <c>{reason, actor, commandId?}</c>.</summary>
    [Function(nameof(PauseRollout))]
    public Task<IActionResult> PauseRollout(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = RolloutsRoute + "/{id}/pause")] HttpRequest request,
        [DurableClient] DurableTaskClient client,
        string id,
        CancellationToken cancellationToken) => CommandAsync(request, client, id, "pause", cancellationToken);

    /// <summary><c>POST /api/rollouts/{id}/resume</c> <c>{actor, reason?, commandId?}</c>.</summary>
    [Function(nameof(ResumeRollout))]
    public Task<IActionResult> ResumeRollout(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = RolloutsRoute + "/{id}/resume")] HttpRequest request,
        [DurableClient] DurableTaskClient client,
        string id,
        CancellationToken cancellationToken) => CommandAsync(request, client, id, "resume", cancellationToken);

    /// <summary><c>POST /api/rollouts/{id}/rollback</c> <c>{reason, actor, commandId?}</c>.</summary>
    [Function(nameof(RollbackRollout))]
    public Task<IActionResult> RollbackRollout(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = RolloutsRoute + "/{id}/rollback")] HttpRequest request,
        [DurableClient] DurableTaskClient client,
        string id,
        CancellationToken cancellationToken) => CommandAsync(request, client, id, "rollback", cancellationToken);

    /// <summary><c>POST /api/rollouts/{id}/approve</c> <c>{approver, comment?, commandId?}</c>.</summary>
    [Function(nameof(ApproveRollout))]
    public Task<IActionResult> ApproveRollout(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = RolloutsRoute + "/{id}/approve")] HttpRequest request,
        [DurableClient] DurableTaskClient client,
        string id,
        CancellationToken cancellationToken) => CommandAsync(request, client, id, "approve", cancellationToken);

    /// <summary><c>POST /api/rollouts/{id}/signals</c> <c>{signal, source, message?, commandId?}</c>.</summary>
    [Function(nameof(SignalRollout))]
    public Task<IActionResult> SignalRollout(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = RolloutsRoute + "/{id}/signals")] HttpRequest request,
        [DurableClient] DurableTaskClient client,
        string id,
        CancellationToken cancellationToken) => CommandAsync(request, client, id, "signals", cancellationToken);

    /// <summary>
    /// <c>POST /api/alerts/azure-monitor?flag=&amp;rolloutId=&amp;signal=</c>: an Azure Monitor alert (common alert schema)
    /// becomes a stop signal on the rollouts it names, as on the local host. Action groups send the key as <c>?code=</c>.
    /// </summary>
    [Function(nameof(AzureMonitorAlert))]
    public async Task<IActionResult> AzureMonitorAlert(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = "api/alerts/azure-monitor")] HttpRequest request,
        [DurableClient] DurableTaskClient client,
        CancellationToken cancellationToken)
    {
        var (body, tooLarge) = await RequestBody.ReadAsync(request, cancellationToken);
        if (tooLarge)
        {
            return ApiResults.Problem(StatusCodes.Status413PayloadTooLarge, "Alert too large", $"an alert may be at most {RequestBody.MaxBytes} bytes");
        }

        var query = request.Query.ToDictionary(q => q.Key, q => (string?)q.Value.ToString(), StringComparer.OrdinalIgnoreCase);
        if (Core.Api.AzureMonitorAlert.Parse(body, query, out var errors) is not { } alert)
        {
            return ApiResults.InvalidCommand(errors);
        }

        var targets = new List<string>();
        if (alert.RolloutId is { } named)
        {
            targets.Add(named);
        }

        if (alert.Flag is { } flag && (await flags.EvaluateAsync(flag, default, cancellationToken)).Entry?.RolloutId is { } active && !targets.Contains(active))
        {
            targets.Add(active);
        }

        var results = new List<object>();
        foreach (var id in targets)
        {
            var command = new SignalCommand(alert.RecordedSignal, alert.Source, alert.Message, alert.CommandId);
            var stored = System.Text.Json.JsonSerializer.Serialize(new CommandBody(Signal: command.Signal, Source: command.Source, Message: command.Message), RolloutJson.Options);
            var outcome = await commands.ExecuteAsync(client, id, command, stored, cancellationToken);
            results.Add(new { rolloutId = id, status = outcome is null ? "NotFound" : outcome.Pending ? "Pending" : outcome.Result.Status.ToString(), message = outcome?.Result.Message ?? $"no rollout '{id}'" });
        }

        return ApiResults.Ok(new { alert = alert.AlertId, signal = alert.RecordedSignal, rollouts = results });
    }

    /// <summary><c>GET /api/flags/{flag}/evaluate?subject=&amp;group=&amp;tenant=&amp;region=&amp;role=</c>, no key needed.</summary>
    [Function(nameof(EvaluateFlag))]
    public async Task<IActionResult> EvaluateFlag(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "api/flags/{flag}/evaluate")] HttpRequest request,
        string flag,
        CancellationToken cancellationToken)
    {
        var query = request.Query;
        string? One(string key) => query[key].ToString() is { Length: > 0 } value ? value : null;
        var groups = query["group"].Where(g => !string.IsNullOrEmpty(g)).Select(g => g!).ToArray();
        var subject = new SubjectContext(One("subject"), groups.Length > 0 ? groups : null, One("tenant"), One("region"), One("role"));
        var (decision, entry) = await flags.EvaluateAsync(flag, subject, cancellationToken);
        return ApiResults.Ok(new FlagAnswer(flag, decision.Enabled, decision.Reason, entry?.Exposure.StageName, entry?.Exposure.Percent ?? 0m, entry?.RolloutId));
    }

    /// <summary><c>GET /healthz</c>.</summary>
    [Function(nameof(Health))]
    public IActionResult Health(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "healthz")] HttpRequest request) =>
        new TextPayloadResult("ok", "text/plain; charset=utf-8");

    private async Task<IActionResult> CommandAsync(HttpRequest request, DurableTaskClient client, string id, string kind, CancellationToken cancellationToken)
    {
        var (body, tooLarge) = await RequestBody.ReadAsync(request, cancellationToken);
        if (tooLarge)
        {
            return ApiResults.Problem(StatusCodes.Status413PayloadTooLarge, "Body too large", $"a command may be at most {RequestBody.MaxBytes} bytes");
        }

        var (command, errors) = CommandCodec.Parse(kind, body);
        if (command is null)
        {
            return ApiResults.InvalidCommand(errors);
        }

        if (await commands.ExecuteAsync(client, id, command, body, cancellationToken) is not { } outcome)
        {
            return ApiResults.NotFound(id);
        }

        var rollout = outcome.State is { } s ? RolloutView.From(s) : null;
        if (outcome.Pending)
        {
            // Not answered within the wait: the command is stored and in the orchestrator's queue. Resending the same
            // commandId later returns its answer; the rollout's state is at statusUri.
            var uri = $"/{RolloutsRoute}/{id}";
            return new JsonPayloadResult(
                new { command = new { id = outcome.CommandId, kind = command.Kind, status = "Pending", message = outcome.Result.Message }, rollout, statusUri = uri },
                StatusCodes.Status202Accepted,
                Location: uri);
        }

        var extensions = new Dictionary<string, object?> { ["commandId"] = outcome.CommandId };
        return outcome.Result.Status switch
        {
            CommandStatus.Forbidden => ApiResults.Problem(StatusCodes.Status403Forbidden, "Forbidden", outcome.Result.Message, extensions),
            CommandStatus.Conflict => ApiResults.Problem(StatusCodes.Status409Conflict, "Conflict", outcome.Result.Message, extensions),
            _ => ApiResults.Ok(new CommandAnswer(new CommandView(outcome.CommandId, command.Kind, outcome.Result.Status, outcome.Result.Message), rollout)),
        };
    }
}
