using Rollout.Dashboard;

namespace Rollout.Cli.Hosting;

/// <summary>
/// Serves the dashboard: the page at <c>/</c> and its files under <c>/dashboard/</c>, from the assets embedded in
/// Rollout.Dashboard. Read-only; the page's commands go to the API's POST routes with the API key, like the CLI's.
/// </summary>
internal static class DashboardEndpoints
{
    public static void Map(WebApplication app)
    {
        app.MapGet("/", (HttpContext context) => Serve(context, DashboardAssets.IndexPath));
        app.MapGet("/dashboard/{**path}", (string? path, HttpContext context) =>
            string.IsNullOrEmpty(path) ? Results.Redirect("/") : Serve(context, path));
    }

    private static IResult Serve(HttpContext context, string path)
    {
        if (!DashboardAssets.TryGet(path, out var content, out var contentType))
        {
            return Results.NotFound();
        }

        var headers = context.Response.Headers;
        headers.ContentSecurityPolicy = DashboardAssets.ContentSecurityPolicy;
        headers.XContentTypeOptions = "nosniff";
        headers["Referrer-Policy"] = "no-referrer";
        headers.CacheControl = "no-cache";
        return Results.Bytes(content, contentType);
    }
}
