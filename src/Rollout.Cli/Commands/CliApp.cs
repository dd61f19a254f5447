using System.CommandLine;
using System.Text.Json;
using Rollout.Cli.Client;
using Rollout.Cli.Demo;
using Rollout.Cli.Hosting;
using Rollout.Core.Api;
using Rollout.Core.Plans;
using Rollout.Integrations.Metrics;

namespace Rollout.Cli.Commands;

/// <summary>The <c>rollout</c> command line: the local host (<c>serve</c>, <c>demo</c>) and client verbs against any host.</summary>
internal static class CliApp
{
    private const string DefaultUrl = "http://127.0.0.1:7071";

    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error, CancellationToken ct = default)
    {
        var root = Build(output, error);
        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            foreach (var problem in parsed.Errors)
            {
                await error.WriteLineAsync($"error: {problem.Message}");
            }

            await error.WriteLineAsync("Run 'rollout --help' (or 'rollout <command> --help') for usage.");
            return ExitCodes.InvalidInput;
        }

        return await parsed.InvokeAsync(new InvocationConfiguration { Output = output, Error = error }, ct);
    }

    private static RootCommand Build(TextWriter output, TextWriter error)
    {
        var url = new Option<string>("--url")
        {
            Description = $"Base URL of a Rollout host (local or Azure Functions). Default: $ROLLOUT_URL or {DefaultUrl}.",
            Recursive = true,
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable("ROLLOUT_URL") is { Length: > 0 } u ? u : DefaultUrl,
        };
        var key = new Option<string?>("--key")
        {
            Description = "API key sent as x-functions-key. Default: $ROLLOUT_API_KEY, else ./.rollout/api-key.",
            Recursive = true,
        };
        var json = new Option<bool>("--json") { Description = "Print the API's JSON instead of text.", Recursive = true };

        var root = new RootCommand("""
            Rollout: gated, progressive feature rollouts.

            Exit codes: 0 ok, 1 error, 2 invalid input, 3 unauthorized or forbidden, 4 not found,
            5 conflict (e.g. the rollout is finished), 6 host unreachable, 7 rolled back (watch, simulate),
            8 simulation ended unfinished.
            """);
        root.Options.Add(url);
        root.Options.Add(key);
        root.Options.Add(json);

        RolloutClient Client(ParseResult p) => RolloutClient.Create(p.GetValue(url)!, p.GetValue(key) ?? DefaultKey());

        Command Verb(string name, string description, Func<ParseResult, CancellationToken, Task<int>> action, params Symbol[] symbols)
        {
            var command = new Command(name, description);
            foreach (var symbol in symbols)
            {
                switch (symbol)
                {
                    case Argument a:
                        command.Arguments.Add(a);
                        break;
                    case Option o:
                        command.Options.Add(o);
                        break;
                }
            }

            command.SetAction(async (p, token) =>
            {
                try
                {
                    return await action(p, token);
                }
                catch (ClientException ex)
                {
                    await error.WriteLineAsync($"error: {ex.Message}");
                    return ex.ExitCode;
                }
            });
            root.Subcommands.Add(command);
            return command;
        }

        // serve
        var urls = new Option<string>("--urls") { Description = "Addresses to listen on.", DefaultValueFactory = _ => DefaultUrl };
        var data = new Option<string>("--data") { Description = "Directory of the SQLite store and the generated API key.", DefaultValueFactory = _ => "./.rollout" };
        var demoMetrics = new Option<bool>("--demo-metrics") { Description = "Also serve the demo's stand-in metrics at /demo/metrics/error-rate." };
        var store = new Option<string>("--store") { Description = "Where rollouts are kept: sqlite (a file under --data) or azure-tables (Azure Table Storage or Azurite).", DefaultValueFactory = _ => LocalHost.SqliteStore };
        store.AcceptOnlyFromAmong(LocalHost.SqliteStore, LocalHost.AzureTablesStore);
        // No DefaultValueFactory: help would print the connection string (a secret) taken from the environment.
        var connection = new Option<string?>("--connection") { Description = "Storage connection string of the azure-tables store, e.g. \"UseDevelopmentStorage=true\". Default: $ROLLOUT_STORE_CONNECTION." };
        Verb("serve", "Run the local host: the HTTP API, the store and the scheduler.", async (p, ct) =>
        {
            var dataDirectory = Path.GetFullPath(p.GetValue(data)!);
            var storeKind = p.GetValue(store)!;
            var storeConnection = p.GetValue(connection) is { Length: > 0 } c ? c : Environment.GetEnvironmentVariable("ROLLOUT_STORE_CONNECTION");
            if (storeKind == LocalHost.AzureTablesStore && string.IsNullOrWhiteSpace(storeConnection))
            {
                await error.WriteLineAsync("error: --store azure-tables needs a connection string: --connection \"UseDevelopmentStorage=true\" (Azurite) or ROLLOUT_STORE_CONNECTION");
                return ExitCodes.InvalidInput;
            }

            var (apiKey, keyFile) = LocalHost.ResolveApiKey(dataDirectory);
            WebApplication app;
            try
            {
                app = LocalHost.Build(new LocalHostOptions(p.GetValue(urls)!, dataDirectory, apiKey, p.GetValue(demoMetrics), Store: storeKind, StoreConnection: storeConnection));
                await LocalHost.InitializeAsync(app, ct);
            }
            catch (InvalidOperationException ex) when (ex.Message.StartsWith("setting ", StringComparison.Ordinal))
            {
                // A bad integration setting (a Teams URL, a link lifetime...): named, never its value.
                await error.WriteLineAsync($"error: {ex.Message}");
                return ExitCodes.InvalidInput;
            }
            catch (Exception ex) when (ex is FormatException or NotSupportedException)
            {
                // Messages name the failing part, never the connection string.
                await error.WriteLineAsync($"error: the {storeKind} store cannot be used: {ex.Message}");
                return ExitCodes.InvalidInput;
            }
            catch (Exception ex) when (ex is Azure.RequestFailedException || (ex is AggregateException a && a.InnerExceptions.All(e => e is Azure.RequestFailedException)))
            {
                // The service's answer, or the transport's after Azure.Core's retries (an AggregateException of each try).
                var reason = ex is AggregateException tries ? $"{tries.InnerExceptions[^1].Message} ({tries.InnerExceptions.Count} tries)" : ex.Message;
                await error.WriteLineAsync($"error: the {storeKind} store cannot be reached or refused the request: {reason}");
                return ExitCodes.Error;
            }

            await output.WriteLineAsync(storeKind == LocalHost.SqliteStore
                ? $"Rollout host on {p.GetValue(urls)}, data in {dataDirectory}"
                : $"Rollout host on {p.GetValue(urls)}, store {storeKind}, API key and data in {dataDirectory}");
            await output.WriteLineAsync(keyFile is null ? "API key: from ROLLOUT_API_KEY" : $"API key: in {keyFile} (the CLI reads it from ./.rollout/api-key or ROLLOUT_API_KEY)");
            await app.RunAsync(ct);
            return ExitCodes.Ok;
        }, urls, data, demoMetrics, store, connection);

        // demo
        var scenario = new Option<string>("--scenario")
        {
            Description = "healthy: every stage passes; regression: the error rate jumps at 50% and the rollout rolls back; "
                + "prometheus: a sample service, a load generator and a real Prometheus (on PATH) catch a regression at 50%.",
            DefaultValueFactory = _ => "healthy",
        };
        scenario.AcceptOnlyFromAmong("healthy", "regression", "prometheus");
        var demoData = new Option<string?>("--data") { Description = "Keep the demo's store in this directory (default: a temporary one)." };
        Verb("demo", "Run a real rollout on an embedded local host with second-long stages, and watch it progress.", (p, ct) =>
            p.GetValue(scenario) == "prometheus" ? PrometheusDemo.RunAsync(output, ct) : DemoRunner.RunAsync(p.GetValue(scenario)!, p.GetValue(demoData), output, ct), scenario, demoData);

        // validate
        var planFile = new Argument<FileInfo>("plan") { Description = "Plan file (.json, .yaml or .yml)." };
        Verb("validate", "Check a plan file offline and print its release brief, or every problem.", async (p, _) =>
        {
            var (text, isYaml) = ReadPlan(p.GetValue(planFile)!);
            var result = PlanParser.Parse(text, isYaml, new CriteriaEvaluator(MetricSources.CreateDefault(new HttpClient()), TimeProvider.System).Catalog);
            if (!result.IsValid)
            {
                foreach (var (path, messages) in result.Errors)
                {
                    foreach (var message in messages)
                    {
                        await error.WriteLineAsync($"{path}: {message}");
                    }
                }

                return ExitCodes.InvalidInput;
            }

            await output.WriteLineAsync(Core.Briefs.ReleaseBrief.Render(result.Plan!));
            return ExitCodes.Ok;
        }, planFile);

        // simulate
        var simulatePlan = new Argument<FileInfo>("plan") { Description = "Plan file (.json, .yaml or .yml)." };
        var metricsFile = new Option<FileInfo>("--metrics") { Description = "Recorded metrics: CSV with columns time,criterion,cohort,value,samples, or a JSON array of such objects.", Required = true };
        var approvalDelay = new Option<string>("--approval-delay") { Description = "How long after an approval request the first approver approves (e.g. 2h).", DefaultValueFactory = _ => "0s" };
        var staleAfter = new Option<string?>("--stale-after") { Description = "A recorded point older than this is missing data. Default: twice the evaluation interval." };
        var startAt = new Option<string?>("--start") { Description = "Virtual start (ISO 8601). Default: the first recorded point." };
        var signals = new Option<string[]>("--signal") { Description = "A stop signal at a moment, e.g. 2026-01-03T10:00:00Z=critical-issue (repeatable).", AllowMultipleArgumentsPerToken = false };
        var verbose = new Option<bool>("--verbose") { Description = "Print every check instead of runs of equal outcomes." };
        Verb("simulate", "Backtest a plan against recorded metrics on a virtual clock and print the timeline (exit 0 completed, 7 rolled back, 8 unfinished).", async (p, _) =>
        {
            var (text, isYaml) = ReadPlan(p.GetValue(simulatePlan)!);
            var parsed = PlanParser.Parse(text, isYaml, new CriteriaEvaluator(MetricSources.CreateDefault(new HttpClient()), TimeProvider.System).Catalog);
            if (!parsed.IsValid)
            {
                foreach (var (path, messages) in parsed.Errors)
                {
                    foreach (var m in messages)
                    {
                        await error.WriteLineAsync($"{path}: {m}");
                    }
                }

                return ExitCodes.InvalidInput;
            }

            var options = new Core.Simulation.SimulationOptions(
                p.GetValue(startAt) is { } s ? ParseTime(s, "--start") : null,
                ParseDuration(p.GetValue(approvalDelay)!, "--approval-delay"),
                p.GetValue(staleAfter) is { } stale ? ParseDuration(stale, "--stale-after") : null,
                SimulateCommand.ParseSignals(p.GetValue(signals) ?? []));
            return await SimulateCommand.RunAsync(parsed.Plan!, p.GetValue(metricsFile)!, options, p.GetValue(verbose), p.GetValue(json), output, error);
        }, simulatePlan, metricsFile, approvalDelay, staleAfter, startAt, signals, verbose);

        // start
        var startPlan = new Argument<FileInfo>("plan") { Description = "Plan file (.json, .yaml or .yml)." };
        var watchStart = new Option<bool>("--watch") { Description = "Follow the rollout until it completes or rolls back." };
        Verb("start", "Start a rollout from a plan file.", async (p, ct) =>
        {
            var (text, isYaml) = ReadPlan(p.GetValue(startPlan)!);
            var client = Client(p);
            var answer = await client.PostAsync("api/rollouts", text, isYaml ? "application/yaml" : "application/json", ct);
            var id = JsonDocument.Parse(answer).RootElement.GetProperty("id").GetString()!;
            await output.WriteLineAsync(p.GetValue(json) ? answer : id);
            return p.GetValue(watchStart) ? await WatchAsync(client, id, ct) : ExitCodes.Ok;
        }, startPlan, watchStart);

        // list
        var statusFilter = new Option<string?>("--status") { Description = "Only rollouts with this status (Running, AwaitingApproval, Paused, Completed, RolledBack)." };
        Verb("list", "List rollouts, newest first.", async (p, ct) =>
        {
            var path = p.GetValue(statusFilter) is { } s ? $"api/rollouts?status={Uri.EscapeDataString(s)}" : "api/rollouts";
            var client = Client(p);
            var text = await client.GetTextAsync(path, ct);
            await output.WriteLineAsync(p.GetValue(json) ? text : Printer.Table(JsonSerializer.Deserialize<List<RolloutView>>(text, RolloutJson.Options)!));
            return ExitCodes.Ok;
        }, statusFilter);

        // get
        var getId = IdArgument();
        var watch = new Option<bool>("--watch") { Description = "Follow the rollout, printing each decision, until it completes (exit 0) or rolls back (exit 7)." };
        Verb("get", "Show a rollout: status, stage, exposure and the latest evaluation.", async (p, ct) =>
        {
            var client = Client(p);
            var id = p.GetValue(getId)!;
            if (p.GetValue(watch))
            {
                return await WatchAsync(client, id, ct);
            }

            var text = await client.GetTextAsync($"api/rollouts/{Uri.EscapeDataString(id)}", ct);
            await output.WriteLineAsync(p.GetValue(json) ? text : Printer.Summary(JsonSerializer.Deserialize<RolloutView>(text, RolloutJson.Options)!));
            return ExitCodes.Ok;
        }, getId, watch);

        // commands
        var actor = new Option<string>("--actor") { Description = "Who acts (recorded in the audit log). Default: $USER.", DefaultValueFactory = _ => Environment.UserName };
        var reason = new Option<string>("--reason") { Description = "Why (recorded in the audit log).", Required = true };
        var optionalReason = new Option<string?>("--reason") { Description = "Why (recorded in the audit log)." };
        var commandId = new Option<string?>("--command-id") { Description = "Idempotency key: resending the same id applies the command once." };

        var pauseId = IdArgument();
        Verb("pause", "Hold exposure and stop promotion.", (p, ct) =>
            SendCommandAsync(p, Client(p), p.GetValue(pauseId)!, "pause", new CommandBody(Actor: p.GetValue(actor), Reason: p.GetValue(reason), CommandId: p.GetValue(commandId)), ct),
            pauseId, actor, reason, commandId);
        var resumeId = IdArgument();
        Verb("resume", "Resume a paused rollout.", (p, ct) =>
            SendCommandAsync(p, Client(p), p.GetValue(resumeId)!, "resume", new CommandBody(Actor: p.GetValue(actor), Reason: p.GetValue(optionalReason), CommandId: p.GetValue(commandId)), ct),
            resumeId, actor, optionalReason, commandId);
        var rollbackId = IdArgument();
        Verb("rollback", "Set exposure to nobody and end the rollout.", (p, ct) =>
            SendCommandAsync(p, Client(p), p.GetValue(rollbackId)!, "rollback", new CommandBody(Actor: p.GetValue(actor), Reason: p.GetValue(reason), CommandId: p.GetValue(commandId)), ct),
            rollbackId, actor, reason, commandId);
        var approveId = IdArgument();
        var approver = new Option<string>("--approver") { Description = "The approver; must be one of the stage's approvers. Default: $USER.", DefaultValueFactory = _ => Environment.UserName };
        var comment = new Option<string?>("--comment") { Description = "A comment for the audit log." };
        Verb("approve", "Sign off the stage awaiting approval.", (p, ct) =>
            SendCommandAsync(p, Client(p), p.GetValue(approveId)!, "approve", new CommandBody(Approver: p.GetValue(approver), Comment: p.GetValue(comment), CommandId: p.GetValue(commandId)), ct),
            approveId, approver, comment, commandId);
        var signalId = IdArgument();
        var signalName = new Argument<string>("signal") { Description = "The signal, e.g. critical-issue; the plan's stopOn says what it does." };
        var source = new Option<string>("--source") { Description = "Who or what sends the signal. Default: $USER.", DefaultValueFactory = _ => Environment.UserName };
        var message = new Option<string?>("--message") { Description = "What happened." };
        Verb("signal", "Send a stop signal (e.g. critical-issue).", (p, ct) =>
            SendCommandAsync(p, Client(p), p.GetValue(signalId)!, "signals", new CommandBody(Signal: p.GetValue(signalName), Source: p.GetValue(source), Message: p.GetValue(message), CommandId: p.GetValue(commandId)), ct),
            signalId, signalName, source, message, commandId);

        // audit, brief
        var auditId = IdArgument();
        Verb("audit", "Print the rollout's audit log.", async (p, ct) =>
        {
            var text = await Client(p).GetTextAsync($"api/rollouts/{Uri.EscapeDataString(p.GetValue(auditId)!)}/audit", ct);
            if (p.GetValue(json))
            {
                await output.WriteLineAsync(text);
            }
            else
            {
                foreach (var entry in JsonSerializer.Deserialize<List<Core.Engine.AuditEvent>>(text, RolloutJson.Options)!)
                {
                    await output.WriteLineAsync(Printer.Line(entry));
                }
            }

            return ExitCodes.Ok;
        }, auditId);
        var deliveriesId = IdArgument();
        Verb("deliveries", "Show the rollout's deliveries (Teams cards, Azure DevOps gate callbacks, external exposure writes): status, attempts, last error.", async (p, ct) =>
        {
            var text = await Client(p).GetTextAsync($"api/rollouts/{Uri.EscapeDataString(p.GetValue(deliveriesId)!)}/deliveries", ct);
            if (p.GetValue(json))
            {
                await output.WriteLineAsync(text);
                return ExitCodes.Ok;
            }

            using var doc = JsonDocument.Parse(text);
            if (doc.RootElement.GetArrayLength() == 0)
            {
                await output.WriteLineAsync("no deliveries (the plan has no notify channels, gate waiters or external exposure target)");
            }

            foreach (var delivery in doc.RootElement.EnumerateArray())
            {
                await output.WriteLineAsync(Printer.Delivery(delivery));
            }

            return ExitCodes.Ok;
        }, deliveriesId);
        var briefId = IdArgument();
        Verb("brief", "Print the rollout's release brief (Markdown).", async (p, ct) =>
        {
            await output.WriteLineAsync(await Client(p).GetTextAsync($"api/rollouts/{Uri.EscapeDataString(p.GetValue(briefId)!)}/brief", ct));
            return ExitCodes.Ok;
        }, briefId);

        return root;

        async Task<int> WatchAsync(RolloutClient client, string id, CancellationToken ct)
        {
            var final = await Watcher.WatchAsync(client, id, output, TimeSpan.FromSeconds(1), null, ct);
            await output.WriteLineAsync(Printer.Summary(final));
            return final.Status == Core.Engine.RolloutStatus.RolledBack ? ExitCodes.RolledBack : ExitCodes.Ok;
        }

        async Task<int> SendCommandAsync(ParseResult p, RolloutClient client, string id, string kind, CommandBody body, CancellationToken ct)
        {
            var text = await client.PostJsonAsync($"api/rollouts/{Uri.EscapeDataString(id)}/{kind}", body, ct);
            if (p.GetValue(json))
            {
                await output.WriteLineAsync(text);
            }
            else
            {
                using var doc = JsonDocument.Parse(text);
                var command = doc.RootElement.GetProperty("command");
                await output.WriteLineAsync($"{command.GetProperty("status").GetString()}: {command.GetProperty("message").GetString()}");
            }

            return ExitCodes.Ok;
        }
    }

    private static TimeSpan ParseDuration(string text, string option) =>
        Durations.TryParse(text, out var duration, out var problem) ? duration : throw new ClientException(ExitCodes.InvalidInput, $"{option}: {problem}");

    private static DateTimeOffset ParseTime(string text, string option) =>
        DateTimeOffset.TryParse(text, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out var at)
            ? at.ToUniversalTime()
            : throw new ClientException(ExitCodes.InvalidInput, $"{option}: '{text}' is not an ISO 8601 date-time");

    private static Argument<string> IdArgument() => new("id") { Description = "The rollout id (see 'rollout list')." };

    private static (string Text, bool IsYaml) ReadPlan(FileInfo file)
    {
        if (!file.Exists)
        {
            throw new ClientException(ExitCodes.InvalidInput, $"plan file '{file.FullName}' does not exist");
        }

        if (file.Length > Api.MaxBodyBytes)
        {
            throw new ClientException(ExitCodes.InvalidInput, $"plan file '{file.FullName}' is larger than {Api.MaxBodyBytes} bytes");
        }

        var isYaml = file.Extension.Equals(".yaml", StringComparison.OrdinalIgnoreCase) || file.Extension.Equals(".yml", StringComparison.OrdinalIgnoreCase);
        return (File.ReadAllText(file.FullName), isYaml);
    }

    private static string? DefaultKey()
    {
        if (Environment.GetEnvironmentVariable("ROLLOUT_API_KEY") is { Length: > 0 } key)
        {
            return key;
        }

        var file = Path.Combine(".rollout", "api-key");
        return File.Exists(file) ? File.ReadAllText(file).Trim() : null;
    }
}
