using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Rollout.Cli.Demo;

/// <summary>A local Prometheus (the binary on PATH) on a loopback port, scraping given targets every second, for the demo.</summary>
internal sealed class PrometheusProcess : IAsyncDisposable
{
    private readonly Process process;
    private readonly string directory;

    private PrometheusProcess(Process process, string directory, Uri address)
    {
        this.process = process;
        this.directory = directory;
        Address = address;
    }

    public Uri Address { get; }

    public static string? FindBinary() =>
        (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(Path.PathSeparator)
            .Select(dir => Path.Combine(dir, "prometheus"))
            .FirstOrDefault(File.Exists);

    public static async Task<PrometheusProcess> StartAsync(string binary, Uri target, CancellationToken ct)
    {
        var directory = Directory.CreateTempSubdirectory("rollout-demo-prometheus-").FullName;
        var config = Path.Combine(directory, "prometheus.yml");
        await File.WriteAllTextAsync(config, $"""
            global:
              scrape_interval: 1s
              evaluation_interval: 1s
            scrape_configs:
              - job_name: checkout
                static_configs:
                  - targets: ['{target.Host}:{target.Port}']
            """, ct);
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();

        var info = new ProcessStartInfo(binary) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[] { $"--config.file={config}", $"--storage.tsdb.path={Path.Combine(directory, "data")}", $"--web.listen-address=127.0.0.1:{port}", "--log.level=error" })
        {
            info.ArgumentList.Add(arg);
        }

        var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {binary}");
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var prometheus = new PrometheusProcess(process, directory, new Uri($"http://127.0.0.1:{port}/"));
        using var http = new HttpClient { BaseAddress = prometheus.Address, Timeout = TimeSpan.FromSeconds(2) };
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                if ((await http.GetStringAsync("api/v1/query?query=up%3D%3D1", ct)).Contains("\"value\"", StringComparison.Ordinal))
                {
                    return prometheus;
                }
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException) when (!ct.IsCancellationRequested)
            {
            }

            await Task.Delay(200, ct);
        }

        await prometheus.DisposeAsync();
        throw new TimeoutException("Prometheus did not scrape the demo service within 30 s");
    }

    public async ValueTask DisposeAsync()
    {
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }

        process.Dispose();
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
