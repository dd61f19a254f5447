using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Rollout.Integrations.Storage.TableStorage;

namespace Rollout.Integrations.Tests.Storage;

/// <summary>
/// A real Azurite table service (npm package <c>azurite</c>), in memory on a free loopback port, shared by the tests
/// of this assembly and killed at the end. Found as <c>azurite-table</c> on PATH, else under
/// <c>&lt;repo&gt;/.tools/node_modules/.bin/</c>, where it is installed with npm when missing (CI pre-installs it).
/// </summary>
public sealed class AzuriteFixture : IAsyncDisposable
{
    /// <summary>The Azurite version the repository pins (also in .ci/run).</summary>
    public const string Version = "3.37.0";

    private static readonly SemaphoreSlim Gate = new(1, 1);
    private static AzuriteFixture? shared;
    private readonly Process process;
    private readonly StringBuilder output;

    private AzuriteFixture(Process process, StringBuilder output, int port)
    {
        this.process = process;
        this.output = output;
        Port = port;
    }

    /// <summary>What Azurite printed so far (for failure messages).</summary>
    public string Output => Snapshot(output);

    /// <summary>The loopback port of the table service.</summary>
    public int Port { get; }

    /// <summary>The table endpoint, path-style with the development account.</summary>
    public Uri TableEndpoint => new($"http://127.0.0.1:{Port}/{TableConnectionString.DevelopmentAccountName}");

    /// <summary>A full Shared Key connection string for this Azurite (the development account's published key).</summary>
    public string ConnectionString =>
        $"DefaultEndpointsProtocol=http;AccountName={TableConnectionString.DevelopmentAccountName};AccountKey={TableConnectionString.DevelopmentAccountKey};TableEndpoint={TableEndpoint}";

    /// <summary>Starts Azurite once for the assembly (installing it first if needed) and returns it.</summary>
    public static async Task<AzuriteFixture> GetAsync(CancellationToken ct)
    {
        await Gate.WaitAsync(ct);
        try
        {
            if (shared is { process.HasExited: false })
            {
                return shared;
            }

            shared = await StartAsync(ct);
            return shared;
        }
        finally
        {
            Gate.Release();
        }
    }

    /// <summary>Kills the shared Azurite, if one was started.</summary>
    public static async Task StopSharedAsync()
    {
        if (shared is { } running)
        {
            shared = null;
            await running.DisposeAsync();
        }
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }

        process.Dispose();
    }

    private static async Task<AzuriteFixture> StartAsync(CancellationToken ct)
    {
        var executable = await FindOrInstallAsync(ct);
        var port = FreePort();
        var workDirectory = Directory.CreateTempSubdirectory("azurite-").FullName;
        var start = new ProcessStartInfo(executable)
        {
            WorkingDirectory = workDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[]
        {
            "--inMemoryPersistence", "--tableHost", "127.0.0.1", "--tablePort", port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--skipApiVersionCheck", "--disableProductStyleUrl", "--disableTelemetry", "--silent",
        })
        {
            start.ArgumentList.Add(argument);
        }

        var output = new StringBuilder();
        var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) => Append(output, e.Data);
        process.ErrorDataReceived += (_, e) => Append(output, e.Data);
        try
        {
            process.Start();
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new InvalidOperationException($"could not start '{executable}' ({ex.Message}); Azurite needs Node.js ('node') on PATH", ex);
        }

        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        AppDomain.CurrentDomain.ProcessExit += (_, _) => TryKill(process);

        var fixture = new AzuriteFixture(process, output, port);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            if (process.HasExited)
            {
                var hint = process.ExitCode == 127 ? " (is Node.js installed? 'azurite-table' runs on 'node')" : string.Empty;
                throw new InvalidOperationException($"Azurite exited with code {process.ExitCode} before answering{hint}:\n{Snapshot(output)}");
            }

            try
            {
                // Any HTTP answer (403 without a signature) means the service listens.
                using var response = await http.GetAsync(new Uri(fixture.TableEndpoint + "/Tables"), ct);
                if (response.Headers.Server.ToString().Contains("Azurite", StringComparison.Ordinal) || response.StatusCode == HttpStatusCode.Forbidden)
                {
                    return fixture;
                }
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException) when (!ct.IsCancellationRequested)
            {
            }

            if (DateTime.UtcNow > deadline)
            {
                await fixture.DisposeAsync();
                throw new TimeoutException($"Azurite did not answer on port {port} within 60 s:\n{Snapshot(output)}");
            }

            await Task.Delay(200, ct);
        }
    }

    private static async Task<string> FindOrInstallAsync(CancellationToken ct)
    {
        if (FindOnPath("azurite-table") is { } onPath)
        {
            return onPath;
        }

        var tools = Path.Combine(RepositoryRoot(), ".tools");
        var local = Path.Combine(tools, "node_modules", ".bin", "azurite-table");
        if (File.Exists(local))
        {
            return local;
        }

        var npm = FindOnPath("npm")
            ?? throw new InvalidOperationException(
                $"Azurite is not installed and npm is missing: install Node.js and npm (e.g. 'apt-get install nodejs npm'), then 'npm install --prefix .tools azurite@{Version}' in the repository");
        var install = new ProcessStartInfo(npm) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in new[] { "install", "--prefix", tools, "--no-audit", "--no-fund", $"azurite@{Version}" })
        {
            install.ArgumentList.Add(argument);
        }

        using var npmProcess = Process.Start(install)!;
        var stdout = npmProcess.StandardOutput.ReadToEndAsync(ct);
        var stderr = npmProcess.StandardError.ReadToEndAsync(ct);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromMinutes(10));
        await npmProcess.WaitForExitAsync(timeout.Token);
        if (npmProcess.ExitCode != 0 || !File.Exists(local))
        {
            throw new InvalidOperationException($"'npm install --prefix {tools} azurite@{Version}' failed ({npmProcess.ExitCode}):\n{await stdout}\n{await stderr}");
        }

        return local;
    }

    private static string? FindOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? string.Empty)
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(directory => Path.Combine(directory, name))
            .FirstOrDefault(File.Exists);

    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Rollout.Functions.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException($"no Rollout.Functions.sln above {AppContext.BaseDirectory}");
    }

    private static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    private static void Append(StringBuilder output, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (output)
        {
            output.AppendLine(line);
        }
    }

    private static string Snapshot(StringBuilder output)
    {
        lock (output)
        {
            return output.ToString();
        }
    }

    private static void TryKill(Process process)
    {
        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }
        catch (InvalidOperationException)
        {
        }
    }
}

/// <summary>Stops the shared Azurite when the test assembly is done.</summary>
[TestClass]
public static class AzuriteAssemblyHooks
{
    [AssemblyCleanup]
    public static Task StopAzuriteAsync() => AzuriteFixture.StopSharedAsync();
}
