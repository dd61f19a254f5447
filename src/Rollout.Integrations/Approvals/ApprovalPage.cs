using System.Globalization;
using System.Net;
using System.Text;
using Rollout.Core.Engine;
using Rollout.Core.Gates;
using Rollout.Integrations.Notifications;

namespace Rollout.Integrations.Approvals;

/// <summary>
/// The approval page: a small, self-contained HTML document (no scripts, no external assets) with the rollout, the
/// stage, the evidence and who may approve, and a form that POSTs the approval to the same URL. Every value is
/// HTML-encoded. Served with <see cref="SecurityHeaders"/>.
/// </summary>
public static class ApprovalPage
{
    /// <summary>Headers for every approval page: no caching, no referrer (the URL is a credential), no framing.</summary>
    public static readonly IReadOnlyList<KeyValuePair<string, string>> SecurityHeaders =
    [
        new("Cache-Control", "no-store"),
        new("Referrer-Policy", "no-referrer"),
        new("X-Content-Type-Options", "nosniff"),
        new("X-Frame-Options", "DENY"),
        new("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
    ];

    /// <summary>The page for a check: the form when it may be used, else the reason.</summary>
    public static string Render(ApprovalCheck check)
    {
        var body = new StringBuilder();
        body.Append(CultureInfo.InvariantCulture, $"<h1>{E(check.Title)}</h1>\n");
        body.Append(CultureInfo.InvariantCulture, $"<p class=\"{(check.Allowed ? "who" : "problem")}\" role=\"{(check.Allowed ? "status" : "alert")}\">{E(check.Message)}</p>\n");
        if (check.SignInPath is { } signIn)
        {
            body.Append(CultureInfo.InvariantCulture, $"<p><a href=\"{E(signIn)}\">Sign in</a>, then this page opens again.</p>\n");
        }

        if (check.State is { } state && check.Token is { } token && token.StageIndex < state.Plan.Stages.Length)
        {
            body.Append(Summary(state, token.StageIndex));
        }

        if (check.Allowed)
        {
            var stage = check.State!.Plan.Stages[check.Token!.StageIndex].Name;
            body.Append(CultureInfo.InvariantCulture, $"""
                <form method="post">
                  <label for="comment">Comment (optional, recorded in the audit log)</label>
                  <textarea id="comment" name="comment" rows="3" maxlength="2000"></textarea>
                  <button type="submit">Approve stage '{E(stage)}' as {E(check.Approver!)}</button>
                </form>

                """);
        }

        return Document(check.Title, body.ToString());
    }

    /// <summary>The page after the approval was applied (or refused by the rollout).</summary>
    public static string Result(string title, string message, RolloutState? state, bool succeeded) =>
        Document(title, $"<h1>{E(title)}</h1>\n<p class=\"{(succeeded ? "done" : "problem")}\" role=\"{(succeeded ? "status" : "alert")}\">{E(message)}</p>\n"
            + (state is null ? string.Empty : $"<p>The rollout is now {E(state.Status.ToString())} in stage '{E(state.Stage.Name)}'.</p>\n"));

    private static string Summary(RolloutState state, int stageIndex)
    {
        var plan = state.Plan;
        var stage = plan.Stages[stageIndex];
        var html = new StringBuilder();
        html.Append("<dl>\n");
        void Row(string term, string value) => html.Append(CultureInfo.InvariantCulture, $"  <dt>{E(term)}</dt><dd>{E(value)}</dd>\n");
        Row("Rollout", $"{plan.Name} ({state.Id})");
        Row("Flag", plan.Flag);
        Row("Stage", string.Create(CultureInfo.InvariantCulture, $"{stage.Name} ({stageIndex + 1} of {plan.Stages.Length})"));
        Row("Status", state.Status.ToString());
        Row("May approve", string.Join(", ", stage.Approval?.Approvers ?? []));
        if (stageIndex + 1 < plan.Stages.Length)
        {
            var next = plan.Stages[stageIndex + 1];
            Row("Approving promotes to", next.Percent is { } p ? string.Create(CultureInfo.InvariantCulture, $"{next.Name} ({p:0.###}%)") : next.Name);
        }
        else
        {
            Row("Approving", "completes the rollout");
        }

        html.Append("</dl>\n");
        if (state.LastEvaluation is { } evaluation && evaluation.StageIndex == stageIndex)
        {
            html.Append(CultureInfo.InvariantCulture, $"<h2>Evidence</h2>\n<p>Checked {E(evaluation.At.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture))} UTC: {E(evaluation.Outcome.ToString())}.</p>\n");
            html.Append("<table>\n  <caption>Exit criteria of the latest check</caption>\n  <thead><tr><th scope=\"col\">Criterion</th><th scope=\"col\">Outcome</th><th scope=\"col\">Details</th></tr></thead>\n  <tbody>\n");
            foreach (var c in evaluation.Criteria)
            {
                html.Append(CultureInfo.InvariantCulture, $"    <tr><th scope=\"row\">{E(c.Name)}</th><td class=\"{(c.Outcome == Outcome.Pass ? "pass" : "fail")}\">{E(c.Outcome.ToString())}</td><td>{E(TeamsCards.Describe(c))}</td></tr>\n");
            }

            html.Append("  </tbody>\n</table>\n");
        }
        else if (state.Plan.Criteria.IsEmpty)
        {
            html.Append("<p>The plan has no exit criteria; the stage's bake time has elapsed.</p>\n");
        }

        return html.ToString();
    }

    private static string Document(string title, string body) => $$"""
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>{{E(title)}} · Rollout</title>
        <style>
          body { font: 16px/1.5 system-ui, sans-serif; margin: 0; color: #1b1b1b; background: #fafafa; }
          main { max-width: 44rem; margin: 2rem auto; padding: 1.5rem; background: #fff; border: 1px solid #ddd; border-radius: 8px; }
          h1 { font-size: 1.4rem; margin-top: 0; } h2 { font-size: 1.1rem; }
          dl { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; } dt { font-weight: 600; } dd { margin: 0; }
          table { border-collapse: collapse; width: 100%; } th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid #e5e5e5; vertical-align: top; }
          caption { text-align: left; font-weight: 600; padding-bottom: .25rem; }
          .pass { color: #0b6a0b; } .fail { color: #a4262c; font-weight: 600; }
          .problem { padding: .75rem; background: #fde7e9; border-left: 4px solid #a4262c; }
          .done { padding: .75rem; background: #dff6dd; border-left: 4px solid #0b6a0b; }
          label { display: block; font-weight: 600; margin-top: 1rem; } textarea { width: 100%; box-sizing: border-box; font: inherit; }
          button { margin-top: .75rem; font: inherit; font-weight: 600; padding: .6rem 1.2rem; color: #fff; background: #0f6cbd; border: 0; border-radius: 4px; cursor: pointer; }
          button:focus-visible, textarea:focus-visible { outline: 3px solid #1b1b1b; outline-offset: 2px; }
        </style>
        </head>
        <body>
        <main>
        {{body}}</main>
        </body>
        </html>

        """;

    private static string E(string text) => WebUtility.HtmlEncode(text);
}
