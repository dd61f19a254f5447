using System.Text.Json.Nodes;
using Rollout.Core.Plans;

namespace Rollout.Core.Tests.Plans;

[TestClass]
public sealed class PlanParserTests
{
    [TestMethod]
    public void Parse_SampleJson_ReadsEveryValue()
    {
        var result = TestPlans.Parse(TestPlans.SampleJson);

        Assert.IsTrue(result.IsValid, TestPlans.Describe(result));
        Assert.IsEmpty(result.Errors);
        var plan = result.Plan!;
        Assert.AreEqual("checkout-v2", plan.Name);
        Assert.AreEqual("checkout-v2", plan.Flag);
        Assert.AreEqual("New checkout flow", plan.Description);
        Assert.AreEqual("alex@contoso.com", plan.Owner);

        CollectionAssert.AreEqual(new[] { "internal", "pilot", "one-customer", "10%", "50%", "100%" }, plan.Stages.Select(s => s.Name).ToArray());
        CollectionAssert.AreEqual(
            new[] { TimeSpan.FromHours(8), TimeSpan.FromDays(2), TimeSpan.FromDays(7), TimeSpan.FromDays(2), TimeSpan.FromDays(2), TimeSpan.FromHours(48) },
            plan.Stages.Select(s => s.MinDuration).ToArray());
        CollectionAssert.AreEqual(new decimal?[] { null, null, null, 10m, 50m, 100m }, plan.Stages.Select(s => s.Percent).ToArray());
        CollectionAssert.AreEqual(new[] { "internal" }, plan.Stages[0].Audience.Groups.ToArray());
        CollectionAssert.AreEqual(new[] { "gal@contoso.com" }, plan.Stages[1].Audience.Users.ToArray());
        CollectionAssert.AreEqual(new[] { "flagship" }, plan.Stages[2].Audience.Tenants.ToArray());
        Assert.IsTrue(plan.Stages[3].Audience.IsEmpty);
        CollectionAssert.AreEqual(new[] { "alex@contoso.com" }, plan.Stages[0].Approval!.Approvers.ToArray());
        CollectionAssert.AreEqual(new[] { "alex@contoso.com", "dana@contoso.com" }, plan.Stages[1].Approval!.Approvers.ToArray());
        Assert.IsNull(plan.Stages[2].Approval);

        var criterion = plan.Criteria.Single();
        Assert.AreEqual("error-rate", criterion.Name);
        Assert.AreEqual("http", criterion.Source.Type);
        Assert.AreEqual("http://127.0.0.1:9000/error-rate?cohort={{cohort}}&since={{since}}", criterion.Source.Get("url"));
        Assert.AreEqual("$.value", criterion.Source.Get("value"));
        Assert.AreEqual("$.count", criterion.Source.Get("samples"));
        Assert.IsNull(criterion.Source.Get("timeout"));
        Assert.AreEqual(0.01, criterion.Max);
        Assert.IsNull(criterion.Min);
        Assert.AreEqual(1.5, criterion.MaxBaselineRatio);
        Assert.AreEqual(100L, criterion.MinSamples);

        Assert.AreEqual(new EvaluationPolicy(TimeSpan.FromMinutes(5), 2, 6, LimitAction.Rollback, LimitAction.Pause), plan.Evaluation);
        CollectionAssert.AreEqual(
            new[] { new StopRule("critical-issue", LimitAction.Rollback), new StopRule("oncall-paged", LimitAction.Pause) },
            plan.StopOn.ToArray());
    }

    [TestMethod]
    public void Parse_SampleYamlWithoutCriteria_EqualsJson()
    {
        var json = TestPlans.Valid(TestPlans.SampleWith(p => p.Remove("criteria")));
        var yaml = TestPlans.Valid(TestPlans.SampleYamlHead + TestPlans.SampleYamlTail, isYaml: true);

        Assert.HasCount(6, yaml.Stages);
        Assert.AreEqual(TestPlans.Canonical(json), TestPlans.Canonical(yaml));
    }

    [TestMethod]
    public void Parse_SampleYaml_EqualsJson()
    {
        var json = TestPlans.Valid(TestPlans.SampleJson);
        var yaml = TestPlans.Valid(TestPlans.SampleYaml, isYaml: true);

        Assert.AreEqual(0.01, yaml.Criteria[0].Max);
        Assert.AreEqual(TestPlans.Canonical(json), TestPlans.Canonical(yaml));
    }

    [TestMethod]
    public void Parse_YamlPercentInExponentForm_ReadsTheNumber()
    {
        var yaml = TestPlans.SampleYamlHead.Replace("percent: 10\n", "percent: 1e1\n", StringComparison.Ordinal);

        var plan = TestPlans.Valid(yaml, isYaml: true);

        Assert.AreEqual(10m, plan.Stages[3].Percent);
    }

