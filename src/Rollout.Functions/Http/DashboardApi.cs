using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;
using Rollout.Dashboard;

namespace Rollout.Functions.Http;

/// <summary>
/// The dashboard on Azure: <c>GET /dashboard</c> serves the page and <c>GET /dashboard/{file}</c> its files, the
/// same embedded assets the local host serves at <c>/</c>. Read-only and anonymous like the local page; its actions
/// call the API's POST routes with a function key the user enters.
/// </summary>
public sealed class DashboardApi
{
    /// <summary>Serves the page or one of its files.</summary>
    [Function(nameof(Dashboard))]
    public IActionResult Dashboard(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "dashboard/{*path}")] HttpRequest request,
        string? path)
    {
        if (!DashboardAssets.TryGet(string.IsNullOrEmpty(path) ? DashboardAssets.IndexPath : path, out var content, out var contentType))
        {
            return ApiResults.Problem(StatusCodes.Status404NotFound, "Not found", $"the dashboard has no file '{path}'");
        }

        return new AssetResult(content, contentType);
    }

    /// <summary>A dashboard file, with the headers the local host sends: same-origin content security policy, no sniffing, no referrer, no caching.</summary>
    private sealed record AssetResult(ReadOnlyMemory<byte> Content, string ContentType) : IActionResult
    {
        public async Task ExecuteResultAsync(ActionContext context)
        {
            var response = context.HttpContext.Response;
            response.StatusCode = StatusCodes.Status200OK;
            response.ContentType = ContentType;
            response.Headers.ContentSecurityPolicy = DashboardAssets.ContentSecurityPolicy;
            response.Headers.XContentTypeOptions = "nosniff";
            response.Headers["Referrer-Policy"] = "no-referrer";
            response.Headers.CacheControl = "no-cache";
            await response.Body.WriteAsync(Content, context.HttpContext.RequestAborted);
        }
    }
}
