using System.Diagnostics;
using System.Text.Json;
using Rollout.Core.Metrics;
using Rollout.Integrations.Metrics.AzureMonitor;
using static Rollout.Integrations.Tests.Metrics.AzureMonitor.AzureQueries;

namespace Rollout.Integrations.Tests.Metrics.AzureMonitor;

/// <summary>
/// <c>azure-monitor-logs</c> against a loopback HTTPS fixture replaying the Log Analytics query API's documented
/// answers: tables of columns and rows, a PartialError next to tables, error objects, throttling.
/// </summary>
[TestClass]
public sealed class AzureMonitorLogsSourceTests
{
    private const string Kql = "AppRequests | where Properties.cohort == '{{cohort}}' | summarize errorRate = countif(Success == false) * 1.0 / count(), requests = count()";

    private static string Table(string columns, params string[] rows) =>
        $$"""{"tables":[{"name":"PrimaryResult","columns":[{{columns}}],"rows":[{{string.Join(",", rows)}}]}]}""";

    private const string RateColumns = """{"name":"errorRate","type":"real"},{"name":"requests","type":"long"}""";

    private static readonly string GoodAnswer = Table(RateColumns, "[0.0042,1520]");

    private static Core.Plans.MetricSourceSpec Workspace(AzureFixture fixture, params (string Key, string Value)[] more) =>
        Spec(AzureMonitorLogsSource.Type, [("workspace", WorkspaceId), ("query", Kql), ("endpoint", fixture.Endpoint.ToString()), .. more]);

    private static Task<MetricReading> ReadAsync(AzureFixture fixture, Core.Plans.MetricSourceSpec spec, int maxRetries = 2, CancellationToken cancellationToken = default) =>
        new AzureMonitorLogsSource(fixture.Connect(maxRetries), FixedClock.Instance).ReadAsync(Query(spec), cancellationToken);

    [TestMethod]
    public async Task ReadAsync_WorkspaceQuery_SendsDocumentedRequestAndReadsFirstColumn()
    {
        await using var fixture = await AzureFixture.StartAsync(FixtureReply.Ok(GoodAnswer));

        var reading = await ReadAsync(fixture, Workspace(fixture));

        Assert.IsNull(reading.Error);
        Assert.AreEqual(0.0042, reading.Value);
        Assert.IsNull(reading.Samples, "no samplesColumn, no sample count");
        var request = fixture.Requests.Single();
        Assert.AreEqual("POST", request.Method);
        Assert.AreEqual($"/v1/workspaces/{WorkspaceId}/query", request.Path);
        StringAssert.StartsWith(request.ContentType, "application/json");
        Assert.AreEqual($"Bearer {AzureFixture.Token}", request.Authorization);
        using var body = JsonDocument.Parse(request.Body);
        Assert.AreEqual(Kql.Replace("{{cohort}}", "treatment", StringComparison.Ordinal), body.RootElement.GetProperty("query").GetString());
        Assert.AreEqual("2026-03-01T08:00:00Z/2026-03-01T09:30:00Z", body.RootElement.GetProperty("timespan").GetString(), "default timespan: stage start to now");
        CollectionAssert.AreEqual(new[] { $"https://127.0.0.1:{fixture.Endpoint.Port}/.default" }, fixture.Credential.Scopes.Distinct().ToArray(), "the token is asked for the overridden endpoint's scope");
    }

    [TestMethod]
    public async Task ReadAsync_ValueAndSamplesColumns_ReadsBothByName()
    {
        var answer = Table("""{"name":"requests","type":"long"},{"name":"p95","type":"real"}""", "[1520,312.5]");
        await using var fixture = await AzureFixture.StartAsync(FixtureReply.Ok(answer));

        var reading = await ReadAsync(fixture, Workspace(fixture, ("valueColumn", "p95"), ("samplesColumn", "requests")));

        Assert.IsNull(reading.Error);
        Assert.AreEqual(312.5, reading.Value);
        Assert.AreEqual(1520L, reading.Samples);
    }

    [TestMethod]
    public async Task ReadAsync_DecimalColumnAsString_ReadsNumber()
    {
        // Kusto decimals travel as JSON strings.
        var answer = Table("""{"name":"rate","type":"decimal"}""", "[\"0.25\"]");
        await using var fixture = await AzureFixture.StartAsync(FixtureReply.Ok(answer));

        var reading = await ReadAsync(fixture, Workspace(fixture));

        Assert.AreEqual(0.25, reading.Value);
    }

    [TestMethod]
    public async Task ReadAsync_EmptyTable_NoData()
    {
        await using var fixture = await AzureFixture.StartAsync(FixtureReply.Ok(Table(RateColumns)));

        AssertNoData(await ReadAsync(fixture, Workspace(fixture)), "the query returned no rows");
    }