    [TestMethod]
    public void Parse_NoEvaluationOrStopRules_UsesDefaults()
    {
        var plan = TestPlans.Valid(TestPlans.SampleWith(p =>
        {
            p.Remove("evaluation");
            p.Remove("stopOn");
        }));

        Assert.AreEqual(EvaluationPolicy.Default, plan.Evaluation);
        Assert.IsEmpty(plan.StopOn);
    }

    [TestMethod]
    public void Parse_ShorthandDurationsAndNoCriteria_IsValid()
    {
        var plan = TestPlans.Valid("""
            { "name": "n", "flag": "f", "stages": [ { "name": "a", "percent": 12.5, "minDuration": "30m" } ],
              "evaluation": { "interval": "10s", "onFailure": "PAUSE" } }
            """);

        Assert.AreEqual(TimeSpan.FromMinutes(30), plan.Stages[0].MinDuration);
        Assert.AreEqual(12.5m, plan.Stages[0].Percent);
        Assert.AreEqual(TimeSpan.FromSeconds(10), plan.Evaluation.Interval);
        Assert.AreEqual(LimitAction.Pause, plan.Evaluation.OnFailure);
        Assert.IsEmpty(plan.Criteria);
    }

    [TestMethod]
    public void Parse_BadMinDuration_KeyedByStagePath()
    {
        var json = TestPlans.SampleWith(p => p["stages"]![1]!["minDuration"] = "soon");

        AssertOnlyErrors(json, ("$.stages[1].minDuration", "'soon' is not a duration"));
    }

    [TestMethod]
    public void Parse_MissingMinDuration_KeyedByStagePath()
    {
        var json = TestPlans.SampleWith(p => p["stages"]![4]!.AsObject().Remove("minDuration"));

        AssertOnlyErrors(json, ("$.stages[4].minDuration", "required"));
    }

    [TestMethod]
    public void Parse_MinDurationInMonths_RefusedWithReason()
    {
        var json = TestPlans.SampleWith(p => p["stages"]![2]!["minDuration"] = "P1M");

        AssertOnlyErrors(json, ("$.stages[2].minDuration", "months"));
    }

    [TestMethod]
    public void Parse_MisspelledProperty_ReportsUnknownPropertyAndMissingOne()
    {
        var json = TestPlans.SampleWith(p =>
        {
            var stage = p["stages"]![0]!.AsObject();
            stage["minDurtion"] = stage["minDuration"]!.DeepClone();
            stage.Remove("minDuration");
        });

        AssertOnlyErrors(json, ("$.stages[0].minDurtion", "unknown property 'minDurtion'"), ("$.stages[0].minDuration", "required"));
    }

    [TestMethod]
    public void Parse_UnknownTopLevelProperty_KeyedByItsPath()
    {
        var json = TestPlans.SampleWith(p => p["rollbackOn"] = "errors");

        AssertOnlyErrors(json, ("$.rollbackOn", "unknown property"));
    }

    [TestMethod]
    public void Parse_BadCriterionUrl_KeyedBySourceUrl()
    {
        var json = TestPlans.SampleWith(p => p["criteria"]![0]!["source"]!["url"] = "ftp://127.0.0.1/error-rate");

        AssertOnlyErrors(json, ("$.criteria[0].source.url", "not an absolute http or https URL"));
    }

    [TestMethod]
    public void Parse_UnknownUrlTemplate_KeyedBySourceUrl()
    {
        var json = TestPlans.SampleWith(p => p["criteria"]![0]!["source"]!["url"] = "http://127.0.0.1:9000/e?c={{colour}}");

        AssertOnlyErrors(json, ("$.criteria[0].source.url", "unknown template '{{colour}}'"));
    }

    [TestMethod]
    public void Parse_MissingUrl_KeyedBySourceUrl()
    {
        var json = TestPlans.SampleWith(p => p["criteria"]![0]!["source"]!.AsObject().Remove("url"));

        AssertOnlyErrors(json, ("$.criteria[0].source.url", "'url' is required"));
    }

    [TestMethod]
    public void Parse_BadValuePath_KeyedBySourceValue()
    {
        var json = TestPlans.SampleWith(p => p["criteria"]![0]!["source"]!["value"] = "value");

        AssertOnlyErrors(json, ("$.criteria[0].source.value", "must start with '$'"));
    }

    [TestMethod]
    public void Parse_BadFlag_KeyedByFlag()
    {
        var json = TestPlans.SampleWith(p => p["flag"] = "checkout v2!");

        AssertOnlyErrors(json, ("$.flag", "letters, digits"));
    }

