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

    /// <summary>The subject's bucket for <paramref name="flag"/>, in [0, <see cref="BucketCount"/>).</summary>
    public static int BucketOf(string flag, string subject)
    {
        // FNV-1a over the UTF-16 code units of "flag:subject", then a 64-bit finaliser for an even spread.
        const ulong offset = 14695981039346656037UL;
        const ulong prime = 1099511628211UL;
        var hash = offset;
        foreach (var c in flag)
        {
            hash = (hash ^ c) * prime;
        }

        hash = (hash ^ ':') * prime;
        foreach (var c in subject)
        {
            hash = (hash ^ c) * prime;
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
