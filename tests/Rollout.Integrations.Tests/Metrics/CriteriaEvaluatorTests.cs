using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Rollout.Core.Engine;
using Rollout.Core.Gates;
using Rollout.Core.Metrics;
using Rollout.Integrations.Metrics;

namespace Rollout.Integrations.Tests.Metrics;

[TestClass]
public sealed class CriteriaEvaluatorTests
{
    private static readonly DateTimeOffset Now = TestPlans.T0.AddHours(3);
    private static readonly MetricSourceSchema Prom = new("prom", ["query"], [], null);

    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    public async Task EvaluateAsync_NoBaselineRatio_QueriesTreatmentOnly()
    {
        var source = new FakeSource(_ => new MetricReading(420, 900, null));
        var state = StateOf(Criterion("latency", max: 800));

        var evaluation = await Evaluator(source).EvaluateAsync(state, new EvaluateCriteria(0, TestPlans.T0), TestContext.CancellationToken);

        var query = Assert.ContainsSingle(source.Queries);
        Assert.AreEqual(Cohort.Treatment, query.Cohort);
        var result = Assert.ContainsSingle(evaluation.Criteria);
        Assert.AreEqual(new CriterionResult("latency", Outcome.Pass, 420, null, 900, null, "420 is at or below max 800"), result);
    }

    [TestMethod]
    public async Task EvaluateAsync_BaselineRatio_QueriesBothCohortsAndComparesThem()
    {
        var source = new FakeSource(q => q.Cohort == Cohort.Treatment ? new MetricReading(0.006, 500, null) : new MetricReading(0.005, 800, null));
        var state = StateOf(Criterion("error-rate", max: 0.01, maxBaselineRatio: 1.5, minSamples: 100));

        var evaluation = await Evaluator(source).EvaluateAsync(state, new EvaluateCriteria(0, TestPlans.T0), TestContext.CancellationToken);

        CollectionAssert.AreEquivalent(new[] { Cohort.Treatment, Cohort.Baseline }, source.Queries.Select(q => q.Cohort).ToArray());
        var result = Assert.ContainsSingle(evaluation.Criteria);
        Assert.AreEqual(Outcome.Pass, result.Outcome, result.Reason);
        Assert.AreEqual(0.006, result.Value);
        Assert.AreEqual(0.005, result.Baseline);
        Assert.AreEqual(500L, result.Samples);
        Assert.AreEqual(800L, result.BaselineSamples);
        Assert.Contains("1.2x the baseline 0.005", result.Reason);
    }

    [TestMethod]
    public async Task EvaluateAsync_TreatmentAboveBaselineRatio_Fails()
    {
        var source = new FakeSource(q => q.Cohort == Cohort.Treatment ? new MetricReading(0.009, 500, null) : new MetricReading(0.004, 800, null));
        var state = StateOf(Criterion("error-rate", max: 0.01, maxBaselineRatio: 1.5, minSamples: 100));

        var evaluation = await Evaluator(source).EvaluateAsync(state, new EvaluateCriteria(0, TestPlans.T0), TestContext.CancellationToken);

        Assert.AreEqual(Outcome.Fail, evaluation.Outcome);
        Assert.AreEqual("0.009 is 2.25x the baseline 0.004, above maxBaselineRatio 1.5", evaluation.Criteria[0].Reason);
    }

    [TestMethod]
    public async Task EvaluateAsync_BaselineReadingFailed_IsNoData()
    {
        var source = new FakeSource(q => q.Cohort == Cohort.Treatment ? new MetricReading(0.006, 500, null) : MetricReading.Failed("source answered 503 Service Unavailable"));
        var state = StateOf(Criterion("error-rate", max: 0.01, maxBaselineRatio: 1.5));

        var evaluation = await Evaluator(source).EvaluateAsync(state, new EvaluateCriteria(0, TestPlans.T0), TestContext.CancellationToken);

        Assert.AreEqual(Outcome.NoData, evaluation.Outcome);
        Assert.AreEqual("baseline: source answered 503 Service Unavailable", evaluation.Criteria[0].Reason);
    }

