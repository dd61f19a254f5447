using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Azure.Core;
using Azure.Core.Pipeline;

namespace Rollout.Integrations.Storage.TableStorage;

/// <summary>
/// Signs each try of a request with the account key ("Shared Key" for the Table service).
/// </summary>
/// <remarks>
/// Checked against learn.microsoft.com "Authorize with Shared Key" (Table service section) and Azurite 3.37's
/// TableSharedKeyAuthenticator: the string to sign is
/// <c>VERB \n Content-MD5 \n Content-Type \n Date \n CanonicalizedResource</c>, where Date is the <c>x-ms-date</c>
/// value when no Date header is sent, and CanonicalizedResource is <c>/{account}{encoded URI path}</c> plus
/// <c>?comp={value}</c> when the query has <c>comp</c>. With a path-style endpoint (Azurite,
/// <c>http://127.0.0.1:10002/devstoreaccount1</c>) the account appears twice: <c>/devstoreaccount1/devstoreaccount1/table</c>.
/// The signature is base64(HMAC-SHA256(base64-decoded key, UTF-8 string to sign)), sent as
/// <c>Authorization: SharedKey {account}:{signature}</c>. A per-retry policy, so every try gets a fresh x-ms-date.
/// </remarks>
internal sealed class TableSharedKeyPolicy : HttpPipelineSynchronousPolicy
{
    private readonly string accountName;
    private readonly byte[] key;
    private readonly TimeProvider time;

    public TableSharedKeyPolicy(string accountName, string accountKey, TimeProvider? time = null)
    {
        this.accountName = accountName;
        try
        {
            key = Convert.FromBase64String(accountKey);
        }
        catch (FormatException)
        {
            throw new FormatException("the storage account key is not base64");
        }

        this.time = time ?? TimeProvider.System;
    }

    /// <inheritdoc/>
    public override void OnSendingRequest(HttpMessage message)
    {
        var request = message.Request;
        var date = time.GetUtcNow().ToString("R", CultureInfo.InvariantCulture);
        request.Headers.SetValue("x-ms-date", date);
        var contentType = request.Headers.TryGetValue("Content-Type", out var type) ? type : string.Empty;
        var contentMd5 = request.Headers.TryGetValue("Content-MD5", out var md5) ? md5 : string.Empty;
        var stringToSign = string.Join('\n', request.Method.Method.ToUpperInvariant(), contentMd5, contentType, date, CanonicalizedResource(request.Uri));
        request.Headers.SetValue("Authorization", $"SharedKey {accountName}:{Sign(stringToSign)}");
    }

    internal string Sign(string stringToSign) => Convert.ToBase64String(HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(stringToSign)));

    private string CanonicalizedResource(RequestUriBuilder uri)
    {
        var path = string.IsNullOrEmpty(uri.Path) ? "/" : uri.Path;
        var resource = $"/{accountName}{path}";
        var query = uri.Query.TrimStart('?');
        foreach (var pair in query.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            if (pair.StartsWith("comp=", StringComparison.OrdinalIgnoreCase))
            {
                resource += "?comp=" + Uri.UnescapeDataString(pair["comp=".Length..]);
            }
        }

        return resource;
    }
}
