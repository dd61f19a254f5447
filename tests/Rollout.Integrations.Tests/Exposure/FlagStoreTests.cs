using Rollout.Core.Engine;
using Rollout.Core.Gates;
using Rollout.Core.Targeting;
using Rollout.Integrations.Exposure;

namespace Rollout.Integrations.Tests.Exposure;

[TestClass]
public sealed class FlagStoreTests
{
    private const string Flag = "new-checkout";
    private static readonly SubjectContext Alice = new("alice@contoso.com", null, null, null, null);
    private static readonly SubjectContext InternalGroupMember = new("carol@contoso.com", ["staff", "internal"], null, null, null);

    // Not named in any audience; bucketed into the 100% stage only.
    private static readonly SubjectContext Bob = new("bob@example.org", null, null, null, null);

    [TestMethod]
    public void Evaluate_UnknownFlag_IsOffWithReason()
    {
        var flags = new FlagStore();
        flags.Apply(TestPlans.Start("r1", "other-flag", TestPlans.T0).State);

        var (decision, entry) = flags.Evaluate(Flag, Alice);

        Assert.AreEqual(new FlagDecision(false, "no rollout for this flag"), decision);
        Assert.IsNull(entry);
    }

    [TestMethod]
    public void Apply_FirstStage_ExposesOnlyItsAudience()
    {
        var flags = new FlagStore();
        var started = TestPlans.Start("r1", Flag, TestPlans.T0).State;

        flags.Apply(started);

        var (decision, entry) = flags.Evaluate(Flag, Alice);
        Assert.AreEqual(new FlagDecision(true, "user of stage 'internal'"), decision);
        Assert.AreEqual(new FlagDecision(true, "group of stage 'internal'"), flags.Evaluate(Flag, InternalGroupMember).Decision);
        Assert.AreEqual(new FlagDecision(false, "not in the audience"), flags.Evaluate(Flag, Bob).Decision);
        Assert.IsNotNull(entry);
        Assert.AreEqual("r1", entry.RolloutId);
        Assert.AreEqual(RolloutStatus.Running, entry.Status);
        Assert.AreEqual(0, entry.Exposure.StageIndex);
        Assert.AreEqual(TestPlans.T0, entry.UpdatedAt);
    }

    [TestMethod]
    public void Apply_LaterStatesOfSameRollout_ExposureFollowsLatestStage()
    {
        var flags = new FlagStore();
        var state = TestPlans.Start("r1", Flag, TestPlans.T0).State;
        flags.Apply(state);

        state = TestPlans.Evaluated(state, Outcome.Pass, TestPlans.T0.AddMinutes(1)).State;
        flags.Apply(state);
        Assert.AreEqual("canary 5%", flags.Evaluate(Flag, Bob).Entry?.Exposure.StageName);
        Assert.IsTrue(flags.Evaluate(Flag, Alice).Decision.Enabled, "earlier audiences stay exposed");

        state = TestPlans.Completed(state, TestPlans.T0.AddMinutes(2)).State;
        flags.Apply(state);

        var (decision, entry) = flags.Evaluate(Flag, Bob);
        Assert.AreEqual(new FlagDecision(true, "in the 100% rollout"), decision);
        Assert.AreEqual(RolloutStatus.Completed, entry?.Status);
        Assert.AreEqual(2, entry?.Exposure.StageIndex);
    }

    [TestMethod]
    public void Apply_Paused_HoldsExposureOfItsStage()
    {
        var flags = new FlagStore();
        var state = TestPlans.Evaluated(TestPlans.Start("r1", Flag, TestPlans.T0).State, Outcome.Pass, TestPlans.T0.AddMinutes(1)).State;
        state = TestPlans.Paused(state, TestPlans.T0.AddMinutes(2)).State;

        flags.Apply(state);

        var (decision, entry) = flags.Evaluate(Flag, Alice);
        Assert.IsTrue(decision.Enabled);
        Assert.AreEqual(RolloutStatus.Paused, entry?.Status);
        Assert.AreEqual("canary 5%", entry?.Exposure.StageName);
    }

