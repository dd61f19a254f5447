using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Rollout.Cli.Tests.Durability;

/// <summary>A real <c>rollout serve</c> process on a loopback port, started and killed by a test.</summary>
internal sealed class ServeProcess : IDisposable
{
    private readonly StringBuilder log = new();
    private Process? process;

    public ServeProcess(string dataDirectory, string apiKey, IReadOnlyDictionary<string, string>? environment = null)
    {
        DataDirectory = dataDirectory;
        ApiKey = apiKey;
        Environment = environment ?? new Dictionary<string, string>();
        Port = FreePort();
    }

    /// <summary>Extra environment variables of the process (settings, e.g. <c>Notifications__Teams__ops</c>).</summary>
    public IReadOnlyDictionary<string, string> Environment { get; }

    public string DataDirectory { get; }

    public string ApiKey { get; }

    public int Port { get; }

    public Uri Address => new($"http://127.0.0.1:{Port}/");

    public string Log
    {
        get
        {
            lock (log)
            {
                return log.ToString();
            }
        }
    }

    public async Task StartAsync()
    {
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { Path.Combine(AppContext.BaseDirectory, "rollout.dll"), "serve", "--urls", $"http://127.0.0.1:{Port}", "--data", DataDirectory, "--demo-metrics" })
        {
            info.ArgumentList.Add(arg);
        }

        info.Environment["ROLLOUT_API_KEY"] = ApiKey;
        foreach (var (name, value) in Environment)
        {
            info.Environment[name] = value;
        }

        process = Process.Start(info)!;
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        using var probe = new HttpClient { BaseAddress = Address, Timeout = TimeSpan.FromSeconds(2) };
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            if (process.HasExited)
            {
                Assert.Fail($"rollout serve exited with {process.ExitCode}:\n{Log}");
            }

            try
            {
                if ((await probe.GetAsync("healthz")).StatusCode == HttpStatusCode.OK)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException)
            {
            }

            await Task.Delay(50);
        }

        Assert.Fail($"rollout serve did not answer within 30 s:\n{Log}");
    }

    /// <summary>SIGKILL: no shutdown code runs.</summary>
    public void Kill()
    {
        if (process is { HasExited: false })
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
        }

        process?.Dispose();
        process = null;
    }

    public void Dispose() => Kill();

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (log)
        {
            log.AppendLine(line);
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