    [TestMethod]
    public async Task EvaluateAsync_TooFewSamples_IsNoData()
    {
        var source = new FakeSource(_ => new MetricReading(0.001, 50, null));
        var state = StateOf(Criterion("error-rate", max: 0.01, minSamples: 100));

        var evaluation = await Evaluator(source).EvaluateAsync(state, new EvaluateCriteria(0, TestPlans.T0), TestContext.CancellationToken);

        Assert.AreEqual(Outcome.NoData, evaluation.Outcome);
        Assert.AreEqual("50 samples, below minSamples 100", evaluation.Criteria[0].Reason);
    }

    [TestMethod]
    [DataRow(false)]
    [DataRow(true)]
    public async Task EvaluateAsync_AdapterThrows_IsNoDataSourceError(bool faultAsynchronously)
    {
        var source = new FakeSource(_ => throw new InvalidOperationException("boom"), faultAsynchronously);
        var state = StateOf(Criterion("error-rate", max: 0.01));

        var evaluation = await Evaluator(source).EvaluateAsync(state, new EvaluateCriteria(0, TestPlans.T0), TestContext.CancellationToken);

        Assert.AreEqual(Outcome.NoData, evaluation.Outcome);
        Assert.AreEqual("source error: InvalidOperationException: boom", evaluation.Criteria[0].Reason);
        Assert.IsNull(evaluation.Criteria[0].Value);
    }

    [TestMethod]
    public async Task EvaluateAsync_AdapterCancelsOnItsOwn_IsNoDataNotAnException()
    {
        var source = new FakeSource(_ => throw new TaskCanceledException("the adapter's own timeout"));
        var state = StateOf(Criterion("error-rate", max: 0.01));

        var evaluation = await Evaluator(source).EvaluateAsync(state, new EvaluateCriteria(0, TestPlans.T0), TestContext.CancellationToken);

        Assert.AreEqual(Outcome.NoData, evaluation.Outcome);
        Assert.AreEqual("source error: TaskCanceledException: the adapter's own timeout", evaluation.Criteria[0].Reason);
    }

    [TestMethod]
    public async Task EvaluateAsync_CallerCancels_Throws()
    {
        var source = new HangingSource();
        var state = StateOf(Criterion("error-rate", max: 0.01));
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(TestContext.CancellationToken);
        cts.CancelAfter(TimeSpan.FromMilliseconds(100));

        await Assert.ThrowsAsync<OperationCanceledException>(() => Evaluator(source).EvaluateAsync(state, new EvaluateCriteria(0, TestPlans.T0), cts.Token));
    }

    [TestMethod]
    public async Task EvaluateAsync_UnknownSourceType_IsNoDataWithoutQueryingOtherAdapters()
    {
        var source = new FakeSource(_ => new MetricReading(1, 1000, null));
        var plan = TestPlans.Parse("""
            {
              "name": "p", "flag": "f",
              "stages": [ { "name": "all", "percent": 100, "minDuration": "1h" } ],
              "criteria": [ { "name": "cpu", "source": { "type": "prom", "query": "avg(cpu)" }, "max": 0.9 } ]
            }
            """, new MetricSourceCatalog([MetricSourceSchema.Http, Prom]));
        var state = RolloutMachine.Start("r1", plan, "alice", TestPlans.T0).State;

        var evaluation = await Evaluator(source).EvaluateAsync(state, new EvaluateCriteria(0, TestPlans.T0), TestContext.CancellationToken);

        Assert.AreEqual(Outcome.NoData, evaluation.Outcome);
        Assert.AreEqual("no adapter for source type 'prom' on this host", evaluation.Criteria[0].Reason);
        Assert.IsEmpty(source.Queries);
    }

