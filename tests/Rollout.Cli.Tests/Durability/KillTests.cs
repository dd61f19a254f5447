using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Rollout.Core.Api;
using Rollout.Core.Engine;

namespace Rollout.Cli.Tests.Durability;

[TestClass]
public sealed class KillTests
{
    private const int Rollouts = 4;
    private const int Kills = 6;

    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    [Timeout(300_000, CooperativeCancellation = true)]
    public async Task Serve_KilledRepeatedlyAtVariedMoments_LosesNoAcceptedCommandAndRecordsNoTransitionTwice()
    {
        var data = Path.Combine(Path.GetTempPath(), $"rollout-kill-{Guid.NewGuid():N}");
        using var serve = new ServeProcess(data, "kill-test-key");
        var random = new Random(20261122);
        var commands = new ConcurrentDictionary<string, SentCommand>();
        try
        {
            await serve.StartAsync();
            using var client = Client(serve);
            var ids = new List<string>();
            for (var i = 0; i < Rollouts; i++)
            {
                using var response = await client.PostAsync("api/rollouts", new StringContent(Plan(serve.Address, $"kill-{i}"), Encoding.UTF8, "application/json"));
                Assert.AreEqual(HttpStatusCode.Accepted, response.StatusCode, await response.Content.ReadAsStringAsync());
                ids.Add(JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetString()!);
            }

            for (var round = 0; round < Kills; round++)
            {
                using var stop = new CancellationTokenSource();
                var load = SendCommandsAsync(client, ids, commands, round, stop.Token);
                await Task.Delay(random.Next(50, 1500), TestContext.CancellationToken);
                serve.Kill();
                await stop.CancelAsync();
                await load;
                await serve.StartAsync();
            }

            // A command whose answer was lost with the process may or may not have been applied: the client
            // retries it with the same commandId, which must apply it at most once.
            foreach (var command in commands.Values.Where(c => c.Answer is null))
            {
                using var retry = await client.PostAsync(command.Path, Json(command.Body), TestContext.CancellationToken);
                command.Answer = retry.StatusCode;
            }

            foreach (var id in ids)
            {
                await WaitForCompletionAsync(client, id);
            }

            foreach (var id in ids)
            {
                var audit = (await client.GetFromJsonAsync<List<AuditEvent>>($"api/rollouts/{id}/audit", RolloutJson.Options, TestContext.CancellationToken))!;
                CollectionAssert.AreEqual(Enumerable.Range(1, audit.Count).Select(n => (long)n).ToList(), audit.Select(e => e.Seq).ToList(), $"audit of {id} has gaps or repeats");
                var stages = audit.Where(e => e.Type == AuditType.StageEntered).Select(e => e.Details.GetProperty("index").GetInt32()).ToList();
                CollectionAssert.AreEqual(new[] { 0, 1, 2 }, stages, $"stages of {id} entered {string.Join(",", stages)}");
                Assert.AreEqual(1, audit.Count(e => e.Type == AuditType.Completed));

                foreach (var command in commands.Values.Where(c => c.RolloutId == id && c.Answer == HttpStatusCode.OK))
                {
                    var applied = audit.Count(e => e.Type == AuditType.SignalReceived && e.Actor == command.Source);
                    Assert.AreEqual(1, applied, $"command {command.Source} answered 200 was applied {applied} times");
                }
            }

            var answered = commands.Values.Count(c => c.Answer == HttpStatusCode.OK);
            var answers = string.Join(", ", commands.Values.GroupBy(c => c.Answer).Select(g => $"{g.Key}: {g.Count()}"));
            TestContext.WriteLine($"{Kills} kills, {commands.Count} commands sent ({answers}), {answered} answered 200 and each found exactly once in the audit log");
            Assert.IsTrue(commands.Values.All(c => c.Answer is HttpStatusCode.OK or HttpStatusCode.Conflict), answers);
            Assert.IsTrue(answered > 20, $"too few commands got through ({answered}) for the test to mean anything");
        }
        catch
        {
            TestContext.WriteLine(serve.Log);
            throw;
        }
        finally
        {
            serve.Kill();
            SqliteConnection.ClearAllPools();
            try
            {
                Directory.Delete(data, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    private static async Task SendCommandsAsync(HttpClient client, List<string> ids, ConcurrentDictionary<string, SentCommand> commands, int round, CancellationToken stop)
    {
        var n = 0;
        while (!stop.IsCancellationRequested)
        {
            var id = ids[n % ids.Count];
            var source = $"round{round}-cmd{n++}";
            var command = new SentCommand(id, source, $"api/rollouts/{id}/signals", new { signal = "note", source, message = "durability probe", commandId = source });
            commands[source] = command;
            try
            {
                using var response = await client.PostAsync(command.Path, Json(command.Body), CancellationToken.None);
                command.Answer = response.StatusCode;
            }
            catch (HttpRequestException)
            {
                // The process died mid-request: the outcome is unknown and the command is retried later.
                return;
            }

            await Task.Delay(5, CancellationToken.None);
        }
    }

    private async Task WaitForCompletionAsync(HttpClient client, string id)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            var view = (await client.GetFromJsonAsync<RolloutView>($"api/rollouts/{id}", RolloutJson.Options, TestContext.CancellationToken))!;
            if (view.Status == RolloutStatus.Completed)
            {
                return;
            }

            Assert.AreNotEqual(RolloutStatus.RolledBack, view.Status, view.StatusReason);
            await Task.Delay(200, TestContext.CancellationToken);
        }

        Assert.Fail($"rollout {id} did not complete after the restarts");
    }

    private static HttpClient Client(ServeProcess serve)
    {
        var client = new HttpClient { BaseAddress = serve.Address, Timeout = TimeSpan.FromSeconds(10) };
        client.DefaultRequestHeaders.Add("x-functions-key", serve.ApiKey);
        return client;
    }

    private static StringContent Json(object body) => new(JsonSerializer.Serialize(body, RolloutJson.Options), Encoding.UTF8, "application/json");

    private static string Plan(Uri address, string flag) => $$"""
        {
          "name": "{{flag}}", "flag": "{{flag}}",
          "stages": [
            { "name": "internal", "audience": { "groups": ["internal"] }, "minDuration": "3s" },
            { "name": "half", "percent": 50, "minDuration": "3s" },
            { "name": "all", "percent": 100, "minDuration": "3s" }
          ],
          "criteria": [
            { "name": "error-rate",
              "source": { "type": "http", "url": "{{address}}demo/metrics/error-rate?flag={{"{{flag}}"}}&cohort={{"{{cohort}}"}}",
                          "value": "$.value", "samples": "$.count", "timeout": "2s" },
              "max": 0.01, "maxBaselineRatio": 1.5, "minSamples": 100 }
          ],
          "evaluation": { "interval": "1s", "failureLimit": 3, "noDataLimit": 100 }
        }
        """;

    private sealed class SentCommand(string rolloutId, string source, string path, object body)
    {
        public string RolloutId { get; } = rolloutId;

        public string Source { get; } = source;

        public string Path { get; } = path;

        public object Body { get; } = body;

        public HttpStatusCode? Answer { get; set; }
    }
}
