using System.Collections.Immutable;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Rollout.Core.Api;

namespace Rollout.Functions.Http;

/// <summary>A JSON answer written with the API's conventions (<see cref="RolloutJson"/>), as the local host writes it.</summary>
/// <param name="Value">The body.</param>
/// <param name="StatusCode">The status code.</param>
/// <param name="ContentType">The content type.</param>
/// <param name="Location">The <c>Location</c> header, if any.</param>
public sealed record JsonPayloadResult(object? Value, int StatusCode = StatusCodes.Status200OK, string ContentType = ApiResults.Json, string? Location = null) : IActionResult
{
    /// <inheritdoc/>
    public async Task ExecuteResultAsync(ActionContext context)
    {
        var response = context.HttpContext.Response;
        response.StatusCode = StatusCode;
        response.ContentType = ContentType;
        if (Location is not null)
        {
            response.Headers.Location = Location;
        }

        await JsonSerializer.SerializeAsync(response.Body, Value, Value?.GetType() ?? typeof(object), RolloutJson.Options, context.HttpContext.RequestAborted);
    }
}

/// <summary>A text answer (the release brief, the health probe).</summary>
/// <param name="Text">The body.</param>
/// <param name="ContentType">The content type.</param>
public sealed record TextPayloadResult(string Text, string ContentType) : IActionResult
{
    /// <inheritdoc/>
    public async Task ExecuteResultAsync(ActionContext context)
    {
        var response = context.HttpContext.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = ContentType;
        await response.Body.WriteAsync(Encoding.UTF8.GetBytes(Text), context.HttpContext.RequestAborted);
    }
}

/// <summary>The answers shared by the triggers: same bodies, content types and problem shapes as the local host.</summary>
public static class ApiResults
{
    /// <summary>The JSON content type.</summary>
    public const string Json = "application/json; charset=utf-8";

    /// <summary>The RFC 7807 content type.</summary>
    public const string ProblemJson = "application/problem+json";

    /// <summary>200 with a JSON body.</summary>
    public static JsonPayloadResult Ok(object? value) => new(value);

    /// <summary>An RFC 7807 problem with optional extension members.</summary>
    public static JsonPayloadResult Problem(int status, string title, string detail, IReadOnlyDictionary<string, object?>? extensions = null)
    {
        var body = new Dictionary<string, object?> { ["type"] = "about:blank", ["title"] = title, ["status"] = status, ["detail"] = detail };
        foreach (var (key, value) in extensions ?? ImmutableDictionary<string, object?>.Empty)
        {
            body[key] = value;
        }

        return new(body, status, ProblemJson);
    }

    /// <summary>404 for an unknown rollout.</summary>
    public static JsonPayloadResult NotFound(string id) => Problem(StatusCodes.Status404NotFound, "Not found", $"no rollout '{id}'");

    /// <summary>400 listing every problem of a plan by JSON path.</summary>
    public static JsonPayloadResult InvalidPlan(IReadOnlyDictionary<string, ImmutableArray<string>> errors) => new(
        new
        {
            type = "https://rollout.dev/problems/invalid-plan",
            title = "The plan is invalid",
            status = StatusCodes.Status400BadRequest,
            detail = $"{errors.Sum(e => e.Value.Length)} problem(s); nothing was stored",
            errors,
        },
        StatusCodes.Status400BadRequest,
        ProblemJson);

    /// <summary>400 listing every missing or bad field of a command by JSON path.</summary>
    public static JsonPayloadResult InvalidCommand(IReadOnlyDictionary<string, string[]> errors) => new(
        new { type = "https://rollout.dev/problems/invalid-command", title = "The command is invalid", status = StatusCodes.Status400BadRequest, detail = "nothing was changed", errors },
        StatusCodes.Status400BadRequest,
        ProblemJson);
}

/// <summary>Reads a request body up to a limit.</summary>
public static class RequestBody
{
    /// <summary>Bodies are limited to 1 MB (413 beyond), as on the local host.</summary>
    public const long MaxBytes = 1024 * 1024;

    /// <summary>The body as text, or <c>TooLarge</c> when it exceeds <see cref="MaxBytes"/>.</summary>
    public static async Task<(string Body, bool TooLarge)> ReadAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        if (request.ContentLength > MaxBytes)
        {
            return (string.Empty, true);
        }

        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, cancellationToken)) > 0)
        {
            if (buffer.Length + read > MaxBytes)
            {
                return (string.Empty, true);
            }

            buffer.Write(chunk, 0, read);
        }

        return (Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length).TrimStart('\uFEFF'), false);
    }
}
