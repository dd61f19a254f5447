using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Rollout.Cli.Hosting;
using Rollout.Core.Api;

namespace Rollout.Cli.Client;

/// <summary>Exit codes a script can rely on.</summary>
internal static class ExitCodes
{
    public const int Ok = 0;
    public const int Error = 1;
    public const int InvalidInput = 2;
    public const int Unauthorized = 3;
    public const int NotFound = 4;
    public const int Conflict = 5;
    public const int Unreachable = 6;
    public const int RolledBack = 7;
    public const int Unfinished = 8;

    public static int FromStatus(HttpStatusCode status) => status switch
    {
        HttpStatusCode.BadRequest or HttpStatusCode.RequestEntityTooLarge or HttpStatusCode.UnsupportedMediaType => InvalidInput,
        HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden => Unauthorized,
        HttpStatusCode.NotFound => NotFound,
        HttpStatusCode.Conflict => Conflict,
        _ when (int)status < 300 => Ok,
        _ => Error,
    };
}

/// <summary>A failed API call, with the exit code it maps to.</summary>
internal sealed class ClientException(int exitCode, string message) : Exception(message)
{
    public int ExitCode { get; } = exitCode;
}

/// <summary>A thin client of the HTTP API, shared by every CLI verb and by the demo.</summary>
internal sealed class RolloutClient(HttpClient http, string? apiKey)
{
    public Uri BaseAddress => http.BaseAddress!;

    public static RolloutClient Create(string url, string? apiKey, TimeSpan? timeout = null)
    {
        var baseUri = new Uri(url.EndsWith('/') ? url : url + "/");
        var http = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { BaseAddress = baseUri, Timeout = timeout ?? TimeSpan.FromSeconds(30) };
        return new RolloutClient(http, apiKey);
    }

    public Task<string> GetTextAsync(string path, CancellationToken ct) => SendAsync(HttpMethod.Get, path, null, null, ct);

    public async Task<T> GetAsync<T>(string path, CancellationToken ct) =>
        JsonSerializer.Deserialize<T>(await GetTextAsync(path, ct), RolloutJson.Options) ?? throw new ClientException(ExitCodes.Error, $"empty answer from {path}");

    public Task<string> PostAsync(string path, string body, string contentType, CancellationToken ct) =>
        SendAsync(HttpMethod.Post, path, body, contentType, ct);

    public Task<string> PostJsonAsync(string path, object body, CancellationToken ct) =>
        PostAsync(path, JsonSerializer.Serialize(body, RolloutJson.Options), "application/json", ct);

    private async Task<string> SendAsync(HttpMethod method, string path, string? body, string? contentType, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(method, path.TrimStart('/'));
        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8);
            request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType ?? "application/json");
        }

        if (!string.IsNullOrEmpty(apiKey))
        {
            request.Headers.Add(Api.KeyHeader, apiKey);
        }

        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(request, ct);
        }
        catch (HttpRequestException ex)
        {
            throw new ClientException(ExitCodes.Unreachable, $"cannot reach {http.BaseAddress}: {ex.Message} (is 'rollout serve' running? set --url or ROLLOUT_URL)");
        }
        catch (TaskCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new ClientException(ExitCodes.Unreachable, $"{http.BaseAddress} did not answer within {http.Timeout.TotalSeconds:0} s");
        }

        using (response)
        {
            var text = await response.Content.ReadAsStringAsync(ct);
            if (response.IsSuccessStatusCode)
            {
                return text;
            }

            throw new ClientException(ExitCodes.FromStatus(response.StatusCode), Describe(response.StatusCode, text));
        }
    }

    private static string Describe(HttpStatusCode status, string text)
    {
        var sb = new StringBuilder($"{(int)status} {status}");
        try
        {
            using var doc = JsonDocument.Parse(text);
            var root = doc.RootElement;
            if (root.ValueKind == JsonValueKind.Object)
            {
                if (root.TryGetProperty("detail", out var detail))
                {
                    sb.Append(": ").Append(detail.GetString());
                }

                if (root.TryGetProperty("errors", out var errors) && errors.ValueKind == JsonValueKind.Object)
                {
                    foreach (var error in errors.EnumerateObject())
                    {
                        foreach (var message in error.Value.EnumerateArray())
                        {
                            sb.Append('\n').Append("  ").Append(error.Name).Append(": ").Append(message.GetString());
                        }
                    }
                }
            }
        }
        catch (JsonException)
        {
            if (text.Length > 0)
            {
                sb.Append(": ").Append(text.Length > 300 ? text[..300] : text);
            }
        }

        return sb.ToString();
    }
}
