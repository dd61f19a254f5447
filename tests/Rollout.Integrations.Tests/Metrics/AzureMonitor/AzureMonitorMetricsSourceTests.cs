using System.Diagnostics;
using Rollout.Core.Gates;
using Rollout.Core.Metrics;
using Rollout.Core.Plans;
using Rollout.Integrations.Metrics.AzureMonitor;
using static Rollout.Integrations.Tests.Metrics.AzureMonitor.AzureQueries;

namespace Rollout.Integrations.Tests.Metrics.AzureMonitor;

/// <summary>
/// <c>azure-monitor-metrics</c> against a loopback HTTPS fixture replaying the Metrics REST API's documented answers
/// (api-version 2023-10-01): a value array of metrics with time series of data points, metric errors, ARM errors.
/// </summary>
[TestClass]
public sealed class AzureMonitorMetricsSourceTests
{
    private const string Component = "/subscriptions/1f3fa6d2-851c-4a91-9087-1a050f3a9c38/resourceGroups/shop/providers/Microsoft.Insights/components/checkout";

    private static string Answer(string metric, string series, string errorCode = "Success") => $$"""
        {"cost":59,"timespan":"2026-03-01T08:00:00Z/2026-03-01T09:30:00Z","interval":"PT30M",
         "value":[{"id":"{{Component}}/providers/Microsoft.Insights/metrics/{{metric}}","type":"Microsoft.Insights/metrics",
                   "name":{"value":"{{metric}}","localizedValue":"Failed requests"},"unit":"Count",
                   "timeseries":[{{series}}],"errorCode":"{{errorCode}}"}],
         "namespace":"microsoft.insights/components","resourceregion":"westeurope"}
        """;

    // Three 30-minute points; the last interval is still in progress and has no values yet.
    private const string OneSeries = """
        {"metadatavalues":[],"data":[
          {"timeStamp":"2026-03-01T08:00:00Z","average":0.5,"total":5,"count":10,"minimum":0,"maximum":1},
          {"timeStamp":"2026-03-01T08:30:00Z","average":0.25,"total":30,"count":120,"minimum":0.125,"maximum":0.75},
          {"timeStamp":"2026-03-01T09:00:00Z"}]}
        """;

    private static MetricSourceSpec Metric(AzureFixture fixture, string aggregation = "Average", params (string Key, string Value)[] more) =>
        Spec(AzureMonitorMetricsSource.Type, [("resource", Component), ("metric", "requests/failed"), ("aggregation", aggregation), ("endpoint", fixture.Endpoint.ToString()), .. more]);

    private static Task<MetricReading> ReadAsync(AzureFixture fixture, MetricSourceSpec spec, string stage = "50%") =>
        new AzureMonitorMetricsSource(fixture.Connect(), FixedClock.Instance).ReadAsync(Query(spec, stage: stage), CancellationToken.None);

    [TestMethod]
    public async Task ReadAsync_Average_SendsDocumentedRequestAndReadsLatestPointWithValue()
    {
        await using var fixture = await AzureFixture.StartAsync(FixtureReply.Ok(Answer("requests/failed", OneSeries)));

        var reading = await ReadAsync(fixture, Metric(fixture, "Average", ("interval", "PT30M")));

        Assert.IsNull(reading.Error);
        Assert.AreEqual(0.25, reading.Value, "the latest point with an average; the empty in-progress interval is skipped");
        Assert.AreEqual(120L, reading.Samples, "samples are the same point's count");
        var request = fixture.Requests.Single();
        Assert.AreEqual("GET", request.Method);
        Assert.AreEqual($"{Component}/providers/Microsoft.Insights/metrics", request.Path);
        Assert.AreEqual("2023-10-01", request.Query["api-version"]);
        Assert.AreEqual("requests/failed", request.Query["metricnames"]);
        Assert.AreEqual("average,count", request.Query["aggregation"]);
        Assert.AreEqual("PT30M", request.Query["interval"]);
        Assert.AreEqual("2026-03-01T08:00:00Z/2026-03-01T09:30:00Z", request.Query["timespan"], "from the stage's start to now");
        Assert.IsFalse(request.Query.ContainsKey("$filter"));
        Assert.IsFalse(request.Query.ContainsKey("metricnamespace"));
        Assert.AreEqual($"Bearer {AzureFixture.Token}", request.Authorization);
        CollectionAssert.AreEqual(new[] { $"https://127.0.0.1:{fixture.Endpoint.Port}/.default" }, fixture.Credential.Scopes.Distinct().ToArray());
    }

