using System.Collections.Immutable;
using System.Text.Json.Serialization;

namespace Rollout.Core.Plans;

/// <summary>
/// A validated rollout plan: who gets the feature at each stage, how long each stage bakes, the exit
/// criteria read from monitoring and what stops the rollout. Immutable once a rollout starts.
/// </summary>
public sealed record RolloutPlan(
    string Name,
    string Flag,
    string? Description,
    string? Owner,
    ImmutableArray<StagePlan> Stages,
    ImmutableArray<CriterionPlan> Criteria,
    EvaluationPolicy Evaluation,
    ImmutableArray<StopRule> StopOn)
{
    /// <summary>
    /// Names of the notification channels told about stage changes, approvals, pauses, rollbacks and completion
    /// (e.g. Teams Workflows webhooks configured on the host as <c>Notifications:Teams:&lt;name&gt;</c>).
    /// </summary>
    public ImmutableArray<string> Notify { get; init; } = [];

    /// <summary>Where exposure is written; null means the built-in flag store.</summary>
    public ExposureTargetSpec? Exposure { get; init; }

    /// <summary>True when exposure is written outside this process and must be confirmed before a promotion.</summary>
    [JsonIgnore]
    public bool HasExternalExposure => Exposure is { IsExternal: true };
}

/// <summary>One stage: its own audience and percentage (added to every earlier stage's), bake time and approval.</summary>
public sealed record StagePlan(
    string Name,
    Audience Audience,
    decimal? Percent,
    TimeSpan MinDuration,
    ApprovalPolicy? Approval);

/// <summary>Named subjects a stage exposes, by kind. Matching is case-insensitive.</summary>
public sealed record Audience(
    ImmutableArray<string> Users,
    ImmutableArray<string> Groups,
    ImmutableArray<string> Tenants,
    ImmutableArray<string> Regions,
    ImmutableArray<string> Roles)
{
    /// <summary>An audience that names nobody.</summary>
    public static Audience Empty { get; } = new([], [], [], [], []);

    /// <summary>True when no subject of any kind is named.</summary>
    [JsonIgnore]
    public bool IsEmpty => Users.IsEmpty && Groups.IsEmpty && Tenants.IsEmpty && Regions.IsEmpty && Roles.IsEmpty;
}

/// <summary>Who must sign a stage off before the rollout leaves it: any one of <paramref name="Approvers"/>.</summary>
public sealed record ApprovalPolicy(ImmutableArray<string> Approvers)
{
    /// <summary>True when <paramref name="who"/> is one of the approvers (case-insensitive).</summary>
    public bool Allows(string? who) =>
        !string.IsNullOrWhiteSpace(who) && Approvers.Any(a => string.Equals(a, who.Trim(), StringComparison.OrdinalIgnoreCase));
}

/// <summary>
/// An exit criterion: a metric from <paramref name="Source"/> held against absolute bounds and the baseline
/// cohort, optionally confirmed by a statistical test; or, with <see cref="ErrorBudget"/>, an SLO's burn rate.
/// </summary>
public sealed record CriterionPlan(
    string Name,
    MetricSourceSpec Source,
    double? Min,
    double? Max,
    double? MaxBaselineRatio,
    long MinSamples)
{
    /// <summary>The treatment must be at least this multiple of the baseline (for metrics where lower is worse).</summary>
    public double? MinBaselineRatio { get; init; }

    /// <summary>The treatment may exceed the baseline by at most this much (absolute).</summary>
    public double? MaxBaselineDifference { get; init; }

    /// <summary>A test that must find the treatment significantly worse before a baseline breach fails.</summary>
    public BaselineTest? Test { get; init; }

    /// <summary>When set, the criterion judges an SLO's error-budget burn instead of bounds.</summary>
    public ErrorBudgetPolicy? ErrorBudget { get; init; }

    /// <summary>True when the criterion reads the baseline cohort.</summary>
    [JsonIgnore]
    public bool ComparesWithBaseline => MaxBaselineRatio is not null || MinBaselineRatio is not null || MaxBaselineDifference is not null || Test is not null;
}

/// <summary>The statistical tests a baseline comparison can require.</summary>
public enum BaselineTestKind
{
    /// <summary>Two-proportion z-test on rates (value is a proportion, samples the number of trials).</summary>
    TwoProportion,

    /// <summary>Mann-Whitney U test on raw values (e.g. latencies) read by the source's <c>values</c> setting.</summary>
    MannWhitney,
}

/// <summary>A one-sided test at <paramref name="Confidence"/> (e.g. 0.95) that the treatment is worse than the baseline.</summary>
public sealed record BaselineTest(BaselineTestKind Kind, double Confidence);

/// <summary>One burn-rate window: the error ratio over <paramref name="Window"/> may burn the budget at most <paramref name="MaxBurnRate"/> times the sustainable rate.</summary>
public sealed record BurnRateWindow(TimeSpan Window, double MaxBurnRate);

/// <summary>
/// Error-budget gating for an SLO (e.g. 0.999): the source answers the error ratio over <c>{{window}}</c>.
/// The criterion fails when every burn-rate window burns too fast, or when the budget over
/// <paramref name="BudgetWindow"/> is spent beyond <paramref name="MaxBudgetSpent"/>; it holds when only some windows do.
/// </summary>
public sealed record ErrorBudgetPolicy(double Slo, ImmutableArray<BurnRateWindow> Windows, TimeSpan? BudgetWindow, double? MaxBudgetSpent);

/// <summary>
/// Where a criterion's metric comes from: a source <paramref name="Type"/> (<c>http</c>, <c>prometheus</c>, ...)
/// and its settings (templates such as <c>{{cohort}}</c> are expanded per query).
/// </summary>
public sealed record MetricSourceSpec(string Type, ImmutableSortedDictionary<string, string> Settings)
{
    /// <summary>A setting's value, or null when it is absent.</summary>
    public string? Get(string key) => Settings.TryGetValue(key, out var value) ? value : null;
}

/// <summary>How often criteria are evaluated and what happens after repeated failures or missing data.</summary>
public sealed record EvaluationPolicy(
    TimeSpan Interval,
    int FailureLimit,
    int NoDataLimit,
    LimitAction OnFailure,
    LimitAction OnNoData)
{
    /// <summary>The defaults: every 5 minutes; 2 failing evaluations roll back; 6 without data pause.</summary>
    public static EvaluationPolicy Default { get; } = new(TimeSpan.FromMinutes(5), 2, 6, LimitAction.Rollback, LimitAction.Pause);
}

/// <summary>A stop signal the plan reacts to, e.g. <c>critical-issue</c> → rollback.</summary>
public sealed record StopRule(string Signal, LimitAction Action);

/// <summary>What the rollout does when a limit is reached or a stop signal arrives.</summary>
public enum LimitAction
{
    /// <summary>Hold exposure and stop promoting until someone resumes.</summary>
    Pause,

    /// <summary>Set exposure to nothing; the rollout ends.</summary>
    Rollback,
}
