using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Rollout.Cli.Demo;

/// <summary>
/// The demo's sample service: <c>GET /checkout?user=</c> asks Rollout whether the user gets the new checkout
/// (over the evaluate endpoint, as an app would), serves the old or the new code path, and counts requests
/// by cohort and outcome for Prometheus at <c>/metrics</c>. The new path has a bug that shows once half the
/// users have it (the injected regression): from then on it fails 8% of requests.
/// </summary>
internal sealed class CheckoutService : IAsyncDisposable
{
    private const double BaselineErrorRate = 0.005;
    private const double RegressedErrorRate = 0.08;
    private readonly WebApplication app;
    private readonly HttpClient rollout;
    private readonly string flag;
    private readonly decimal regressAtPercent;
    private long treatmentOk;
    private long treatmentError;
    private long baselineOk;
    private long baselineError;
    private long regressionStartedTicks;

    private CheckoutService(WebApplication app, HttpClient rollout, string flag, decimal regressAtPercent)
    {
        this.app = app;
        this.rollout = rollout;
        this.flag = flag;
        this.regressAtPercent = regressAtPercent;
    }

    public Uri Address { get; private set; } = null!;

    /// <summary>When the new path first ran with the regression, or null.</summary>
    public DateTimeOffset? RegressionStartedAt => Interlocked.Read(ref regressionStartedTicks) is > 0 and var ticks ? new DateTimeOffset(ticks, TimeSpan.Zero) : null;

    public static async Task<CheckoutService> StartAsync(Uri rolloutHost, string flag, decimal regressAtPercent, CancellationToken ct)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var service = new CheckoutService(builder.Build(), new HttpClient { BaseAddress = rolloutHost }, flag, regressAtPercent);
        service.app.MapGet("/checkout", service.CheckoutAsync);
        service.app.MapGet("/metrics", service.Metrics);
        await service.app.StartAsync(ct);
        service.Address = new Uri(service.app.Urls.First());
        return service;
    }

    public async ValueTask DisposeAsync()
    {
        rollout.Dispose();
        await app.StopAsync();
        await app.DisposeAsync();
    }

    private async Task<IResult> CheckoutAsync(string user, CancellationToken ct)
    {
        using var answer = JsonDocument.Parse(await rollout.GetStringAsync($"api/flags/{flag}/evaluate?subject={Uri.EscapeDataString(user)}", ct));
        var enabled = answer.RootElement.GetProperty("enabled").GetBoolean();
        var percent = answer.RootElement.TryGetProperty("percent", out var p) && p.ValueKind == JsonValueKind.Number ? p.GetDecimal() : 0m;
        var regressed = enabled && percent >= regressAtPercent;
        if (regressed)
        {
            Interlocked.CompareExchange(ref regressionStartedTicks, DateTimeOffset.UtcNow.UtcTicks, 0);
        }

        var failed = Random.Shared.NextDouble() < (regressed ? RegressedErrorRate : BaselineErrorRate);
        if (enabled)
        {
            Interlocked.Increment(ref failed ? ref treatmentError : ref treatmentOk);
        }
        else
        {
            Interlocked.Increment(ref failed ? ref baselineError : ref baselineOk);
        }

        return failed ? Results.StatusCode(500) : Results.Text(enabled ? "new checkout" : "old checkout");
    }

    private IResult Metrics()
    {
        var sb = new StringBuilder("# TYPE checkout_requests_total counter\n");
        void Line(string cohort, string outcome, long value) =>
            sb.Append(CultureInfo.InvariantCulture, $"checkout_requests_total{{cohort=\"{cohort}\",outcome=\"{outcome}\"}} {value}\n");
        Line("treatment", "ok", Interlocked.Read(ref treatmentOk));
        Line("treatment", "error", Interlocked.Read(ref treatmentError));
        Line("baseline", "ok", Interlocked.Read(ref baselineOk));
        Line("baseline", "error", Interlocked.Read(ref baselineError));
        return Results.Text(sb.ToString(), "text/plain; version=0.0.4");
    }
}