    [TestMethod]
    [DataRow("Total", 30d, "total,count")]
    [DataRow("Maximum", 0.75, "maximum,count")]
    [DataRow("Minimum", 0.125, "minimum,count")]
    [DataRow("Count", 120d, "count")]
    [DataRow("average", 0.25, "average,count")]
    public async Task ReadAsync_Aggregation_AsksForItAndReadsItsField(string aggregation, double expected, string sent)
    {
        await using var fixture = await AzureFixture.StartAsync(FixtureReply.Ok(Answer("requests/failed", OneSeries)));

        var reading = await ReadAsync(fixture, Metric(fixture, aggregation));

        Assert.IsNull(reading.Error);
        Assert.AreEqual(expected, reading.Value);
        Assert.AreEqual(120L, reading.Samples);
        Assert.AreEqual(sent, fixture.Requests.Single().Query["aggregation"]);
    }

    [TestMethod]
    public async Task ReadAsync_NamespaceAndFilter_SentWithODataEscapedTemplatesAndFullInterval()
    {
        await using var fixture = await AzureFixture.StartAsync(FixtureReply.Ok(Answer("requests/failed", OneSeries)));
        var spec = Metric(fixture, "Average", ("namespace", "microsoft.insights/components"), ("filter", "cloud/roleName eq 'checkout' and customDimensions/stage eq '{{stage}}' and customDimensions/cohort eq '{{cohort}}'"));

        await ReadAsync(fixture, spec, stage: "it's 50%");

        var query = fixture.Requests.Single().Query;
        Assert.AreEqual("microsoft.insights/components", query["metricnamespace"]);
        Assert.AreEqual("cloud/roleName eq 'checkout' and customDimensions/stage eq 'it''s 50%' and customDimensions/cohort eq 'treatment'", query["$filter"]);
        Assert.AreEqual("FULL", query["interval"], "default: one point over the whole window");
    }

    [TestMethod]
    public async Task ReadAsync_EmptyTimeseries_NoData()
    {
        await using var fixture = await AzureFixture.StartAsync(FixtureReply.Ok(Answer("requests/failed", string.Empty)));

        AssertNoData(await ReadAsync(fixture, Metric(fixture)), "metric 'requests/failed' has no time series");
    }

    [TestMethod]
    public async Task ReadAsync_NoPointWithTheAggregation_NoData()
    {
        const string empty = """
            {"metadatavalues":[],"data":[{"timeStamp":"2026-03-01T08:00:00Z"},{"timeStamp":"2026-03-01T08:30:00Z","average":null,"count":0}]}
            """;
        await using var fixture = await AzureFixture.StartAsync(FixtureReply.Ok(Answer("requests/failed", empty)));

        AssertNoData(await ReadAsync(fixture, Metric(fixture)), "has no data point with a average value");
    }

    [TestMethod]
    public async Task ReadAsync_TotalWithZeroCount_NeverPasses()
    {
        // A total of 0 over no measurements is a value without samples: the gate holds it as NoData.
        const string zero = """{"metadatavalues":[],"data":[{"timeStamp":"2026-03-01T08:00:00Z","total":0,"count":0}]}""";
        await using var fixture = await AzureFixture.StartAsync(FixtureReply.Ok(Answer("requests/failed", zero)));

        var reading = await ReadAsync(fixture, Metric(fixture, "Total"));

        Assert.AreEqual(0d, reading.Value);
        Assert.AreEqual(0L, reading.Samples);
        var criterion = new CriterionPlan("failed", Metric(fixture, "Total"), Min: null, Max: 10, MaxBaselineRatio: null, MinSamples: 0);
        var result = GateEvaluator.Evaluate(criterion, reading, null);
        Assert.AreEqual(Outcome.NoData, result.Outcome);
        Assert.AreEqual("no samples", result.Reason);
    }

    [TestMethod]
    public async Task ReadAsync_SeveralSeries_NoDataAskingToAggregate()
    {
        static string Tier(string tier, double average) => $$"""
            {"metadatavalues":[{"name":{"value":"tier","localizedValue":"tier"},"value":"{{tier}}"}],
             "data":[{"timeStamp":"2026-03-01T08:00:00Z","average":{{average}},"count":5}]}
            """;
        await using var fixture = await AzureFixture.StartAsync(FixtureReply.Ok(Answer("requests/failed", string.Join(",", Tier("Hot", 7), Tier("Cool", 0), Tier("Archive", 2)))));

        AssertNoData(await ReadAsync(fixture, Metric(fixture)), "3 series for metric 'requests/failed' (split by tier); aggregate in the query");
    }