    [TestMethod]
    public void Parse_MissingFlag_KeyedByFlag()
    {
        var json = TestPlans.SampleWith(p => p.Remove("flag"));

        AssertOnlyErrors(json, ("$.flag", "'flag' is required"));
    }

    [TestMethod]
    public void Parse_DecreasingPercent_KeyedByTheLowerStage()
    {
        var json = TestPlans.SampleWith(p => p["stages"]![4]!["percent"] = 5);

        AssertOnlyErrors(json, ("$.stages[4].percent", "below an earlier stage's 10"));
    }

    [TestMethod]
    public void Parse_PercentAbove100_Refused()
    {
        var json = TestPlans.SampleWith(p => p["stages"]![5]!["percent"] = 100.5m);

        AssertOnlyErrors(json, ("$.stages[5].percent", "from 0 to 100"));
    }

    [TestMethod]
    public void Parse_PercentWithFourDecimals_Refused()
    {
        var json = TestPlans.SampleWith(p => p["stages"]![3]!["percent"] = 10.1234m);

        AssertOnlyErrors(json, ("$.stages[3].percent", "at most 3 decimals"));
    }

    [TestMethod]
    public void Parse_PercentWithThreeDecimals_Accepted()
    {
        var plan = TestPlans.Valid(TestPlans.SampleWith(p => p["stages"]![3]!["percent"] = 10.125m));

        Assert.AreEqual(10.125m, plan.Stages[3].Percent);
    }

    [TestMethod]
    public void Parse_DuplicateStageNamesInAnotherCase_KeyedByTheSecond()
    {
        var json = TestPlans.SampleWith(p => p["stages"]![2]!["name"] = "Pilot");

        AssertOnlyErrors(json, ("$.stages[2].name", "used twice"));
    }

    [TestMethod]
    public void Parse_ApprovalWithoutApprovers_KeyedByApprovers()
    {
        var json = TestPlans.SampleWith(p => p["stages"]![0]!["approval"] = new JsonObject());

        AssertOnlyErrors(json, ("$.stages[0].approval.approvers", "approvers is required"));
    }

    [TestMethod]
    public void Parse_ApprovalWithEmptyApprovers_KeyedByApprovers()
    {
        var json = TestPlans.SampleWith(p => p["stages"]![1]!["approval"]!["approvers"] = new JsonArray());

        AssertOnlyErrors(json, ("$.stages[1].approval.approvers", "at least one person"));
    }

    [TestMethod]
    public void Parse_UnknownSourceType_KeyedBySourceTypeListingAvailable()
    {
        var json = TestPlans.SampleWith(p => p["criteria"]![0]!["source"]!["type"] = "prometheus");

        AssertOnlyErrors(json, ("$.criteria[0].source.type", "'prometheus' is not available on this host (available: http)"));
    }

    [TestMethod]
    public void Parse_MinSamplesWithoutSamplesPath_KeyedBySourceSamples()
    {
        var json = TestPlans.SampleWith(p => p["criteria"]![0]!["source"]!.AsObject().Remove("samples"));

        AssertOnlyErrors(json, ("$.criteria[0].source.samples", "minSamples is 100"));
    }

    [TestMethod]
    public void Parse_MinAboveMax_KeyedByMin()
    {
        var json = TestPlans.SampleWith(p => p["criteria"]![0]!["min"] = 0.5);

        AssertOnlyErrors(json, ("$.criteria[0].min", "min 0.5 is above max 0.01"));
    }

    [TestMethod]
    public void Parse_CriterionWithoutThreshold_KeyedByCriterion()
    {
        var json = TestPlans.SampleWith(p =>
        {
            var criterion = p["criteria"]![0]!.AsObject();
            criterion.Remove("max");
            criterion.Remove("maxBaselineRatio");
        });

        AssertOnlyErrors(json, ("$.criteria[0]", "needs a threshold"));
    }

    [TestMethod]
    public void Parse_BadOnFailureAction_KeyedByOnFailure()
    {
        var json = TestPlans.SampleWith(p => p["evaluation"]!["onFailure"] = "explode");

        AssertOnlyErrors(json, ("$.evaluation.onFailure", "'explode' is not an action"));
    }

    [TestMethod]
    public void Parse_BadStopRuleAction_KeyedByStopRuleAction()
    {
        var json = TestPlans.SampleWith(p => p["stopOn"]![1]!["action"] = "ignore");

        AssertOnlyErrors(json, ("$.stopOn[1].action", "'ignore' is not an action"));
    }

