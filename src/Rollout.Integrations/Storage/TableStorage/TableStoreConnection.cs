using System.Text.RegularExpressions;
using Azure.Core;
using Azure.Core.Pipeline;

namespace Rollout.Integrations.Storage.TableStorage;

/// <summary>
/// What the Table stores share to reach the service: Shared Key from a connection string or Entra ID bearer tokens from
/// a credential, and the rule for the table prefix their table names start with.
/// </summary>
internal static partial class TableStoreConnection
{
    private const string StorageScope = "https://storage.azure.com/.default";

    /// <summary>The endpoint and Shared Key authentication of a connection string (see <see cref="TableConnectionString.Parse"/>).</summary>
    public static (Uri Endpoint, HttpPipelinePolicy Authentication) SharedKey(string connectionString)
    {
        var parsed = TableConnectionString.Parse(connectionString);
        return (parsed.TableEndpoint, new TableSharedKeyPolicy(parsed.AccountName, parsed.AccountKey));
    }

    /// <summary>Entra ID bearer tokens for Azure Storage from <paramref name="credential"/>.</summary>
    public static HttpPipelinePolicy Bearer(TokenCredential credential) => new BearerTokenAuthenticationPolicy(credential, StorageScope);

    /// <summary>The endpoint, if it is https: Azure.Core sends bearer tokens only over https.</summary>
    public static Uri RequireHttps(Uri endpoint) =>
        endpoint.Scheme == Uri.UriSchemeHttps
            ? endpoint
            : throw new ArgumentException("bearer tokens are only sent over https (Azure.Core refuses them over http); use a connection string for Azurite", nameof(endpoint));

    /// <summary>Throws unless <paramref name="tablePrefix"/> is 1-50 letters and digits starting with a letter (table names: <c>^[A-Za-z][A-Za-z0-9]{2,62}$</c>).</summary>
    public static void CheckPrefix(string tablePrefix)
    {
        if (!TablePrefix().IsMatch(tablePrefix))
        {
            throw new ArgumentException("the table prefix must be 1-50 letters and digits, starting with a letter", nameof(tablePrefix));
        }
    }

    [GeneratedRegex("^[A-Za-z][A-Za-z0-9]{0,49}$")]
    private static partial Regex TablePrefix();
}
