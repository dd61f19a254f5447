using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Rollout.Core.Api;
using Rollout.Core.Engine;
using Rollout.Core.Gates;
using Rollout.Core.Plans;

namespace Rollout.Integrations.Notifications;

/// <summary>A link that lets <paramref name="Approver"/> review and approve a stage.</summary>
public sealed record ApprovalLink(string Approver, Uri Url);

/// <summary>
/// The Teams messages of a rollout's notable audit entries, as Adaptive Cards in the shape a Teams Workflows webhook
/// ("When a Teams webhook request is received" → "Post card in a chat or channel") takes:
/// <c>{"type":"message","attachments":[{"contentType":"application/vnd.microsoft.card.adaptive","contentUrl":null,"content":{AdaptiveCard 1.4}}]}</c>.
/// Workflows accept Adaptive Cards only (no legacy MessageCard) and support <c>Action.OpenUrl</c> but not
/// <c>Action.Submit</c>, so approval is a link to the host's approval page. Pure: built from the plan and the entry.
/// </summary>
public static class TeamsCards
{
    /// <summary>The attachment content type of an Adaptive Card.</summary>
    public const string AdaptiveCardContentType = "application/vnd.microsoft.card.adaptive";

    /// <summary>The Adaptive Card version used (Teams renders 1.4 everywhere, including mobile).</summary>
    public const string Version = "1.4";

