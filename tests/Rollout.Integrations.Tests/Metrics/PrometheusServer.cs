using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Rollout.Integrations.Tests.Metrics;

/// <summary>
/// A real Prometheus server (the Debian <c>prometheus</c> binary) on a loopback port, scraping an exporter
/// that the test runs, every second. Stopped and its data deleted on dispose.
/// </summary>
internal sealed class PrometheusServer : IAsyncDisposable
{
    private readonly Process process;
    private readonly WebApplication exporter;
    private readonly string directory;
    private readonly StringBuilder log = new();

    private PrometheusServer(Process process, WebApplication exporter, string directory, Uri address)
    {
        this.process = process;
        this.exporter = exporter;
        this.directory = directory;
        Address = address;
    }

    public Uri Address { get; }

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

    /// <summary>Starts the exporter serving <paramref name="metrics"/> (text exposition format) and a Prometheus scraping it.</summary>
    public static async Task<PrometheusServer> StartAsync(Func<string> metrics)
    {
        var binary = new[] { "/usr/bin/prometheus", "/usr/local/bin/prometheus" }.FirstOrDefault(File.Exists)
            ?? throw new InvalidOperationException("Prometheus is not installed: apt-get install -y prometheus (.ci/run does this)");

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var exporter = builder.Build();
        exporter.MapGet("/metrics", () => Results.Text(metrics(), "text/plain; version=0.0.4"));
        await exporter.StartAsync();
        var target = new Uri(exporter.Urls.First());

        var directory = Directory.CreateTempSubdirectory("rollout-prometheus-").FullName;
        var config = Path.Combine(directory, "prometheus.yml");
        await File.WriteAllTextAsync(config, $"""
            global:
              scrape_interval: 1s
              evaluation_interval: 1s
            scrape_configs:
              - job_name: exporter
                static_configs:
                  - targets: ['127.0.0.1:{target.Port}']
            """);
        var port = FreePort();
        var info = new ProcessStartInfo(binary)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[]
        {
            $"--config.file={config}", $"--storage.tsdb.path={Path.Combine(directory, "data")}",
            $"--web.listen-address=127.0.0.1:{port}", "--log.level=warn",
        })
        {
            info.ArgumentList.Add(arg);
        }

        var server = new PrometheusServer(Process.Start(info)!, exporter, directory, new Uri($"http://127.0.0.1:{port}/"));
        server.process.OutputDataReceived += (_, e) => server.Append(e.Data);
        server.process.ErrorDataReceived += (_, e) => server.Append(e.Data);
        server.process.BeginOutputReadLine();
        server.process.BeginErrorReadLine();
        await server.WaitForFirstScrapeAsync();
        return server;
    }

    public async ValueTask DisposeAsync()
    {
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }

        process.Dispose();
        await exporter.StopAsync();
        await exporter.DisposeAsync();
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private async Task WaitForFirstScrapeAsync()
    {
        using var http = new HttpClient { BaseAddress = Address, Timeout = TimeSpan.FromSeconds(2) };
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(40);
        while (DateTime.UtcNow < deadline)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"prometheus exited with {process.ExitCode}:\n{Log}");
            }

            try
            {
                var answer = await http.GetStringAsync("api/v1/query?query=up%7Bjob%3D%22exporter%22%7D%3D%3D1");
                if (answer.Contains("\"value\"", StringComparison.Ordinal))
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

            await Task.Delay(200);
        }

        throw new TimeoutException($"prometheus did not scrape the exporter within 40 s:\n{Log}");
    }

    private void Append(string? line)
    {
        if (line is not null)
        {
            lock (log)
            {
                log.AppendLine(line);
            }
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
