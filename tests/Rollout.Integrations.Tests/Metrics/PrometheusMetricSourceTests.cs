using System.Collections.Immutable;
using Rollout.Core.Gates;
using Rollout.Core.Metrics;
using Rollout.Core.Plans;
using Rollout.Integrations.Metrics;

namespace Rollout.Integrations.Tests.Metrics;

/// <summary>The prometheus source against a real Prometheus scraping an exporter run by the test.</summary>
[TestClass]
public sealed class PrometheusMetricSourceTests
{
    private static PrometheusServer? prometheus;
    private static WebApplication? misbehaving;
    private static HttpClient? client;

    [ClassInitialize]
    public static async Task StartAsync(TestContext _)
    {
        prometheus = await PrometheusServer.StartAsync(() => """
            # TYPE demo_error_ratio gauge
            demo_error_ratio{cohort="treatment"} 0.004
            demo_error_ratio{cohort="baseline"} 0.005
            # TYPE demo_requests_total counter
            demo_requests_total{cohort="treatment"} 1200
            demo_requests_total{cohort="baseline"} 9000
            # TYPE demo_nan gauge
            demo_nan NaN
            # TYPE demo_inf gauge
            demo_inf +Inf
            # TYPE demo_zero gauge
            demo_zero 0

            """);

        // Prometheus itself neither throttles nor hangs on demand; these two routes replay its wire format for that.
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        misbehaving = builder.Build();
        misbehaving.MapPost("/throttled/api/v1/query", (HttpContext http) =>
        {
            http.Response.Headers.RetryAfter = "7";
            return Results.Text("""{"status":"error","errorType":"unavailable","error":"too many queries"}""", "application/json", statusCode: 429);
        });
        misbehaving.MapPost("/slow/api/v1/query", async (HttpContext http) =>
        {
            await Task.Delay(TimeSpan.FromSeconds(3), http.RequestAborted);
            return Results.Text("""{"status":"success","data":{"resultType":"scalar","result":[1,"1"]}}""", "application/json");
        });
        await misbehaving.StartAsync();
        client = new HttpClient();
    }

    [ClassCleanup]
    public static async Task StopAsync()
    {
        client?.Dispose();
        if (prometheus is not null)
        {
            await prometheus.DisposeAsync();
        }

        if (misbehaving is not null)
        {
            await misbehaving.StopAsync();
            await misbehaving.DisposeAsync();
        }
    }

    [TestMethod]
    public async Task ReadAsync_OneSeriesWithSamplesQuery_ReturnsValueAndSamples()
    {
        var reading = await ReadAsync("""demo_error_ratio{cohort="{{cohort}}"}""", """demo_requests_total{cohort="{{cohort}}"}""");
        Assert.IsNull(reading.Error);
        Assert.AreEqual(0.004, reading.Value);
        Assert.AreEqual(1200L, reading.Samples);

        var baseline = await ReadAsync("""demo_error_ratio{cohort="{{cohort}}"}""", """demo_requests_total{cohort="{{cohort}}"}""", Cohort.Baseline);
        Assert.AreEqual(0.005, baseline.Value);
        Assert.AreEqual(9000L, baseline.Samples);
    }

    [TestMethod]
    public async Task ReadAsync_Scalar_ReturnsValue()
    {
        var reading = await ReadAsync("""scalar(sum(demo_requests_total))""");
        Assert.IsNull(reading.Error);
        Assert.AreEqual(10200d, reading.Value);
    }

    [TestMethod]
    public async Task ReadAsync_ZeroIsAValue_NotMissingData()
    {
        var reading = await ReadAsync("demo_zero");
        Assert.IsNull(reading.Error);
        Assert.AreEqual(0d, reading.Value);
    }

    [TestMethod]
    public async Task ReadAsync_EmptyVector_FailsNeverZero()
    {
        var reading = await ReadAsync("""demo_error_ratio{cohort="nobody"}""");
        Assert.IsNull(reading.Value);
        StringAssert.Contains(reading.Error, "empty result");
    }

    [TestMethod]
    public async Task ReadAsync_SeveralSeries_FailsAndSaysAggregate()
    {
        var reading = await ReadAsync("demo_error_ratio");
        StringAssert.Contains(reading.Error, "2 series");
    }

    [TestMethod]
    [DataRow("demo_nan", "NaN")]
    [DataRow("demo_inf", "+Inf")]
    [DataRow("-demo_inf", "-Inf")]
    public async Task ReadAsync_NotFinite_Fails(string promql, string expected)
    {
        var reading = await ReadAsync(promql);
        Assert.IsNull(reading.Value);
        StringAssert.Contains(reading.Error, expected);
    }

