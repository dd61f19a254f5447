using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.FeatureManagement;
using Microsoft.FeatureManagement.FeatureFilters;
using Rollout.Core.Engine;
using Rollout.Core.Metrics;
using Rollout.Core.Plans;
using Rollout.Core.Targeting;
using Rollout.Integrations.Exposure;
using FmAudience = Microsoft.FeatureManagement.FeatureFilters.Audience;

namespace Rollout.Benchmarks;

/// <summary>
/// The call every request of the user's app makes: is the flag on for this subject? A flag whose stage exposes named
/// users, groups and tenants plus a percentage, against Microsoft.FeatureManagement's targeting filter evaluating the
/// same audience (tenants become groups "tenant:NAME", since FeatureManagement has no tenants; case-insensitive like
/// Rollout). Each benchmark evaluates <see cref="Subjects"/> different subjects per invocation; figures are per evaluation.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(warmupCount: 5, iterationCount: 20)]
public class FlagEvaluationBenchmarks
{
    /// <summary>Subjects evaluated per invocation (cycled through, so neither answer nor branch is constant).</summary>
    public const int Subjects = 1024;

    private const string Flag = "checkout-v2";

    private static readonly string[] PilotUsers = [.. Enumerable.Range(0, 20).Select(i => $"pilot-{i}@contoso.com")];
    private static readonly string[] InternalGroups = ["internal", "staff-engineering", "qa"];
    private static readonly string[] CustomerTenants = ["flagship", "fabrikam", "northwind"];

    private Core.Targeting.Exposure exposure = null!;
    private FlagStore flags = null!;
    private SubjectContext[] typical = null!;
    private SubjectContext[] named = null!;
    private SubjectContext[] shortIds = null!;
    private ContextualTargetingFilter filter = null!;
    private FeatureFilterEvaluationContext filterContext = null!;
    private TargetingContext[] fmTypical = null!;

    [GlobalSetup]
    public void Setup()
    {
        var plan = PlanParser.Parse(PlanJson(), isYaml: false, new MetricSourceCatalog([MetricSourceSchema.Http])).Plan
            ?? throw new InvalidOperationException("the benchmark plan is invalid");
        const int stage = 3; // internal groups + pilot users + customer tenants + 10%
        exposure = Core.Targeting.Exposure.AtStage(plan, stage);
        flags = new FlagStore();
        var now = DateTimeOffset.UtcNow;
        flags.Apply(new RolloutState("r-bench", plan, RolloutStatus.Running, stage, now, now, 0, 0, null, null, false, null, [], 0, now, now));

        // Typical traffic: a subject that is not named, belongs to a group and a tenant that are not in the audience, so
        // every rule is checked and the percentage decides (about 10% on).
        typical = [.. Enumerable.Range(0, Subjects).Select(i => new SubjectContext($"user-{100000 + i * 7919}@example.com", ["employees"], $"tenant-{i % 64}", null, null))];
        shortIds = [.. typical.Select((c, i) => c with { Subject = $"u{1000000 + i * 7919}" })]; // 8-character ids
        named = [.. Enumerable.Range(0, Subjects).Select(i => new SubjectContext(PilotUsers[i % PilotUsers.Length].ToUpperInvariant(), null, null, null, null))];

        filter = new ContextualTargetingFilter(Options.Create(new TargetingEvaluationOptions { IgnoreCase = true }), NullLoggerFactory.Instance);
        var audience = new FmAudience
        {
            Users = [.. PilotUsers],
            Groups = [.. InternalGroups.Concat(CustomerTenants.Select(t => $"tenant:{t}")).Select(g => new GroupRollout { Name = g, RolloutPercentage = 100 })],
            DefaultRolloutPercentage = 10,
        };
        filterContext = new FeatureFilterEvaluationContext { FeatureName = Flag, Settings = new TargetingFilterSettings { Audience = audience } };
        fmTypical = [.. typical.Select(c => new TargetingContext { UserId = c.Subject, Groups = [.. c.Groups!, $"tenant:{c.Tenant}"] })];

        var ours = typical.Count(c => exposure.Evaluate(c).Enabled);
        var theirs = fmTypical.Count(c => filter.EvaluateAsync(filterContext, c).GetAwaiter().GetResult());
        Console.WriteLine($"// typical subjects on: Rollout {ours} of {Subjects}, FeatureManagement {theirs} of {Subjects} (both about 10%; different hashes)");
    }

