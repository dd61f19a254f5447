using System.Globalization;
using Microsoft.Playwright;
using Rollout.Cli.Tests;
using Rollout.Core.Engine;
using Rollout.Testing;
using static Microsoft.Playwright.Assertions;

namespace Rollout.Dashboard.Tests;

/// <summary>
/// The dashboard in a real browser (the system Chromium through Playwright) against a real local host. Screenshots go
/// to TestResults/screenshots under the repository root.
/// </summary>
[TestClass]
public sealed class DashboardBrowserTests
{
    private static TestHost? host;
    private static IPlaywright? playwright;
    private static IBrowser? browser;

    private readonly List<string> pageErrors = [];
    private IBrowserContext context = null!;
    private IPage page = null!;

    private static TestHost Host => host!;

    [ClassInitialize]
    public static async Task StartAsync(TestContext _)
    {
        (playwright, browser) = await Browser.LaunchAsync();
        SetDefaultExpectTimeout(20_000);
        host = await TestHost.StartAsync();
    }

    [ClassCleanup]
    public static async Task StopAsync()
    {
        if (browser is not null)
        {
            await browser.CloseAsync();
        }

        playwright?.Dispose();
        if (host is not null)
        {
            await host.DisposeAsync();
        }
    }

    [TestInitialize]
    public async Task OpenPageAsync() => (context, page) = await NewPageAsync(1280, 900);

    [TestCleanup]
    public async Task ClosePageAsync()
    {
        await context.CloseAsync();
        Assert.IsEmpty(pageErrors, "the page reported errors: " + string.Join(" | ", pageErrors));
    }