    [TestMethod]
    public async Task ReadAsync_BadQuery_FailsWithPrometheusError()
    {
        var reading = await ReadAsync("sum(");
        StringAssert.Contains(reading.Error, "bad_data");
    }

    [TestMethod]
    public async Task ReadAsync_RangeVector_Fails()
    {
        var reading = await ReadAsync("demo_zero[10s]");
        StringAssert.Contains(reading.Error, "matrix");
    }

    [TestMethod]
    public async Task ReadAsync_SamplesQueryEmpty_FailsSamples()
    {
        var reading = await ReadAsync("demo_zero", """demo_requests_total{cohort="nobody"}""");
        StringAssert.StartsWith(reading.Error, "samples: empty result");
    }

    [TestMethod]
    public async Task ReadAsync_Throttled_FailsWithRetryAfter()
    {
        var reading = await ReadAsync("demo_zero", server: new Uri(misbehaving!.Urls.First() + "/throttled"));
        StringAssert.Contains(reading.Error, "throttled");
        StringAssert.Contains(reading.Error, "retry after 7 s");
    }

    [TestMethod]
    public async Task ReadAsync_SlowerThanTimeout_FailsWithTimeout()
    {
        var reading = await ReadAsync("demo_zero", server: new Uri(misbehaving!.Urls.First() + "/slow"), timeout: "300ms");
        StringAssert.Contains(reading.Error, "timeout");
    }

    [TestMethod]
    public async Task ReadAsync_Unreachable_Fails()
    {
        var reading = await ReadAsync("demo_zero", server: new Uri("http://127.0.0.1:1/"));
        StringAssert.Contains(reading.Error, "unreachable");
    }

    [TestMethod]
    public async Task Gate_PrometheusReadings_JudgedAgainstBaseline()
    {
        var criterion = new CriterionPlan("error-rate", Spec("""demo_error_ratio{cohort="{{cohort}}"}""", """demo_requests_total{cohort="{{cohort}}"}"""), null, 0.01, 1.5, 1000);
        var evaluator = new CriteriaEvaluator(MetricSources.CreateDefault(client!), TimeProvider.System);
        var plan = TestPlans.Checkout("prom-flag");
        var state = Core.Engine.RolloutMachine.Start("r-prom", plan with { Criteria = [criterion] }, "test", DateTimeOffset.UtcNow).State;
        var evaluation = await evaluator.EvaluateAsync(state, new Core.Engine.EvaluateCriteria(0, state.StageStartedAt), CancellationToken.None);
        var result = evaluation.Criteria.Single();
        Assert.AreEqual(Outcome.Pass, result.Outcome, result.Reason);
        Assert.AreEqual(0.005, result.Baseline);
    }

    [TestMethod]
    public void Parse_PlanWithPrometheusSource_ValidatesSettings()
    {
        var catalog = new MetricSourceCatalog(MetricSources.CreateDefault(client!).Select(s => s.Schema));
        var bad = PlanParser.Parse("""
            { "name": "p", "flag": "p", "stages": [ { "name": "all", "percent": 100, "minDuration": "1h" } ],
              "criteria": [ { "name": "c", "source": { "type": "prometheus", "url": "not a url", "query": "x{a=\"{{cohrt}}\"}", "timeout": "forever" }, "max": 1, "minSamples": 10 } ] }
            """, isYaml: false, catalog);
        Assert.IsFalse(bad.IsValid);
        foreach (var path in new[] { "$.criteria[0].source.url", "$.criteria[0].source.query", "$.criteria[0].source.timeout", "$.criteria[0].source.samplesQuery" })
        {
            Assert.IsTrue(bad.Errors.ContainsKey(path), $"no error at {path}: {string.Join("; ", bad.Errors.Keys)}");
        }
    }

    private static Task<MetricReading> ReadAsync(string query, string? samplesQuery = null, Cohort cohort = Cohort.Treatment, Uri? server = null, string timeout = "5s") =>
        new PrometheusMetricSource(client!).ReadAsync(
            new MetricQuery(Spec(query, samplesQuery, server, timeout), cohort, "r-1", "flag", "stage", DateTimeOffset.UtcNow.AddMinutes(-5)),
            CancellationToken.None);

    private static MetricSourceSpec Spec(string query, string? samplesQuery = null, Uri? server = null, string timeout = "5s")
    {
        var settings = ImmutableSortedDictionary.CreateBuilder<string, string>(StringComparer.Ordinal);
        settings["url"] = (server ?? prometheus!.Address).ToString();
        settings["query"] = query;
        settings["timeout"] = timeout;
        if (samplesQuery is not null)
        {
            settings["samplesQuery"] = samplesQuery;
        }

        return new MetricSourceSpec("prometheus", settings.ToImmutable());
    }
}
