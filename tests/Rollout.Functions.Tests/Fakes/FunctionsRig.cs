using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using Rollout.Core.Api;
using Rollout.Core.Engine;
using Rollout.Core.Gates;
using Rollout.Core.Plans;
using Rollout.Core.Storage;
using Rollout.Functions.Effects;
using Rollout.Functions.Http;
using Rollout.Functions.Integrations;
using Rollout.Functions.Orchestration;
using Rollout.Integrations.Hosting;
using Rollout.Integrations.Metrics;
using Rollout.Integrations.Outbox;
using Rollout.Integrations.Storage;

namespace Rollout.Functions.Tests.Fakes;

/// <summary>Records every exposure applied, then applies it (built-in flag store, and the plan's external target if any).</summary>
internal sealed class RecordingExposure(IExposureWriter inner, TimeProvider clock) : IExposureWriter
{
    public ConcurrentQueue<RolloutState> Applied { get; } = new();

    public ConcurrentQueue<DateTimeOffset> AppliedAt { get; } = new();

    public int FailuresLeft { get; set; }

    public Task ApplyAsync(RolloutState state, CancellationToken cancellationToken)
    {
        if (FailuresLeft > 0)
        {
            FailuresLeft--;
            throw new HttpRequestException("exposure target unreachable");
        }

        Applied.Enqueue(state);
        AppliedAt.Enqueue(clock.GetUtcNow());
        return inner.ApplyAsync(state, cancellationToken);
    }
}

/// <summary>
/// The Functions app assembled as the worker assembles it, over a real SQLite store and a virtual clock: the HTTP
/// triggers, the real orchestrator run by an <see cref="OrchestrationHarness"/> per rollout, the real activities, a
/// stub metric source. The fake Durable client hands scheduled orchestrations and raised events to the harness and
/// runs it until it waits again, as the runtime would before the trigger's next poll.
/// </summary>
internal sealed class FunctionsRig : IAsyncDisposable
{
    private readonly string directory = Path.Combine(Path.GetTempPath(), "rollout-functions-tests", Guid.NewGuid().ToString("N"));

    private FunctionsRig(RolloutFunctionsOptions options, IEnumerable<KeyValuePair<string, string?>> settings)
    {
        Directory.CreateDirectory(directory);
        Sqlite = new SqliteRolloutStore(Path.Combine(directory, "rollout.db"));
        Store = new FlakyStore(Sqlite);
        Outbox = new FlakyOutbox(new SqliteIntegrationStore(Path.Combine(directory, "rollout.db")));
        Options = options;
        Settings = IntegrationSettings.From(new ConfigurationBuilder().AddInMemoryCollection(settings).Build(), dataDirectory: null);
        Settings.PublicUrl ??= new Uri("https://rollout-test.azurewebsites.net/");
        Evaluator = new CriteriaEvaluator([Metrics], Clock);
        Flags = new FlagCache(Store, Clock, Options);
        var targets = IntegrationAdapters.ExposureTargets(Peers, Clock, Settings, () => throw new AssertFailedException("the tests use access keys, not Entra ID"));
        Exposure = new RecordingExposure(new ExposureWriter(Flags, targets), Clock);
        Composer = new OutboxComposer(Settings);
        Activities = new RolloutActivities(Store, Evaluator, Exposure, Notifier, Outbox, Composer, Clock, NullLogger<RolloutActivities>.Instance);
        Orchestrator = new RolloutOrchestrator(NullLogger<RolloutOrchestrator>.Instance);
        Commands = new RolloutCommands(Store, Clock, Options, NullLogger<RolloutCommands>.Instance);
        Api = new RolloutApi(Store, Evaluator, Flags, Commands, Settings);
        IntegrationApi = new IntegrationApi(Store, Outbox, Outbox, Outbox, Settings, Commands, Clock, NullLogger<IntegrationApi>.Instance);
        Worker = new DeliveryWorker(
            Outbox,
            IntegrationAdapters.PeerHandlers(Peers, Clock, Settings, TimeSpan.FromSeconds(5)),
            Clock,
            DeliveryOptions.Default,
            NullLogger<DeliveryWorker>.Instance);
        Deliveries = new DeliveryFunctions(Store, Outbox, Worker, Settings, Clock, NullLogger<DeliveryFunctions>.Instance);
        Handlers = new()
        {
            [nameof(RolloutActivities.EvaluateCriteria)] = async json => Serialize(await Activities.EvaluateCriteria(Deserialize<EvaluateRequest>(json), CancellationToken.None)),
            [nameof(RolloutActivities.ApplyExposure)] = async json => { await Activities.ApplyExposure(Deserialize<ExposureRequest>(json), CancellationToken.None); return null; },
            [nameof(RolloutActivities.Notify)] = async json => { await Activities.Notify(Deserialize<NotifyRequest>(json), CancellationToken.None); return null; },
            [nameof(RolloutActivities.EnqueueNotifications)] = async json => { await Activities.EnqueueNotifications(Deserialize<EnqueueNotificationsRequest>(json), CancellationToken.None); return null; },
            [nameof(RolloutActivities.AppendAudit)] = async json => { await Activities.AppendAudit(Deserialize<AppendAuditRequest>(json), CancellationToken.None); return null; },
        };
        Client.OnScheduled = async (id, json) =>
        {
            var harness = new OrchestrationHarness(id, Clock, Orchestrator.RunAsync, Handlers);
            Harnesses[id] = harness;
            harness.Start(json);
            await RunAsync(harness);
        };
        Client.OnRaised = async (id, name, json) =>
        {
            if (Harnesses.TryGetValue(id, out var harness) && ForwardEvents)
            {
                harness.RaiseJson(name, json);
                await RunAsync(harness);
            }
        };
    }

