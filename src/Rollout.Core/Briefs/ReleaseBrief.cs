using System.Globalization;
using System.Text;
using Rollout.Core.Plans;

namespace Rollout.Core.Briefs;

/// <summary>
/// Writes the release brief of a plan in Markdown: what changes, each stage's audience, bake time and exit
/// criteria in plain words, what stops the rollout, how to roll back and who owns it.
/// </summary>
public static class ReleaseBrief
{
    /// <summary>Renders the brief. <paramref name="rolloutId"/> is used in the commands it shows, when known.</summary>
    public static string Render(RolloutPlan plan, string? rolloutId = null)
    {
        var id = rolloutId ?? "<rollout-id>";
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"# Release brief: {plan.Name}\n\n");
        sb.Append(CultureInfo.InvariantCulture, $"- **Flag:** `{plan.Flag}`\n");
        sb.Append(CultureInfo.InvariantCulture, $"- **Owner:** {plan.Owner ?? "not named in the plan"}\n");
        if (rolloutId is not null)
        {
            sb.Append(CultureInfo.InvariantCulture, $"- **Rollout:** `{rolloutId}`\n");
        }

        sb.Append("\n## What changes\n\n");
        sb.Append(string.IsNullOrWhiteSpace(plan.Description) ? "The plan has no description." : plan.Description!.Trim());
        sb.Append(CultureInfo.InvariantCulture, $"\n\nThe change is already deployed, switched off behind the flag `{plan.Flag}`. Rollout only moves who sees it, stage by stage; exposure only grows, and a person who got the feature keeps it until a rollback.\n");

        sb.Append("\n## Stages\n\n");
        sb.Append("| # | Stage | Who is exposed (added to earlier stages) | Bake time | Sign-off |\n|---|---|---|---|---|\n");
        for (var i = 0; i < plan.Stages.Length; i++)
        {
            var stage = plan.Stages[i];
            var signOff = stage.Approval is { } approval ? "one of " + string.Join(", ", approval.Approvers) : "automatic";
            sb.Append(CultureInfo.InvariantCulture, $"| {i + 1} | {Cell(stage.Name)} | {Cell(Who(stage))} | at least {Durations.ToWords(stage.MinDuration)} | {Cell(signOff)} |\n");
        }

        var policy = plan.Evaluation;
        sb.Append("\n## Exit criteria\n\n");
        if (plan.Criteria.IsEmpty)
        {
            sb.Append("The plan has no exit criteria: a stage is done when its bake time has elapsed (and it is signed off where required).\n");
        }
        else
        {
            sb.Append(CultureInfo.InvariantCulture, $"Checked every {Durations.ToWords(policy.Interval)} in every stage. A stage is done when its bake time has elapsed and the latest check passes every criterion:\n\n");
            foreach (var criterion in plan.Criteria)
            {
                sb.Append(CultureInfo.InvariantCulture, $"- **{criterion.Name}** ({criterion.Source.Type}): {Words(criterion)}\n");
            }

            sb.Append("\nMissing, sparse or unreadable data never counts as a pass: it holds the stage.\n");
        }

        sb.Append("\n## What stops the rollout\n\n");
        sb.Append(CultureInfo.InvariantCulture, $"- {Times(policy.FailureLimit)} in a row with a failing criterion: **{Action(policy.OnFailure)}**.\n");
        sb.Append(CultureInfo.InvariantCulture, $"- {Times(policy.NoDataLimit)} in a row without enough data: **{Action(policy.OnNoData)}**.\n");
        foreach (var rule in plan.StopOn)
        {
            sb.Append(CultureInfo.InvariantCulture, $"- Signal `{rule.Signal}`: **{Action(rule.Action)}**.\n");
        }

        sb.Append("- Anyone with the API key can pause or roll back at any moment.\n");

        sb.Append("\n## How to roll back\n\n");
        sb.Append(CultureInfo.InvariantCulture, $"```\nrollout rollback {id} --reason \"<why>\"\n```\n\n");
        sb.Append(CultureInfo.InvariantCulture, $"or `POST /api/rollouts/{id}/rollback` with `{{\"reason\": \"...\", \"actor\": \"...\"}}`. Exposure drops to nobody at once; the deployed code stays, switched off. To pause instead: `rollout pause {id} --reason \"<why>\"`.\n");
        sb.Append(CultureInfo.InvariantCulture, $"\n## Owner\n\n{plan.Owner ?? "No owner is named in the plan."}\n");
        return sb.ToString();
    }

    private static string Who(StagePlan stage)
    {
        var parts = new List<string>();
        void Add(string kind, IReadOnlyCollection<string> names)
        {
            if (names.Count > 0)
            {
                parts.Add($"{kind} {string.Join(", ", names.Take(10))}{(names.Count > 10 ? $" and {names.Count - 10} more" : string.Empty)}");
            }
        }

        Add("users", stage.Audience.Users);
        Add("groups", stage.Audience.Groups);
        Add("tenants", stage.Audience.Tenants);
        Add("regions", stage.Audience.Regions);
        Add("roles", stage.Audience.Roles);
        if (stage.Percent is { } percent)
        {
            parts.Add($"{percent.ToString("0.###", CultureInfo.InvariantCulture)}% of all users");
        }

        return string.Join("; ", parts);
    }

    private static string Words(CriterionPlan c)
    {
        if (c.ErrorBudget is { } budget)
        {
            var windows = string.Join(" and ", budget.Windows.Select(w => $"{F(w.MaxBurnRate)}x over {Durations.ToWords(w.Window)}"));
            var burn = $"error budget of SLO {F(budget.Slo)}: fails when it burns faster than {windows} at once, holds when only some windows do";
            return budget.BudgetWindow is { } bw && budget.MaxBudgetSpent is { } spent
                ? $"{burn}; fails once {F(spent * 100)}% of the {Durations.ToWords(bw)} budget is spent"
                : burn;
        }

        var rules = new List<string>();
        if (c.Max is { } max)
        {
            rules.Add($"at most {F(max)}");
        }

        if (c.Min is { } min)
        {
            rules.Add($"at least {F(min)}");
        }

        if (c.MaxBaselineRatio is { } ratio)
        {
            rules.Add($"no more than {F(ratio)} times the value of users without the feature");
        }

        if (c.MinBaselineRatio is { } minRatio)
        {
            rules.Add($"at least {F(minRatio)} times the value of users without the feature");
        }

        if (c.MaxBaselineDifference is { } difference)
        {
            rules.Add($"no more than {F(difference)} above the value of users without the feature");
        }

        if (c.Test is { } test)
        {
            var name = test.Kind == BaselineTestKind.TwoProportion ? "a two-proportion test" : "a Mann-Whitney test";
            rules.Add($"a difference from users without the feature fails only when {name} finds it significant at {F(test.Confidence * 100)}% confidence (until then the stage holds)");
        }

        var text = string.Join(", and ", rules);
        return c.MinSamples > 0 ? $"{text}, judged only once there are at least {c.MinSamples} samples" : text;
    }

    private static string Times(int n) => n == 1 ? "1 check" : $"{n} checks";

    private static string Action(LimitAction action) => action == LimitAction.Rollback ? "roll back (exposure to nobody)" : "pause (exposure held, no promotion)";

    private static string Cell(string text) => text.Replace("|", "\\|", StringComparison.Ordinal);

    private static string F(double value) => value.ToString("0.######", CultureInfo.InvariantCulture);
}
