using System.Collections.Concurrent;
using System.Collections.Immutable;
using Rollout.Core.Engine;
using Rollout.Core.Metrics;
using Rollout.Core.Storage;
using Rollout.Functions.Effects;
using Rollout.Functions.Orchestration;

namespace Rollout.Functions.Tests.Fakes;

/// <summary>An <c>http</c> metric source whose readings the test decides.</summary>
internal sealed class StubMetricSource : IMetricSource
{
    private int reads;

    public MetricSourceSchema Schema => MetricSourceSchema.Http;

    /// <summary>The reading for a query; a healthy error rate with plenty of samples by default.</summary>
    public Func<MetricQuery, MetricReading> Reading { get; set; } = _ => new MetricReading(0.001, 5000, null);

    /// <summary>Called on every read, e.g. to raise an event while an evaluation runs.</summary>
    public Action<MetricQuery>? OnRead { get; set; }

    public int Reads => reads;

    public Task<MetricReading> ReadAsync(MetricQuery query, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref reads);
        OnRead?.Invoke(query);
        return Task.FromResult(Reading(query));
    }
}

/// <summary>A notifier that records what it was asked to deliver, and can fail a number of times first.</summary>
internal sealed class RecordingNotifier : INotifier
{
    public ConcurrentQueue<NotifyRequest> Delivered { get; } = new();

    public int FailuresLeft { get; set; }

    public int Attempts { get; private set; }

    public Task NotifyAsync(NotifyRequest request, CancellationToken cancellationToken)
    {
        Attempts++;
        if (FailuresLeft > 0)
        {
            FailuresLeft--;
            throw new HttpRequestException("webhook unreachable");
        }

        Delivered.Enqueue(request);
        return Task.CompletedTask;
    }
}

/// <summary>A store that passes everything to a real one but can fail checkpoints, as an unreachable store would.</summary>
internal sealed class FlakyStore(IRolloutStore inner) : IRolloutStore
{
    public int SaveFailuresLeft { get; set; }

    public int SaveAttempts { get; private set; }

    public Task InitializeAsync(CancellationToken cancellationToken) => inner.InitializeAsync(cancellationToken);

    public Task CreateAsync(RolloutState state, ImmutableArray<AuditEvent> audit, CancellationToken cancellationToken) => inner.CreateAsync(state, audit, cancellationToken);

    public Task<StoredRollout?> GetAsync(string id, CancellationToken cancellationToken) => inner.GetAsync(id, cancellationToken);

    public Task<IReadOnlyList<StoredRollout>> ListAsync(RolloutStatus? status, int limit, CancellationToken cancellationToken) => inner.ListAsync(status, limit, cancellationToken);

    public Task<IReadOnlyList<StoredRollout>> ListChangedSinceAsync(DateTimeOffset since, CancellationToken cancellationToken) => inner.ListChangedSinceAsync(since, cancellationToken);

    public Task<bool> SaveAsync(Checkpoint checkpoint, CancellationToken cancellationToken)
    {
        SaveAttempts++;
        if (SaveFailuresLeft > 0)
        {
            SaveFailuresLeft--;
            throw new IOException("table service unavailable");
        }

        return inner.SaveAsync(checkpoint, cancellationToken);
    }

    public Task<IReadOnlyList<AuditEvent>> GetAuditAsync(string id, long afterSeq, CancellationToken cancellationToken) => inner.GetAuditAsync(id, afterSeq, cancellationToken);

    public Task<StoredCommand> AcceptCommandAsync(StoredCommand command, CancellationToken cancellationToken) => inner.AcceptCommandAsync(command, cancellationToken);

    public Task AnswerCommandAsync(StoredCommand command, CancellationToken cancellationToken) => inner.AnswerCommandAsync(command, cancellationToken);

    public Task<IReadOnlyList<StoredCommand>> PendingCommandsAsync(DateTimeOffset receivedBefore, CancellationToken cancellationToken) => inner.PendingCommandsAsync(receivedBefore, cancellationToken);

    public Task<StoredCommand?> GetCommandAsync(string rolloutId, string commandId, CancellationToken cancellationToken) => inner.GetCommandAsync(rolloutId, commandId, cancellationToken);

    public Task<IReadOnlyList<string>> ClaimDueAsync(string owner, DateTimeOffset now, DateTimeOffset leaseUntil, int max, CancellationToken cancellationToken) => inner.ClaimDueAsync(owner, now, leaseUntil, max, cancellationToken);

    public Task ReleaseAsync(string id, string owner, CancellationToken cancellationToken) => inner.ReleaseAsync(id, owner, cancellationToken);

    public Task<IReadOnlyList<string>> LeaseOwnersAsync(CancellationToken cancellationToken) => inner.LeaseOwnersAsync(cancellationToken);

    public Task ReleaseAllAsync(string owner, CancellationToken cancellationToken) => inner.ReleaseAllAsync(owner, cancellationToken);
}

/// <summary>The real integration store, whose outbox can be made to fail as an unreachable table service would.</summary>
internal sealed class FlakyOutbox(IIntegrationStore inner) : Rollout.Testing.DelegatingIntegrationStore(inner)
{
    public int EnqueueFailuresLeft { get; set; }

    public override Task<bool> EnqueueAsync(Delivery delivery, CancellationToken cancellationToken)
    {
        if (EnqueueFailuresLeft > 0)
        {
            EnqueueFailuresLeft--;
            throw new IOException("table service unavailable");
        }

        return base.EnqueueAsync(delivery, cancellationToken);
    }
}