    [TestMethod]
    public void Apply_RolledBack_ExposesNobody()
    {
        var flags = new FlagStore();
        var state = TestPlans.Start("r1", Flag, TestPlans.T0).State;
        flags.Apply(state);
        Assert.IsTrue(flags.Evaluate(Flag, Alice).Decision.Enabled);

        flags.Apply(TestPlans.RolledBack(state, TestPlans.T0.AddMinutes(1)).State);

        var (decision, entry) = flags.Evaluate(Flag, Alice);
        Assert.AreEqual(new FlagDecision(false, "no exposure"), decision);
        Assert.IsFalse(flags.Evaluate(Flag, InternalGroupMember).Decision.Enabled);
        Assert.AreEqual(RolloutStatus.RolledBack, entry?.Status);
        Assert.IsNull(entry?.Exposure.StageIndex);
        Assert.AreEqual(0m, entry?.Exposure.Percent);
    }

    [TestMethod]
    public void Apply_OlderStateOfSameRolloutAfterNewer_KeepsNewer()
    {
        var flags = new FlagStore();
        var started = TestPlans.Start("r1", Flag, TestPlans.T0).State;
        var completed = TestPlans.Completed(started, TestPlans.T0.AddMinutes(5)).State;

        flags.Apply(completed);
        flags.Apply(started);

        var (decision, entry) = flags.Evaluate(Flag, Bob);
        Assert.IsTrue(decision.Enabled, decision.Reason);
        Assert.AreEqual(2, entry?.Exposure.StageIndex);
        Assert.AreEqual(TestPlans.T0.AddMinutes(5), entry?.UpdatedAt);
    }

    [TestMethod]
    public void Apply_OlderRunningStateAfterRollback_StaysRolledBack()
    {
        var flags = new FlagStore();
        var running = TestPlans.Evaluated(TestPlans.Start("r1", Flag, TestPlans.T0).State, Outcome.Pass, TestPlans.T0.AddMinutes(1)).State;
        var rolledBack = TestPlans.RolledBack(running, TestPlans.T0.AddMinutes(2)).State;

        flags.Apply(rolledBack);
        flags.Apply(running);

        var (decision, entry) = flags.Evaluate(Flag, Alice);
        Assert.IsFalse(decision.Enabled, "a stale update undid the rollback");
        Assert.AreEqual(RolloutStatus.RolledBack, entry?.Status);
    }

    [TestMethod]
    public void Apply_NewerRolloutOfSameFlag_TakesOverAndOldStatesNoLongerCount()
    {
        var flags = new FlagStore();
        var first = TestPlans.Start("r1", Flag, TestPlans.T0).State;
        var firstRolledBack = TestPlans.RolledBack(first, TestPlans.T0.AddMinutes(1)).State;
        var second = TestPlans.Start("r2", Flag, TestPlans.T0.AddMinutes(2)).State;

        flags.Apply(first);
        flags.Apply(firstRolledBack);
        flags.Apply(second);
        var (afterTakeOver, entry) = flags.Evaluate(Flag, Alice);
        flags.Apply(first);
        flags.Apply(firstRolledBack);

        Assert.IsTrue(afterTakeOver.Enabled);
        Assert.AreEqual("r2", entry?.RolloutId);
        Assert.AreEqual("r2", flags.Evaluate(Flag, Alice).Entry?.RolloutId);
        Assert.IsTrue(flags.Evaluate(Flag, Alice).Decision.Enabled, "an older rollout's replayed rollback switched the new rollout off");
    }

    [TestMethod]
    public void Apply_OtherFlag_LeavesFlagAlone()
    {
        var flags = new FlagStore();
        flags.Apply(TestPlans.Start("r1", Flag, TestPlans.T0).State);

        flags.Apply(TestPlans.RolledBack(TestPlans.Start("r2", "other-flag", TestPlans.T0).State, TestPlans.T0.AddMinutes(9)).State);

        Assert.IsTrue(flags.Evaluate(Flag, Alice).Decision.Enabled);
        Assert.IsFalse(flags.Evaluate("other-flag", Alice).Decision.Enabled);
    }

    [TestMethod]
    public void Apply_ManyStatesConcurrentlyInAnyOrder_EndsOnNewest()
    {
        var flags = new FlagStore();
        var started = TestPlans.Start("r1", Flag, TestPlans.T0).State;
        var states = Enumerable.Range(0, 200)
            .Select(i => started with { StageIndex = i % 3, UpdatedAt = TestPlans.T0.AddSeconds(i) })
            .ToArray();
        Random.Shared.Shuffle(states);

        Parallel.ForEach(states, new ParallelOptions { MaxDegreeOfParallelism = 4 }, flags.Apply);

        var entry = flags.Evaluate(Flag, Bob).Entry;
        Assert.AreEqual(TestPlans.T0.AddSeconds(199), entry?.UpdatedAt);
        Assert.AreEqual(199 % 3, entry?.Exposure.StageIndex);
    }
}