    [TestMethod]
    public async Task EvaluateAsync_StageFromEffect_QueriesThatStageAndStampsItsIndex()
    {
        var source = new FakeSource(_ => new MetricReading(420, 900, null));
        var state = StateOf(Criterion("latency", max: 800));
        Assert.AreEqual(0, state.StageIndex);
        var since = TestPlans.T0.AddMinutes(42);

        var evaluation = await Evaluator(source).EvaluateAsync(state, new EvaluateCriteria(1, since), TestContext.CancellationToken);

        var query = Assert.ContainsSingle(source.Queries);
        Assert.AreEqual("canary 5%", query.Stage);
        Assert.AreEqual(since, query.Since);
        Assert.AreEqual("r1", query.RolloutId);
        Assert.AreEqual("search-v2", query.Flag);
        Assert.AreEqual("http://127.0.0.1:9/latency?c={{cohort}}", query.Source.Get("url"));
        Assert.AreEqual(1, evaluation.StageIndex);
        Assert.AreEqual(Now, evaluation.At);
    }

    [TestMethod]
    public async Task EvaluateAsync_SeveralCriteria_KeepsPlanOrderAndWorstOutcome()
    {
        var source = new FakeSource(q => q.Source.Get("url")!.Contains("/error-rate", StringComparison.Ordinal)
            ? new MetricReading(0.02, 500, null)
            : new MetricReading(420, 900, null));
        var state = StateOf(Criterion("error-rate", max: 0.01), Criterion("latency", max: 800), Criterion("throughput", min: 100));

        var evaluation = await Evaluator(source).EvaluateAsync(state, new EvaluateCriteria(0, TestPlans.T0), TestContext.CancellationToken);

        Assert.AreSequenceEqual(new[] { "error-rate", "latency", "throughput" }, evaluation.Criteria.Select(c => c.Name).ToArray());
        Assert.AreSequenceEqual(new[] { Outcome.Fail, Outcome.Pass, Outcome.Pass }, evaluation.Criteria.Select(c => c.Outcome).ToArray());
        Assert.AreEqual("0.02 is above max 0.01", evaluation.Criteria[0].Reason);
        Assert.AreEqual(Outcome.Fail, evaluation.Outcome);
    }

    [TestMethod]
    public async Task EvaluateAsync_NoDataAndPass_IsNoDataOverall()
    {
        var source = new FakeSource(q => q.Source.Get("url")!.Contains("/error-rate", StringComparison.Ordinal)
            ? MetricReading.Failed("timeout after 2 seconds")
            : new MetricReading(420, 900, null));
        var state = StateOf(Criterion("error-rate", max: 0.01), Criterion("latency", max: 800));

        var evaluation = await Evaluator(source).EvaluateAsync(state, new EvaluateCriteria(0, TestPlans.T0), TestContext.CancellationToken);

        Assert.AreEqual(Outcome.NoData, evaluation.Outcome);
        Assert.AreEqual("timeout after 2 seconds", evaluation.Criteria[0].Reason);
        Assert.AreEqual(Outcome.Pass, evaluation.Criteria[1].Outcome);
    }

    [TestMethod]
    public async Task EvaluateAsync_AllReadings_StartConcurrently()
    {
        // Three reads (two cohorts of one criterion, one of another); none answers before all three are in flight.
        var source = new GatedSource(expected: 3);
        var state = StateOf(Criterion("error-rate", max: 0.01, maxBaselineRatio: 1.5), Criterion("latency", max: 800));

        var evaluation = await Evaluator(source).EvaluateAsync(state, new EvaluateCriteria(0, TestPlans.T0), TestContext.CancellationToken);

        Assert.AreEqual(Outcome.Pass, evaluation.Outcome, string.Join("; ", evaluation.Criteria.Select(c => c.Reason)));
    }

    [TestMethod]
    public async Task EvaluateAsync_ErrorBudget_QueriesEveryWindowOnce()
    {
        var source = new FakeSource(q => new MetricReading(q.Window == TimeSpan.FromHours(1) ? 0.02 : 0.008, null, null));
        var criterion = JsonNode.Parse("""
            { "name": "slo", "kind": "error-budget", "source": { "type": "http", "url": "http://127.0.0.1:9/e?w={{window}}", "value": "$.v" },
              "slo": 0.999, "windows": [ { "window": "1h", "maxBurnRate": 14.4 }, { "window": "6h", "maxBurnRate": 6 } ] }
            """)!.AsObject();

        var evaluation = await Evaluator(source).EvaluateAsync(StateOf(criterion), new EvaluateCriteria(0, TestPlans.T0), TestContext.CancellationToken);

        Assert.AreEqual(Outcome.Fail, evaluation.Outcome, evaluation.Criteria[0].Reason);
        Assert.AreSequenceEqual(new[] { TimeSpan.FromHours(1), TimeSpan.FromHours(6) }, source.Queries.Select(q => q.Window!.Value).Order().ToArray());
        Assert.IsTrue(source.Queries.All(q => q.Cohort == Cohort.Treatment));
    }

