using System.Text;
using System.Text.Json;
using Rollout.Cli.Tests.Durability;
using Rollout.Testing;

namespace Rollout.Cli.Tests.Commands;

/// <summary>The real <c>rollout serve</c> process, as a user starts it, with the release integrations configured.</summary>
[TestClass]
public sealed class ServeCommandTests
{
    [TestMethod]
    [DataRow("Exposure__AppConfiguration__main", "Endpoint=https://store.azconfig.io;Id=ak;Secret=SECRETVALUE!!", "setting Exposure:AppConfiguration:main")]
    [DataRow("Notifications__Teams__ops", "not-a-url-SECRETVALUE", "setting Notifications:Teams:ops")]
    public async Task Serve_BadIntegrationSetting_ExitsTwoNamingTheSettingButNotItsValue(string name, string value, string expected)
    {
        var data = Directory.CreateTempSubdirectory("rollout-serve-bad-").FullName;
        try
        {
            var info = new System.Diagnostics.ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var arg in new[] { Path.Combine(AppContext.BaseDirectory, "rollout.dll"), "serve", "--urls", "http://127.0.0.1:0", "--data", data })
            {
                info.ArgumentList.Add(arg);
            }

            info.Environment[name] = value;
            info.Environment["ROLLOUT_API_KEY"] = "serve-test-key";
            using var process = System.Diagnostics.Process.Start(info)!;
            var stderr = process.StandardError.ReadToEndAsync();
            var stdout = process.StandardOutput.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await process.WaitForExitAsync(timeout.Token);

            Assert.AreEqual(2, process.ExitCode, await stdout);
            var error = await stderr;
            StringAssert.Contains(error, expected);
            Assert.DoesNotContain("SECRETVALUE", error + await stdout);
        }
        finally
        {
            Directory.Delete(data, recursive: true);
        }
    }

    [TestMethod]
    public async Task Serve_TeamsChannelAndWebhookTarget_DeliversCardsWithLinksToItsOwnAddressAndWritesExposure()
    {
        await using var teams = await PeerFixture.StartAsync();
        teams.Fallback = new PeerReply(202);
        await using var target = await PeerFixture.StartAsync();
        var data = Directory.CreateTempSubdirectory("rollout-serve-").FullName;
        using var serve = new ServeProcess(data, "serve-test-key", new Dictionary<string, string>
        {
            ["Notifications__Teams__ops"] = new Uri(teams.Address, "workflows/ops").ToString(),
        });
        try
        {
            await serve.StartAsync();
            using var client = new HttpClient { BaseAddress = serve.Address };
            client.DefaultRequestHeaders.Add("x-functions-key", serve.ApiKey);
            var plan = $$"""
                {
                  "name": "serve plan", "flag": "serve-flag", "owner": "alex@contoso.com", "notify": ["ops"],
                  "exposure": { "type": "webhook", "url": "{{target.Address}}flags" },
                  "stages": [
                    { "name": "internal", "audience": { "groups": ["internal"] }, "minDuration": "0s", "approval": { "approvers": ["alex@contoso.com"] } },
                    { "name": "100%", "percent": 100, "minDuration": "0s" }
                  ],
                  "criteria": [
                    { "name": "error-rate",
                      "source": { "type": "http", "url": "{{serve.Address}}demo/metrics/error-rate?flag={{"{{flag}}"}}&cohort={{"{{cohort}}"}}", "value": "$.value", "samples": "$.count" },
                      "max": 0.01, "minSamples": 100 }
                  ],
                  "evaluation": { "interval": "1s", "failureLimit": 2, "noDataLimit": 3 }
                }
                """;
            using var started = await client.PostAsync("api/rollouts", new StringContent(plan, Encoding.UTF8, "application/json"));
            Assert.AreEqual(System.Net.HttpStatusCode.Accepted, started.StatusCode, await started.Content.ReadAsStringAsync());

            var requests = await teams.WaitForAsync(2);
            var approvalCard = requests.Select(r => r.Body).Single(b => b.Contains("Action.OpenUrl", StringComparison.Ordinal));
            StringAssert.Contains(approvalCard, $"{serve.Address}api/approvals/", "the card's link does not point at the host that serves it");
            var write = (await target.WaitForAsync(1))[0];
            Assert.AreEqual("internal", JsonDocument.Parse(write.Body).RootElement.GetProperty("stage").GetString());
            Assert.DoesNotContain("no such table", serve.Log);
            Assert.DoesNotContain("Delivery pass failed", serve.Log);
        }
        finally
        {
            serve.Kill();
            Directory.Delete(data, recursive: true);
        }
    }
}