    [TestMethod]
    public async Task ReadAsync_MetricErrorCode_NoDataWithItsMessage()
    {
        // As in the 2023-10-01 example GetMetricError.json: a 200 whose metric has an errorCode and no series.
        const string answer = """
            {"cost":239,"timespan":"2026-03-01T08:00:00Z/2026-03-01T09:30:00Z","interval":"PT4H",
             "value":[{"id":"x","type":"Microsoft.Insights/metrics","name":{"value":"requests/failed","localizedValue":"Failed"},"unit":"CountPerSecond",
                       "timeseries":[],"errorMessage":"Sampling type is not found. SamplingType:NullableAverage.","errorCode":"InvalidSamplingType"}]}
            """;
        await using var fixture = await AzureFixture.StartAsync(FixtureReply.Ok(answer));

        AssertNoData(await ReadAsync(fixture, Metric(fixture)), "metric 'requests/failed': InvalidSamplingType: Sampling type is not found.");
    }

    [TestMethod]
    public async Task ReadAsync_MetricAbsentFromAnswer_NoData()
    {
        await using var fixture = await AzureFixture.StartAsync(FixtureReply.Ok("""{"timespan":"2026-03-01T08:00:00Z/2026-03-01T09:30:00Z","value":[]}"""));

        AssertNoData(await ReadAsync(fixture, Metric(fixture)), "the answer has no metric 'requests/failed'");
    }

    [TestMethod]
    public async Task ReadAsync_BadRequest_NoDataWithArmError()
    {
        const string error = """{"error":{"code":"BadRequest","message":"Failed to find metric configuration for provider: microsoft.insights, resource Type: components, metric: requests/failed, Valid metrics: requests/count, requests/duration"}}""";
        await using var fixture = await AzureFixture.StartAsync(new FixtureReply(400, error));

        AssertNoData(await ReadAsync(fixture, Metric(fixture)), "Azure Monitor refused the query: 400 Bad Request: BadRequest: Failed to find metric configuration");
        Assert.HasCount(1, fixture.Requests);
    }

    [TestMethod]
    public async Task ReadAsync_Forbidden_NoDataNotAuthorized()
    {
        const string error = """{"error":{"code":"AuthorizationFailed","message":"The client does not have authorization to perform action 'microsoft.insights/metrics/read'."}}""";
        await using var fixture = await AzureFixture.StartAsync(new FixtureReply(403, error));

        AssertNoData(await ReadAsync(fixture, Metric(fixture)), "not authorized: 403 Forbidden: AuthorizationFailed");
    }

    [TestMethod]
    public async Task ReadAsync_ThrottledThenAnswered_WaitsRetryAfterAndReadsValue()
    {
        const string throttled = """{"error":{"code":"TooManyRequests","message":"Number of 'read' requests for subscription exceeded the limit."}}""";
        await using var fixture = await AzureFixture.StartAsync(new FixtureReply(429, throttled, RetryAfter: "1"), FixtureReply.Ok(Answer("requests/failed", OneSeries)));

        var reading = await ReadAsync(fixture, Metric(fixture));

        Assert.AreEqual(0.25, reading.Value);
        var requests = fixture.Requests;
        Assert.HasCount(2, requests);
        Assert.IsGreaterThanOrEqualTo(TimeSpan.FromMilliseconds(900), requests[1].At - requests[0].At, "Retry-After: 1 honoured");
        CollectionAssert.AreEquivalent(requests[0].Query.ToArray(), requests[1].Query.ToArray(), "the retry sends the same query");
    }

    [TestMethod]
    public async Task ReadAsync_ThrottledEveryTime_NoDataThrottled()
    {
        const string throttled = """{"error":{"code":"TooManyRequests","message":"Number of 'read' requests for subscription exceeded the limit."}}""";
        await using var fixture = await AzureFixture.StartAsync(new FixtureReply(429, throttled, RetryAfter: "0"));

        AssertNoData(await ReadAsync(fixture, Metric(fixture)), "throttled: 429 Too Many Requests (Retry-After 0): TooManyRequests");
        Assert.HasCount(3, fixture.Requests);
    }

    [TestMethod]
    public async Task ReadAsync_ServerSlowerThanTimeout_NoDataTimeout()
    {
        await using var fixture = await AzureFixture.StartAsync(new FixtureReply(200, Answer("requests/failed", OneSeries), Delay: TimeSpan.FromSeconds(20)));
        var watch = Stopwatch.StartNew();

        AssertNoData(await ReadAsync(fixture, Metric(fixture, "Average", ("timeout", "1s"))), "timeout after 1 second");
        Assert.IsLessThan(TimeSpan.FromSeconds(10), watch.Elapsed);
    }
}