    [TestMethod]
    public void Catalog_ListsTheAdaptersTypes()
    {
        var evaluator = Evaluator(new FakeSource(_ => default));

        Assert.AreSequenceEqual(new[] { "http" }, evaluator.Catalog.Types.ToArray());
        Assert.IsFalse(evaluator.Catalog.TryGet("prom", out _));
    }

    private static CriteriaEvaluator Evaluator(IMetricSource source) => new([source], new FixedTime(Now));

    private static JsonObject Criterion(string name, double? max = null, double? min = null, double? maxBaselineRatio = null, long minSamples = 0)
    {
        var criterion = new JsonObject
        {
            ["name"] = name,
            ["source"] = new JsonObject
            {
                ["type"] = "http",
                ["url"] = $"http://127.0.0.1:9/{name}?c={{{{cohort}}}}",
                ["value"] = "$.value",
                ["samples"] = "$.count",
            },
            ["minSamples"] = minSamples,
        };
        if (max is { } mx)
        {
            criterion["max"] = mx;
        }

        if (min is { } mn)
        {
            criterion["min"] = mn;
        }

        if (maxBaselineRatio is { } ratio)
        {
            criterion["maxBaselineRatio"] = ratio;
        }

        return criterion;
    }

    private static RolloutState StateOf(params JsonObject[] criteria)
    {
        var plan = TestPlans.Parse($$"""
            {
              "name": "p", "flag": "search-v2",
              "stages": [
                { "name": "internal", "audience": { "groups": ["internal"] }, "minDuration": "1h" },
                { "name": "canary 5%", "percent": 5, "minDuration": "1h" }
              ],
              "criteria": {{new JsonArray([.. criteria]).ToJsonString()}}
            }
            """);
        return RolloutMachine.Start("r1", plan, "alice", TestPlans.T0).State;
    }

    private sealed class FixedTime(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }

    private sealed class FakeSource(Func<MetricQuery, MetricReading> answer, bool async = false) : IMetricSource
    {
        public ConcurrentQueue<MetricQuery> Queries { get; } = new();

        public MetricSourceSchema Schema => MetricSourceSchema.Http;

        public Task<MetricReading> ReadAsync(MetricQuery query, CancellationToken cancellationToken)
        {
            Queries.Enqueue(query);
            return async ? AnswerLaterAsync(query) : Task.FromResult(answer(query));
        }

        private async Task<MetricReading> AnswerLaterAsync(MetricQuery query)
        {
            await Task.Yield();
            return answer(query);
        }
    }

    private sealed class HangingSource : IMetricSource
    {
        public MetricSourceSchema Schema => MetricSourceSchema.Http;

        public async Task<MetricReading> ReadAsync(MetricQuery query, CancellationToken cancellationToken)
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
            return default;
        }
    }

    private sealed class GatedSource(int expected) : IMetricSource
    {
        private readonly TaskCompletionSource allStarted = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int started;

        public MetricSourceSchema Schema => MetricSourceSchema.Http;

        public async Task<MetricReading> ReadAsync(MetricQuery query, CancellationToken cancellationToken)
        {
            if (Interlocked.Increment(ref started) == expected)
            {
                allStarted.SetResult();
            }

            var finished = await Task.WhenAny(allStarted.Task, Task.Delay(TimeSpan.FromSeconds(5), cancellationToken));
            return finished == allStarted.Task
                ? new MetricReading(0.001, 1000, null)
                : MetricReading.Failed($"only {Volatile.Read(ref started)} of {expected} reads were in flight");
        }
    }
}
