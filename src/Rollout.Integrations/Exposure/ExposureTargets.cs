using System.Collections.Immutable;
using System.Text;
using System.Text.Json;
using Rollout.Core.Api;
using Rollout.Core.Plans;
using Rollout.Integrations.Outbox;

namespace Rollout.Integrations.Exposure;

/// <summary>
/// The exposure of a flag at a stage as an external target receives it: the stage, the highest percentage so far and the
/// union of every audience up to the stage (exposure is cumulative: a stage exposes its own audience and every earlier
/// one's). <see cref="Stage"/> null and percent 0 mean nobody (a rollback).
/// </summary>
public sealed record ExposureSnapshot(string Flag, string RolloutId, int? StageIndex, string? Stage, decimal Percent, Audience Audience)
{
    /// <summary>The exposure of <paramref name="plan"/> at <paramref name="stageIndex"/> (null: nobody).</summary>
    public static ExposureSnapshot Of(RolloutPlan plan, string rolloutId, int? stageIndex)
    {
        if (stageIndex is not { } index)
        {
            return new ExposureSnapshot(plan.Flag, rolloutId, null, null, 0m, Audience.Empty);
        }

        var stages = plan.Stages.Take(index + 1).ToArray();
        ImmutableArray<string> Union(Func<Audience, ImmutableArray<string>> select) =>
            [.. stages.SelectMany(s => select(s.Audience)).Distinct(StringComparer.OrdinalIgnoreCase)];
        var audience = new Audience(Union(a => a.Users), Union(a => a.Groups), Union(a => a.Tenants), Union(a => a.Regions), Union(a => a.Roles));
        return new ExposureSnapshot(plan.Flag, rolloutId, index, plan.Stages[index].Name, stages.Select(s => s.Percent ?? 0m).Max(), audience);
    }
}

/// <summary>The one write every host makes for a plan with an external target.</summary>
public static class DesiredExposure
{
    /// <summary>
    /// Writes <paramref name="state"/>'s desired exposure (<see cref="Core.Engine.RolloutState.DesiredExposureStage"/>) to
    /// its plan's target, found in <paramref name="byType"/>, with the delivery id that is the same on every retry
    /// (<see cref="OutboxComposer.ExposureDeliveryId"/>). A target this host lacks is a result to retry, not an exception.
    /// </summary>
    public static Task<DeliveryResult> WriteAsync(Core.Engine.RolloutState state, IReadOnlyDictionary<string, IExposureTarget> byType, CancellationToken cancellationToken)
    {
        var spec = state.Plan.Exposure!;
        return byType.TryGetValue(spec.Type, out var target)
            ? target.ApplyAsync(ExposureSnapshot.Of(state.Plan, state.Id, state.DesiredExposureStage), spec, OutboxComposer.ExposureDeliveryId(state), cancellationToken)
            : Task.FromResult(DeliveryResult.Retry($"exposure target '{spec.Type}' is not available on this host"));
    }
}

/// <summary>An external place a plan's exposure is written to (<c>"exposure": {"type": ...}</c>).</summary>
public interface IExposureTarget
{
    /// <summary>The plan's <c>exposure.type</c> this target serves.</summary>
    string Type { get; }

    /// <summary>
    /// Writes the exposure; idempotent (the same snapshot twice equals once). <paramref name="deliveryId"/> is the same on
    /// every retry of one write. A fault of the peer is a result, not an exception.
    /// </summary>
    Task<DeliveryResult> ApplyAsync(ExposureSnapshot exposure, ExposureTargetSpec spec, string deliveryId, CancellationToken cancellationToken);
}

/// <summary>
/// The <c>webhook</c> target: POSTs <c>{flag, stage, percent, audience}</c> as JSON to the plan's <c>url</c> and requires a
/// 2xx. <c>x-rollout-delivery</c> carries the delivery id (the same on every retry) so the receiver can drop repeats.
/// Any other answer, a timeout or a refused connection is retried; the rollout holds its stage until it succeeds.
/// </summary>
public sealed class WebhookExposureTarget(HttpClient client, TimeProvider time) : IExposureTarget
{
    /// <summary>The header carrying the delivery id.</summary>
    public const string DeliveryHeader = "x-rollout-delivery";

    private static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(10);

    /// <inheritdoc/>
    public string Type => ExposureTargetSpec.Webhook;

    /// <summary>The body posted for <paramref name="exposure"/>.</summary>
    public static string Body(ExposureSnapshot exposure) => new System.Text.Json.Nodes.JsonObject
    {
        ["flag"] = exposure.Flag,
        ["stage"] = exposure.Stage, // null after a rollback: always present
        ["percent"] = exposure.Percent,
        ["audience"] = JsonSerializer.SerializeToNode(exposure.Audience, RolloutJson.Options),
    }.ToJsonString(RolloutJson.Options);

    /// <inheritdoc/>
    public Task<DeliveryResult> ApplyAsync(ExposureSnapshot exposure, ExposureTargetSpec spec, string deliveryId, CancellationToken cancellationToken)
    {
        var url = new Uri(spec.Get("url") ?? throw new ArgumentException("a webhook target needs a url", nameof(spec)));
        var timeout = spec.Get("timeout") is { } text && Durations.TryParse(text, out var parsed, out _) ? parsed : DefaultTimeout;
        var body = Body(exposure);
        return PeerCall.SendAsync(
            client,
            () =>
            {
                var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
                request.Headers.Add(DeliveryHeader, deliveryId);
                return request;
            },
            timeout,
            time,
            cancellationToken);
    }
}