    [TestMethod]
    public async Task List_RunningRollout_ShowsStatusStageExposureAndRefreshesByItself()
    {
        var id = await Host.StartRolloutAsync(Host.Plan("list-running", bake: "1h"));
        await Host.WaitForAsync(id, v => v.LastEvaluation is not null);

        await page.GotoAsync("/");
        var row = page.Locator($"tr[data-id='{id}']");
        await Expect(row).ToBeVisibleAsync();
        await Expect(row.Locator("th a")).ToHaveTextAsync("list-running");
        await Expect(row.Locator("[data-label='Status']")).ToContainTextAsync("Running");
        await Expect(row.Locator("[data-label='Stage']")).ToContainTextAsync("1/4 internal");
        await Expect(row.Locator("[data-label='Exposure']")).ToHaveTextAsync("0%");
        await Expect(row.Locator("[data-label='In stage']")).ToHaveTextAsync(new System.Text.RegularExpressions.Regex(@"^\d+ s$"));
        await Expect(row.Locator("[data-label='Next evaluation']")).ToContainTextAsync(new System.Text.RegularExpressions.Regex("in|due|just"));
        await Expect(row.Locator("[data-label='Last decision']")).ToContainTextAsync("Pass");
        await Expect(page.Locator("#updated")).ToContainTextAsync("Updated");

        // The list refreshes by itself: a rollout started after the page loaded appears without a reload.
        var later = await Host.StartRolloutAsync(Host.Plan("list-later", bake: "1h"));
        await Expect(page.Locator($"tr[data-id='{later}']")).ToBeVisibleAsync();
        await ScreenshotAsync("list-desktop.png");

        await row.Locator("th a").ClickAsync();
        await Expect(page.Locator("h1")).ToHaveTextAsync("list-running");
        await Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex($"#/rollouts/{id}$"));
    }

    [TestMethod]
    public async Task RolloutPage_CompletedRollout_ChartHasABandPerStageEnteredAndAPointPerCheck()
    {
        var id = await Host.StartRolloutAsync(Host.Plan("chart-complete", bake: "1s"));
        await Host.WaitForAsync(id, v => v.Status == RolloutStatus.Completed);
        var audit = await Host.AuditAsync(id);

        await page.GotoAsync($"/#/rollouts/{id}");
        await Expect(page.Locator(".status-line .badge")).ToHaveTextAsync("Completed");
        var bands = page.Locator(".stage-band");
        await Expect(bands).ToHaveCountAsync(audit.Count(e => e.Type == AuditType.StageEntered));
        CollectionAssert.AreEqual(new[] { "internal", "10%", "50%", "100%" }, await bands.EvaluateAllAsync<string[]>("els => els.map(e => e.dataset.stage)"));
        var widths = await bands.EvaluateAllAsync<double[]>("els => els.map(e => e.getBBox().width)");
        Assert.IsTrue(widths.All(w => w > 20), "every stage band has a visible width: " + string.Join(", ", widths));

        await Expect(page.Locator(".criterion-point")).ToHaveCountAsync(audit.Count(e => e.Type == AuditType.Evaluated));
        await Expect(page.Locator(".criterion-point[data-outcome='Pass']")).ToHaveCountAsync(audit.Count(e => e.Type == AuditType.Evaluated));
        await Expect(page.Locator(".threshold.max")).ToHaveCountAsync(1);
        await Expect(page.Locator(".baseline-line")).ToHaveCountAsync(1);
        await Expect(page.Locator(".ratio-line")).ToHaveCountAsync(1);
        var exposureLabels = await page.Locator(".exposure-label").AllTextContentsAsync();
        CollectionAssert.IsSubsetOf(new[] { "10%", "50%", "100%" }, exposureLabels.ToList());

        // One decision per step of the engine (the audit entries written together), each marked where it happened.
        var steps = audit.Select(e => e.At).Distinct().Count();
        await Expect(page.Locator(".decision")).ToHaveCountAsync(steps);
        await Expect(page.Locator(".decision[data-kind='promote']")).ToHaveCountAsync(3);
        await Expect(page.Locator(".decision[data-kind='complete']")).ToHaveCountAsync(1);
        await Expect(page.Locator(".decision[data-kind='start']")).ToHaveCountAsync(1);

        await Expect(page.Locator("#audit tbody tr")).ToHaveCountAsync(audit.Count);
        await Expect(page.Locator("#audit tbody tr").First).ToContainTextAsync("Completed");
        await Expect(page.Locator("#brief h3").First).ToHaveTextAsync("Release brief: chart-complete");
        await Expect(page.Locator("#brief table")).ToContainTextAsync("50% of all users");
        await ScreenshotAsync("rollout-completed-desktop.png", fullPage: true);
    }

    [TestMethod]
    public async Task Decision_HoveredOrReachedWithTheKeyboard_ShowsItsEvidence()
    {
        var id = await Host.StartRolloutAsync(Host.Plan("chart-evidence", bake: "1s"));
        await Host.WaitForAsync(id, v => v.Status == RolloutStatus.Completed);
        await page.GotoAsync($"/#/rollouts/{id}");
        await Expect(page.Locator(".decision[data-kind='complete']")).ToHaveCountAsync(1);

        // Hover: the first promotion's evidence, with the criterion's value against its thresholds.
        await page.Locator(".decision[data-kind='promote']").First.HoverAsync();
        var evidence = page.Locator("#evidence");
        await Expect(evidence.Locator("h3")).ToContainTextAsync("promoted to '10%'");
        await Expect(evidence.Locator("table.criteria")).ToContainTextAsync("error-rate");
        await Expect(evidence.Locator("table.criteria")).ToContainTextAsync("0.0046");
        await Expect(evidence.Locator("table.criteria")).ToContainTextAsync("0.005");
        await Expect(evidence.Locator("table.criteria")).ToContainTextAsync("max 0.01 · ≤ 1.5× baseline · n ≥ 100");
        await Expect(page.Locator(".decision.selected")).ToHaveAttributeAsync("data-kind", "promote");
        await page.Mouse.MoveAsync(0, 0);
        await page.Locator("#evidence").ScreenshotAsync(new LocatorScreenshotOptions { Path = Path.Combine(Browser.ScreenshotDirectory, "evidence-hover.png") });

        // Keyboard: one Tab stop after the breadcrumb (the action buttons are disabled), then the arrow keys.
        await page.Locator(".breadcrumb a").FocusAsync();
        await page.Keyboard.PressAsync("Tab");
        var focused = page.Locator(".decision:focus");
        await Expect(focused).ToHaveAttributeAsync("data-kind", "promote");
        await page.Keyboard.PressAsync("End");
        await Expect(focused).ToHaveAttributeAsync("data-kind", "complete");
        await Expect(evidence.Locator("h3")).ToContainTextAsync("completed in '100%'");
        await page.Keyboard.PressAsync("Home");
        await Expect(focused).ToHaveAttributeAsync("data-kind", "start");
        await Expect(evidence.Locator("h3")).ToContainTextAsync("Started in 'internal'");
        await Expect(evidence).ToContainTextAsync("Started by alex@contoso.com");
        await page.Keyboard.PressAsync("ArrowRight");
        var second = page.Locator(".decision").Nth(1);
        await Expect(second).ToBeFocusedAsync();
        var label = await second.GetAttributeAsync("aria-label") ?? string.Empty;
        StringAssert.StartsWith(label, "Pass; ");
        await Expect(evidence.Locator("h3")).ToContainTextAsync(label[..label.LastIndexOf(", ", StringComparison.Ordinal)]);
        await Expect(evidence.Locator("table.criteria")).ToContainTextAsync("0.0046");
        await ScreenshotAsync("evidence-keyboard-desktop.png");
    }

    [TestMethod]
    public async Task Rollback_ConfirmedWithAReason_RollsBackAndAuditsTheReasonAndActor()
    {
        var id = await Host.StartRolloutAsync(Host.Plan("ui-rollback", bake: "1h"));
        await Host.WaitForAsync(id, v => v.LastEvaluation is not null);
        await page.GotoAsync($"/#/rollouts/{id}");
        await Expect(page.Locator(".status-line .badge")).ToHaveTextAsync("Running");
        await Expect(page.Locator(".criterion-point").First).ToBeVisibleAsync();

        await page.Locator("#action-rollback").ClickAsync();
        var dialog = page.Locator("#action-dialog");
        await Expect(dialog).ToBeVisibleAsync();
        await Expect(page.Locator("#action-title")).ToHaveTextAsync("Roll back ui-rollback?");
        await Expect(page.Locator("#key-field")).ToBeVisibleAsync();
        await Expect(page.Locator("#api-key")).ToBeFocusedAsync();
        await page.GetByLabel("API key").FillAsync(TestHost.Key);
        await page.GetByLabel("Your name").FillAsync("oncall@contoso.com");

        // No reason, no rollback: the form refuses.
        await page.Locator("#action-confirm").ClickAsync();
        Assert.IsFalse(await page.Locator("#action-reason").EvaluateAsync<bool>("e => e.validity.valid"));
        await Expect(dialog).ToBeVisibleAsync();
        Assert.AreEqual(RolloutStatus.Running, (await Host.GetAsync(id)).Status);

        await page.GetByLabel("Reason").FillAsync("error budget burning (dashboard test)");
        await ScreenshotAsync("rollback-dialog-desktop.png");
        await page.Locator("#action-confirm").ClickAsync();

        await Expect(dialog).ToBeHiddenAsync();
        await Expect(page.Locator("#toast")).ToContainTextAsync("rolled back from stage 'internal'");
        await Expect(page.Locator(".status-line .badge")).ToHaveTextAsync("Rolled back");
        await Expect(page.Locator("#action-rollback")).ToBeDisabledAsync();
        await Expect(page.Locator(".decision[data-kind='rollback']")).ToHaveCountAsync(1);
        await Expect(page.Locator("#audit tbody tr[data-type='RolledBack']")).ToContainTextAsync("error budget burning (dashboard test)");

        var view = await Host.GetAsync(id);
        Assert.AreEqual(RolloutStatus.RolledBack, view.Status);
        Assert.AreEqual(0m, view.Percent);
        var rolledBack = (await Host.AuditAsync(id)).Single(e => e.Type == AuditType.RolledBack);
        Assert.AreEqual("oncall@contoso.com", rolledBack.Actor);
        Assert.AreEqual("error budget burning (dashboard test)", rolledBack.Details.GetProperty("reason").GetString());
        Assert.AreEqual(TestHost.Key, await page.EvaluateAsync<string>("() => sessionStorage.getItem('rollout.apiKey')"));
        await ScreenshotAsync("rolled-back-desktop.png");
    }

    [TestMethod]
    public async Task Pause_WrongKey_Shows401AndChangesNothing_ThenTheRightKeyIsAskedOnlyOnce()
    {
        var id = await Host.StartRolloutAsync(Host.Plan("ui-wrong-key", bake: "1h"));
        await page.GotoAsync($"/#/rollouts/{id}");
        await Expect(page.Locator(".status-line .badge")).ToHaveTextAsync("Running");

        await page.Locator("#action-pause").ClickAsync();
        await Expect(page.Locator("#key-field")).ToBeVisibleAsync();
        await page.GetByLabel("API key").FillAsync("not-the-key");
        await page.GetByLabel("Your name").FillAsync("oncall@contoso.com");
        await page.GetByLabel("Reason").FillAsync("investigating a support ticket");
        await page.Locator("#action-confirm").ClickAsync();

        await Expect(page.Locator("#action-error")).ToHaveTextAsync("401 Unauthorized: send the API key in the 'x-functions-key' header");
        await Expect(page.Locator("#action-dialog")).ToBeVisibleAsync();
        await Expect(page.Locator("#api-key")).ToBeFocusedAsync();
        await ScreenshotAsync("wrong-key-desktop.png");
        Assert.AreEqual(RolloutStatus.Running, (await Host.GetAsync(id)).Status);
        Assert.IsFalse((await Host.AuditAsync(id)).Any(e => e.Type == AuditType.Paused));
        Assert.IsNull(await page.EvaluateAsync<string?>("() => sessionStorage.getItem('rollout.apiKey')"));

        await page.GetByLabel("API key").FillAsync(TestHost.Key);
        await page.Locator("#action-confirm").ClickAsync();
        await Expect(page.Locator("#action-dialog")).ToBeHiddenAsync();
        await Expect(page.Locator(".status-line .badge")).ToHaveTextAsync("Paused");
        var paused = (await Host.AuditAsync(id)).Single(e => e.Type == AuditType.Paused);
        Assert.AreEqual("oncall@contoso.com", paused.Actor);
        Assert.AreEqual("investigating a support ticket", paused.Details.GetProperty("reason").GetString());

        // The key is asked once per tab; the name is remembered.
        await page.Locator("#action-resume").ClickAsync();
        await Expect(page.Locator("#action-dialog")).ToBeVisibleAsync();
        await Expect(page.Locator("#key-field")).ToBeHiddenAsync();
        await Expect(page.Locator("#action-actor")).ToHaveValueAsync("oncall@contoso.com");
        await Expect(page.Locator("#action-reason")).ToBeFocusedAsync();
        await page.GetByLabel("Reason").FillAsync("ticket closed");
        await page.Locator("#action-confirm").ClickAsync();
        await Expect(page.Locator(".status-line .badge")).ToHaveTextAsync("Running");
        Assert.AreEqual(RolloutStatus.Running, (await Host.GetAsync(id)).Status);
        await Expect(page.Locator(".decision[data-kind='pause']")).ToHaveCountAsync(1);
        await Expect(page.Locator(".decision[data-kind='resume']")).ToHaveCountAsync(1);

        // Escape closes the dialog without sending anything.
        await page.Locator("#action-pause").ClickAsync();
        await page.Keyboard.PressAsync("Escape");
        await Expect(page.Locator("#action-dialog")).ToBeHiddenAsync();
        await Expect(page.Locator("#action-pause")).ToBeFocusedAsync();
        Assert.AreEqual(RolloutStatus.Running, (await Host.GetAsync(id)).Status);
    }

    [TestMethod]
    public async Task Approve_ByANonApproverThenByTheApprover_Shows403ThenPromotes()
    {
        var id = await Host.StartRolloutAsync(Host.Plan("ui-approve", bake: "0s", approvalOnFirstStage: true));
        await Host.WaitForAsync(id, v => v.Status == RolloutStatus.AwaitingApproval);
        await page.GotoAsync($"/#/rollouts/{id}");
        await Expect(page.Locator(".status-line .badge")).ToHaveTextAsync("Awaiting approval");
        await Expect(page.Locator(".decision[data-kind='approval']")).ToHaveCountAsync(1);

        await page.Locator("#action-approve").ClickAsync();
        await Expect(page.Locator("#action-actor-hint")).ToContainTextAsync("alex@contoso.com");
        await page.GetByLabel("API key").FillAsync(TestHost.Key);
        await page.GetByLabel("Approver").FillAsync("mallory@contoso.com");
        await page.GetByLabel("Reason").FillAsync("internal looks good");
        await page.Locator("#action-confirm").ClickAsync();
        await Expect(page.Locator("#action-error")).ToContainTextAsync("403 Forbidden: 'mallory@contoso.com' is not an approver of stage 'internal'");
        Assert.AreEqual(RolloutStatus.AwaitingApproval, (await Host.GetAsync(id)).Status);

        await page.GetByLabel("Approver").FillAsync("alex@contoso.com");
        await page.Locator("#action-confirm").ClickAsync();
        await Expect(page.Locator("#action-dialog")).ToBeHiddenAsync();
        await Host.WaitForAsync(id, v => v.StageIndex >= 1);
        var approved = (await Host.AuditAsync(id)).Single(e => e.Type == AuditType.Approved);
        Assert.AreEqual("alex@contoso.com", approved.Actor);
        Assert.AreEqual("internal looks good", approved.Details.GetProperty("comment").GetString());
        await Expect(page.Locator(".decision[data-kind='approval']")).ToHaveCountAsync(2);
    }

    [TestMethod]
    public async Task RolloutPage_Regression_ShowsFailingChecksAboveMaxAndTheRollback()
    {
        var id = await Host.StartRolloutAsync(Host.Plan("checkout-v2", bake: "2s", regressAt: 50));
        await Host.WaitForAsync(id, v => v.Status == RolloutStatus.RolledBack);
        await page.GotoAsync($"/#/rollouts/{id}");
        await Expect(page.Locator(".status-line .badge")).ToHaveTextAsync("Rolled back");
        await Expect(page.Locator(".decision[data-kind='rollback']")).ToHaveCountAsync(1);
        await Expect(page.Locator(".decision[data-kind='fail']")).ToHaveCountAsync(1);
        var failing = page.Locator(".criterion-point[data-outcome='Fail']");
        await Expect(failing).ToHaveCountAsync(2);

        // Failing values are drawn above the max threshold, passing ones below it.
        var maxY = double.Parse(await page.Locator(".threshold.max").GetAttributeAsync("y1") ?? "NaN", CultureInfo.InvariantCulture);
        var failY = await failing.EvaluateAllAsync<double[]>("els => els.map(e => e.transform.baseVal[0].matrix.f)");
        var passY = await page.Locator(".criterion-point[data-outcome='Pass']").EvaluateAllAsync<double[]>("els => els.map(e => e.transform.baseVal[0].matrix.f)");
        Assert.IsTrue(failY.All(y => y < maxY) && passY.All(y => y > maxY), $"max at y={maxY}; fail at {string.Join(",", failY)}; pass at {string.Join(",", passY)}");

        // The latest decision is selected: the rollback, with the evidence that caused it.
        var evidence = page.Locator("#evidence");
        await Expect(evidence.Locator("h3")).ToContainTextAsync("Rolled back by rollout");
        await Expect(evidence).ToContainTextAsync("2 consecutive failing evaluation(s)");
        await Expect(evidence.Locator("table.criteria")).ToContainTextAsync("0.042");
        await Expect(page.Locator(".exposure-label").Last).ToHaveTextAsync("0%");
        await ScreenshotAsync("rollout-regression-desktop-full.png", fullPage: true);

        // The README's picture (docs/dashboard.png): the page down to the evidence of the selected decision.
        await page.SetViewportSizeAsync(1280, 1100);
        await Expect(page.Locator("svg.timeline")).ToHaveAttributeAsync("width", "1248");
        await ScreenshotAsync("rollout-regression-desktop.png");
    }

    [TestMethod]
    public async Task Phone_375Wide_ListAndRolloutPageHaveNoHorizontalScroll()
    {
        var id = await Host.StartRolloutAsync(Host.Plan("phone-regress", bake: "1s", regressAt: 50));
        await Host.WaitForAsync(id, v => v.Status == RolloutStatus.RolledBack);
        var running = await Host.StartRolloutAsync(Host.Plan("phone-running", bake: "1h"));
        var (phoneContext, phone) = await NewPageAsync(375, 812, mobile: true);
        try
        {
            await phone.GotoAsync("/");
            await Expect(phone.Locator($"tr[data-id='{running}']")).ToBeVisibleAsync();
            await Expect(phone.Locator($"tr[data-id='{id}']")).ToBeVisibleAsync();
            await AssertNoHorizontalScrollAsync(phone);
            await phone.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Browser.ScreenshotDirectory, "list-phone.png"), FullPage = true });

            await phone.GotoAsync($"/#/rollouts/{id}");
            await Expect(phone.Locator(".stage-band")).ToHaveCountAsync(3);
            await Expect(phone.Locator("#brief table")).ToBeVisibleAsync();
            await AssertNoHorizontalScrollAsync(phone);
            var chartWidth = await phone.Locator("svg.timeline").EvaluateAsync<double>("e => e.getBoundingClientRect().right");
            Assert.IsLessThanOrEqualTo(375, chartWidth, "the chart fits the screen");
            await phone.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Browser.ScreenshotDirectory, "rollout-phone-full.png"), FullPage = true });
            await phone.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Browser.ScreenshotDirectory, "rollout-phone.png") });
            await phone.Locator("#timeline-title").EvaluateAsync("e => e.scrollIntoView()");
            await phone.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Browser.ScreenshotDirectory, "rollout-phone-timeline.png") });
            await phone.Locator("#evidence").EvaluateAsync("e => e.scrollIntoView()");
            await phone.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Browser.ScreenshotDirectory, "rollout-phone-evidence.png") });

            await phone.GotoAsync($"/#/rollouts/{running}");
            await Expect(phone.Locator(".status-line .badge")).ToHaveTextAsync("Running");
            await phone.Locator("#action-rollback").ClickAsync();
            await Expect(phone.Locator("#action-dialog")).ToBeVisibleAsync();
            await AssertNoHorizontalScrollAsync(phone);
            await phone.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Browser.ScreenshotDirectory, "rollback-dialog-phone.png") });
        }
        finally
        {
            await phoneContext.CloseAsync();
        }
    }

    [TestMethod]
    public async Task Deliveries_ExposureWebhookAnswers503ThenOk_ShowsAnExposureWriteThatReachesDeliveredAfterTwoAttempts()
    {
        // The peer refuses the first write and asks for 5 s (Retry-After), long enough to see the pending row; then 200.
        await using var target = await PeerFixture.StartAsync(new PeerReply(503, "down", RetryAfter: "5"));
        var id = await Host.StartRolloutAsync(Host.Plan("ui-deliveries", bake: "1h", exposureWebhook: new Uri(target.Address, "flags")));
        await target.WaitForAsync(1);
        await page.GotoAsync($"/#/rollouts/{id}");

        var table = page.GetByRole(AriaRole.Table, new() { Name = "Deliveries, newest first" });
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Deliveries", Exact = true })).ToBeVisibleAsync();
        var row = table.Locator("tbody tr");
        await Expect(row).ToHaveCountAsync(1);
        await Expect(row.Locator("th")).ToContainTextAsync("Exposure write");
        await Expect(row.Locator("th .sub")).ToHaveTextAsync("stage 'internal'");
        await Expect(row.Locator("[data-label='Target']")).ToHaveTextAsync("webhook");
        var status = row.Locator("[data-label='Status'] .badge");
        await Expect(status).ToHaveTextAsync("Pending");
        await Expect(status).ToHaveClassAsync(new System.Text.RegularExpressions.Regex(@"\bstatus-Pending\b"));
        await Expect(row.Locator("[data-label='Attempts']")).ToHaveTextAsync("1");
        await Expect(row.Locator("[data-label='When']")).ToContainTextAsync("next attempt in");
        await Expect(row.Locator("[data-label='Last error']")).ToContainTextAsync("answered 503 Service Unavailable");
        await page.Locator("#deliveries-title").EvaluateAsync("e => e.scrollIntoView()");
        await ScreenshotAsync("deliveries-pending-desktop.png");

        // The section refreshes with the page: the retry is delivered, and a delivered row shows no error.
        await Expect(status).ToHaveTextAsync("Delivered", new() { Timeout = 30_000 });
        await Expect(status).ToHaveClassAsync(new System.Text.RegularExpressions.Regex(@"\bstatus-Delivered\b"));
        await Expect(row.Locator("[data-label='Attempts']")).ToHaveTextAsync("2");
        await Expect(row.Locator("[data-label='Last error']")).ToHaveTextAsync("—");
        await Expect(row.Locator("[data-label='When'] time")).ToHaveAttributeAsync("datetime", new System.Text.RegularExpressions.Regex(@"^\d{4}-"));
        await Expect(page.Locator("#deliveries")).ToContainTextAsync("1 delivery: 1 delivered.");
        await Expect(page.Locator("#deliveries .empty")).ToHaveCountAsync(0);
        Assert.HasCount(2, target.Requests);
        await Expect(page.Locator("section[aria-labelledby='audit-title']")).ToContainTextAsync("the webhook target took the exposure of 'internal'");
        await ScreenshotAsync("deliveries-delivered-desktop.png");
    }

    [TestMethod]
    public async Task Deliveries_PlanWithoutIntegrations_ShowsTheEmptyState()
    {
        var id = await Host.StartRolloutAsync(Host.Plan("ui-no-deliveries", bake: "1h"));
        await Host.WaitForAsync(id, v => v.LastEvaluation is not null);
        await page.GotoAsync($"/#/rollouts/{id}");
        await Expect(page.Locator(".status-line .badge")).ToHaveTextAsync("Running");

        var section = page.Locator("section[aria-labelledby='deliveries-title']");
        await Expect(section.Locator("h2")).ToHaveTextAsync("Deliveries");
        await Expect(section.Locator(".empty")).ToHaveTextAsync("No deliveries: this plan has no Teams channels, gate waiters or external exposure target.");
        await Expect(section.Locator("table")).ToHaveCountAsync(0);
        Assert.AreEqual("[]", await Host.Client.GetStringAsync(new Uri($"api/rollouts/{id}/deliveries", UriKind.Relative)));
    }

    [TestMethod]
    public async Task HostDown_ListPage_ShowsTheOutageAndKeepsTheLastData()
    {
        await using var other = await TestHost.StartAsync();
        var id = await other.StartRolloutAsync(other.Plan("host-down", bake: "1h"));
        await page.GotoAsync(other.Address.ToString());
        var row = page.Locator($"tr[data-id='{id}']");
        await Expect(row).ToBeVisibleAsync();
        await Expect(page.Locator("#banner")).ToBeHiddenAsync();

        await other.StopAsync();
        await Expect(page.Locator("#banner")).ToContainTextAsync("Cannot reach the host");
        await Expect(page.Locator("#updated")).ToContainTextAsync("Not updated since");
        await Expect(row).ToBeVisibleAsync();
        await ScreenshotAsync("host-down-desktop.png");
    }

    private async Task<(IBrowserContext Context, IPage Page)> NewPageAsync(int width, int height, bool mobile = false)
    {
        var newContext = await browser!.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = Host.Address.ToString(),
            ViewportSize = new ViewportSize { Width = width, Height = height },
            IsMobile = mobile,
            HasTouch = mobile,
            DeviceScaleFactor = mobile ? 2 : 1,
            Locale = "en-GB",
            TimezoneId = "UTC",
        });
        var newPage = await newContext.NewPageAsync();
        newPage.PageError += (_, error) => pageErrors.Add($"uncaught: {error}");
        newPage.Console += (_, message) =>
        {
            if (message.Text.Contains("Content Security Policy", StringComparison.OrdinalIgnoreCase) || message.Text.Contains("Refused to", StringComparison.Ordinal))
            {
                pageErrors.Add($"console: {message.Text}");
            }
        };
        return (newContext, newPage);
    }

    private Task ScreenshotAsync(string name, bool fullPage = false) =>
        page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Browser.ScreenshotDirectory, name), FullPage = fullPage });

    private static async Task AssertNoHorizontalScrollAsync(IPage target)
    {
        var widths = await target.EvaluateAsync<int[]>("() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]");
        Assert.IsLessThanOrEqualTo(widths[1], widths[0], $"the page scrolls sideways: {widths[0]} px of content in {widths[1]} px");
    }
}