    [TestMethod]
    public void Parse_FailureLimitZero_KeyedByFailureLimit()
    {
        var json = TestPlans.SampleWith(p => p["evaluation"]!["failureLimit"] = 0);

        AssertOnlyErrors(json, ("$.evaluation.failureLimit", "from 1 to 1000"));
    }

    [TestMethod]
    public void Parse_StageWithoutAudienceOrPercent_KeyedByStage()
    {
        var json = TestPlans.SampleWith(p => p["stages"]![2]!.AsObject().Remove("audience"));

        AssertOnlyErrors(json, ("$.stages[2]", "an audience, a percent or both"));
    }

    [TestMethod]
    public void Parse_InvalidJson_ErrorAtRoot()
    {
        AssertOnlyErrors(TestPlans.SampleJson[..^10], ("$", "not valid JSON"));
    }

    [TestMethod]
    public void Parse_InvalidYaml_ErrorAtRootWithLine()
    {
        var result = TestPlans.Parse("name: checkout-v2\nstages: [ { name: internal\n", isYaml: true);

        AssertOnlyErrors(result, ("$", "not valid YAML: line"));
    }

    [TestMethod]
    public void Parse_YamlDuplicateKey_ErrorAtRoot()
    {
        var result = TestPlans.Parse("name: a\nname: b\n", isYaml: true);

        AssertOnlyErrors(result, ("$", "not valid YAML: line 2"));
        StringAssert.Contains(result.Errors["$"][0], "name", StringComparison.Ordinal);
    }

    [TestMethod]
    public void Parse_JsonArrayAtRoot_ErrorAtRoot()
    {
        AssertOnlyErrors("[]", ("$", "must be a JSON object"));
    }

    [TestMethod]
    public void Parse_JsonDuplicateKey_ReturnsErrorInsteadOfThrowing()
    {
        var json = TestPlans.SampleJson.Replace("\"name\": \"checkout-v2\",", "\"name\": \"checkout-v2\", \"name\": \"checkout-v3\",", StringComparison.Ordinal);

        var result = TestPlans.Parse(json);

        Assert.IsFalse(result.IsValid);
        Assert.IsNotEmpty(result.Errors);
    }

    [TestMethod]
    public void Parse_SeveralProblems_ListsEveryOne()
    {
        var json = TestPlans.SampleWith(p =>
        {
            p["flag"] = "bad flag";
            p["stages"]![1]!["minDuration"] = "soon";
            p["stages"]![4]!["percent"] = 5;
            p["criteria"]![0]!["source"]!["type"] = "prometheus";
            p["evaluation"]!["onNoData"] = "shrug";
            p["stopOn"]![0]!["signal"] = "oncall-paged";
        });

        var result = TestPlans.Parse(json);

        Assert.IsFalse(result.IsValid);
        Assert.IsNull(result.Plan);
        CollectionAssert.AreEquivalent(
            new[] { "$.flag", "$.stages[1].minDuration", "$.stages[4].percent", "$.criteria[0].source.type", "$.evaluation.onNoData", "$.stopOn[1].signal" },
            result.Errors.Keys.ToArray());
    }

    [TestMethod]
    public void Parse_NullUrl_ListsBothProblemsOnItsPath()
    {
        var json = TestPlans.SampleWith(p => p["criteria"]![0]!["source"]!["url"] = null);

        var result = TestPlans.Parse(json);

        Assert.HasCount(1, result.Errors);
        var messages = result.Errors["$.criteria[0].source.url"];
        Assert.HasCount(2, messages, TestPlans.Describe(result));
        Assert.IsTrue(messages.Any(m => m.Contains("must be a string or a number", StringComparison.Ordinal)), TestPlans.Describe(result));
        Assert.IsTrue(messages.Any(m => m.Contains("'url' is required", StringComparison.Ordinal)), TestPlans.Describe(result));
    }

    private static void AssertOnlyErrors(string json, params (string Path, string Fragment)[] expected) =>
        AssertOnlyErrors(TestPlans.Parse(json), expected);

    private static void AssertOnlyErrors(PlanParseResult result, params (string Path, string Fragment)[] expected)
    {
        Assert.IsFalse(result.IsValid, "the plan should be refused");
        Assert.IsNull(result.Plan);
        CollectionAssert.AreEquivalent(expected.Select(e => e.Path).ToArray(), result.Errors.Keys.ToArray(), TestPlans.Describe(result));
        foreach (var (path, fragment) in expected)
        {
            Assert.IsTrue(
                result.Errors[path].Any(m => m.Contains(fragment, StringComparison.Ordinal)),
                $"expected an error at {path} containing \"{fragment}\"; got: {TestPlans.Describe(result)}");
        }
    }
}
