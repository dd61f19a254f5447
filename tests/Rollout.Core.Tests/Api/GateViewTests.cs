using Rollout.Core.Api;
using Rollout.Core.Engine;
using Rollout.Core.Gates;

namespace Rollout.Core.Tests.Api;

[TestClass]
public sealed class GateViewTests
{
    [TestMethod]
    [DataRow("completed")]
    [DataRow(null)]
    [DataRow("  ")]
    public void From_RunningRolloutUntilCompleted_Pending(string? until)
    {
        var run = new TestRollout(TestPlans.Sample);

        var view = GateView.From(run.State, until);

        Assert.AreEqual("pending", view.Status);
        Assert.AreEqual("completed", view.Until);
        Assert.AreEqual("Running", view.RolloutStatus);
        Assert.AreEqual("internal", view.Stage);
        StringAssert.Contains(view.Message, "in stage 'internal'", StringComparison.Ordinal);
    }

    [TestMethod]
    public void From_CompletedRollout_SucceededForCompletedAndEveryStage()
    {
        var run = new TestRollout(TestPlans.Engine());
        run.Bake();
        run.Bake();
        run.Bake();
        Assert.AreEqual(RolloutStatus.Completed, run.State.Status, "setup");

        Assert.AreEqual("succeeded", GateView.From(run.State, "Completed").Status);
        Assert.AreEqual("succeeded", GateView.From(run.State, "canary").Status);
        Assert.AreEqual("succeeded", GateView.From(run.State, "all").Status);
    }

    [TestMethod]
    public void From_StageName_PendingUntilEnteredThenSucceeded()
    {
        var run = new TestRollout(TestPlans.Engine());

        Assert.AreEqual("succeeded", GateView.From(run.State, "canary").Status, "the first stage is entered at start");
        var pending = GateView.From(run.State, "half");
        Assert.AreEqual("pending", pending.Status);
        StringAssert.Contains(pending.Message, "waiting for 'half'", StringComparison.Ordinal);

        run.Bake();

        var reached = GateView.From(run.State, " HALF ");
        Assert.AreEqual("succeeded", reached.Status);
        Assert.AreEqual("HALF", reached.Until);
        StringAssert.Contains(reached.Message, "stage 'half' reached", StringComparison.Ordinal);
        Assert.AreEqual("pending", GateView.From(run.State, "all").Status);
    }

    [TestMethod]
    public void From_PausedAfterReachingStage_StillSucceeded()
    {
        var run = new TestRollout(TestPlans.Engine());
        run.Bake();
        run.Step(new PauseCommand("dana@contoso.com", "hold"));

        Assert.AreEqual("succeeded", GateView.From(run.State, "half").Status);
        Assert.AreEqual("pending", GateView.From(run.State, "completed").Status);
        Assert.AreEqual("Paused", GateView.From(run.State, "completed").RolloutStatus);
    }

    [TestMethod]
    public void From_UnknownStage_Failed()
    {
        var run = new TestRollout(TestPlans.Engine());

        var view = GateView.From(run.State, "staging");

        Assert.AreEqual("failed", view.Status);
        StringAssert.Contains(view.Message, "no stage 'staging'", StringComparison.Ordinal);
    }

    [TestMethod]
    [DataRow("completed")]
    [DataRow("canary")]
    [DataRow("all")]
    public void From_RolledBack_FailedWithTheReason(string until)
    {
        var run = new TestRollout(TestPlans.Engine());
        run.Cycle(Outcome.Fail);
        run.Cycle(Outcome.Fail);
        Assert.AreEqual(RolloutStatus.RolledBack, run.State.Status, "setup");

        var view = GateView.From(run.State, until);

        Assert.AreEqual("failed", view.Status);
        StringAssert.StartsWith(view.Message, "rolled back: 2 consecutive failing", StringComparison.Ordinal);
    }

    [TestMethod]
    public void RolloutView_From_ProjectsTheState()
    {
        var run = new TestRollout(TestPlans.Approval);
        run.BakeUntilAwaitingApproval();

        var view = RolloutView.From(run.State);

        Assert.AreEqual("r-1", view.Id);
        Assert.AreEqual("dark-mode", view.Flag);
        Assert.AreEqual(RolloutStatus.AwaitingApproval, view.Status);
        Assert.AreEqual("internal", view.Stage);
        Assert.AreEqual(2, view.StageCount);
        Assert.AreEqual(0m, view.Percent);
        Assert.AreEqual(Outcome.Pass, view.LastEvaluation!.Outcome);
        CollectionAssert.AreEqual(new[] { "alex@contoso.com", "dana@contoso.com" }, view.Approvers.ToArray());
        Assert.AreEqual(run.Now + run.Interval, view.NextEvaluationAt);
    }
}
