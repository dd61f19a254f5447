using Rollout.Core.Plans;
using Rollout.Core.Targeting;

namespace Rollout.Core.Tests.Targeting;

[TestClass]
public sealed class ExposureTests
{
    private static readonly RolloutPlan Sample = TestPlans.Sample;

    private static SubjectContext User(string subject) => new(subject, null, null, null, null);

    [TestMethod]
    public void Evaluate_PilotUser_ExposedFromPilotStageOnwards()
    {
        var pilotUser = User("gal@contoso.com");

        Assert.IsFalse(Exposure.AtStage(Sample, 0).Evaluate(pilotUser).Enabled, "not yet at stage 'internal'");
        for (var stage = 1; stage < Sample.Stages.Length; stage++)
        {
            var decision = Exposure.AtStage(Sample, stage).Evaluate(pilotUser);
            Assert.IsTrue(decision.Enabled, $"stage {stage}");
            Assert.AreEqual("user of stage 'pilot'", decision.Reason, $"stage {stage}");
        }
    }

    [TestMethod]
    public void Evaluate_InternalGroupAndFlagshipTenant_StayExposedInLaterStages()
    {
        var internalMember = new SubjectContext("someone@contoso.com", ["staff", "internal"], null, null, null);
        var flagshipUser = new SubjectContext("buyer@flagship.com", null, "flagship", null, null);
        var stage4 = Exposure.AtStage(Sample, 4);

        Assert.AreEqual(new FlagDecision(true, "group of stage 'internal'"), stage4.Evaluate(internalMember));
        Assert.AreEqual(new FlagDecision(true, "tenant of stage 'one-customer'"), stage4.Evaluate(flagshipUser));
        Assert.IsFalse(Exposure.AtStage(Sample, 1).Evaluate(flagshipUser).Enabled, "the tenant joins at stage 'one-customer'");
    }

    [TestMethod]
    public void AtStage_EachStage_PercentIsTheHighestSoFar()
    {
        var plan = TestPlans.Valid("""
            { "name": "p", "flag": "p",
              "stages": [
                { "name": "named", "audience": { "users": ["a@contoso.com"] }, "minDuration": "1h" },
                { "name": "ten", "percent": 10, "minDuration": "1h" },
                { "name": "vip", "audience": { "tenants": ["flagship"] }, "minDuration": "1h" },
                { "name": "twenty-five", "percent": 25.5, "minDuration": "1h" },
                { "name": "more-vips", "audience": { "roles": ["admin"] }, "minDuration": "1h" } ] }
            """);

        var percents = Enumerable.Range(0, plan.Stages.Length).Select(i => Exposure.AtStage(plan, i).Percent).ToArray();

        CollectionAssert.AreEqual(new[] { 0m, 10m, 10m, 25.5m, 25.5m }, percents);
        CollectionAssert.AreEqual(new decimal[] { 0, 0, 0, 10, 50, 100 }, Enumerable.Range(0, 6).Select(i => Exposure.AtStage(Sample, i).Percent).ToArray());
    }

    [TestMethod]
    public void Evaluate_StageWithoutPercentAfterPercentStage_KeepsTheBucketedSubjects()
    {
        var plan = TestPlans.Valid("""
            { "name": "p", "flag": "p",
              "stages": [
                { "name": "ten", "percent": 10, "minDuration": "1h" },
                { "name": "vip", "audience": { "tenants": ["flagship"] }, "minDuration": "1h" } ] }
            """);
        var bucketed = Enumerable.Range(0, 2000).Select(i => $"user-{i}").First(s => Bucketing.IsIn("p", s, 10m));

        var decision = Exposure.AtStage(plan, 1).Evaluate(User(bucketed));

        Assert.AreEqual(new FlagDecision(true, "in the 10% rollout"), decision);
    }

    [TestMethod]
    public void Evaluate_NamesInAnotherCase_MatchCaseInsensitively()
    {
        var stage2 = Exposure.AtStage(Sample, 2);

        Assert.IsTrue(stage2.Evaluate(User("GAL@Contoso.COM")).Enabled);
        Assert.IsTrue(stage2.Evaluate(new SubjectContext(null, ["INTERNAL"], null, null, null)).Enabled);
        Assert.IsTrue(stage2.Evaluate(new SubjectContext(null, null, "FlagShip", null, null)).Enabled);
        Assert.IsFalse(stage2.Evaluate(new SubjectContext("gal@contoso.org", ["internals"], "flagship2", null, null)).Enabled);
    }