    [TestMethod]
    public async Task ReadAsync_NoTables_NoData()
    {
        await using var fixture = await AzureFixture.StartAsync(FixtureReply.Ok("""{"tables":[]}"""));

        AssertNoData(await ReadAsync(fixture, Workspace(fixture)), "no table");
    }

    [TestMethod]
    public async Task ReadAsync_NullValue_NoData()
    {
        // avg() over no records is null.
        await using var fixture = await AzureFixture.StartAsync(FixtureReply.Ok(Table(RateColumns, "[null,0]")));

        AssertNoData(await ReadAsync(fixture, Workspace(fixture)), "column 'errorRate' is null");
    }

    [TestMethod]
    [DataRow("\"NaN\"", "is NaN")]
    [DataRow("\"Infinity\"", "is infinite")]
    [DataRow("\"-Infinity\"", "is infinite")]
    public async Task ReadAsync_NaNOrInfiniteValue_NoData(string cell, string reason)
    {
        // JSON has no NaN: a real column carries it as a string (e.g. 0.0/0 in KQL).
        await using var fixture = await AzureFixture.StartAsync(FixtureReply.Ok(Table(RateColumns, $"[{cell},10]")));

        AssertNoData(await ReadAsync(fixture, Workspace(fixture)), reason);
    }

    [TestMethod]
    public async Task ReadAsync_NullSampleCount_NoData()
    {
        await using var fixture = await AzureFixture.StartAsync(FixtureReply.Ok(Table(RateColumns, "[0.001,null]")));

        AssertNoData(await ReadAsync(fixture, Workspace(fixture, ("samplesColumn", "requests"))), "sample count: column 'requests' is null");
    }

    [TestMethod]
    public async Task ReadAsync_SeveralRows_NoData()
    {
        await using var fixture = await AzureFixture.StartAsync(FixtureReply.Ok(Table(RateColumns, "[0.001,10]", "[0.002,20]", "[0.5,30]")));

        AssertNoData(await ReadAsync(fixture, Workspace(fixture)), "the query returned 3 rows; summarize to one row");
    }

    [TestMethod]
    public async Task ReadAsync_StringValueColumn_NoData()
    {
        var answer = Table("""{"name":"cohort","type":"string"},{"name":"rate","type":"real"}""", "[\"0.5\",0.1]");
        await using var fixture = await AzureFixture.StartAsync(FixtureReply.Ok(answer));

        AssertNoData(await ReadAsync(fixture, Workspace(fixture)), "column 'cohort' (string) is not a number");
    }

    [TestMethod]
    public async Task ReadAsync_UnknownValueColumn_NoDataListingColumns()
    {
        await using var fixture = await AzureFixture.StartAsync(FixtureReply.Ok(GoodAnswer));

        AssertNoData(await ReadAsync(fixture, Workspace(fixture, ("valueColumn", "ErrorRate"))), "no column 'ErrorRate' in the answer (columns: errorRate, requests)");
    }

    [TestMethod]
    public async Task ReadAsync_PartialError_NoDataWithTheErrorNotTheTablesValue()
    {
        // A 200 with tables and an error object of code PartialError: the rows may be truncated or wrong.
        const string answer = """
            {"tables":[{"name":"PrimaryResult","columns":[{"name":"errorRate","type":"real"},{"name":"requests","type":"long"}],"rows":[[0.0001,50000]]}],
             "error":{"code":"PartialError","message":"There were some errors when processing your query.",
                      "details":[{"code":"EngineError","message":"Something went wrong processing your query on the server.",
                                  "innererror":{"code":"-2133196801","message":"The results of this query exceed the set limit of 64000000 bytes, so not all records were returned (E_QUERY_RESULT_SET_TOO_LARGE)."}}]}}
            """;
        await using var fixture = await AzureFixture.StartAsync(FixtureReply.Ok(answer));

        var reading = await ReadAsync(fixture, Workspace(fixture, ("samplesColumn", "requests")));

        AssertNoData(reading, "partial result refused: PartialError: There were some errors when processing your query.");
        StringAssert.Contains(reading.Error, "E_QUERY_RESULT_SET_TOO_LARGE");
        Assert.IsNull(reading.Samples);
    }

    [TestMethod]
    public async Task ReadAsync_BadRequest_NoDataWithServiceErrorAndInnermostCause()
    {
        const string error = """
            {"error":{"message":"The request had some invalid properties","code":"BadArgumentError","correlationId":"0e1f6f2e-3b5c-4f0a-9a51-8f2a2f0d7c11",
                      "innererror":{"code":"SyntaxError","message":"A recognition error occurred in the query.",
                                    "innererror":{"code":"SYN0002","message":"Query could not be parsed at 'summarise' on line [1,17]"}}}}
            """;
        await using var fixture = await AzureFixture.StartAsync(new FixtureReply(400, error));

        var reading = await ReadAsync(fixture, Workspace(fixture));

        AssertNoData(reading, "Azure Monitor refused the query: 400 Bad Request: BadArgumentError: The request had some invalid properties");
        StringAssert.Contains(reading.Error, "SYN0002: Query could not be parsed at 'summarise'");
        Assert.HasCount(1, fixture.Requests, "a 400 is not retried");
    }