    /// <summary>Rollout's compiled exposure, typical subject (every rule misses, the percentage decides).</summary>
    [Benchmark(OperationsPerInvoke = Subjects)]
    public int Rollout_Exposure_Typical()
    {
        var on = 0;
        var contexts = typical;
        for (var i = 0; i < contexts.Length; i++)
        {
            if (exposure.Evaluate(contexts[i]).Enabled)
            {
                on++;
            }
        }

        return on;
    }

    /// <summary>As <see cref="Rollout_Exposure_Typical"/> with 8-character subject ids instead of 23-character e-mails.</summary>
    [Benchmark(OperationsPerInvoke = Subjects)]
    public int Rollout_Exposure_Typical_ShortId()
    {
        var on = 0;
        var contexts = shortIds;
        for (var i = 0; i < contexts.Length; i++)
        {
            if (exposure.Evaluate(contexts[i]).Enabled)
            {
                on++;
            }
        }

        return on;
    }

    /// <summary>Rollout's compiled exposure, a named pilot user in another case.</summary>
    [Benchmark(OperationsPerInvoke = Subjects)]
    public int Rollout_Exposure_NamedUser()
    {
        var on = 0;
        var contexts = named;
        for (var i = 0; i < contexts.Length; i++)
        {
            if (exposure.Evaluate(contexts[i]).Enabled)
            {
                on++;
            }
        }

        return on;
    }

    /// <summary>What the evaluate endpoint calls: the flag store's lookup of the flag, then the exposure.</summary>
    [Benchmark(OperationsPerInvoke = Subjects)]
    public int Rollout_FlagStore_Typical()
    {
        var on = 0;
        var contexts = typical;
        for (var i = 0; i < contexts.Length; i++)
        {
            if (flags.Evaluate(Flag, contexts[i]).Decision.Enabled)
            {
                on++;
            }
        }

        return on;
    }

    /// <summary>Microsoft.FeatureManagement 4.7.0's targeting filter, same audience, typical subject.</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = Subjects)]
    public int FeatureManagement_TargetingFilter_Typical()
    {
        var on = 0;
        var contexts = fmTypical;
        for (var i = 0; i < contexts.Length; i++)
        {
            if (filter.EvaluateAsync(filterContext, contexts[i]).GetAwaiter().GetResult())
            {
                on++;
            }
        }

        return on;
    }

    private static string PlanJson() => $$"""
        { "name": "checkout-v2", "flag": "{{Flag}}", "owner": "alex@contoso.com",
          "stages": [
            { "name": "internal", "audience": { "groups": [{{Quoted(InternalGroups)}}] }, "minDuration": "PT8H" },
            { "name": "pilot", "audience": { "users": [{{Quoted(PilotUsers)}}] }, "minDuration": "P2D" },
            { "name": "customers", "audience": { "tenants": [{{Quoted(CustomerTenants)}}] }, "minDuration": "P7D" },
            { "name": "10%", "percent": 10, "minDuration": "P2D" },
            { "name": "100%", "percent": 100, "minDuration": "P2D" } ],
          "criteria": [ { "name": "error-rate", "source": { "type": "http", "url": "http://127.0.0.1:9000/e?cohort={{"{{cohort}}"}}", "value": "$.value" }, "max": 0.01 } ] }
        """;

    private static string Quoted(IEnumerable<string> names) => string.Join(", ", names.Select(n => $"\"{n}\""));
}
