using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;

namespace Rollout.Functions.Tests.Http;

/// <summary>An answer as the client receives it: status, headers and body, after the result wrote itself.</summary>
internal sealed record HttpAnswer(int Status, string? ContentType, string? Location, string Body)
{
    public JsonElement Json => JsonDocument.Parse(Body).RootElement;
}

/// <summary>Builds requests on a <see cref="DefaultHttpContext"/> and runs a trigger's result against it.</summary>
internal static class HttpCall
{
    public static HttpRequest Request(string method, string path, string? body = null, string contentType = "application/json", IEnumerable<KeyValuePair<string, string?>>? query = null, long? contentLength = null)
    {
        var context = new DefaultHttpContext();
        context.Request.Method = method;
        context.Request.Path = path;
        if (query is not null)
        {
            context.Request.QueryString = QueryString.Create(query);
        }

        if (body is not null)
        {
            var bytes = Encoding.UTF8.GetBytes(body);
            context.Request.Body = new MemoryStream(bytes);
            context.Request.ContentLength = contentLength ?? bytes.Length;
            context.Request.ContentType = contentType;
        }

        context.Response.Body = new MemoryStream();
        return context.Request;
    }

    public static HttpRequest Get(string path, params (string Key, string Value)[] query) =>
        Request("GET", path, query: query.Select(q => new KeyValuePair<string, string?>(q.Key, q.Value)));

    public static HttpRequest Post(string path, object body) => Request("POST", path, JsonSerializer.Serialize(body, Core.Api.RolloutJson.Options));

    public static async Task<HttpAnswer> RunAsync(this Task<IActionResult> trigger, HttpRequest request) => await (await trigger).RunAsync(request);

    public static async Task<HttpAnswer> RunAsync(this IActionResult result, HttpRequest request)
    {
        await result.ExecuteResultAsync(new ActionContext { HttpContext = request.HttpContext });
        var response = request.HttpContext.Response;
        response.Body.Position = 0;
        using var reader = new StreamReader(response.Body);
        return new HttpAnswer(response.StatusCode, response.ContentType, response.Headers.Location.ToString() is { Length: > 0 } l ? l : null, await reader.ReadToEndAsync());
    }
}