    [TestMethod]
    [DataRow(401, "InvalidTokenError")]
    [DataRow(403, "InsufficientAccessError")]
    public async Task ReadAsync_NotAuthorized_NoDataWithoutRetry(int status, string code)
    {
        var error = $$$"""{"error":{"code":"{{{code}}}","message":"The provided credentials have insufficient access to perform the requested operation"}}""";
        await using var fixture = await AzureFixture.StartAsync(new FixtureReply(status, error));

        var reading = await ReadAsync(fixture, Workspace(fixture));

        AssertNoData(reading, $"not authorized: {status}");
        StringAssert.Contains(reading.Error, code);
        Assert.HasCount(1, fixture.Requests);
    }

    [TestMethod]
    public async Task ReadAsync_ThrottledThenAnswered_WaitsRetryAfterAndReadsValue()
    {
        const string throttled = """{"error":{"code":"ThrottledError","message":"Too many requests. Retry after 1 second."}}""";
        await using var fixture = await AzureFixture.StartAsync(new FixtureReply(429, throttled, RetryAfter: "1"), FixtureReply.Ok(GoodAnswer));

        var reading = await ReadAsync(fixture, Workspace(fixture));

        Assert.IsNull(reading.Error);
        Assert.AreEqual(0.0042, reading.Value);
        var requests = fixture.Requests;
        Assert.HasCount(2, requests);
        var waited = requests[1].At - requests[0].At;
        Assert.IsGreaterThanOrEqualTo(TimeSpan.FromMilliseconds(900), waited, $"Retry-After: 1 honoured (the retry delay is 20 ms otherwise); waited {waited}");
        Assert.AreEqual(requests[0].Body, requests[1].Body, "the retry sends the same query");
        Assert.AreEqual($"Bearer {AzureFixture.Token}", requests[1].Authorization);
    }

    [TestMethod]
    [DataRow(429)]
    [DataRow(503)]
    public async Task ReadAsync_ThrottledEveryTime_NoDataThrottledAfterRetries(int status)
    {
        const string throttled = """{"error":{"code":"ThrottledError","message":"Too many requests."}}""";
        await using var fixture = await AzureFixture.StartAsync(new FixtureReply(status, throttled, RetryAfter: "0"));

        var reading = await ReadAsync(fixture, Workspace(fixture), maxRetries: 2);

        AssertNoData(reading, $"throttled: {status}");
        StringAssert.Contains(reading.Error, "ThrottledError: Too many requests.");
        StringAssert.Contains(reading.Error, "still after 2 retries");
        Assert.HasCount(3, fixture.Requests, "one try and two retries");
    }

    [TestMethod]
    public async Task ReadAsync_RetryAfterBeyondTimeout_NoDataThrottledNotTimeout()
    {
        const string throttled = """{"error":{"code":"ThrottledError","message":"Too many requests."}}""";
        await using var fixture = await AzureFixture.StartAsync(new FixtureReply(429, throttled, RetryAfter: "60"), FixtureReply.Ok(GoodAnswer));
        var watch = Stopwatch.StartNew();

        var reading = await ReadAsync(fixture, Workspace(fixture, ("timeout", "500ms")));

        AssertNoData(reading, "throttled: Azure Monitor answered 429 (Retry-After 60) and the timeout of 500 ms ran out");
        Assert.IsLessThan(TimeSpan.FromSeconds(10), watch.Elapsed, "the timeout bounds the wait, not Retry-After");
        Assert.HasCount(1, fixture.Requests);
    }

    [TestMethod]
    public async Task ReadAsync_ServerSlowerThanTimeout_NoDataTimeout()
    {
        await using var fixture = await AzureFixture.StartAsync(new FixtureReply(200, GoodAnswer, Delay: TimeSpan.FromSeconds(20)));
        var watch = Stopwatch.StartNew();

        var reading = await ReadAsync(fixture, Workspace(fixture, ("timeout", "500ms")));

        AssertNoData(reading, "timeout after 500 ms");
        Assert.IsLessThan(TimeSpan.FromSeconds(10), watch.Elapsed);
    }

