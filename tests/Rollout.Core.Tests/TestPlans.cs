using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Rollout.Core.Metrics;
using Rollout.Core.Plans;

namespace Rollout.Core.Tests;

/// <summary>Plans for tests, built by parsing plan text the way a user writes it.</summary>
internal static class TestPlans
{
    public static MetricSourceCatalog Catalog { get; } = new([MetricSourceSchema.Http]);

    /// <summary>The product's sample plan, as documented.</summary>
    public const string SampleJson = """
        { "name": "checkout-v2", "flag": "checkout-v2", "description": "New checkout flow", "owner": "alex@contoso.com",
          "stages": [
            { "name": "internal", "audience": { "groups": ["internal"] }, "minDuration": "PT8H", "approval": { "approvers": ["alex@contoso.com"] } },
            { "name": "pilot", "audience": { "users": ["gal@contoso.com"] }, "minDuration": "P2D", "approval": { "approvers": ["alex@contoso.com", "dana@contoso.com"] } },
            { "name": "one-customer", "audience": { "tenants": ["flagship"] }, "minDuration": "P7D" },
            { "name": "10%", "percent": 10, "minDuration": "P2D" },
            { "name": "50%", "percent": 50, "minDuration": "P2D" },
            { "name": "100%", "percent": 100, "minDuration": "PT48H" } ],
          "criteria": [ { "name": "error-rate", "source": { "type": "http", "url": "http://127.0.0.1:9000/error-rate?cohort={{cohort}}&since={{since}}", "value": "$.value", "samples": "$.count" },
              "max": 0.01, "maxBaselineRatio": 1.5, "minSamples": 100 } ],
          "evaluation": { "interval": "PT5M", "failureLimit": 2, "noDataLimit": 6, "onFailure": "rollback", "onNoData": "pause" },
          "stopOn": [ { "signal": "critical-issue", "action": "rollback" }, { "signal": "oncall-paged", "action": "pause" } ] }
        """;

    /// <summary>The sample plan in YAML, up to and including its stages.</summary>
    public const string SampleYamlHead = """
        name: checkout-v2
        flag: checkout-v2
        description: New checkout flow
        owner: alex@contoso.com
        stages:
          - name: internal
            audience:
              groups: [internal]
            minDuration: PT8H
            approval:
              approvers: [alex@contoso.com]
          - name: pilot
            audience:
              users: [gal@contoso.com]
            minDuration: P2D
            approval:
              approvers: [alex@contoso.com, dana@contoso.com]
          - name: one-customer
            audience:
              tenants: [flagship]
            minDuration: P7D
          - name: 10%
            percent: 10
            minDuration: P2D
          - name: 50%
            percent: 50
            minDuration: P2D
          - name: 100%
            percent: 100
            minDuration: PT48H

        """;

    /// <summary>The sample plan's criteria in YAML.</summary>
    public const string SampleYamlCriteria = """
        criteria:
          - name: error-rate
            source:
              type: http
              url: "http://127.0.0.1:9000/error-rate?cohort={{cohort}}&since={{since}}"
              value: $.value
              samples: $.count
            max: 0.01
            maxBaselineRatio: 1.5
            minSamples: 100

        """;

    /// <summary>The sample plan's evaluation policy and stop rules in YAML.</summary>
    public const string SampleYamlTail = """
        evaluation:
          interval: PT5M
          failureLimit: 2
          noDataLimit: 6
          onFailure: rollback
          onNoData: pause
        stopOn:
          - signal: critical-issue
            action: rollback
          - signal: oncall-paged
            action: pause

        """;

    public const string SampleYaml = SampleYamlHead + SampleYamlCriteria + SampleYamlTail;

