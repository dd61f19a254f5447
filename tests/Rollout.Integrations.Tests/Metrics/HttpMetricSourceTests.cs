using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Rollout.Core.Engine;
using Rollout.Core.Gates;
using Rollout.Core.Metrics;
using Rollout.Core.Plans;
using Rollout.Integrations.Metrics;

namespace Rollout.Integrations.Tests.Metrics;

/// <summary>The http metric source against a real Kestrel server on 127.0.0.1, on a port the OS picks.</summary>
[TestClass]
public sealed class HttpMetricSourceTests
{
    private static readonly ConcurrentDictionary<string, (string RawQuery, Dictionary<string, string> Query)> Received = new(StringComparer.Ordinal);
    private static WebApplication? server;
    private static HttpClient? client;
    private static string baseUrl = string.Empty;

    public TestContext TestContext { get; set; } = null!;

    private static HttpMetricSource Source => new(client!);

    [ClassInitialize]
    public static async Task StartServerAsync(TestContext context)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(3));
        var app = builder.Build();

        app.MapGet("/good", () => Json("""{ "value": 0.004, "count": 250 }"""));
        app.MapGet("/values", () => Json("""{ "value": 2, "count": 3, "all": [1, "2", 3.5] }"""));
        app.MapGet("/values-bad", () => Json("""{ "value": 2, "count": 3, "all": [1, "slow"] }"""));
        app.MapGet("/nested", () => Json("""{ "status": "success", "data": [ { "value": 0.25, "count": "1200" }, { "value": 9, "count": 1 } ] }"""));
        app.MapGet("/string-number", () => Json("""{ "value": "0.5", "count": "40" }"""));
        app.MapGet("/nan", () => Json("""{ "value": "NaN", "count": 40 }"""));
        app.MapGet("/plus-inf", () => Json("""{ "value": "+Inf", "count": 40 }"""));
        app.MapGet("/minus-inf", () => Json("""{ "value": "-Inf", "count": 40 }"""));
        app.MapGet("/fail", () => Results.StatusCode(500));
        app.MapGet("/throttled", (HttpContext http) =>
        {
            http.Response.Headers.RetryAfter = "30";
            return Results.StatusCode(429);
        });
        app.MapGet("/not-json", () => Results.Text("<html>the dashboard moved</html>", "text/html"));
        app.MapGet("/missing-value", () => Json("""{ "count": 10 }"""));
        app.MapGet("/null-value", () => Json("""{ "value": null, "count": 10 }"""));
        app.MapGet("/bool-value", () => Json("""{ "value": true, "count": 10 }"""));
        app.MapGet("/missing-samples", () => Json("""{ "value": 0.2 }"""));
        app.MapGet("/negative-samples", () => Json("""{ "value": 0.2, "count": -3 }"""));
        app.MapGet("/infinite-samples", () => Json("""{ "value": 0.2, "count": "+Inf" }"""));
        app.MapGet("/fractional-samples", () => Json("""{ "value": 0.2, "count": 12.7 }"""));
        app.MapGet("/slow", async (HttpContext http) =>
        {
            await Task.Delay(TimeSpan.FromSeconds(2), http.RequestAborted);
            return Json("""{ "value": 0.004, "count": 250 }""");
        });
        app.MapGet("/slow-body", async (HttpContext http) =>
        {
            http.Response.ContentType = "application/json";
            await http.Response.WriteAsync("""{ "value": 0.004, """, http.RequestAborted);
            await http.Response.Body.FlushAsync(http.RequestAborted);
            await Task.Delay(TimeSpan.FromSeconds(2), http.RequestAborted);
            await http.Response.WriteAsync("""  "count": 250 }""", http.RequestAborted);
        });
        app.MapGet("/large", () => Json($$"""{ "value": 1, "padding": "{{new string('x', 2 * 1024 * 1024)}}" }"""));
        app.MapGet("/large-chunked", async (HttpContext http) =>
        {
            http.Response.ContentType = "application/json";
            await http.Response.WriteAsync("{ \"value\": 1, \"padding\": \"", http.RequestAborted);
            var chunk = new string('x', 64 * 1024);
            for (var i = 0; i < 32 && !http.RequestAborted.IsCancellationRequested; i++)
            {
                await http.Response.WriteAsync(chunk, http.RequestAborted);
            }

            await http.Response.WriteAsync("\" }", http.RequestAborted);
        });
        app.MapGet("/record/{key}", (string key, HttpRequest request) =>
        {
            Received[key] = (request.QueryString.Value ?? string.Empty, request.Query.ToDictionary(q => q.Key, q => q.Value.ToString(), StringComparer.Ordinal));
            return Json("""{ "value": 0.004, "count": 250 }""");
        });

        await app.StartAsync(context.CancellationToken);
        server = app;
        baseUrl = app.Urls.Single();
        Assert.StartsWith("http://127.0.0.1:", baseUrl);
        client = HttpMetricSource.CreateClient();
    }

    [ClassCleanup]
    public static async Task StopServerAsync()
    {
        client?.Dispose();
        if (server is not null)
        {
            await server.StopAsync();
            await server.DisposeAsync();
        }
    }

    [TestMethod]
    public async Task ReadAsync_GoodAnswer_ReturnsValueAndSamples()
    {
        var reading = await ReadAsync(baseUrl + "/good");

        Assert.AreEqual(new MetricReading(0.004, 250, null), reading);
    }

    [TestMethod]
    public async Task ReadAsync_ValuesPath_ReadsRawValuesForTests()
    {
        var spec = new MetricSourceSpec("http", TestPlans.Settings(("url", baseUrl + "/values"), ("value", "$.value"), ("samples", "$.count"), ("values", "$.all"), ("timeout", "5s")));
        var reading = await Source.ReadAsync(new MetricQuery(spec, Cohort.Treatment, "r1", "f", "s", TestPlans.T0), TestContext.CancellationToken);
        Assert.IsNull(reading.Error);
        Assert.AreSequenceEqual(new[] { 1d, 2d, 3.5d }, reading.Values.ToArray());

        var bad = new MetricSourceSpec("http", TestPlans.Settings(("url", baseUrl + "/values-bad"), ("value", "$.value"), ("samples", "$.count"), ("values", "$.all"), ("timeout", "5s")));
        var refused = await Source.ReadAsync(new MetricQuery(bad, Cohort.Treatment, "r1", "f", "s", TestPlans.T0), TestContext.CancellationToken);
        Assert.StartsWith("values at $.all hold a non-number", refused.Error);
    }

    [TestMethod]
    public async Task ReadAsync_NestedPaths_ReadsFirstArrayElement()
    {
        var reading = await ReadAsync(baseUrl + "/nested", value: "$.data[0].value", samples: "$.data[0].count");

        Assert.AreEqual(new MetricReading(0.25, 1200, null), reading);
    }

    [TestMethod]
    public async Task ReadAsync_NegativeIndexPath_ReadsFromTheEnd()
    {
        var reading = await ReadAsync(baseUrl + "/nested", value: "$['data'][-1].value", samples: "$.data[-1].count");

        Assert.AreEqual(new MetricReading(9, 1, null), reading);
    }

    [TestMethod]
    public async Task ReadAsync_NumbersAsStrings_ParsesThem()
    {
        var reading = await ReadAsync(baseUrl + "/string-number");

        Assert.AreEqual(new MetricReading(0.5, 40, null), reading);
    }

    [TestMethod]
    public async Task ReadAsync_NaNString_ReturnsNaNWhichTheGateNeverPasses()
    {
        var reading = await ReadAsync(baseUrl + "/nan");

        Assert.IsTrue(reading.Value is { } v && double.IsNaN(v), $"value {reading.Value}");
        Assert.AreEqual(40L, reading.Samples);
        Assert.IsNull(reading.Error);
        var verdict = GateEvaluator.Evaluate(ErrorRate(), reading, null);
        Assert.AreEqual(Outcome.NoData, verdict.Outcome);
        Assert.AreEqual("value is NaN", verdict.Reason);
    }

    [TestMethod]
    [DataRow("/plus-inf", double.PositiveInfinity)]
    [DataRow("/minus-inf", double.NegativeInfinity)]
    public async Task ReadAsync_InfinityString_ReturnsInfinityWhichTheGateNeverPasses(string route, double expected)
    {
        var reading = await ReadAsync(baseUrl + route);

        Assert.AreEqual(new MetricReading(expected, 40, null), reading);
        var verdict = GateEvaluator.Evaluate(ErrorRate(), reading, null);
        Assert.AreEqual(Outcome.NoData, verdict.Outcome);
        Assert.AreEqual("value is infinite", verdict.Reason);
    }

    [TestMethod]
    public async Task ReadAsync_ServerError_FailsWithStatus()
    {
        var reading = await ReadAsync(baseUrl + "/fail");

        Assert.AreEqual(MetricReading.Failed("source answered 500 Internal Server Error"), reading);
    }

    [TestMethod]
    public async Task ReadAsync_Throttled_FailsWithRetryAfter()
    {
        var reading = await ReadAsync(baseUrl + "/throttled");

        Assert.AreEqual(MetricReading.Failed("throttled: source answered 429, retry after 30 s"), reading);
    }

    [TestMethod]
    public async Task ReadAsync_UnknownRoute_FailsWith404()
    {
        var reading = await ReadAsync(baseUrl + "/no-such-metric");

        Assert.AreEqual(MetricReading.Failed("source answered 404 Not Found"), reading);
    }

    [TestMethod]
    public async Task ReadAsync_BodyNotJson_FailsSayingSo()
    {
        var reading = await ReadAsync(baseUrl + "/not-json");

        AssertFailed(reading, "source answer is not JSON: ");
    }

    [TestMethod]
    [DataRow("/missing-value")]
    [DataRow("/null-value")]
    public async Task ReadAsync_ValueMissingOrNull_FailsNamingThePath(string route)
    {
        var reading = await ReadAsync(baseUrl + route);

        Assert.AreEqual(MetricReading.Failed("no value at $.value"), reading);
    }

    [TestMethod]
    public async Task ReadAsync_ValueNotANumber_FailsShowingTheValue()
    {
        var reading = await ReadAsync(baseUrl + "/bool-value");

        Assert.AreEqual(MetricReading.Failed("value at $.value is not a number: true"), reading);
    }

    [TestMethod]
    public async Task ReadAsync_SamplesMissing_KeepsValueButReportsError()
    {
        var reading = await ReadAsync(baseUrl + "/missing-samples");

        Assert.AreEqual(new MetricReading(0.2, null, "no sample count at $.count"), reading);
        Assert.AreEqual(Outcome.NoData, GateEvaluator.Evaluate(ErrorRate(), reading, null).Outcome);
    }

    [TestMethod]
    [DataRow("/negative-samples", "-3")]
    [DataRow("/infinite-samples", "\"+Inf\"")]
    public async Task ReadAsync_SamplesNotACount_ReportsError(string route, string shown)
    {
        var reading = await ReadAsync(baseUrl + route);

        Assert.AreEqual(new MetricReading(0.2, null, $"sample count at $.count is not a count: {shown}"), reading);
    }

    [TestMethod]
    public async Task ReadAsync_FractionalSamples_RoundsDown()
    {
        var reading = await ReadAsync(baseUrl + "/fractional-samples");

        Assert.AreEqual(new MetricReading(0.2, 12, null), reading);
    }

    [TestMethod]
    public async Task ReadAsync_NoSamplesSetting_ReturnsValueWithoutCount()
    {
        var reading = await ReadAsync(baseUrl + "/good", samples: null);

        Assert.AreEqual(new MetricReading(0.004, null, null), reading);
    }

    [TestMethod]
    public async Task ReadAsync_SlowRoute_FailsWithTimeoutAfterConfiguredTimeout()
    {
        var watch = Stopwatch.StartNew();
        var reading = await ReadAsync(baseUrl + "/slow", timeout: "200ms");
        watch.Stop();

        Assert.AreEqual(MetricReading.Failed("timeout after 200 ms"), reading);
        Assert.IsGreaterThanOrEqualTo(TimeSpan.FromMilliseconds(150), watch.Elapsed);
        Assert.IsLessThan(TimeSpan.FromMilliseconds(1500), watch.Elapsed, "the source waited for the slow route instead of giving up");
    }

    [TestMethod]
    public async Task ReadAsync_SlowBody_FailsWithTimeout()
    {
        var watch = Stopwatch.StartNew();
        var reading = await ReadAsync(baseUrl + "/slow-body", timeout: "300ms");
        watch.Stop();

        Assert.AreEqual(MetricReading.Failed("timeout after 300 ms"), reading);
        Assert.IsLessThan(TimeSpan.FromMilliseconds(1500), watch.Elapsed);
    }

    [TestMethod]
    public async Task ReadAsync_CallerCancels_ThrowsInsteadOfReportingTimeout()
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(TestContext.CancellationToken);
        cts.CancelAfter(TimeSpan.FromMilliseconds(150));

        await Assert.ThrowsAsync<OperationCanceledException>(() => Source.ReadAsync(Query(baseUrl + "/slow", timeout: "10s"), cts.Token));
    }

    [TestMethod]
    public async Task ReadAsync_ClosedPort_FailsAsConnectionRefused()
    {
        var reading = await ReadAsync($"http://127.0.0.1:{ClosedPort()}/good");

        AssertFailed(reading, "source unreachable: ConnectionError ");
        Assert.Contains("refused", reading.Error!, StringComparison.OrdinalIgnoreCase);
    }

    [TestMethod]
    [DataRow("/large")]
    [DataRow("/large-chunked")]
    public async Task ReadAsync_AnswerOverOneMegabyte_FailsWithoutReadingIt(string route)
    {
        var reading = await ReadAsync(baseUrl + route);

        Assert.AreEqual(MetricReading.Failed("source answer is larger than 1048576 bytes"), reading);
    }

    [TestMethod]
    [DataRow(Cohort.Treatment, "treatment")]
    [DataRow(Cohort.Baseline, "baseline")]
    public async Task ReadAsync_Templates_ExpandedUrlEncodedAndSinceInUtc(Cohort cohort, string cohortText)
    {
        var key = Guid.NewGuid().ToString("N");
        var url = baseUrl + $"/record/{key}?flag={{{{flag}}}}&cohort={{{{cohort}}}}&stage={{{{ stage }}}}&since={{{{since}}}}&id={{{{rolloutId}}}}";
        var since = new DateTimeOffset(2026, 3, 4, 7, 6, 7, TimeSpan.FromHours(2));
        var query = new MetricQuery(Spec(url), cohort, "r/1 ü", "new-checkout", "canary 5%&x=1", since);

        var reading = await Source.ReadAsync(query, TestContext.CancellationToken);

        Assert.AreEqual(new MetricReading(0.004, 250, null), reading);
        Assert.IsTrue(Received.TryGetValue(key, out var hit), "the server saw no request");
        Assert.AreEqual($"?flag=new-checkout&cohort={cohortText}&stage=canary%205%25%26x%3D1&since=2026-03-04T05%3A06%3A07Z&id=r%2F1%20%C3%BC", hit.RawQuery);
        Assert.AreEqual(cohortText, hit.Query["cohort"]);
        Assert.AreEqual("canary 5%&x=1", hit.Query["stage"]);
        Assert.AreEqual("2026-03-04T05:06:07Z", hit.Query["since"]);
        Assert.AreEqual("r/1 ü", hit.Query["id"]);
        Assert.IsFalse(hit.Query.ContainsKey("x"), "a stage name injected a query parameter");
    }

    [TestMethod]
    public async Task ReadAsync_ValidatedPlanCriterion_QueriesExpandedUrl()
    {
        var key = Guid.NewGuid().ToString("N");
        var plan = TestPlans.Parse($$$"""
            {
              "name": "p", "flag": "search-v2",
              "stages": [ { "name": "5 %", "percent": 5, "minDuration": "1h" } ],
              "criteria": [ { "name": "latency",
                "source": { "type": "http", "url": "{{{baseUrl}}}/record/{{{key}}}?q=latency{flag=\"{{flag}}\",cohort=\"{{cohort}}\"}&stage={{stage}}",
                            "value": "$.value", "samples": "$.count", "timeout": "2s" },
                "max": 800 } ]
            }
            """);
        var query = new MetricQuery(plan.Criteria[0].Source, Cohort.Baseline, "r1", plan.Flag, plan.Stages[0].Name, TestPlans.T0);

        var reading = await Source.ReadAsync(query, TestContext.CancellationToken);

        Assert.AreEqual(new MetricReading(0.004, 250, null), reading);
        Assert.AreEqual("latency{flag=\"search-v2\",cohort=\"baseline\"}", Received[key].Query["q"]);
        Assert.AreEqual("5 %", Received[key].Query["stage"]);
        Assert.Contains("stage=5%20%25", Received[key].RawQuery);
    }

    [TestMethod]
    public async Task ReadAsync_ValidatedUrlInvalidOnceExpanded_FailsInsteadOfThrowing()
    {
        var reading = await Source.ReadAsync(HostTemplatedQuery(), TestContext.CancellationToken);

        Assert.IsNull(reading.Value);
        Assert.IsNotNull(reading.Error);
    }

    [TestMethod]
    public async Task ReadAsync_UrlNotAbsolute_FailsInsteadOfThrowing()
    {
        var reading = await ReadAsync("metrics/error-rate?cohort={{cohort}}");

        Assert.IsNull(reading.Value);
        Assert.IsNotNull(reading.Error);
    }

    [TestMethod]
    public async Task CriteriaEvaluator_HttpSourceWithUrlInvalidOnceExpanded_IsNoDataNotAnException()
    {
        var query = HostTemplatedQuery();
        var plan = TestPlans.Parse($$$"""
            {
              "name": "p", "flag": "f",
              "stages": [ { "name": "canary 5%", "percent": 5, "minDuration": "1h" } ],
              "criteria": [ { "name": "error-rate", "source": { "type": "http", "url": "{{{query.Source.Get("url")}}}", "value": "$.value" }, "max": 0.01 } ]
            }
            """);
        var state = RolloutMachine.Start("r1", plan, "alice", TestPlans.T0).State;
        var evaluator = new CriteriaEvaluator([Source], TimeProvider.System);

        var evaluation = await evaluator.EvaluateAsync(state, new EvaluateCriteria(0, TestPlans.T0), TestContext.CancellationToken);

        Assert.AreEqual(Outcome.NoData, evaluation.Outcome);
        Assert.StartsWith("the URL is not valid once its templates are expanded", evaluation.Criteria[0].Reason);
    }

    /// <summary>
    /// A criterion whose URL passes plan validation (the probe stage name "stage" makes a valid host) but whose
    /// real stage name ("canary 5%", encoded "canary%205%25") is no valid host name. No request can leave the machine:
    /// the URI is refused before any lookup.
    /// </summary>
    private static MetricQuery HostTemplatedQuery()
    {
        var plan = TestPlans.Parse("""
            {
              "name": "p", "flag": "f",
              "stages": [ { "name": "canary 5%", "percent": 5, "minDuration": "1h" } ],
              "criteria": [ { "name": "error-rate", "source": { "type": "http", "url": "http://{{stage}}.metrics.invalid/error-rate", "value": "$.value" }, "max": 0.01 } ]
            }
            """);
        return new MetricQuery(plan.Criteria[0].Source, Cohort.Treatment, "r1", plan.Flag, plan.Stages[0].Name, TestPlans.T0);
    }

    [TestMethod]
    public void Read_InvalidValuePath_FailsWithPathError()
    {
        using var document = System.Text.Json.JsonDocument.Parse("""{ "value": 1 }""");

        var reading = HttpMetricSource.Read(document.RootElement, Spec("http://unused", value: "value"));

        Assert.AreEqual(MetricReading.Failed("'value' is not a JSONPath: it must start with '$', e.g. '$.value'"), reading);
    }

    private Task<MetricReading> ReadAsync(string url, string value = "$.value", string? samples = "$.count", string? timeout = "5s") =>
        Source.ReadAsync(Query(url, value, samples, timeout), TestContext.CancellationToken);

    private static MetricQuery Query(string url, string value = "$.value", string? samples = "$.count", string? timeout = "5s") =>
        new(Spec(url, value, samples, timeout), Cohort.Treatment, "r1", "new-checkout", "canary", TestPlans.T0);

    private static MetricSourceSpec Spec(string url, string value = "$.value", string? samples = "$.count", string? timeout = "5s") =>
        new("http", TestPlans.Settings(("url", url), ("value", value), ("samples", samples), ("timeout", timeout)));

    private static CriterionPlan ErrorRate() => new("error-rate", Spec("http://unused"), null, 0.01, null, 10);

    private static IResult Json(string body) => Results.Text(body, "application/json", Encoding.UTF8);

    private static void AssertFailed(MetricReading reading, string reasonPrefix)
    {
        Assert.IsNull(reading.Value);
        Assert.IsNull(reading.Samples);
        Assert.IsNotNull(reading.Error);
        Assert.StartsWith(reasonPrefix, reading.Error);
    }

    private static int ClosedPort()
    {
        // Bind to a free port, then close it: nothing listens there afterwards, so a connect is refused.
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}