    /// <summary>The message to post for <paramref name="entry"/> of rollout <paramref name="rolloutId"/>.</summary>
    public static JsonObject Message(RolloutPlan plan, string rolloutId, AuditEvent entry, IReadOnlyList<ApprovalLink> approvalLinks)
    {
        var details = entry.Details;
        var stageName = Text(details, "stage");
        var stageIndex = plan.Stages.Select((s, i) => (s, i)).FirstOrDefault(x => string.Equals(x.s.Name, stageName, StringComparison.Ordinal)) is { s: not null } found ? found.i : (int?)null;
        var (title, color) = entry.Type switch
        {
            AuditType.StageEntered => ($"{plan.Name}: stage '{stageName}' entered", "Accent"),
            AuditType.ApprovalRequested => ($"{plan.Name}: stage '{stageName}' awaits approval", "Warning"),
            AuditType.Paused => ($"{plan.Name}: paused in stage '{stageName}'", "Warning"),
            AuditType.RolledBack => ($"{plan.Name}: rolled back in stage '{stageName}'", "Attention"),
            AuditType.Completed => ($"{plan.Name}: completed", "Good"),
            _ => ($"{plan.Name}: {entry.Type}", "Default"),
        };

        var facts = new JsonArray
        {
            Fact("Flag", plan.Flag),
            Fact("Rollout", rolloutId),
        };
        if (stageIndex is { } index)
        {
            facts.Add(Fact("Stage", string.Create(CultureInfo.InvariantCulture, $"{plan.Stages[index].Name} ({index + 1} of {plan.Stages.Length})")));
            facts.Add(Fact("Exposure", entry.Type == AuditType.RolledBack ? "nobody (rolled back)" : Exposure(plan, index)));
        }

        if (entry.Type == AuditType.StageEntered && Text(details, "minDuration") is { } bake)
        {
            facts.Add(Fact("Bake time", bake));
        }

        if (entry.Type == AuditType.Completed && Text(details, "duration") is { } duration)
        {
            facts.Add(Fact("Took", duration));
        }

        facts.Add(Fact("By", entry.Actor));
        facts.Add(Fact("At", entry.At.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss 'UTC'", CultureInfo.InvariantCulture)));

        var body = new JsonArray
        {
            new JsonObject { ["type"] = "TextBlock", ["size"] = "Medium", ["weight"] = "Bolder", ["color"] = color, ["text"] = title, ["wrap"] = true },
            new JsonObject { ["type"] = "FactSet", ["facts"] = facts },
        };

        if (Text(details, "reason") is { } reason)
        {
            body.Add(new JsonObject { ["type"] = "TextBlock", ["text"] = $"Reason: {reason}", ["wrap"] = true, ["weight"] = "Bolder" });
        }

        if (details.ValueKind == JsonValueKind.Object && details.TryGetProperty("evidence", out var evidenceElement) && evidenceElement.ValueKind == JsonValueKind.Object
            && evidenceElement.Deserialize<Evaluation>(RolloutJson.Options) is { } evidence)
        {
            var failingOnly = entry.Type == AuditType.RolledBack && evidence.Criteria.Any(c => c.Outcome == Outcome.Fail);
            var shown = failingOnly ? evidence.Criteria.Where(c => c.Outcome == Outcome.Fail) : evidence.Criteria;
            body.Add(new JsonObject
            {
                ["type"] = "TextBlock",
                ["text"] = string.Create(CultureInfo.InvariantCulture, $"{(failingOnly ? "Failing evidence" : "Evidence")} (checked {evidence.At.UtcDateTime:yyyy-MM-dd HH:mm:ss} UTC: {evidence.Outcome})"),
                ["wrap"] = true,
                ["separator"] = true,
            });
            body.Add(new JsonObject { ["type"] = "FactSet", ["facts"] = new JsonArray([.. shown.Select(c => (JsonNode)Fact(c.Name, Describe(c)))]) });
        }

        if (entry.Type == AuditType.ApprovalRequested && stageIndex is { } awaiting && plan.Stages[awaiting].Approval is { } approval)
        {
            body.Add(new JsonObject { ["type"] = "TextBlock", ["text"] = $"Any one of {string.Join(", ", approval.Approvers)} may approve.", ["wrap"] = true });
        }

        var card = new JsonObject
        {
            ["$schema"] = "http://adaptivecards.io/schemas/adaptive-card.json",
            ["type"] = "AdaptiveCard",
            ["version"] = Version,
            ["body"] = body,
        };
        if (approvalLinks.Count > 0)
        {
            card["actions"] = new JsonArray([.. approvalLinks.Select(l => (JsonNode)new JsonObject
            {
                ["type"] = "Action.OpenUrl",
                ["title"] = $"Review and approve as {l.Approver}",
                ["url"] = l.Url.AbsoluteUri,
            })]);
        }

        return new JsonObject
        {
            ["type"] = "message",
            ["attachments"] = new JsonArray(new JsonObject
            {
                ["contentType"] = AdaptiveCardContentType,
                ["contentUrl"] = null,
                ["content"] = card,
            }),
        };
    }

    /// <summary>A criterion's verdict in one line: outcome, value, baseline, samples and reason.</summary>
    public static string Describe(CriterionResult c)
    {
        var parts = new List<string> { c.Outcome.ToString() };
        if (c.Value is { } value)
        {
            parts.Add(string.Create(CultureInfo.InvariantCulture, $"value {value:0.#####}"));
        }

        if (c.Baseline is { } baseline)
        {
            parts.Add(string.Create(CultureInfo.InvariantCulture, $"baseline {baseline:0.#####}"));
        }

        if (c.Samples is { } samples)
        {
            parts.Add(string.Create(CultureInfo.InvariantCulture, $"{samples} samples"));
        }

        return $"{string.Join(", ", parts)}: {c.Reason}";
    }

    private static string Exposure(RolloutPlan plan, int index)
    {
        var stages = plan.Stages.Take(index + 1).ToArray();
        var percent = stages.Select(s => s.Percent ?? 0m).Max();
        var named = stages.Sum(s => s.Audience.Users.Length + s.Audience.Groups.Length + s.Audience.Tenants.Length + s.Audience.Regions.Length + s.Audience.Roles.Length);
        var text = string.Create(CultureInfo.InvariantCulture, $"{percent:0.###}%");
        return named > 0 ? string.Create(CultureInfo.InvariantCulture, $"{text} + {named} named users, groups, tenants, regions or roles") : text;
    }

    private static JsonObject Fact(string title, string value) => new() { ["title"] = title, ["value"] = value };

    private static string? Text(JsonElement details, string property) =>
        details.ValueKind == JsonValueKind.Object && details.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}