    public VirtualClock Clock { get; } = new();

    public StubMetricSource Metrics { get; } = new();

    public RecordingNotifier Notifier { get; } = new();

    public SqliteRolloutStore Sqlite { get; }

    /// <summary>The real SQLite outbox, gate-waiter and approval-link store (the Table Storage one passes the same contract tests).</summary>
    public FlakyOutbox Outbox { get; }

    /// <summary>The integration settings the test gave (Teams channels, signing key...).</summary>
    public IntegrationSettings Settings { get; }

    /// <summary>The HTTP client to peers (real sockets, to <see cref="Rollout.Testing.PeerFixture"/>s on loopback).</summary>
    public HttpClient Peers { get; } = new() { Timeout = Timeout.InfiniteTimeSpan };

    public OutboxComposer Composer { get; }

    public IntegrationApi IntegrationApi { get; }

    public DeliveryWorker Worker { get; }

    public DeliveryFunctions Deliveries { get; }

    public FlakyStore Store { get; }

    public RolloutFunctionsOptions Options { get; }

    public CriteriaEvaluator Evaluator { get; }

    public FlagCache Flags { get; }

    public RecordingExposure Exposure { get; }

    public RolloutActivities Activities { get; }

    public RolloutOrchestrator Orchestrator { get; }

    public RolloutCommands Commands { get; }

    public RolloutApi Api { get; }

    public FakeDurableTaskClient Client { get; } = new();

    /// <summary>The activity functions by name, as the harness calls them; a test may replace one.</summary>
    public Dictionary<string, Func<string?, Task<string?>>> Handlers { get; }

    public Dictionary<string, OrchestrationHarness> Harnesses { get; } = [];

    /// <summary>False to let raised events vanish (an orchestrator that is slow to answer).</summary>
    public bool ForwardEvents { get; set; } = true;

    public static async Task<FunctionsRig> CreateAsync(RolloutFunctionsOptions? options = null, params (string Key, string Value)[] settings)
    {
        var rig = new FunctionsRig(options ?? RolloutFunctionsOptions.Default, settings.Select(s => new KeyValuePair<string, string?>(s.Key, s.Value)));
        await rig.Store.InitializeAsync(CancellationToken.None);
        await rig.Outbox.InitializeAsync(CancellationToken.None);
        return rig;
    }

