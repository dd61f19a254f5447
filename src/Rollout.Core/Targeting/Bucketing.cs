using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.InteropServices;

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
    private const ulong WordPrime = 0x9E3779B97F4A7C15UL;

    /// <summary>The subject's bucket for <paramref name="flag"/>, in [0, <see cref="BucketCount"/>).</summary>
    public static int BucketOf(string flag, string subject) => BucketOf(PrefixOf(flag), subject);

    /// <summary>
    /// The hash state after "flag:", the part of <see cref="BucketOf(string, string)"/> that does not depend on the
    /// subject; an <see cref="Exposure"/> computes it once, so an evaluation hashes only the subject.
    /// </summary>
    internal static ulong PrefixOf(string flag)
    {
        // FNV-1a over the UTF-16 code units of "flag:"; the subject is mixed on top of it (see BucketOf).
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
        // The subject is mixed 4 UTF-16 code units (8 bytes, read little-endian so every platform agrees) at a time,
        // then the rest one unit at a time: an FNV-1a per unit costs ~4 cycles and dominated an evaluation.
        var bytes = MemoryMarshal.AsBytes(subject.AsSpan());
        var hash = prefix ^ ((ulong)subject.Length * WordPrime);
        var i = 0;
        for (; i + 8 <= bytes.Length; i += 8)
        {
            hash = BitOperations.RotateLeft((hash ^ BinaryPrimitives.ReadUInt64LittleEndian(bytes[i..])) * WordPrime, 29);
        }

        for (; i < bytes.Length; i += 2)
        {
            hash = (hash ^ BinaryPrimitives.ReadUInt16LittleEndian(bytes[i..])) * FnvPrime;
        }

        hash ^= hash >> 33;
        hash *= 0xff51afd7ed558ccdUL;
        hash ^= hash >> 33;
        hash *= 0xc4ceb9fe1a85ec53UL;
        hash ^= hash >> 33;

        // Multiply-shift range reduction of the top 32 bits instead of a 64-bit modulo: same spread, no division.
        return (int)(((hash >> 32) * BucketCount) >> 32);
    }

    /// <summary>The number of buckets a percentage covers (10.5% → 10500).</summary>
    public static int BucketsFor(decimal percent) => (int)decimal.Round(Math.Clamp(percent, 0m, 100m) * Resolution, 0);

    /// <summary>True when the subject falls inside <paramref name="percent"/> of <paramref name="flag"/>'s subjects.</summary>
    public static bool IsIn(string flag, string subject, decimal percent) => BucketOf(flag, subject) < BucketsFor(percent);
}