    [TestMethod]
    public async Task ReadAsync_CallerCancels_Throws()
    {
        await using var fixture = await AzureFixture.StartAsync(new FixtureReply(200, GoodAnswer, Delay: TimeSpan.FromSeconds(20)));
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));

        await Assert.ThrowsAsync<OperationCanceledException>(() => ReadAsync(fixture, Workspace(fixture), cancellationToken: cancel.Token));
    }

    [TestMethod]
    public async Task ReadAsync_Templates_ExpandedAsEscapedKqlLiterals()
    {
        await using var fixture = await AzureFixture.StartAsync(FixtureReply.Ok(GoodAnswer));
        var spec = Workspace(fixture, ("query", "T | where cohort == \"{{cohort}}\" and stage == '{{stage}}' and flag == '{{flag}}' and rollout == '{{rolloutId}}' and TimeGenerated > datetime({{since}})"));
        var source = new AzureMonitorLogsSource(fixture.Connect(), FixedClock.Instance);

        await source.ReadAsync(Query(spec, Cohort.Baseline, stage: """it's "50%" \ now"""), CancellationToken.None);

        using var body = JsonDocument.Parse(fixture.Requests.Single().Body);
        Assert.AreEqual(
            """T | where cohort == "baseline" and stage == 'it\'s \"50%\" \\ now' and flag == 'checkout-v2' and rollout == 'r-1' and TimeGenerated > datetime(2026-03-01T08:00:00Z)""",
            body.RootElement.GetProperty("query").GetString());
    }

    [TestMethod]
    public async Task ReadAsync_ResourceId_QueriesResourceCentricRouteWithGivenTimespan()
    {
        const string component = "/subscriptions/1f3fa6d2-851c-4a91-9087-1a050f3a9c38/resourceGroups/shop/providers/microsoft.insights/components/checkout";
        await using var fixture = await AzureFixture.StartAsync(FixtureReply.Ok(GoodAnswer));
        var spec = Spec(AzureMonitorLogsSource.Type, ("resource", component), ("query", "requests | summarize avg(duration)"), ("timespan", "PT1H"), ("endpoint", fixture.Endpoint.ToString()));

        var reading = await new AzureMonitorLogsSource(fixture.Connect(), FixedClock.Instance).ReadAsync(Query(spec), CancellationToken.None);

        Assert.AreEqual(0.0042, reading.Value);
        var request = fixture.Requests.Single();
        Assert.AreEqual("POST", request.Method);
        Assert.AreEqual($"/v1{component}/query", request.Path);
        using var body = JsonDocument.Parse(request.Body);
        Assert.AreEqual("PT1H", body.RootElement.GetProperty("timespan").GetString());
    }

    [TestMethod]
    public async Task ReadAsync_AppId_QueriesApplicationRouteWithTemplatedTimespan()
    {
        const string app = "34adfa4f-cedf-4dc0-ba29-b6d1a69ab345";
        await using var fixture = await AzureFixture.StartAsync(FixtureReply.Ok(GoodAnswer));
        var spec = Spec(AzureMonitorLogsSource.Type, ("app", app), ("query", "requests | summarize avg(duration)"), ("timespan", "{{since}}/PT1H"), ("endpoint", fixture.Endpoint.ToString()));

        await new AzureMonitorLogsSource(fixture.Connect(), FixedClock.Instance).ReadAsync(Query(spec), CancellationToken.None);

        var request = fixture.Requests.Single();
        Assert.AreEqual($"/v1/apps/{app}/query", request.Path);
        using var body = JsonDocument.Parse(request.Body);
        Assert.AreEqual("2026-03-01T08:00:00Z/PT1H", body.RootElement.GetProperty("timespan").GetString());
    }

    [TestMethod]
    public async Task ReadAsync_NoCredential_NoDataWithoutCallingTheService()
    {
        await using var fixture = await AzureFixture.StartAsync(FixtureReply.Ok(GoodAnswer));
        var source = new AzureMonitorLogsSource(fixture.Connect(credential: new UnavailableCredential()), FixedClock.Instance);

        var reading = await source.ReadAsync(Query(Workspace(fixture)), CancellationToken.None);

        AssertNoData(reading, "no Azure credential: DefaultAzureCredential failed to retrieve a token");
        Assert.IsEmpty(fixture.Requests);
    }

    [TestMethod]
    public async Task ReadAsync_ServiceUnreachable_NoData()
    {
        var fixture = await AzureFixture.StartAsync(FixtureReply.Ok(GoodAnswer));
        var spec = Workspace(fixture);
        var connection = fixture.Connect(maxRetries: 1);
        await fixture.DisposeAsync();

        var reading = await new AzureMonitorLogsSource(connection, FixedClock.Instance).ReadAsync(Query(spec), CancellationToken.None);

        AssertNoData(reading, "Azure Monitor unreachable");
    }

    [TestMethod]
    public async Task ReadAsync_AnswerNotJson_NoData()
    {
        await using var fixture = await AzureFixture.StartAsync(FixtureReply.Ok("<html>gateway</html>"));

        AssertNoData(await ReadAsync(fixture, Workspace(fixture)), "the answer is not in the documented format");
    }
}
