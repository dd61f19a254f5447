using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http.Features;
using Rollout.Core.Api;
using Rollout.Core.Briefs;
using Rollout.Core.Engine;
using Rollout.Core.Plans;
using Rollout.Core.Storage;
using Rollout.Core.Targeting;

namespace Rollout.Cli.Hosting;

/// <summary>The HTTP API of the design, identical in routes and payloads to the Functions app.</summary>
internal static class Api
{
    public const string KeyHeader = "x-functions-key";
    public const long MaxBodyBytes = 1024 * 1024;

    public static void Map(WebApplication app, string apiKey)
    {
        var keyBytes = Encoding.UTF8.GetBytes(apiKey);
        var api = app.MapGroup("/api");
        var mutating = api.MapGroup(string.Empty).AddEndpointFilter(async (context, next) =>
        {
            // The key comes in the header, or, like Azure Functions' function keys, as ?code= for callers that
            // cannot set headers (Azure Monitor action group webhooks).
            var request = context.HttpContext.Request;
            var given = request.Headers[KeyHeader].ToString() is { Length: > 0 } header ? header : request.Query["code"].ToString();
            return CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(given), keyBytes)
                ? await next(context)
                : Problem(StatusCodes.Status401Unauthorized, "Unauthorized", $"send the API key in the '{KeyHeader}' header");
        });

        Integrations.IntegrationEndpoints.Map(api, mutating);
        mutating.MapPost("/rollouts", StartAsync);
        mutating.MapPost("/alerts/azure-monitor", AzureMonitorAlertAsync);
        foreach (var kind in CommandCodec.Kinds)
        {
            mutating.MapPost($"/rollouts/{{id}}/{kind}", (string id, HttpRequest request, RolloutRuntime runtime, CancellationToken ct) => CommandAsync(id, kind, request, runtime, ct));
        }