    /// <summary>A quick three-stage plan for the engine: no approvals, 10-minute bakes, checks every 5 minutes.</summary>
    public static string EngineJson(string onFailure = "rollback", string onNoData = "pause", int failureLimit = 2, int noDataLimit = 3) => $$$"""
        { "name": "search-ranking", "flag": "search-ranking", "owner": "dana@contoso.com",
          "stages": [
            { "name": "canary", "audience": { "users": ["gal@contoso.com"] }, "percent": 5, "minDuration": "PT10M" },
            { "name": "half", "percent": 50, "minDuration": "PT10M" },
            { "name": "all", "percent": 100, "minDuration": "PT10M" } ],
          "criteria": [ { "name": "error-rate", "source": { "type": "http", "url": "http://127.0.0.1:9000/error-rate?cohort={{cohort}}", "value": "$.value" },
              "max": 0.01 } ],
          "evaluation": { "interval": "PT5M", "failureLimit": {{{failureLimit}}}, "noDataLimit": {{{noDataLimit}}}, "onFailure": "{{{onFailure}}}", "onNoData": "{{{onNoData}}}" },
          "stopOn": [ { "signal": "critical-issue", "action": "rollback" }, { "signal": "oncall-paged", "action": "pause" } ] }
        """;

    /// <summary>A quick two-stage plan whose first stage needs sign-off.</summary>
    public const string ApprovalJson = """
        { "name": "dark-mode", "flag": "dark-mode", "owner": "alex@contoso.com",
          "stages": [
            { "name": "internal", "audience": { "groups": ["internal"] }, "minDuration": "PT10M", "approval": { "approvers": ["alex@contoso.com", "dana@contoso.com"] } },
            { "name": "everyone", "percent": 100, "minDuration": "PT10M", "approval": { "approvers": ["alex@contoso.com"] } } ],
          "evaluation": { "interval": "PT5M", "failureLimit": 2, "noDataLimit": 3, "onFailure": "rollback", "onNoData": "pause" },
          "stopOn": [ { "signal": "critical-issue", "action": "rollback" }, { "signal": "oncall-paged", "action": "pause" } ] }
        """;

    public static RolloutPlan Sample => Valid(SampleJson);

    public static RolloutPlan Engine(string onFailure = "rollback", string onNoData = "pause", int failureLimit = 2, int noDataLimit = 3) =>
        Valid(EngineJson(onFailure, onNoData, failureLimit, noDataLimit));

    public static RolloutPlan Approval => Valid(ApprovalJson);

    public static PlanParseResult Parse(string text, bool isYaml = false) => PlanParser.Parse(text, isYaml, Catalog);

    /// <summary>Parses a plan that must be valid; fails the test with every error otherwise.</summary>
    public static RolloutPlan Valid(string text, bool isYaml = false)
    {
        var result = Parse(text, isYaml);
        if (result.Plan is not { } plan)
        {
            Assert.Fail("expected a valid plan, got: " + Describe(result));
            throw new InvalidOperationException("unreachable");
        }

        return plan;
    }

    /// <summary>The sample plan's JSON, edited: used to build an invalid variant with exactly one mistake.</summary>
    public static string SampleWith(Action<JsonObject> edit)
    {
        var root = JsonNode.Parse(SampleJson)!.AsObject();
        edit(root);
        return root.ToJsonString();
    }

    /// <summary>The first criterion of a plan holding only <paramref name="criterionJson"/>.</summary>
    public static CriterionPlan Criterion(string criterionJson) => Valid($$"""
        { "name": "c", "flag": "c", "stages": [ { "name": "all", "percent": 100, "minDuration": "PT1M" } ],
          "criteria": [ {{criterionJson}} ] }
        """).Criteria[0];

    /// <summary>Every error of a result, for assertion messages.</summary>
    public static string Describe(PlanParseResult result) =>
        string.Join(" | ", result.Errors.Select(e => $"{e.Key}: {string.Join("; ", e.Value)}"));

    private static readonly JsonSerializerOptions CanonicalJson = new() { Converters = { new JsonStringEnumConverter() } };

    /// <summary>Every value of a plan as JSON, so two plans can be compared by value (the immutable collections compare by reference).</summary>
    public static string Canonical(RolloutPlan plan) => JsonSerializer.Serialize(plan, CanonicalJson);
}

/// <summary>The fixed clock of the tests: a moment advanced by hand.</summary>
internal static class TestTime
{
    public static DateTimeOffset Start { get; } = new(2026, 3, 2, 9, 0, 0, TimeSpan.Zero);
}
