using Rollout.Core.Briefs;

namespace Rollout.Core.Tests.Briefs;

[TestClass]
public sealed class ReleaseBriefTests
{
    private static readonly string Brief = ReleaseBrief.Render(TestPlans.Sample, "ro-2026-0042");

    [TestMethod]
    [DataRow("1", "internal", "groups internal", "at least 8 hours", "one of alex@contoso.com")]
    [DataRow("2", "pilot", "users gal@contoso.com", "at least 2 days", "one of alex@contoso.com, dana@contoso.com")]
    [DataRow("3", "one-customer", "tenants flagship", "at least 7 days", "automatic")]
    [DataRow("4", "10%", "10% of all users", "at least 2 days", "automatic")]
    [DataRow("5", "50%", "50% of all users", "at least 2 days", "automatic")]
    [DataRow("6", "100%", "100% of all users", "at least 2 days", "automatic")]
    public void Render_SamplePlan_OneRowPerStageWithAudienceBakeTimeAndSignOff(string number, string stage, string audience, string bake, string signOff)
    {
        var row = Brief.Split('\n').Single(l => l.Contains($"| {stage} |", StringComparison.Ordinal));
        var cells = row.Split('|', StringSplitOptions.TrimEntries)[1..^1];

        CollectionAssert.AreEqual(new[] { number, stage, audience, bake, signOff }, cells);
    }

    [TestMethod]
    public void Render_SamplePlan_StagesInPlanOrder()
    {
        var positions = new[] { "| 1 | internal |", "| 2 | pilot |", "| 3 | one-customer |", "| 4 | 10% |", "| 5 | 50% |", "| 6 | 100% |" }
            .Select(r => Brief.IndexOf(r, StringComparison.Ordinal))
            .ToArray();

        Assert.IsTrue(positions.All(p => p >= 0), string.Join(", ", positions));
        CollectionAssert.AreEqual(positions.Order().ToArray(), positions);
    }

    [TestMethod]
    public void Render_SamplePlan_CriterionInPlainWords()
    {
        StringAssert.Contains(Brief, "Checked every 5 minutes", StringComparison.Ordinal);
        StringAssert.Contains(
            Brief,
            "- **error-rate** (http): at most 0.01, and no more than 1.5 times the value of users without the feature, judged only once there are at least 100 samples\n",
            StringComparison.Ordinal);
        StringAssert.Contains(Brief, "never counts as a pass", StringComparison.Ordinal);
    }

    [TestMethod]
    public void Render_MinCriterion_SaysAtLeast()
    {
        var plan = TestPlans.Valid("""
            { "name": "n", "flag": "f", "stages": [ { "name": "all", "percent": 100, "minDuration": "1h" } ],
              "criteria": [ { "name": "availability", "source": { "type": "http", "url": "http://127.0.0.1:9000/a", "value": "$.v" }, "min": 0.995 } ] }
            """);

        StringAssert.Contains(ReleaseBrief.Render(plan), "- **availability** (http): at least 0.995\n", StringComparison.Ordinal);
    }

    [TestMethod]
    public void Render_SamplePlan_StopRulesWithTheirActions()
    {
        StringAssert.Contains(Brief, "- 2 checks in a row with a failing criterion: **roll back (exposure to nobody)**.", StringComparison.Ordinal);
        StringAssert.Contains(Brief, "- 6 checks in a row without enough data: **pause (exposure held, no promotion)**.", StringComparison.Ordinal);
        StringAssert.Contains(Brief, "- Signal `critical-issue`: **roll back (exposure to nobody)**.", StringComparison.Ordinal);
        StringAssert.Contains(Brief, "- Signal `oncall-paged`: **pause (exposure held, no promotion)**.", StringComparison.Ordinal);
    }

    [TestMethod]
    public void Render_WithId_RollbackCommandNamesTheRollout()
    {
        StringAssert.Contains(Brief, "rollout rollback ro-2026-0042 --reason \"<why>\"", StringComparison.Ordinal);
        StringAssert.Contains(Brief, "POST /api/rollouts/ro-2026-0042/rollback", StringComparison.Ordinal);
        StringAssert.Contains(Brief, "rollout pause ro-2026-0042", StringComparison.Ordinal);
        StringAssert.Contains(Brief, "- **Rollout:** `ro-2026-0042`", StringComparison.Ordinal);
    }

    [TestMethod]
    public void Render_WithoutId_ShowsAPlaceholder()
    {
        var brief = ReleaseBrief.Render(TestPlans.Sample);

        StringAssert.Contains(brief, "rollout rollback <rollout-id> --reason", StringComparison.Ordinal);
        Assert.DoesNotContain("**Rollout:**", brief);
    }

    [TestMethod]
    public void Render_SamplePlan_NamesOwnerFlagAndDescription()
    {
        StringAssert.StartsWith(Brief, "# Release brief: checkout-v2\n", StringComparison.Ordinal);
        StringAssert.Contains(Brief, "- **Owner:** alex@contoso.com\n", StringComparison.Ordinal);
        StringAssert.Contains(Brief, "## Owner\n\nalex@contoso.com\n", StringComparison.Ordinal);
        StringAssert.Contains(Brief, "- **Flag:** `checkout-v2`", StringComparison.Ordinal);
        StringAssert.Contains(Brief, "## What changes\n\nNew checkout flow", StringComparison.Ordinal);
    }

    [TestMethod]
    public void Render_PlanWithoutOwnerOrCriteria_SaysSo()
    {
        var plan = TestPlans.Valid("""
            { "name": "n", "flag": "f", "stages": [ { "name": "all", "percent": 100, "minDuration": "90m" } ] }
            """);

        var brief = ReleaseBrief.Render(plan);

        StringAssert.Contains(brief, "No owner is named in the plan.", StringComparison.Ordinal);
        StringAssert.Contains(brief, "The plan has no exit criteria", StringComparison.Ordinal);
        StringAssert.Contains(brief, "at least 1 hour 30 minutes", StringComparison.Ordinal);
    }

    [TestMethod]
    public void Render_StageNameWithPipe_EscapedInTheTable()
    {
        var plan = TestPlans.Valid("""
            { "name": "n", "flag": "f", "stages": [ { "name": "a|b", "percent": 100, "minDuration": "1h" } ] }
            """);

        StringAssert.Contains(ReleaseBrief.Render(plan), "| 1 | a\\|b |", StringComparison.Ordinal);
    }
}
