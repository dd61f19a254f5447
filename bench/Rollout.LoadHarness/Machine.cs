using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;

namespace Rollout.LoadHarness;

/// <summary>What the figures ran on, and how busy it was.</summary>
internal static class Machine
{
    public static string Describe()
    {
        var cpu = File.Exists("/proc/cpuinfo")
            ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim()
            : null;
        var memory = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / (1024.0 * 1024 * 1024);
        return string.Create(CultureInfo.InvariantCulture,
            $"# machine: {Environment.ProcessorCount} cores, {cpu ?? RuntimeInformation.ProcessArchitecture.ToString()}, {memory:0.#} GiB, .NET {Environment.Version}, {RuntimeInformation.OSDescription}\n# {Load()}");
    }

    /// <summary>The 1, 5 and 15 minute load averages, as <c>uptime</c> prints them.</summary>
    public static string Load() =>
        File.Exists("/proc/loadavg") ? $"load average: {string.Join(", ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3))}" : "load average: n/a";

    /// <summary>This process's resident set and managed heap, in MB.</summary>
    public static (double RssMb, double HeapMb) Memory()
    {
        using var self = Process.GetCurrentProcess();
        return (self.WorkingSet64 / 1048576.0, GC.GetTotalMemory(false) / 1048576.0);
    }
}
