using System.Collections.Immutable;
using System.Text.Json;
using Rollout.Core.Engine;

namespace Rollout.Core.Api;

/// <summary>The JSON body of a command request (<c>POST /api/rollouts/{id}/{kind}</c>), as every host accepts it.</summary>
/// <param name="Actor">Who pauses, resumes or rolls back.</param>
/// <param name="Reason">Why (required for pause and rollback).</param>
/// <param name="Approver">Who signs the stage off (approve); <paramref name="Actor"/> is accepted in its place.</param>
/// <param name="Comment">An approver's comment.</param>
/// <param name="Signal">The signal's name, e.g. <c>critical-issue</c>.</param>
/// <param name="Source">Who or what sends the signal.</param>
/// <param name="Message">The signal's message.</param>
/// <param name="CommandId">Makes retries idempotent: resending it applies the command once.</param>
public sealed record CommandBody(
    string? Actor = null,
    string? Reason = null,
    string? Approver = null,
    string? Comment = null,
    string? Signal = null,
    string? Source = null,
    string? Message = null,
    string? CommandId = null);

/// <summary>
/// Turns a command request body into a <see cref="RolloutCommand"/>, naming every missing field by JSON path.
/// The one implementation shared by the local host and the Functions app.
/// </summary>
public static class CommandCodec
{
    /// <summary>The route segments of the commands: <c>/api/rollouts/{id}/{kind}</c>.</summary>
    public static readonly ImmutableArray<string> Kinds = ["pause", "resume", "rollback", "approve", "signals"];

    private const int MaxField = 2000;

    /// <summary>Parses <paramref name="body"/> as the command <paramref name="kind"/>; on failure the command is null and the errors say why.</summary>
    public static (RolloutCommand? Command, Dictionary<string, string[]> Errors) Parse(string kind, string body)
    {
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        CommandBody? dto;
        try
        {
            dto = string.IsNullOrWhiteSpace(body) ? new CommandBody() : JsonSerializer.Deserialize<CommandBody>(body, RolloutJson.Options);
        }
        catch (JsonException ex)
        {
            errors["$"] = [$"the body is not valid JSON: {ex.Message}"];
            return (null, errors);
        }

        if (dto is null)
        {
            errors["$"] = ["the body must be a JSON object"];
            return (null, errors);
        }

        string Required(string? value, string field, string why)
        {
            if (string.IsNullOrWhiteSpace(value))
            {
                errors[$"$.{field}"] = [$"'{field}' is required: {why}"];
                return string.Empty;
            }

            if (value.Length > MaxField)
            {
                errors[$"$.{field}"] = [$"'{field}' may be at most {MaxField} characters"];
            }

            return value.Trim();
        }

        RolloutCommand? command = kind switch
        {
            "pause" => new PauseCommand(Required(dto.Actor, "actor", "who pauses"), Required(dto.Reason, "reason", "why it is paused"), dto.CommandId),
            "resume" => new ResumeCommand(Required(dto.Actor, "actor", "who resumes"), dto.Reason, dto.CommandId),
            "rollback" => new RollbackCommand(Required(dto.Actor, "actor", "who rolls back"), Required(dto.Reason, "reason", "why it is rolled back"), dto.CommandId),
            "approve" => new ApproveCommand(Required(dto.Approver ?? dto.Actor, "approver", "who signs the stage off"), dto.Comment, dto.CommandId),
            "signals" or "signal" => new SignalCommand(Required(dto.Signal, "signal", "the signal's name, e.g. critical-issue"), Required(dto.Source, "source", "who or what sends it"), dto.Message, dto.CommandId),
            _ => null,
        };

        if (command is null)
        {
            errors["$"] = [$"unknown command '{kind}'"];
        }

        if (dto.CommandId is { Length: > 200 })
        {
            errors["$.commandId"] = ["'commandId' may be at most 200 characters"];
        }

        return errors.Count == 0 ? (command, errors) : (null, errors);
    }

    /// <summary>Re-reads a stored command with its assigned id, or null when it cannot be read.</summary>
    public static RolloutCommand? Decode(string kind, string body, string commandId) =>
        Parse(kind, body).Command is { } command ? command with { CommandId = commandId } : null;
}

/// <summary>A command as the API reports it.</summary>
/// <param name="Id">The command id (given or assigned).</param>
/// <param name="Kind">pause, resume, rollback, approve or signal.</param>
/// <param name="Status">How it was taken.</param>
/// <param name="Message">A sentence a person can read.</param>
public sealed record CommandView(string Id, string Kind, CommandStatus Status, string Message);

/// <summary>The <c>200</c> answer to a command: the command and the rollout after it.</summary>
/// <param name="Command">The command.</param>
/// <param name="Rollout">The rollout after the command, when known.</param>
public sealed record CommandAnswer(CommandView Command, RolloutView? Rollout);

/// <summary>The answer of <c>GET /api/flags/{flag}/evaluate</c>.</summary>
/// <param name="Flag">The flag.</param>
/// <param name="Enabled">Whether the flag is on for the subject.</param>
/// <param name="Reason">Why.</param>
/// <param name="Stage">The stage whose exposure decided, if any.</param>
/// <param name="Percent">The percentage of subjects the flag's exposure buckets in now.</param>
/// <param name="RolloutId">The rollout that set the flag's exposure, if any.</param>
public sealed record FlagAnswer(string Flag, bool Enabled, string Reason, string? Stage, decimal Percent, string? RolloutId);
