using Microsoft.Extensions.Logging;
using Rollout.Core.Api;
using Rollout.Core.Engine;
using Rollout.Core.Storage;

namespace Rollout.Integrations.AzureDevOps;

/// <summary>A refused gate registration: the HTTP status, a title and what was wrong (per header when the headers were).</summary>
/// <param name="Status">400 or 404.</param>
/// <param name="Title">The problem's title.</param>
/// <param name="Detail">What happened (always: nothing was registered).</param>
/// <param name="Errors">Per header, what is missing or invalid.</param>
public sealed record GateProblem(int Status, string Title, string Detail, IReadOnlyDictionary<string, string[]>? Errors = null);

/// <summary>The answer to a registration: the waiter (a new one, or the one a retried registration already made) and the gate now.</summary>
/// <param name="WaiterId">The waiter's id.</param>
/// <param name="Waiter">Waiting or Resolved.</param>
/// <param name="Until">The stage (or <c>completed</c>) the pipeline waits for.</param>
/// <param name="Gate">The gate as <c>GET /api/rollouts/{id}/gate</c> answers it now.</param>
public sealed record GateRegistered(string WaiterId, GateWaiterStatus Waiter, string Until, GateView Gate);

/// <summary>
/// The callback mode of the Azure DevOps gate, for every host: <see cref="RegisterAsync"/> stores a durable waiter from the
/// task's headers (<c>POST /api/rollouts/{id}/gate?until=</c>); <see cref="ResolveAsync"/>, run by the host's delivery
/// loop, resolves the waiters whose rollout reached (succeeded) or missed (failed) their target, putting the
/// <c>TaskCompleted</c> event in the outbox, where <see cref="AzureDevOpsGateHandler"/> posts it with retries.
/// </summary>
public static class CallbackGate
{
    /// <summary>The target a gate waits for when <c>until</c> is not given.</summary>
    public const string Completed = "completed";

    /// <summary>
    /// Registers a waiter for <paramref name="rolloutId"/> (<paramref name="rollout"/> as stored, null when there is none)
    /// if <paramref name="allowPlanUrl"/> allows the task's <c>PlanUrl</c> (<see cref="Hosting.IntegrationSettings.AllowsPlanUrl"/>).
    /// Returns the registration or the problem; a problem registers nothing.
    /// </summary>
    public static async Task<(GateRegistered? Registered, GateProblem? Problem)> RegisterAsync(
        string rolloutId,
        RolloutState? rollout,
        string? until,
        Func<string, string?> header,
        Func<Uri, bool> allowPlanUrl,
        IGateWaiterStore waiters,
        DateTimeOffset now,
        CancellationToken cancellationToken)
    {
        if (rollout is null)
        {
            return (null, new GateProblem(404, "Not found", $"no rollout '{rolloutId}'"));
        }

        var target = string.IsNullOrWhiteSpace(until) ? Completed : until.Trim();
        if (!string.Equals(target, Completed, StringComparison.OrdinalIgnoreCase)
            && !rollout.Plan.Stages.Any(s => string.Equals(s.Name, target, StringComparison.OrdinalIgnoreCase)))
        {
            return (null, new GateProblem(400, "Unknown stage", $"'until' must be '{Completed}' or a stage of the plan ({string.Join(", ", rollout.Plan.Stages.Select(s => s.Name))}); nothing was registered"));
        }

        var (callback, errors) = AzureDevOpsGate.Parse(header);
        if (callback is null)
        {
            return (null, new GateProblem(400, "The gate request is missing the task's headers", "nothing was registered", errors));
        }

        // The job's token is posted to PlanUrl: only to Azure DevOps hosts this host allows, never where a caller points it.
        var planUrl = new Uri(callback.PlanUrl);
        if (!allowPlanUrl(planUrl))
        {
            return (null, new GateProblem(400, "PlanUrl is not an allowed Azure DevOps host", "nothing was registered", new Dictionary<string, string[]>
            {
                ["PlanUrl"] = [$"host '{planUrl.Host}' ({planUrl.Scheme}) is not an allowed Azure DevOps host; add it to the setting AzureDevOps:AllowedHosts (default {string.Join(", ", Hosting.IntegrationSettings.DefaultAzureDevOpsHosts)}, https only)"],
            }));
        }

        var waiter = await waiters.RegisterAsync(new GateWaiter(callback.WaiterId, rolloutId, target, callback, now), cancellationToken);
        return (new GateRegistered(waiter.Id, waiter.Status, waiter.Until, GateView.From(rollout, waiter.Until)), null);
    }

    /// <summary>
    /// Resolves every waiting waiter whose rollout reached or missed its target (or no longer exists): its
    /// <c>TaskCompleted</c> delivery is enqueued first, then the waiter is marked resolved, so a crash in between only
    /// enqueues the same delivery again (same id). Returns how many were resolved.
    /// </summary>
    public static async Task<int> ResolveAsync(
        IGateWaiterStore waiters,
        IDeliveryStore outbox,
        Func<string, CancellationToken, Task<RolloutState?>> loadRollout,
        DateTimeOffset now,
        ILogger log,
        CancellationToken cancellationToken)
    {
        var resolved = 0;
        foreach (var waiter in await waiters.WaitingAsync(cancellationToken))
        {
            var state = await loadRollout(waiter.RolloutId, cancellationToken);
            var (status, message) = state is null
                ? ("failed", $"rollout '{waiter.RolloutId}' no longer exists")
                : GateView.From(state, waiter.Until) is var view ? (view.Status, view.Message) : default;
            if (status is not ("succeeded" or "failed"))
            {
                continue;
            }

            var payload = new GateCallbackPayload(waiter.Callback, status, waiter.Id);
            await outbox.EnqueueAsync(new Delivery($"gate:{waiter.Id}", DeliveryKind.GateCallback, waiter.RolloutId, "azure-devops", payload.Serialize(), now, now), cancellationToken);
            await waiters.ResolveAsync(waiter.Id, status, now, cancellationToken);
            resolved++;
            log.LogInformation("Gate waiter {Waiter} of rollout {Id} resolved {Status}: {Message}", waiter.Id, waiter.RolloutId, status, message);
        }

        return resolved;
    }
}
