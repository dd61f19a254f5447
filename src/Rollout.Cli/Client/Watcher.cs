using Rollout.Core.Api;
using Rollout.Core.Engine;

namespace Rollout.Cli.Client;

/// <summary>Follows a rollout: prints each new audit entry as it is written, until the rollout ends.</summary>
internal static class Watcher
{
    /// <summary>Returns the final view once the rollout is terminal.</summary>
    public static async Task<RolloutView> WatchAsync(RolloutClient client, string id, TextWriter output, TimeSpan interval, Func<RolloutView, AuditEvent, Task>? onEntry, CancellationToken ct)
    {
        long seq = 0;
        while (true)
        {
            var entries = await client.GetAsync<List<AuditEvent>>($"api/rollouts/{Uri.EscapeDataString(id)}/audit?after={seq}", ct);
            var view = await client.GetAsync<RolloutView>($"api/rollouts/{Uri.EscapeDataString(id)}", ct);
            foreach (var entry in entries)
            {
                await output.WriteLineAsync(Printer.Line(entry));
                seq = entry.Seq;
                if (onEntry is not null)
                {
                    await onEntry(view, entry);
                }
            }

            if (view.Status is RolloutStatus.Completed or RolloutStatus.RolledBack && entries.Count == 0)
            {
                return view;
            }

            await Task.Delay(interval, ct);
        }
    }
}