        api.MapGet("/rollouts", ListAsync);
        api.MapGet("/rollouts/{id}", async (string id, RolloutRuntime runtime, CancellationToken ct) =>
            await runtime.Store.GetAsync(id, ct) is { } r ? Json(RolloutView.From(r.State)) : NotFound(id));
        api.MapGet("/rollouts/{id}/audit", async (string id, long? after, RolloutRuntime runtime, CancellationToken ct) =>
            await runtime.Store.GetAsync(id, ct) is null ? NotFound(id) : Json(await runtime.Store.GetAuditAsync(id, after ?? 0, ct)));
        api.MapGet("/rollouts/{id}/plan", async (string id, RolloutRuntime runtime, CancellationToken ct) =>
            await runtime.Store.GetAsync(id, ct) is { } r ? Json(r.State.Plan) : NotFound(id));
        api.MapGet("/rollouts/{id}/brief", async (string id, RolloutRuntime runtime, CancellationToken ct) =>
            await runtime.Store.GetAsync(id, ct) is { } r ? Results.Text(ReleaseBrief.Render(r.State.Plan, id), "text/markdown; charset=utf-8") : NotFound(id));
        api.MapGet("/rollouts/{id}/gate", async (string id, string? until, RolloutRuntime runtime, CancellationToken ct) =>
            await runtime.Store.GetAsync(id, ct) is { } r ? Json(GateView.From(r.State, until)) : NotFound(id));
        api.MapGet("/flags/{flag}/evaluate", EvaluateFlag);
        app.MapGet("/healthz", () => Results.Text("ok"));
    }

    private static async Task<IResult> StartAsync(HttpRequest request, RolloutRuntime runtime, CancellationToken ct)
    {
        var (body, tooLarge) = await ReadBodyAsync(request, ct);
        if (tooLarge)
        {
            return Problem(StatusCodes.Status413PayloadTooLarge, "Plan too large", $"a plan may be at most {MaxBodyBytes} bytes");
        }

        var mediaType = request.ContentType?.Split(';')[0].Trim().ToLowerInvariant();
        var isYaml = mediaType is "application/yaml" or "application/x-yaml" or "text/yaml" or "text/x-yaml";
        var parsed = PlanParser.Parse(body, isYaml, runtime.Catalog);
        parsed = Integrations.IntegrationChecks.Check(parsed, request.HttpContext.RequestServices);
        if (!parsed.IsValid)
        {
            return Results.Json(
                new
                {
                    type = "https://rollout.dev/problems/invalid-plan",
                    title = "The plan is invalid",
                    status = 400,
                    detail = $"{parsed.Errors.Sum(e => e.Value.Length)} problem(s); nothing was stored",
                    errors = parsed.Errors,
                },
                RolloutJson.Options,
                "application/problem+json",
                StatusCodes.Status400BadRequest);
        }

        try
        {
            var actor = request.Headers["x-rollout-actor"].ToString() is { Length: > 0 and <= 200 } a ? a : parsed.Plan!.Owner ?? "api";
            var state = await runtime.StartAsync(parsed.Plan!, actor, ct);
            var uri = $"/api/rollouts/{state.Id}";
            request.HttpContext.Response.Headers.Location = uri;
            return Results.Json(new { id = state.Id, status = state.Status, statusUri = uri }, RolloutJson.Options, statusCode: StatusCodes.Status202Accepted);
        }
        catch (FlagBusyException ex)
        {
            return Problem(StatusCodes.Status409Conflict, "Flag busy", ex.Message, new() { ["activeRolloutId"] = ex.ActiveRolloutId });
        }
    }

    private static async Task<IResult> CommandAsync(string id, string kind, HttpRequest request, RolloutRuntime runtime, CancellationToken ct)
    {
        var (body, tooLarge) = await ReadBodyAsync(request, ct);
        if (tooLarge)
        {
            return Problem(StatusCodes.Status413PayloadTooLarge, "Body too large", $"a command may be at most {MaxBodyBytes} bytes");
        }

        var (command, errors) = CommandCodec.Parse(kind, body);
        if (command is null)
        {
            return Results.Json(
                new { type = "https://rollout.dev/problems/invalid-command", title = "The command is invalid", status = 400, detail = "nothing was changed", errors },
                RolloutJson.Options,
                "application/problem+json",
                StatusCodes.Status400BadRequest);
        }

        var outcome = await runtime.ExecuteAsync(id, command, body, ct);
        if (outcome is null)
        {
            return NotFound(id);
        }

        var payload = new CommandAnswer(new CommandView(outcome.CommandId, command.Kind, outcome.Result.Status, outcome.Result.Message), outcome.State is { } s ? RolloutView.From(s) : null);
        return outcome.Result.Status switch
        {
            CommandStatus.Forbidden => Problem(StatusCodes.Status403Forbidden, "Forbidden", outcome.Result.Message, new() { ["commandId"] = outcome.CommandId }),
            CommandStatus.Conflict => Problem(StatusCodes.Status409Conflict, "Conflict", outcome.Result.Message, new() { ["commandId"] = outcome.CommandId }),
            _ => Results.Json(payload, RolloutJson.Options),
        };
    }

    private static async Task<IResult> AzureMonitorAlertAsync(HttpRequest request, RolloutRuntime runtime, CancellationToken ct)
    {
        var (body, tooLarge) = await ReadBodyAsync(request, ct);
        if (tooLarge)
        {
            return Problem(StatusCodes.Status413PayloadTooLarge, "Alert too large", $"an alert may be at most {MaxBodyBytes} bytes");
        }

        var query = request.Query.ToDictionary(q => q.Key, q => (string?)q.Value.ToString(), StringComparer.OrdinalIgnoreCase);
        if (AzureMonitorAlert.Parse(body, query, out var errors) is not { } alert)
        {
            return Results.Json(
                new { type = "https://rollout.dev/problems/invalid-alert", title = "The alert is not usable", status = 400, detail = "nothing was changed", errors },
                RolloutJson.Options,
                "application/problem+json",
                StatusCodes.Status400BadRequest);
        }

        var targets = new List<string>();
        if (alert.RolloutId is { } named)
        {
            targets.Add(named);
        }

        if (alert.Flag is { } flag && runtime.Flags.Evaluate(flag, default).Entry is { } entry && entry.RolloutId is { } active && !targets.Contains(active))
        {
            targets.Add(active);
        }

        var results = new List<object>();
        foreach (var id in targets)
        {
            var command = new SignalCommand(alert.RecordedSignal, alert.Source, alert.Message, alert.CommandId);
            var outcome = await runtime.ExecuteAsync(id, command, JsonSerializer.Serialize(new CommandBody(Signal: command.Signal, Source: command.Source, Message: command.Message), RolloutJson.Options), ct);
            results.Add(new { rolloutId = id, status = outcome?.Result.Status.ToString() ?? "NotFound", message = outcome?.Result.Message ?? $"no rollout '{id}'" });
        }

        return Results.Json(new { alert = alert.AlertId, signal = alert.RecordedSignal, rollouts = results }, RolloutJson.Options);
    }

    private static async Task<IResult> ListAsync(string? status, int? limit, RolloutRuntime runtime, CancellationToken ct)
    {
        RolloutStatus? filter = null;
        if (!string.IsNullOrWhiteSpace(status))
        {
            if (!Enum.TryParse<RolloutStatus>(status, ignoreCase: true, out var parsed) || int.TryParse(status, out _))
            {
                return Problem(StatusCodes.Status400BadRequest, "Bad status", $"'{status}' is not a status: use {string.Join(", ", Enum.GetNames<RolloutStatus>())}");
            }

            filter = parsed;
        }

        var list = await runtime.Store.ListAsync(filter, Math.Clamp(limit ?? 200, 1, 1000), ct);
        return Json(list.Select(r => RolloutView.From(r.State)));
    }

    private static IResult EvaluateFlag(string flag, string? subject, string[]? group, string? tenant, string? region, string? role, RolloutRuntime runtime)
    {
        var context = new SubjectContext(subject, group, tenant, region, role);
        var (decision, entry) = runtime.Flags.Evaluate(flag, context);
        return Results.Json(new FlagAnswer(flag, decision.Enabled, decision.Reason, entry?.Exposure.StageName, entry?.Exposure.Percent ?? 0m, entry?.RolloutId), RolloutJson.Options);
    }

    private static async Task<(string Body, bool TooLarge)> ReadBodyAsync(HttpRequest request, CancellationToken ct)
    {
        if (request.ContentLength > MaxBodyBytes)
        {
            return (string.Empty, true);
        }

        if (request.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = MaxBodyBytes;
        }

        try
        {
            using var reader = new StreamReader(request.Body, Encoding.UTF8);
            var text = await reader.ReadToEndAsync(ct);
            return (text, false);
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return (string.Empty, true);
        }
    }

    private static IResult Json(object value) => Results.Json(value, RolloutJson.Options);

    private static IResult NotFound(string id) => Problem(StatusCodes.Status404NotFound, "Not found", $"no rollout '{id}'");

    private static IResult Problem(int status, string title, string detail, Dictionary<string, object?>? extensions = null)
    {
        var body = new Dictionary<string, object?> { ["type"] = "about:blank", ["title"] = title, ["status"] = status, ["detail"] = detail };
        foreach (var (key, value) in extensions ?? [])
        {
            body[key] = value;
        }

        return Results.Json(body, RolloutJson.Options, "application/problem+json", status);
    }
}
