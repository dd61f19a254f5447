using System.Diagnostics.CodeAnalysis;
using System.Runtime.InteropServices;
using System.Text;

namespace Rollout.Core.Targeting;

/// <summary>
/// A read-only map from audience names to the reason reported for them, matched like
/// <see cref="StringComparer.OrdinalIgnoreCase"/>, built for the miss that most evaluations are. A name whose length no
/// key has is refused with one bit test; otherwise an ASCII-case-folded hash of the whole name (four characters per
/// multiplication) picks a slot of an open-addressing table at most a quarter full, and a hit is confirmed with
/// <see cref="string.Equals(string, string, StringComparison)"/>, so the answers are exactly those of a
/// <c>FrozenDictionary</c> with <see cref="StringComparer.OrdinalIgnoreCase"/>, which cost 10-25 ns per miss here
/// when keys share the name's length (bench/README.md). Names that are not ASCII are rare and take a linear path, since
/// OrdinalIgnoreCase can equate them with ASCII ones (e.g. U+212A KELVIN SIGN and 'k').
/// </summary>
internal sealed class NameIndex
{
    private const ulong Fold = 0x0020_0020_0020_0020UL;
    private readonly Entry[] slots;
    private readonly int mask;
    private readonly ulong lengths;
    private readonly string[] nonAscii;
    private readonly KeyValuePair<string, string>[] all;

    /// <summary>Builds the index; <paramref name="names"/> must already be unique under OrdinalIgnoreCase.</summary>
    public NameIndex(IReadOnlyDictionary<string, string> names)
    {
        var size = 8;
        while (size < names.Count * 4)
        {
            size *= 2;
        }

        slots = new Entry[size];
        mask = size - 1;
        all = [.. names];
        nonAscii = [.. names.Keys.Where(n => !Ascii.IsValid(n))];
        foreach (var (name, value) in names)
        {
            lengths |= LengthBit(name.Length);
            if (Hash(name) is not { } hash)
            {
                continue;
            }

            var slot = (int)hash & mask;
            while (slots[slot].Name is not null)
            {
                slot = (slot + 1) & mask;
            }

            slots[slot] = new Entry(name, value, hash);
        }
    }

    /// <summary>Looks <paramref name="name"/> up case-insensitively; allocation-free.</summary>
    public bool TryGetValue(string name, [MaybeNullWhen(false)] out string value)
    {
        // Equal under OrdinalIgnoreCase implies equal length (UTF-16 code units are compared one to one).
        if ((lengths & LengthBit(name.Length)) != 0)
        {
            if (nonAscii.Length == 0 && Hash(name) is { } hash)
            {
                var slots = this.slots;
                for (var slot = (int)hash & mask; ; slot = (slot + 1) & mask)
                {
                    ref readonly var entry = ref slots[slot];
                    if (entry.Name is null)
                    {
                        break;
                    }

                    if (entry.Hash == hash && string.Equals(entry.Name, name, StringComparison.OrdinalIgnoreCase))
                    {
                        value = entry.Value;
                        return true;
                    }
                }
            }
            else
            {
                return Scan(name, out value);
            }
        }

        value = null;
        return false;
    }

    private static ulong LengthBit(int length) => 1UL << Math.Min(length, 63);

    // OR-ing 0x20 into every character maps 'A'-'Z' onto 'a'-'z' and any other ASCII character onto a fixed one, so two
    // ASCII names equal under OrdinalIgnoreCase hash alike. Null for a name that is not ASCII (it takes the linear path).
    private static uint? Hash(string name)
    {
        var span = name.AsSpan();
        var h = 0x9E37_79B9_7F4A_7C15UL ^ (ulong)span.Length;
        var high = 0UL;
        var words = MemoryMarshal.Cast<char, ulong>(span);
        foreach (var word in words)
        {
            high |= word;
            h = (h ^ (word | Fold)) * 0xFF51_AFD7_ED55_8CCDUL;
        }

        foreach (var c in span[(words.Length * 4)..])
        {
            high |= c;
            h = (h ^ (uint)(c | 0x20)) * 0xC4CE_B9FE_1A85_EC53UL;
        }

        return (high & 0xFF80_FF80_FF80_FF80UL) != 0 ? null : (uint)(h ^ (h >> 32));
    }

    private bool Scan(string name, [MaybeNullWhen(false)] out string value)
    {
        foreach (var (key, reason) in all)
        {
            if (string.Equals(key, name, StringComparison.OrdinalIgnoreCase))
            {
                value = reason;
                return true;
            }
        }

        value = null;
        return false;
    }

    private readonly record struct Entry(string? Name, string Value, uint Hash);
}
