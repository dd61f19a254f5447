using System.Text.Json;

namespace Rollout.Core.Api;

/// <summary>
/// An Azure Monitor alert in the common alert schema (<c>schemaId: azureMonitorCommonAlertSchema</c>), reduced to
/// what a rollout needs: which rollouts it names, which stop signal it raises, and an idempotency key.
/// Targets come from the webhook URL's query (<c>flag</c>, <c>rolloutId</c>, <c>signal</c>) or from the alert
/// rule's custom properties (<c>rolloutFlag</c>, <c>rolloutId</c>, <c>rolloutSignal</c>).
/// </summary>
/// <param name="AlertId">The alert's id (<c>essentials.alertId</c>).</param>
/// <param name="Rule">The alert rule's name.</param>
/// <param name="Fired">True for <c>Fired</c>, false for <c>Resolved</c>.</param>
/// <param name="Signal">The stop signal: a fired alert raises it; a resolved one is recorded as <c>{signal}-resolved</c>.</param>
/// <param name="Flag">The flag whose unfinished rollout is named, if any.</param>
/// <param name="RolloutId">The rollout named directly, if any.</param>
/// <param name="Message">Severity, rule and description, for the audit log.</param>
public sealed record AzureMonitorAlert(string AlertId, string Rule, bool Fired, string Signal, string? Flag, string? RolloutId, string Message)
{
    /// <summary>The signal raised when neither the URL nor the rule names one.</summary>
    public const string DefaultSignal = "azure-monitor-alert";

    /// <summary>The signal name as recorded: resolved alerts get a <c>-resolved</c> suffix so no plan stops on them by accident.</summary>
    public string RecordedSignal => Fired ? Signal : $"{Signal}-resolved";

    /// <summary>A command id that makes Azure Monitor's webhook retries idempotent.</summary>
    public string CommandId => $"azmon:{AlertId}:{(Fired ? "fired" : "resolved")}";

    /// <summary>The source recorded in the audit log.</summary>
    public string Source => $"azure-monitor:{Rule}";

    /// <summary>Reads a payload; returns null with every problem (by JSON path) when it is not a usable alert.</summary>
    public static AzureMonitorAlert? Parse(string body, IReadOnlyDictionary<string, string?> query, out Dictionary<string, string[]> errors)
    {
        errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        JsonElement root;
        try
        {
            using var document = JsonDocument.Parse(body);
            root = document.RootElement.Clone();
        }
        catch (JsonException ex)
        {
            errors["$"] = [$"the body is not valid JSON: {ex.Message}"];
            return null;
        }

        if (root.ValueKind != JsonValueKind.Object || Text(root, "schemaId") != "azureMonitorCommonAlertSchema")
        {
            errors["$.schemaId"] = ["expected 'azureMonitorCommonAlertSchema': enable the common alert schema on the action group's webhook"];
            return null;
        }

        if (!root.TryGetProperty("data", out var data) || !data.TryGetProperty("essentials", out var essentials) || essentials.ValueKind != JsonValueKind.Object)
        {
            errors["$.data.essentials"] = ["missing"];
            return null;
        }

        var custom = data.TryGetProperty("customProperties", out var c) && c.ValueKind == JsonValueKind.Object ? c : default;
        string? Custom(string name) => custom.ValueKind == JsonValueKind.Object ? Text(custom, name) : null;
        string? Query(string name) => query.TryGetValue(name, out var v) && !string.IsNullOrWhiteSpace(v) ? v.Trim() : null;

        var alertId = Text(essentials, "alertId");
        var condition = Text(essentials, "monitorCondition");
        if (string.IsNullOrWhiteSpace(alertId))
        {
            errors["$.data.essentials.alertId"] = ["missing"];
        }

        if (condition is not ("Fired" or "Resolved"))
        {
            errors["$.data.essentials.monitorCondition"] = [$"'{condition}' is neither Fired nor Resolved"];
        }

        var flag = Query("flag") ?? Custom("rolloutFlag");
        var rolloutId = Query("rolloutId") ?? Custom("rolloutId");
        if (flag is null && rolloutId is null)
        {
            errors["$.data.customProperties"] = ["the alert names no rollout: add the custom property 'rolloutFlag' (or 'rolloutId') to the alert rule, or '?flag=' to the webhook URL"];
        }

        if (errors.Count > 0)
        {
            return null;
        }

        var rule = Text(essentials, "alertRule") ?? "unnamed rule";
        var severity = Text(essentials, "severity");
        var description = Text(essentials, "description");
        var message = $"{severity} {rule} {condition}" + (string.IsNullOrWhiteSpace(description) ? string.Empty : $": {description}");
        return new AzureMonitorAlert(alertId!, rule, condition == "Fired", Query("signal") ?? Custom("rolloutSignal") ?? DefaultSignal, flag, rolloutId, message.Trim());
    }

    private static string? Text(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}