    /// <summary>One run of the delivery timer.</summary>
    public Task DeliverAsync() => Deliveries.DeliverOutbox(new TimerInfo(), CancellationToken.None);

    /// <summary>One run of the daily prune timer.</summary>
    public Task PruneAsync() => Deliveries.PruneOutbox(new TimerInfo(), CancellationToken.None);

    public static RolloutPlan Plan(string json)
    {
        var parsed = PlanParser.Parse(json, false, TestPlans.Catalog);
        Assert.IsTrue(parsed.IsValid, string.Join("; ", parsed.Errors.Select(e => $"{e.Key}: {string.Join(", ", e.Value)}")));
        return parsed.Plan!;
    }

    public static string Serialize(object? value) => JsonSerializer.Serialize(value, value?.GetType() ?? typeof(object), FakeOrchestrationContext.Json);

    public static T Deserialize<T>(string? json) => JsonSerializer.Deserialize<T>(json!, FakeOrchestrationContext.Json)!;

    /// <summary>Starts a rollout the way the start trigger does and runs its first generation.</summary>
    public async Task<OrchestrationHarness> StartAsync(string planJson, string actor = TestPlans.Approver)
    {
        var state = await Commands.StartAsync(Client, Plan(planJson), actor, CancellationToken.None);
        return Harnesses[state.Id];
    }

    /// <summary>Stores a command and raises it at <paramref name="at"/> without waiting (what the trigger does first).</summary>
    public async Task<string> SendAsync(OrchestrationHarness harness, string kind, CommandBody body, DateTimeOffset? at = null)
    {
        var json = JsonSerializer.Serialize(body, RolloutJson.Options);
        var command = CommandCodec.Parse(kind, json).Command ?? throw new AssertFailedException($"bad test command {json}");
        var id = body.CommandId ?? Guid.NewGuid().ToString("N");
        var envelope = new CommandEnvelope(id, command.Kind, json, at ?? Clock.Now);
        await Store.AcceptCommandAsync(new StoredCommand(harness.InstanceId, id, command.Kind, json, envelope.ReceivedAt, null), CancellationToken.None);
        harness.Raise(RolloutOrchestrator.CommandEvent, envelope, at);
        return id;
    }

    public async Task<RolloutState> StateAsync(string id) => (await Store.GetAsync(id, CancellationToken.None))!.State;

    public Task<IReadOnlyList<AuditEvent>> AuditAsync(string id) => Store.GetAuditAsync(id, 0, CancellationToken.None);

    public async Task<CommandResult?> AnswerAsync(string rolloutId, string commandId) =>
        (await Store.GetCommandAsync(rolloutId, commandId, CancellationToken.None))?.Result;

    /// <summary>An evaluation that fails every criterion (the metric is far over its limit).</summary>
    public void Failing() => Metrics.Reading = q => new(q.Cohort == Core.Metrics.Cohort.Treatment ? 0.2 : 0.001, 5000, null);

    public async Task RunAsync(OrchestrationHarness harness)
    {
        await harness.RunUntilIdleAsync();
        Sync(harness);
    }

    public void Sync(OrchestrationHarness harness)
    {
        if (harness.IsCompleted)
        {
            Client.Statuses[harness.InstanceId] = OrchestrationRuntimeStatus.Completed;
        }
    }

    public ValueTask DisposeAsync()
    {
        Flags.Dispose();
        Peers.Dispose();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (IOException)
        {
            // a leftover temp directory is harmless
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>Evaluations the orchestrator recorded, from the audit log.</summary>
    public async Task<IReadOnlyList<Outcome>> EvaluationsAsync(string id) =>
        [.. (await AuditAsync(id)).Where(a => a.Type == AuditType.Evaluated).Select(a => Enum.Parse<Outcome>(a.Details.GetProperty("outcome").GetString()!))];
}
