using System.Globalization;
using System.Text;
using System.Text.Json;
using Rollout.Core.Api;
using Rollout.Core.Engine;

namespace Rollout.Cli.Client;

/// <summary>Formats API answers for people: one line per audit entry, a short table per list.</summary>
internal static class Printer
{
    /// <summary>One delivery of <c>GET /api/rollouts/{id}/deliveries</c>: status, kind, target, attempts, id, then the last error.</summary>
    public static string Delivery(JsonElement d)
    {
        string S(string name) => d.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null ? v.ToString() : string.Empty;
        var error = S("lastError") is { Length: > 0 } e ? $"  last error: {e}" : string.Empty;
        return $"{S("status"),-10} {S("kind"),-12} {S("target"),-16} {S("attempts"),2} attempt(s)  {S("id")}{error}";
    }

    public static string Line(AuditEvent e)
    {
        var d = e.Details;
        string S(string name) => d.ValueKind == JsonValueKind.Object && d.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null ? v.ToString() : string.Empty;
        var what = e.Type switch
        {
            AuditType.Started => $"plan '{S("plan")}' for flag '{S("flag")}'",
            AuditType.StageEntered => $"stage '{S("stage")}' (bake {S("minDuration")}{(S("approvalRequired") == "True" ? ", sign-off required" : string.Empty)})",
            AuditType.ExposureApplied => S("percent") is var p && S("stage") is { Length: > 0 } stage ? $"exposure of '{stage}': audiences so far + {p}%" : "exposure: nobody",
            AuditType.ExposureConfirmed => S("stage") is { Length: > 0 } confirmed ? $"{S("target")} target took the exposure of '{confirmed}'" : $"{S("target")} target took \"nobody\"",
            AuditType.Evaluated => $"{S("outcome")} {Criteria(d)}",
            AuditType.ApprovalRequested => $"stage '{S("stage")}' awaits one of {Join(d, "approvers")}",
            AuditType.Approved => $"stage '{S("stage")}'",
            AuditType.Paused or AuditType.RolledBack => $"in '{S("stage")}': {S("reason")}",
            AuditType.Resumed => $"in '{S("stage")}'",
            AuditType.SignalReceived => $"'{S("signal")}' → {S("action")}{(S("message") is { Length: > 0 } m ? $": {m}" : string.Empty)}",
            AuditType.Completed => $"final stage '{S("stage")}' held",
            _ => d.GetRawText(),
        };
        return string.Create(CultureInfo.InvariantCulture, $"{e.At.ToLocalTime():HH:mm:ss}  #{e.Seq,-4} {e.Type,-17} {what}  [{e.Actor}]");
    }

    public static string Summary(RolloutView r)
    {
        var sb = new StringBuilder();
        sb.AppendLine(CultureInfo.InvariantCulture, $"{r.Id}  {r.Name}  (flag {r.Flag})");
        sb.AppendLine(CultureInfo.InvariantCulture, $"  status      {r.Status}{(r.StatusReason is { } why ? $": {why}" : string.Empty)}");
        sb.AppendLine(CultureInfo.InvariantCulture, $"  stage       {r.StageIndex + 1}/{r.StageCount} '{r.Stage}' since {r.StageStartedAt.ToLocalTime():yyyy-MM-dd HH:mm:ss}");
        sb.AppendLine(r.Status == RolloutStatus.RolledBack
            ? "  exposure    nobody"
            : string.Create(CultureInfo.InvariantCulture, $"  exposure    {r.Percent:0.###}% of users, plus the named audiences of stages 1-{r.StageIndex + 1}"));
        if (r.NextEvaluationAt is { } next)
        {
            sb.AppendLine(CultureInfo.InvariantCulture, $"  next check  {next.ToLocalTime():HH:mm:ss}");
        }

        if (r.LastEvaluation is { } e)
        {
            sb.AppendLine(CultureInfo.InvariantCulture, $"  last check  {e.At.ToLocalTime():HH:mm:ss} {e.Outcome} (failures in a row {r.ConsecutiveFailures}, without data {r.ConsecutiveNoData})");
            foreach (var c in e.Criteria)
            {
                sb.AppendLine(CultureInfo.InvariantCulture, $"    {c.Name,-20} {c.Outcome,-7} {c.Reason}");
            }
        }

        if (r.Status == RolloutStatus.AwaitingApproval)
        {
            sb.AppendLine(CultureInfo.InvariantCulture, $"  approvers   {string.Join(", ", r.Approvers)}");
        }

        return sb.ToString().TrimEnd();
    }

    public static string Table(IReadOnlyList<RolloutView> list)
    {
        if (list.Count == 0)
        {
            return "no rollouts";
        }

        var sb = new StringBuilder();
        sb.AppendLine(CultureInfo.InvariantCulture, $"{"ID",-22} {"NAME",-24} {"STATUS",-17} {"STAGE",-16} {"PERCENT",7}  UPDATED");
        foreach (var r in list)
        {
            sb.AppendLine(CultureInfo.InvariantCulture, $"{r.Id,-22} {Cut(r.Name, 24),-24} {r.Status,-17} {Cut($"{r.StageIndex + 1}/{r.StageCount} {r.Stage}", 16),-16} {r.Percent.ToString("0.###", CultureInfo.InvariantCulture),6}%  {r.UpdatedAt.ToLocalTime():yyyy-MM-dd HH:mm:ss}");
        }

        return sb.ToString().TrimEnd();
    }

    private static string Criteria(JsonElement d)
    {
        if (!d.TryGetProperty("criteria", out var criteria) || criteria.ValueKind != JsonValueKind.Array || criteria.GetArrayLength() == 0)
        {
            return "(no criteria)";
        }

        return string.Join("; ", criteria.EnumerateArray().Select(c =>
        {
            var name = c.GetProperty("name").GetString();
            var outcome = c.GetProperty("outcome").GetString();
            var value = c.TryGetProperty("value", out var v) ? v.ToString() : "-";
            var samples = c.TryGetProperty("samples", out var n) ? $" n={n}" : string.Empty;
            return outcome == "Pass" ? $"{name}={value}{samples}" : $"{name} {outcome}: {c.GetProperty("reason").GetString()}";
        }));
    }

    private static string Join(JsonElement d, string name) =>
        d.TryGetProperty(name, out var list) && list.ValueKind == JsonValueKind.Array ? string.Join(", ", list.EnumerateArray().Select(x => x.GetString())) : string.Empty;

    private static string Cut(string text, int width) => text.Length <= width ? text : text[..(width - 1)] + "…";
}
