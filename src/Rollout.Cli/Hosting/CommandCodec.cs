using System.Text.Json;
using Rollout.Core.Api;
using Rollout.Core.Engine;

namespace Rollout.Cli.Hosting;

/// <summary>The JSON body of a command request, as the API accepts it.</summary>
internal sealed record CommandBody(
    string? Actor = null,
    string? Reason = null,
    string? Approver = null,
    string? Comment = null,
    string? Signal = null,
    string? Source = null,
    string? Message = null,
    string? CommandId = null);

/// <summary>Turns a command request body into a <see cref="RolloutCommand"/>, naming every missing field.</summary>
internal static class CommandCodec
{
    public static readonly IReadOnlyList<string> Kinds = ["pause", "resume", "rollback", "approve", "signals"];

    private const int MaxField = 2000;

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

    public static RolloutCommand? Decode(string kind, string body, string commandId) =>
        Parse(kind, body).Command is { } command ? command with { CommandId = commandId } : null;
}
