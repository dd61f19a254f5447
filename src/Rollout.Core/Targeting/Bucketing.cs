namespace Rollout.Core.Targeting;

/// <summary>
/// Sticky percentage bucketing. A subject's bucket is a hash of the flag and the subject, so the same
/// subject always gets the same answer, and raising the percentage only adds subjects.
/// </summary>
public static class Bucketing
{
    /// <summary>Buckets per whole percent: percentages have up to 3 decimals.</summary>
    public const int Resolution = 1000;

    /// <summary>The number of buckets: 100% × <see cref="Resolution"/>.</summary>
    public const int BucketCount = 100 * Resolution;

    private const ulong FnvOffset = 14695981039346656037UL;
    private const ulong FnvPrime = 1099511628211UL;

    /// <summary>The subject's bucket for <paramref name="flag"/>, in [0, <see cref="BucketCount"/>).</summary>
    public static int BucketOf(string flag, string subject) => BucketOf(PrefixOf(flag), subject);

    /// <summary>
    /// The hash state after "flag:", the part of <see cref="BucketOf(string, string)"/> that does not depend on the
    /// subject; an <see cref="Exposure"/> computes it once, so an evaluation hashes only the subject.
    /// </summary>
    internal static ulong PrefixOf(string flag)
    {
        // FNV-1a over the UTF-16 code units of "flag:subject", then a 64-bit finaliser for an even spread.
        var hash = FnvOffset;
        foreach (var c in flag)
        {
            hash = (hash ^ c) * FnvPrime;
        }

        return (hash ^ ':') * FnvPrime;
    }

    /// <summary>The bucket of <paramref name="subject"/> given the flag's <see cref="PrefixOf(string)"/>; allocation-free.</summary>
    internal static int BucketOf(ulong prefix, string subject)
    {
        var hash = prefix;
        foreach (var c in subject)
        {
            hash = (hash ^ c) * FnvPrime;
        }

        hash ^= hash >> 33;
        hash *= 0xff51afd7ed558ccdUL;
        hash ^= hash >> 33;
        hash *= 0xc4ceb9fe1a85ec53UL;
        hash ^= hash >> 33;
        return (int)(hash % BucketCount);
    }

    /// <summary>The number of buckets a percentage covers (10.5% → 10500).</summary>
    public static int BucketsFor(decimal percent) => (int)decimal.Round(Math.Clamp(percent, 0m, 100m) * Resolution, 0);

    /// <summary>True when the subject falls inside <paramref name="percent"/> of <paramref name="flag"/>'s subjects.</summary>
    public static bool IsIn(string flag, string subject, decimal percent) => BucketOf(flag, subject) < BucketsFor(percent);
}
