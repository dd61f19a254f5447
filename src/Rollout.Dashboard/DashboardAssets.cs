using System.Collections.Frozen;

namespace Rollout.Dashboard;

/// <summary>
/// The dashboard's static files (HTML, CSS, JavaScript modules, icon), embedded in this assembly so that every host
/// serves the same files without a build step and without anything fetched from the internet.
/// </summary>
/// <remarks>
/// A host serves <see cref="IndexPath"/> at a URL whose last segment is <c>dashboard</c> or at its root (the local host
/// serves it at <c>/</c>; the Functions app at <c>/api/dashboard</c>), and every other file under <c>dashboard/</c>
/// next to it: <c>index.html</c> refers to its files relatively as <c>dashboard/app.js</c>, ... The page calls the API
/// at <c>/api/...</c> of the same origin, with the same key header as the CLI for commands.
/// </remarks>
public static class DashboardAssets
{
    /// <summary>The path of the page itself.</summary>
    public const string IndexPath = "index.html";

    /// <summary>
    /// The <c>Content-Security-Policy</c> to send with every file: only files and API calls of the same origin; no
    /// inline script, no framing.
    /// </summary>
    public const string ContentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

    private const string Prefix = "wwwroot/";

    private static readonly FrozenDictionary<string, string> ContentTypes = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
    {
        [".html"] = "text/html; charset=utf-8",
        [".js"] = "text/javascript; charset=utf-8",
        [".css"] = "text/css; charset=utf-8",
        [".svg"] = "image/svg+xml",
        [".png"] = "image/png",
        [".json"] = "application/json; charset=utf-8",
    }.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);

    private static readonly Lazy<FrozenDictionary<string, byte[]>> Files = new(Load);

    /// <summary>The paths of every file, relative to the dashboard's root (e.g. <c>index.html</c>, <c>app.js</c>).</summary>
    public static IReadOnlyCollection<string> Paths => Files.Value.Keys;

    /// <summary>
    /// Finds a file by its path relative to the dashboard's root. An empty path or <c>/</c> is <see cref="IndexPath"/>;
    /// a leading <c>/</c> or <c>dashboard/</c> is ignored. Paths are matched exactly (case-sensitive); anything else,
    /// including <c>..</c>, is not found.
    /// </summary>
    /// <param name="path">The requested path, e.g. <c>app.js</c> or <c>/dashboard/app.css</c>.</param>
    /// <param name="content">The file's bytes when found.</param>
    /// <param name="contentType">The file's media type (with <c>charset=utf-8</c> for text) when found.</param>
    /// <returns>True when the file exists.</returns>
    public static bool TryGet(string? path, out ReadOnlyMemory<byte> content, out string contentType)
    {
        var key = Normalize(path);
        if (key is not null && Files.Value.TryGetValue(key, out var bytes))
        {
            content = bytes;
            contentType = ContentTypeOf(key);
            return true;
        }

        content = ReadOnlyMemory<byte>.Empty;
        contentType = string.Empty;
        return false;
    }

    private static string? Normalize(string? path)
    {
        var p = (path ?? string.Empty).Trim().TrimStart('/');
        if (p.StartsWith("dashboard/", StringComparison.Ordinal))
        {
            p = p["dashboard/".Length..];
        }

        if (p.Length == 0)
        {
            return IndexPath;
        }

        return p.Contains('\\', StringComparison.Ordinal) || p.Split('/').Any(s => s is "" or "." or "..") ? null : p;
    }

    private static string ContentTypeOf(string path) =>
        ContentTypes.TryGetValue(Path.GetExtension(path), out var type) ? type : "application/octet-stream";

    private static FrozenDictionary<string, byte[]> Load()
    {
        var assembly = typeof(DashboardAssets).Assembly;
        var files = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (var name in assembly.GetManifestResourceNames().Where(n => n.StartsWith(Prefix, StringComparison.Ordinal)))
        {
            using var stream = assembly.GetManifestResourceStream(name)!;
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            files[name[Prefix.Length..].Replace('\\', '/')] = copy.ToArray();
        }

        return files.ToFrozenDictionary(StringComparer.Ordinal);
    }
}
