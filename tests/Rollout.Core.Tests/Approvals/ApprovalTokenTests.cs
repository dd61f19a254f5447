using System.Text;
using Rollout.Core.Approvals;

namespace Rollout.Core.Tests.Approvals;

[TestClass]
public sealed class ApprovalTokenTests
{
    private static readonly byte[] Key = Encoding.UTF8.GetBytes("approval-signing-key-for-tests-0123456789");
    private static readonly DateTimeOffset Now = new(2026, 3, 1, 10, 0, 0, TimeSpan.Zero);
    private static readonly ApprovalToken Token = new("r-20260301-abc", 2, "alex@contoso.com", Now.AddHours(72), "0f1e2d3c");

    [TestMethod]
    public void Verify_SignedToken_RoundTrips()
    {
        var (token, problem) = ApprovalToken.Verify(Token.Sign(Key), Key, Now);

        Assert.AreEqual(ApprovalTokenProblem.None, problem);
        Assert.AreEqual(Token, token);
    }

    [TestMethod]
    public void Verify_AlteredPayload_IsTampered()
    {
        var text = Token.Sign(Key);
        var forged = new ApprovalToken("r-20260301-abc", 3, "alex@contoso.com", Now.AddHours(72), "0f1e2d3c").Sign(Key);
        var spliced = forged.Split('.')[0] + "." + text.Split('.')[1];

        Assert.AreEqual(ApprovalTokenProblem.Tampered, ApprovalToken.Verify(spliced, Key, Now).Problem);
        Assert.AreEqual(ApprovalTokenProblem.Tampered, ApprovalToken.Verify(text, Encoding.UTF8.GetBytes("some-other-key-of-enough-length-0123456789"), Now).Problem);
    }

    [TestMethod]
    [DataRow("")]
    [DataRow("abc")]
    [DataRow("a.b.c")]
    [DataRow("!!!.???")]
    public void Verify_NotAToken_IsMalformed(string text) =>
        Assert.AreEqual(ApprovalTokenProblem.Malformed, ApprovalToken.Verify(text, Key, Now).Problem);

    [TestMethod]
    public void Verify_AtOrAfterExpiry_IsExpired()
    {
        Assert.AreEqual(ApprovalTokenProblem.Expired, ApprovalToken.Verify(Token.Sign(Key), Key, Token.ExpiresAt).Problem);
        Assert.AreEqual(ApprovalTokenProblem.None, ApprovalToken.Verify(Token.Sign(Key), Key, Token.ExpiresAt.AddSeconds(-1)).Problem);
    }
}