    [TestMethod]
    public void Evaluate_RegionsAndRoles_Match()
    {
        var plan = TestPlans.Valid("""
            { "name": "p", "flag": "p",
              "stages": [ { "name": "eu-admins", "audience": { "regions": ["westeurope"], "roles": ["admin"] }, "minDuration": "1h" } ] }
            """);
        var exposure = Exposure.AtStage(plan, 0);

        Assert.AreEqual(new FlagDecision(true, "region of stage 'eu-admins'"), exposure.Evaluate(new SubjectContext("u", null, null, "WestEurope", null)));
        Assert.AreEqual(new FlagDecision(true, "role of stage 'eu-admins'"), exposure.Evaluate(new SubjectContext("u", null, null, null, "ADMIN")));
        Assert.AreEqual(new FlagDecision(false, "not in the audience"), exposure.Evaluate(new SubjectContext("u", null, null, "eastus", "reader")));
    }

    [TestMethod]
    public void Evaluate_None_ExposesNobody()
    {
        var none = Exposure.None("checkout-v2");
        var everyone = new SubjectContext("gal@contoso.com", ["internal"], "flagship", "westeurope", "admin");

        Assert.IsNull(none.StageIndex);
        Assert.IsNull(none.StageName);
        Assert.AreEqual(0m, none.Percent);
        Assert.AreEqual(new FlagDecision(false, "no exposure"), none.Evaluate(everyone));
        for (var i = 0; i < 1000; i++)
        {
            Assert.IsFalse(none.Evaluate(User($"user-{i}")).Enabled);
        }
    }

    [TestMethod]
    public void Evaluate_PercentStage_ReasonNamesThePercent()
    {
        var stage3 = Exposure.AtStage(Sample, 3);
        var inside = Enumerable.Range(0, 2000).Select(i => $"user-{i}").First(s => Bucketing.IsIn(Sample.Flag, s, 10m));
        var outside = Enumerable.Range(0, 2000).Select(i => $"user-{i}").First(s => !Bucketing.IsIn(Sample.Flag, s, 10m));

        Assert.AreEqual(new FlagDecision(true, "in the 10% rollout"), stage3.Evaluate(User(inside)));
        Assert.AreEqual(new FlagDecision(false, "not in the audience"), stage3.Evaluate(User(outside)));
        Assert.AreEqual("10%", stage3.StageName);
        Assert.AreEqual(3, stage3.StageIndex);
    }

    [TestMethod]
    public void Evaluate_PercentStage_AgreesWithBucketingForEverySubject()
    {
        var stage4 = Exposure.AtStage(Sample, 4);
        var exposed = 0;
        for (var i = 0; i < 20_000; i++)
        {
            var subject = $"visitor-{i}";
            var enabled = stage4.Evaluate(User(subject)).Enabled;
            Assert.AreEqual(Bucketing.IsIn(Sample.Flag, subject, 50m), enabled, subject);
            exposed += enabled ? 1 : 0;
        }

        Assert.IsTrue(exposed is > 9_500 and < 10_500, $"{exposed} of 20000 exposed at 50%");
    }

    [TestMethod]
    [DataRow(null)]
    [DataRow("")]
    public void Evaluate_SubjectWithoutId_NeverBucketed(string? subject)
    {
        var everyone = Exposure.AtStage(Sample, 5);
        Assert.AreEqual(100m, everyone.Percent);

        Assert.AreEqual(new FlagDecision(false, "not in the audience"), everyone.Evaluate(new SubjectContext(subject, null, "some-tenant", null, null)));
        Assert.AreEqual(new FlagDecision(true, "group of stage 'internal'"), everyone.Evaluate(new SubjectContext(subject, ["internal"], null, null, null)));
        Assert.IsTrue(everyone.Evaluate(User("anyone-with-an-id")).Enabled);
    }

    [TestMethod]
    public void Evaluate_SameSubjectTwice_SameDecision()
    {
        var stage3 = Exposure.AtStage(Sample, 3);
        var again = Exposure.AtStage(TestPlans.Sample, 3);
        for (var i = 0; i < 500; i++)
        {
            var subject = User($"user-{i}");
            Assert.AreEqual(stage3.Evaluate(subject), again.Evaluate(subject));
            Assert.AreEqual(stage3.Evaluate(subject), stage3.Evaluate(subject));
        }
    }

    [TestMethod]
    [DataRow(-1)]
    [DataRow(6)]
    public void AtStage_IndexOutsideThePlan_Throws(int index)
    {
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => Exposure.AtStage(Sample, index));
    }
}
