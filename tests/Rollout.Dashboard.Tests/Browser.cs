using Microsoft.Playwright;

namespace Rollout.Dashboard.Tests;

/// <summary>
/// The system Chromium (Debian's <c>chromium</c> package) driven by Playwright. No browser is downloaded: when Chromium
/// is missing the tests fail with the command that installs it.
/// </summary>
internal static class Browser
{
    public const string DefaultChromium = "/usr/bin/chromium";

    private static readonly string[] Args =
    [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ];

    /// <summary>The Chromium binary: <c>ROLLOUT_CHROMIUM</c> if set, else <see cref="DefaultChromium"/>.</summary>
    public static string ChromiumPath => Environment.GetEnvironmentVariable("ROLLOUT_CHROMIUM") is { Length: > 0 } p ? p : DefaultChromium;

    public static async Task<(IPlaywright Playwright, IBrowser Browser)> LaunchAsync()
    {
        if (!File.Exists(ChromiumPath))
        {
            Assert.Fail(
                $"Chromium was not found at {ChromiumPath}. The dashboard's browser tests drive the system Chromium through Playwright " +
                "and never download a browser. Install it with: apt-get update && apt-get install -y chromium " +
                "(CI's .ci/run does), or set ROLLOUT_CHROMIUM to another Chromium binary");
        }

        var playwright = await Playwright.CreateAsync();
        var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            Args = Args,
            Timeout = 60_000,
        });
        return (playwright, browser);
    }

    /// <summary>TestResults/screenshots under the repository root (the folder holding Rollout.Functions.sln).</summary>
    public static string ScreenshotDirectory { get; } = FindScreenshotDirectory();

    private static string FindScreenshotDirectory()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Rollout.Functions.sln")))
        {
            dir = dir.Parent;
        }

        var path = Path.Combine(dir?.FullName ?? Directory.GetCurrentDirectory(), "TestResults", "screenshots");
        Directory.CreateDirectory(path);
        return path;
    }
}
