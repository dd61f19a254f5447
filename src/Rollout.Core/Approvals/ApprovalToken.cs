using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Rollout.Core.Approvals;

/// <summary>Why an approval link is refused.</summary>
public enum ApprovalTokenProblem
{
    /// <summary>The token is well formed, signed with the key and not expired.</summary>
    None,

    /// <summary>Not a token at all (cut off, or not of the form <c>payload.signature</c>).</summary>
    Malformed,

    /// <summary>The signature does not match: the token was altered or signed with another key.</summary>
    Tampered,

    /// <summary>The token is past its expiry.</summary>
    Expired,
}

/// <summary>
/// An approval link's token: the right to approve stage <paramref name="StageIndex"/> of rollout
/// <paramref name="RolloutId"/>, addressed to <paramref name="Addressee"/>, until <paramref name="ExpiresAt"/>; the
/// <paramref name="Nonce"/> makes it single-use (hosts record consumed nonces). The text form is
/// <c>base64url(json) "." base64url(HMAC-SHA256(key, base64url(json)))</c>. Pure: the caller passes the time, the
/// key and a random nonce.
/// </summary>
public sealed record ApprovalToken(string RolloutId, int StageIndex, string Addressee, DateTimeOffset ExpiresAt, string Nonce)
{
    private const int MaxTokenLength = 4096;

    /// <summary>The token's text, signed with <paramref name="key"/>.</summary>
    public string Sign(ReadOnlySpan<byte> key)
    {
        var payload = new Payload(RolloutId, StageIndex, Addressee, ExpiresAt.ToUnixTimeSeconds(), Nonce);
        var encoded = Base64Url.EncodeToString(JsonSerializer.SerializeToUtf8Bytes(payload, Api.RolloutJson.Options));
        return $"{encoded}.{Base64Url.EncodeToString(Mac(key, encoded))}";
    }

    /// <summary>Reads and checks a token: signature first (nothing of an unsigned token is trusted), then expiry.</summary>
    public static (ApprovalToken? Token, ApprovalTokenProblem Problem) Verify(string? text, ReadOnlySpan<byte> key, DateTimeOffset now)
    {
        if (string.IsNullOrEmpty(text) || text.Length > MaxTokenLength || text.Split('.') is not [var encoded, var signature]
            || !Base64Url.IsValid(encoded) || !Base64Url.IsValid(signature))
        {
            return (null, ApprovalTokenProblem.Malformed);
        }

        if (!CryptographicOperations.FixedTimeEquals(Base64Url.DecodeFromChars(signature), Mac(key, encoded)))
        {
            return (null, ApprovalTokenProblem.Tampered);
        }

        Payload? payload;
        try
        {
            payload = JsonSerializer.Deserialize<Payload>(Base64Url.DecodeFromChars(encoded), Api.RolloutJson.Options);
        }
        catch (JsonException)
        {
            return (null, ApprovalTokenProblem.Malformed);
        }

        if (payload is not { R.Length: > 0, A.Length: > 0, N.Length: > 0 } || payload.S < 0)
        {
            return (null, ApprovalTokenProblem.Malformed);
        }

        var token = new ApprovalToken(payload.R, payload.S, payload.A, DateTimeOffset.FromUnixTimeSeconds(payload.E), payload.N);
        return now >= token.ExpiresAt ? (token, ApprovalTokenProblem.Expired) : (token, ApprovalTokenProblem.None);
    }

    private static byte[] Mac(ReadOnlySpan<byte> key, string encoded) => HMACSHA256.HashData(key, Encoding.ASCII.GetBytes(encoded));

    // Short names keep links short: rollout, stage, addressee, expiry (Unix seconds), nonce.
    private sealed record Payload(string R, int S, string A, long E, string N);
}
