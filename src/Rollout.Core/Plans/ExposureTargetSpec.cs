using System.Collections.Immutable;
using System.Text.Json.Serialization;

namespace Rollout.Core.Plans;

/// <summary>
/// Where a plan's exposure is written (<c>"exposure": {"type": ...}</c>): the built-in flag store (the default), a
/// <c>webhook</c> or Azure <c>app-configuration</c>, with the target's settings. Secrets never appear here: an
/// App Configuration connection is named, and the host resolves the name from its settings.
/// </summary>
public sealed record ExposureTargetSpec(string Type, ImmutableSortedDictionary<string, string> Settings)
{
    /// <summary>The built-in flag store, answered by the evaluate endpoint.</summary>
    public const string BuiltIn = "built-in";

    /// <summary>POST <c>{flag, stage, percent, audience}</c> to a URL.</summary>
    public const string Webhook = "webhook";

    /// <summary>Write a Microsoft.FeatureManagement flag to Azure App Configuration.</summary>
    public const string AppConfiguration = "app-configuration";

    /// <summary>The target types a plan may name, with their required and optional settings.</summary>
    public static ImmutableSortedDictionary<string, (ImmutableArray<string> Required, ImmutableArray<string> Optional)> Types { get; } =
        ImmutableSortedDictionary.CreateRange(StringComparer.Ordinal, new[]
        {
            KeyValuePair.Create(BuiltIn, (ImmutableArray<string>.Empty, ImmutableArray<string>.Empty)),
            KeyValuePair.Create(Webhook, (ImmutableArray.Create("url"), ImmutableArray.Create("timeout"))),
            KeyValuePair.Create(AppConfiguration, (ImmutableArray.Create("connection"), ImmutableArray.Create("label", "timeout"))),
        });

    /// <summary>
    /// True when exposure leaves this process: the machine then promotes only once the host confirms that the current
    /// stage's exposure was applied (see <see cref="Engine.ExposureConfirmed"/>).
    /// </summary>
    [JsonIgnore]
    public bool IsExternal => !string.Equals(Type, BuiltIn, StringComparison.Ordinal);

    /// <summary>A setting's value, or null when it is absent.</summary>
    public string? Get(string key) => Settings.TryGetValue(key, out var value) ? value : null;
}
