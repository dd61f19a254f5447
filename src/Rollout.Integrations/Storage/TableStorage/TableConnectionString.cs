namespace Rollout.Integrations.Storage.TableStorage;

/// <summary>
/// The parts of a storage connection string the Table store uses: the table endpoint, the account and its key.
/// Error messages name the missing or malformed part, never a value (a connection string holds a secret).
/// </summary>
/// <remarks>
/// Checked in Azurite 3.37's README ("Default storage account", "Connection string"): the development account is
/// <c>devstoreaccount1</c> with the published key below, its table endpoint <c>http://127.0.0.1:10002/devstoreaccount1</c>,
/// and <c>UseDevelopmentStorage=true</c> is the shorthand for it; learn.microsoft.com "Update Entity" gives the same
/// emulated URI form (<c>127.0.0.1:10002</c> followed by the account name).
/// </remarks>
internal sealed record TableConnectionString(Uri TableEndpoint, string AccountName, string AccountKey)
{
    /// <summary>Azurite's (and the old emulator's) well-known development account.</summary>
    public const string DevelopmentAccountName = "devstoreaccount1";

    /// <summary>The development account's published key (a constant of the emulator, not a secret).</summary>
    public const string DevelopmentAccountKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    /// <summary>Where <c>UseDevelopmentStorage=true</c> points: Azurite's table port with a path-style account.</summary>
    public static readonly Uri DevelopmentTableEndpoint = new("http://127.0.0.1:10002/devstoreaccount1");

    /// <summary>
    /// Parses <c>UseDevelopmentStorage=true</c> (optionally with a <c>TableEndpoint</c> for another port) or
    /// <c>AccountName=...;AccountKey=...</c> with <c>TableEndpoint</c>, or <c>DefaultEndpointsProtocol</c> and
    /// <c>EndpointSuffix</c> (default https and core.windows.net).
    /// </summary>
    public static TableConnectionString Parse(string connectionString)
    {
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            throw new FormatException("the storage connection string is empty");
        }

        var parts = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var segment in connectionString.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            // Split at the first '=' only: account keys are base64 and end with '='.
            var equals = segment.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0)
            {
                throw new FormatException("the storage connection string has a part that is not 'Name=value'");
            }

            parts[segment[..equals].Trim()] = segment[(equals + 1)..].Trim();
        }

        if (parts.ContainsKey("SharedAccessSignature"))
        {
            throw new NotSupportedException("SAS connection strings are not supported by the Table store; use an account key or a managed identity");
        }

        Uri? endpoint = parts.TryGetValue("TableEndpoint", out var explicitEndpoint) ? ParseEndpoint(explicitEndpoint) : null;
        if (parts.TryGetValue("UseDevelopmentStorage", out var development) && bool.TryParse(development, out var useDevelopment) && useDevelopment)
        {
            return new TableConnectionString(
                endpoint ?? DevelopmentTableEndpoint,
                parts.GetValueOrDefault("AccountName", DevelopmentAccountName),
                parts.GetValueOrDefault("AccountKey", DevelopmentAccountKey));
        }

        if (!parts.TryGetValue("AccountName", out var account) || account.Length == 0)
        {
            throw new FormatException("the storage connection string has no AccountName");
        }

        if (!parts.TryGetValue("AccountKey", out var key) || key.Length == 0)
        {
            throw new FormatException("the storage connection string has no AccountKey");
        }

        if (endpoint is null)
        {
            var protocol = parts.GetValueOrDefault("DefaultEndpointsProtocol", "https");
            var suffix = parts.GetValueOrDefault("EndpointSuffix", "core.windows.net");
            endpoint = ParseEndpoint($"{protocol}://{account}.table.{suffix}");
        }

        return new TableConnectionString(endpoint, account, key);
    }

    private static Uri ParseEndpoint(string value) =>
        Uri.TryCreate(value.TrimEnd('/'), UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps)
            ? uri
            : throw new FormatException("the storage connection string's table endpoint is not an http(s) URL");

    /// <inheritdoc/>
    public override string ToString() => $"TableConnectionString {{ TableEndpoint = {TableEndpoint}, AccountName = {AccountName}, AccountKey = *** }}";
}
