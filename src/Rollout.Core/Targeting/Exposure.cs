using System.Globalization;
using Rollout.Core.Plans;

namespace Rollout.Core.Targeting;

/// <summary>Who asks for a flag: the subject (user) and what it belongs to. All parts are optional.</summary>
public readonly record struct SubjectContext(string? Subject, IReadOnlyList<string>? Groups, string? Tenant, string? Region, string? Role);

/// <summary>A flag decision and why it was made.</summary>
public readonly record struct FlagDecision(bool Enabled, string Reason);

/// <summary>
/// The exposure of a flag at one stage of a plan, compiled for fast lookups: the union of every audience up to
/// and including the stage, and the highest percentage so far. Immutable; equal inputs give equal answers.
/// </summary>
public sealed class Exposure
{
    // Null when the kind has no names, so an evaluation skips it without a lookup.
    private readonly NameIndex? users;
    private readonly NameIndex? groups;
    private readonly NameIndex? tenants;
    private readonly NameIndex? regions;
    private readonly NameIndex? roles;
    private readonly int buckets;
    private readonly ulong bucketPrefix;
    private readonly string percentReason;

    private Exposure(string flag, int? stageIndex, string? stageName, decimal percent, IReadOnlyList<StagePlan> stages)
    {
        Flag = flag;
        StageIndex = stageIndex;
        StageName = stageName;
        Percent = percent;
        buckets = Bucketing.BucketsFor(percent);
        bucketPrefix = Bucketing.PrefixOf(flag);
        percentReason = $"in the {percent.ToString("0.###", CultureInfo.InvariantCulture)}% rollout";

        // Each entry maps a name to the reason reported for it, built once so a lookup allocates nothing.
        NameIndex? Index(string kind, Func<Audience, IEnumerable<string>> select)
        {
            var map = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            foreach (var stage in stages)
            {
                foreach (var name in select(stage.Audience))
                {
                    map.TryAdd(name, $"{kind} of stage '{stage.Name}'");
                }
            }

            return map.Count == 0 ? null : new NameIndex(map);
        }

        users = Index("user", a => a.Users);
        groups = Index("group", a => a.Groups);
        tenants = Index("tenant", a => a.Tenants);
        regions = Index("region", a => a.Regions);
        roles = Index("role", a => a.Roles);
    }

    /// <summary>The flag.</summary>
    public string Flag { get; }

    /// <summary>The stage this exposure belongs to, or null when nobody is exposed.</summary>
    public int? StageIndex { get; }

    /// <summary>The stage's name, or null when nobody is exposed.</summary>
    public string? StageName { get; }

    /// <summary>The percentage of all subjects exposed by bucketing (on top of the named audiences).</summary>
    public decimal Percent { get; }

    /// <summary>Nobody is exposed: before a rollout or after a rollback.</summary>
    public static Exposure None(string flag) => new(flag, null, null, 0, []);

    /// <summary>The cumulative exposure of <paramref name="plan"/> at stage <paramref name="stageIndex"/>.</summary>
    public static Exposure AtStage(RolloutPlan plan, int stageIndex)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(stageIndex);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(stageIndex, plan.Stages.Length);
        var stages = plan.Stages.Take(stageIndex + 1).ToArray();
        var percent = stages.Select(s => s.Percent ?? 0m).Max();
        return new Exposure(plan.Flag, stageIndex, plan.Stages[stageIndex].Name, percent, stages);
    }

    /// <summary>Decides for one subject. Allocation-free for the enabled and disabled paths.</summary>
    public FlagDecision Evaluate(in SubjectContext context)
    {
        if (StageIndex is null)
        {
            return new FlagDecision(false, "no exposure");
        }

        var subject = context.Subject;
        if (users is not null && subject is { Length: > 0 } && users.TryGetValue(subject, out var userStage))
        {
            return new FlagDecision(true, userStage);
        }

        if (groups is not null && context.Groups is { } memberOf)
        {
            for (var i = 0; i < memberOf.Count; i++)
            {
                if (groups.TryGetValue(memberOf[i], out var stage))
                {
                    return new FlagDecision(true, stage);
                }
            }
        }

        if (tenants is not null && context.Tenant is { Length: > 0 } tenant && tenants.TryGetValue(tenant, out var tenantStage))
        {
            return new FlagDecision(true, tenantStage);
        }

        if (regions is not null && context.Region is { Length: > 0 } region && regions.TryGetValue(region, out var regionStage))
        {
            return new FlagDecision(true, regionStage);
        }

        if (roles is not null && context.Role is { Length: > 0 } role && roles.TryGetValue(role, out var roleStage))
        {
            return new FlagDecision(true, roleStage);
        }

        // The flag's part of the hash is computed once (bucketPrefix); only the subject is hashed here.
        if (buckets > 0 && subject is { Length: > 0 } && Bucketing.BucketOf(bucketPrefix, subject) < buckets)
        {
            return new FlagDecision(true, percentReason);
        }

        return new FlagDecision(false, "not in the audience");
    }
}
