using Rollout.Core.Engine;
using Rollout.Core.Gates;

namespace Rollout.Core.Tests.Engine;

[TestClass]
public sealed class RolloutMachineTests
{
    private static readonly TimeSpan Interval = TimeSpan.FromMinutes(5);

    // ---- Start ----

    [TestMethod]
    public void Start_NewRollout_RunsInFirstStageAndAppliesItsExposure()
    {
        var plan = TestPlans.Engine();

        var result = RolloutMachine.Start("r-7", plan, "dana@contoso.com", TestTime.Start);

        var state = result.State;
        Assert.AreEqual("r-7", state.Id);
        Assert.AreEqual(RolloutStatus.Running, state.Status);
        Assert.AreEqual(0, state.StageIndex);
        Assert.AreEqual(TestTime.Start, state.StageStartedAt);
        Assert.AreEqual(TestTime.Start + Interval, state.NextEvaluationAt);
        Assert.AreEqual(TestTime.Start, state.CreatedAt);
        Assert.AreEqual(5m, state.ExposedPercent);
        CollectionAssert.AreEqual(new[] { AuditType.Started, AuditType.StageEntered, AuditType.ExposureApplied }, result.Audit.Select(a => a.Type).ToArray());
        CollectionAssert.AreEqual(new long[] { 1, 2, 3 }, result.Audit.Select(a => a.Seq).ToArray());
        Assert.AreEqual("dana@contoso.com", result.Audit[0].Actor);
        Assert.AreEqual("canary", result.Audit[1].Details.GetProperty("stage").GetString());
        CollectionAssert.AreEqual(new RolloutEffect[] { new ApplyExposure("search-ranking", 0) }, result.Effects.ToArray());
        Assert.IsNull(result.Command);
        Assert.IsTrue(result.Changed);
    }

    // ---- Tick ----

    [TestMethod]
    public void Tick_BeforeDue_NoEffectAndNoChange()
    {
        var run = new TestRollout(TestPlans.Engine());
        var before = run.State;
        run.Advance(Interval - TimeSpan.FromSeconds(1));

        var result = run.Step(new Tick());

        Assert.IsEmpty(result.Effects);
        Assert.IsEmpty(result.Audit);
        Assert.IsFalse(result.Changed);
        Assert.AreSame(before, result.State);
    }

    [TestMethod]
    public void Tick_WhenDue_AsksForEvaluationWithoutChangingState()
    {
        var run = new TestRollout(TestPlans.Engine());
        var before = run.State;
        run.Advance(Interval);

        var result = run.Step(new Tick());

        CollectionAssert.AreEqual(new RolloutEffect[] { new EvaluateCriteria(0, TestTime.Start) }, result.Effects.ToArray());
        Assert.IsEmpty(result.Audit);
        Assert.AreSame(before, result.State);
    }

    [TestMethod]
    public void Tick_InLaterStage_EvaluatesSinceThatStageBegan()
    {
        var run = new TestRollout(TestPlans.Engine());
        run.Bake();
        var stageOneStart = run.Now;
        Assert.AreEqual(1, run.State.StageIndex);
        run.Advance(Interval);

        var result = run.Step(new Tick());

        CollectionAssert.AreEqual(new RolloutEffect[] { new EvaluateCriteria(1, stageOneStart) }, result.Effects.ToArray());
    }

    [TestMethod]
    public void Tick_WhilePaused_StillAsksForEvaluation()
    {
        var run = new TestRollout(TestPlans.Engine());
        run.Step(new PauseCommand("dana@contoso.com", "investigating"));
        run.Advance(Interval);

        var result = run.Step(new Tick());

        Assert.AreEqual(RolloutStatus.Paused, result.State.Status);
        CollectionAssert.AreEqual(new RolloutEffect[] { new EvaluateCriteria(0, TestTime.Start) }, result.Effects.ToArray());
    }

    [TestMethod]
    public void Tick_AfterRollback_AsksNothing()
    {
        var run = new TestRollout(TestPlans.Engine());
        run.Step(new RollbackCommand("dana@contoso.com", "bad"));
        run.Advance(TimeSpan.FromDays(1));

        var result = run.Step(new Tick());

        Assert.IsEmpty(result.Effects);
        Assert.IsNull(result.State.NextWakeAt);
    }

    // ---- Evaluations and promotion ----

    [TestMethod]
    public void EvaluationCompleted_PassBeforeMinDuration_HoldsTheStage()
    {
        var run = new TestRollout(TestPlans.Engine());

        var result = run.Cycle(Outcome.Pass);

        Assert.AreEqual(0, result.State.StageIndex);
        Assert.AreEqual(RolloutStatus.Running, result.State.Status);
        CollectionAssert.AreEqual(new[] { AuditType.Evaluated }, result.Audit.Select(a => a.Type).ToArray());
        Assert.IsEmpty(result.Effects);
        Assert.AreEqual(Outcome.Pass, result.State.LastEvaluation!.Outcome);
        Assert.AreEqual(run.Now + Interval, result.State.NextEvaluationAt);
        Assert.AreEqual("monitor", result.Audit[0].Actor);
    }

    [TestMethod]
    public void EvaluationCompleted_PassOneSecondBeforeMinDuration_Holds()
    {
        var run = new TestRollout(TestPlans.Engine());
        run.Advance(TimeSpan.FromMinutes(10) - TimeSpan.FromSeconds(1));

        var result = run.Evaluate(Outcome.Pass);

        Assert.AreEqual(0, result.State.StageIndex);
        Assert.IsEmpty(result.Effects);
    }

    [TestMethod]
    public void EvaluationCompleted_PassAtMinDuration_PromotesToNextStage()
    {
        var run = new TestRollout(TestPlans.Engine());
        run.Cycle(Outcome.NoData);

        var result = run.Cycle(Outcome.Pass);

        Assert.AreEqual(TestTime.Start + TimeSpan.FromMinutes(10), run.Now);
        var state = result.State;
        Assert.AreEqual(1, state.StageIndex);
        Assert.AreEqual(RolloutStatus.Running, state.Status);
        Assert.AreEqual(run.Now, state.StageStartedAt);
        Assert.AreEqual(run.Now + Interval, state.NextEvaluationAt);
        Assert.IsNull(state.LastEvaluation);
        Assert.AreEqual(0, state.ConsecutiveNoData);
        Assert.AreEqual(50m, state.ExposedPercent);
        CollectionAssert.AreEqual(new[] { AuditType.Evaluated, AuditType.StageEntered, AuditType.ExposureApplied }, result.Audit.Select(a => a.Type).ToArray());
        Assert.AreEqual("half", result.Audit[1].Details.GetProperty("stage").GetString());
        CollectionAssert.AreEqual(new RolloutEffect[] { new ApplyExposure("search-ranking", 1) }, result.Effects.ToArray());
    }

    [TestMethod]
    public void EvaluationCompleted_NoDataAfterMinDuration_DoesNotPromote()
    {
        var run = new TestRollout(TestPlans.Engine());
        run.Advance(TimeSpan.FromHours(1));

        var result = run.Evaluate(Outcome.NoData);

        Assert.AreEqual(0, result.State.StageIndex);
        Assert.IsEmpty(result.Effects);
    }

    [TestMethod]
    public void EvaluationCompleted_PassInLastStage_CompletesWithoutEffects()
    {
        var run = new TestRollout(TestPlans.Engine());
        run.Bake();
        run.Bake();
        Assert.AreEqual(2, run.State.StageIndex);
        run.Cycle(Outcome.Pass);

        var result = run.Cycle(Outcome.Pass);

        Assert.AreEqual(RolloutStatus.Completed, result.State.Status);
        Assert.IsTrue(result.State.IsTerminal);
        Assert.IsNull(result.State.NextWakeAt);
        Assert.AreEqual(100m, result.State.ExposedPercent);
        CollectionAssert.AreEqual(new[] { AuditType.Evaluated, AuditType.Completed }, result.Audit.Select(a => a.Type).ToArray());
        Assert.IsEmpty(result.Effects);

        run.Advance(TimeSpan.FromHours(1));
        Assert.IsEmpty(run.Step(new Tick()).Effects);
        var late = run.Step(new EvaluationCompleted(TestEvaluations.Of(2, run.Now, Outcome.Fail)));
        Assert.IsEmpty(late.Audit);
        Assert.IsEmpty(late.Effects);
        Assert.AreEqual(RolloutStatus.Completed, late.State.Status);
    }

    [TestMethod]
    public void EvaluationCompleted_ForAnotherStage_Ignored()
    {
        var run = new TestRollout(TestPlans.Engine(failureLimit: 1));
        run.Bake();
        Assert.AreEqual(1, run.State.StageIndex);
        var before = run.State;
        run.Advance(Interval);

        var stale = run.Step(new EvaluationCompleted(TestEvaluations.Of(0, run.Now, Outcome.Fail)));

        Assert.AreSame(before, stale.State);
        Assert.IsEmpty(stale.Audit);
        Assert.IsEmpty(stale.Effects);
    }

    // ---- Approval ----

    [TestMethod]
    public void EvaluationCompleted_PassOnApprovalStage_AwaitsApprovalAndRequestsItOnce()
    {
        var run = new TestRollout(TestPlans.Approval);
        run.Cycle(Outcome.Pass);

        var first = run.Cycle(Outcome.Pass);

        Assert.AreEqual(RolloutStatus.AwaitingApproval, first.State.Status);
        Assert.AreEqual(0, first.State.StageIndex);
        CollectionAssert.AreEqual(new[] { AuditType.Evaluated, AuditType.ApprovalRequested }, first.Audit.Select(a => a.Type).ToArray());
        Assert.AreEqual(2, first.Audit[1].Details.GetProperty("approvers").GetArrayLength());
        Assert.IsEmpty(first.Effects);

        var second = run.Cycle(Outcome.Pass);
        var third = run.Cycle(Outcome.Pass);

        CollectionAssert.AreEqual(new[] { AuditType.Evaluated }, second.Audit.Select(a => a.Type).ToArray());
        CollectionAssert.AreEqual(new[] { AuditType.Evaluated }, third.Audit.Select(a => a.Type).ToArray());
        Assert.AreEqual(RolloutStatus.AwaitingApproval, third.State.Status);
        Assert.AreEqual(1, run.Audit.Count(a => a.Type == AuditType.ApprovalRequested));
    }

    [TestMethod]
    public void EvaluationCompleted_PassAfterResumingAPausedApproval_AwaitsAgainWithoutANewRequest()
    {
        var run = new TestRollout(TestPlans.Approval);
        run.BakeUntilAwaitingApproval();
        run.Step(new SignalCommand("oncall-paged", "pagerduty"));
        run.Step(new ResumeCommand("alex@contoso.com"));
        Assert.AreEqual(RolloutStatus.Running, run.State.Status, "setup");

        var result = run.Cycle(Outcome.Pass);

        Assert.AreEqual(RolloutStatus.AwaitingApproval, result.State.Status);
        CollectionAssert.AreEqual(new[] { AuditType.Evaluated }, result.Audit.Select(a => a.Type).ToArray());
        Assert.AreEqual(1, run.Audit.Count(a => a.Type == AuditType.ApprovalRequested));
    }

    [TestMethod]
    public void Approve_ListedApproverInAnotherCase_Promotes()
    {
        var run = new TestRollout(TestPlans.Approval);
        run.BakeUntilAwaitingApproval();

        var result = run.Step(new ApproveCommand(" DANA@Contoso.com ", "looks good"));

        Assert.AreEqual(CommandStatus.Accepted, result.Command!.Status);
        Assert.AreEqual(1, result.State.StageIndex);
        Assert.AreEqual(RolloutStatus.Running, result.State.Status);
        CollectionAssert.AreEqual(new[] { AuditType.Approved, AuditType.StageEntered, AuditType.ExposureApplied }, result.Audit.Select(a => a.Type).ToArray());
        Assert.AreEqual("DANA@Contoso.com", result.Audit[0].Actor);
        CollectionAssert.AreEqual(new RolloutEffect[] { new ApplyExposure("dark-mode", 1) }, result.Effects.ToArray());
        Assert.IsNull(result.State.ApprovedBy, "the next stage needs its own sign-off");
    }

    [TestMethod]
    public void Approve_SomeoneElse_ForbiddenAndNothingChanges()
    {
        var run = new TestRollout(TestPlans.Approval);
        run.BakeUntilAwaitingApproval();
        var before = run.State;

        var result = run.Step(new ApproveCommand("mallory@contoso.com"));

        Assert.AreEqual(CommandStatus.Forbidden, result.Command!.Status);
        Assert.IsFalse(result.Command.Succeeded);
        Assert.AreSame(before, result.State);
        Assert.IsEmpty(result.Audit);
        Assert.IsEmpty(result.Effects);
    }

    [TestMethod]
    public void Approve_ApproverOfAnotherStageOnly_Forbidden()
    {
        var run = new TestRollout(TestPlans.Approval);
        run.BakeUntilAwaitingApproval();
        run.Step(new ApproveCommand("dana@contoso.com"));
        run.BakeUntilAwaitingApproval();

        var result = run.Step(new ApproveCommand("dana@contoso.com"));

        Assert.AreEqual(CommandStatus.Forbidden, result.Command!.Status);
        Assert.AreEqual(RolloutStatus.AwaitingApproval, result.State.Status);
    }

    [TestMethod]
    public void Approve_WhenNotAwaitingApproval_Conflict()
    {
        var run = new TestRollout(TestPlans.Approval);
        run.Cycle(Outcome.Pass);
        var before = run.State;

        var result = run.Step(new ApproveCommand("alex@contoso.com"));

        Assert.AreEqual(CommandStatus.Conflict, result.Command!.Status);
        Assert.AreSame(before, result.State);
        Assert.IsEmpty(result.Audit);
    }

    [TestMethod]
    public void Approve_StageWithoutApproval_Conflict()
    {
        var run = new TestRollout(TestPlans.Engine());

        var result = run.Step(new ApproveCommand("dana@contoso.com"));

        Assert.AreEqual(CommandStatus.Conflict, result.Command!.Status);
        StringAssert.Contains(result.Command.Message, "needs no approval", StringComparison.Ordinal);
        Assert.IsEmpty(result.Audit);
    }

    [TestMethod]
    public void Approve_LastStage_Completes()
    {
        var run = new TestRollout(TestPlans.Approval);
        run.BakeUntilAwaitingApproval();
        run.Step(new ApproveCommand("alex@contoso.com"));
        run.BakeUntilAwaitingApproval();

        var result = run.Step(new ApproveCommand("alex@contoso.com"));

        Assert.AreEqual(RolloutStatus.Completed, result.State.Status);
        CollectionAssert.AreEqual(new[] { AuditType.Approved, AuditType.Completed }, result.Audit.Select(a => a.Type).ToArray());
        Assert.IsEmpty(result.Effects);
    }

    [TestMethod]
    public void Approve_WhileLatestEvaluationFails_PromotesAtNextPass()
    {
        var run = new TestRollout(TestPlans.Approval);
        run.BakeUntilAwaitingApproval();
        run.Cycle(Outcome.Fail);

        var approved = run.Step(new ApproveCommand("alex@contoso.com"));

        Assert.AreEqual(CommandStatus.Accepted, approved.Command!.Status);
        Assert.AreEqual(0, approved.State.StageIndex);
        Assert.AreEqual(RolloutStatus.Running, approved.State.Status);
        StringAssert.Contains(approved.Command.Message, "next passing evaluation", StringComparison.Ordinal);

        var next = run.Cycle(Outcome.Pass);

        Assert.AreEqual(1, next.State.StageIndex);
        CollectionAssert.AreEqual(new[] { AuditType.Evaluated, AuditType.StageEntered, AuditType.ExposureApplied }, next.Audit.Select(a => a.Type).ToArray());
    }

    // ---- Failure and no-data limits ----

    [TestMethod]
    public void EvaluationCompleted_FailuresReachLimit_RollsBack()
    {
        var run = new TestRollout(TestPlans.Engine());

        var first = run.Cycle(Outcome.Fail);
        Assert.AreEqual(RolloutStatus.Running, first.State.Status);
        Assert.AreEqual(1, first.State.ConsecutiveFailures);
        Assert.IsEmpty(first.Effects);

        var second = run.Cycle(Outcome.Fail);

        Assert.AreEqual(RolloutStatus.RolledBack, second.State.Status);
        Assert.AreEqual(0m, second.State.ExposedPercent);
        Assert.IsNull(second.State.NextWakeAt);
        StringAssert.Contains(second.State.StatusReason!, "2 consecutive failing evaluation(s) (failureLimit 2)", StringComparison.Ordinal);
        StringAssert.Contains(second.State.StatusReason!, "error-rate: 0.05 is above max 0.01", StringComparison.Ordinal);
        CollectionAssert.AreEqual(new[] { AuditType.Evaluated, AuditType.RolledBack, AuditType.ExposureApplied }, second.Audit.Select(a => a.Type).ToArray());
        Assert.AreEqual(RolloutMachine.SystemActor, second.Audit[1].Actor);
        CollectionAssert.AreEqual(new RolloutEffect[] { new ApplyExposure("search-ranking", null) }, second.Effects.ToArray());
    }

    [TestMethod]
    public void EvaluationCompleted_FailuresReachLimitWithPausePolicy_Pauses()
    {
        var run = new TestRollout(TestPlans.Engine(onFailure: "pause", failureLimit: 3));
        run.Cycle(Outcome.Fail);
        run.Cycle(Outcome.Fail);
        Assert.AreEqual(RolloutStatus.Running, run.State.Status);

        var third = run.Cycle(Outcome.Fail);

        Assert.AreEqual(RolloutStatus.Paused, third.State.Status);
        CollectionAssert.AreEqual(new[] { AuditType.Evaluated, AuditType.Paused }, third.Audit.Select(a => a.Type).ToArray());
        Assert.IsEmpty(third.Effects, "a pause holds exposure");
        StringAssert.Contains(third.State.StatusReason!, "failureLimit 3", StringComparison.Ordinal);

        var fourth = run.Cycle(Outcome.Fail);
        CollectionAssert.AreEqual(new[] { AuditType.Evaluated }, fourth.Audit.Select(a => a.Type).ToArray(), "already paused: no second pause");
    }

    [TestMethod]
    public void EvaluationCompleted_NoDataReachesLimit_Pauses()
    {
        var run = new TestRollout(TestPlans.Engine(noDataLimit: 3));
        run.Cycle(Outcome.NoData);
        run.Cycle(Outcome.NoData);
        Assert.AreEqual(RolloutStatus.Running, run.State.Status);
        Assert.AreEqual(2, run.State.ConsecutiveNoData);

        var third = run.Cycle(Outcome.NoData);

        Assert.AreEqual(RolloutStatus.Paused, third.State.Status);
        CollectionAssert.AreEqual(new[] { AuditType.Evaluated, AuditType.Paused }, third.Audit.Select(a => a.Type).ToArray());
        StringAssert.Contains(third.State.StatusReason!, "3 consecutive evaluation(s) without data (noDataLimit 3)", StringComparison.Ordinal);
    }

    [TestMethod]
    public void EvaluationCompleted_NoDataReachesLimitWithRollbackPolicy_RollsBack()
    {
        var run = new TestRollout(TestPlans.Engine(onNoData: "rollback", noDataLimit: 2));
        run.Cycle(Outcome.NoData);

        var second = run.Cycle(Outcome.NoData);

        Assert.AreEqual(RolloutStatus.RolledBack, second.State.Status);
        CollectionAssert.AreEqual(new RolloutEffect[] { new ApplyExposure("search-ranking", null) }, second.Effects.ToArray());
    }

    [TestMethod]
    public void EvaluationCompleted_NoDataBetweenFailures_KeepsTheFailureCount()
    {
        var run = new TestRollout(TestPlans.Engine(failureLimit: 2));
        run.Cycle(Outcome.Fail);
        var noData = run.Cycle(Outcome.NoData);
        Assert.AreEqual(1, noData.State.ConsecutiveFailures);

        var result = run.Cycle(Outcome.Fail);

        Assert.AreEqual(RolloutStatus.RolledBack, result.State.Status);
    }

    [TestMethod]
    public void EvaluationCompleted_PassBetweenFailures_ResetsTheFailureCount()
    {
        var run = new TestRollout(TestPlans.Engine(failureLimit: 2));
        run.Cycle(Outcome.Fail);
        var pass = run.Cycle(Outcome.Pass);
        Assert.AreEqual(0, pass.State.ConsecutiveFailures);

        var result = run.Cycle(Outcome.Fail);

        Assert.AreEqual(RolloutStatus.Running, result.State.Status);
        Assert.AreEqual(1, result.State.ConsecutiveFailures);
    }

    [TestMethod]
    public void EvaluationCompleted_FailBetweenNoData_ResetsTheNoDataCount()
    {
        var run = new TestRollout(TestPlans.Engine(failureLimit: 5, noDataLimit: 3));
        run.Cycle(Outcome.NoData);
        run.Cycle(Outcome.NoData);
        run.Cycle(Outcome.Fail);

        var result = run.Cycle(Outcome.NoData);

        Assert.AreEqual(RolloutStatus.Running, result.State.Status);
        Assert.AreEqual(1, result.State.ConsecutiveNoData);
        Assert.AreEqual(1, result.State.ConsecutiveFailures);
    }

    // ---- Pause, resume, rollback ----

    [TestMethod]
    public void Pause_WhileRunning_HoldsExposureAndStopsPromotion()
    {
        var run = new TestRollout(TestPlans.Engine());

        var paused = run.Step(new PauseCommand("dana@contoso.com", "support tickets"));

        Assert.AreEqual(CommandStatus.Accepted, paused.Command!.Status);
        Assert.AreEqual(RolloutStatus.Paused, paused.State.Status);
        Assert.AreEqual("support tickets", paused.State.StatusReason);
        CollectionAssert.AreEqual(new[] { AuditType.Paused }, paused.Audit.Select(a => a.Type).ToArray());
        Assert.AreEqual("dana@contoso.com", paused.Audit[0].Actor);
        Assert.IsEmpty(paused.Effects);

        run.Cycle(Outcome.Pass);
        var afterBake = run.Cycle(Outcome.Pass);

        Assert.AreEqual(0, afterBake.State.StageIndex, "a paused rollout is never promoted");
        Assert.AreEqual(RolloutStatus.Paused, afterBake.State.Status);
    }

    [TestMethod]
    public void Pause_WhenAlreadyPaused_AcceptedWithoutNewAudit()
    {
        var run = new TestRollout(TestPlans.Engine());
        run.Step(new PauseCommand("dana@contoso.com", "first"));

        var again = run.Step(new PauseCommand("alex@contoso.com", "second"));

        Assert.AreEqual(CommandStatus.Accepted, again.Command!.Status);
        Assert.IsEmpty(again.Audit);
        Assert.AreEqual("first", again.State.StatusReason);
    }

    [TestMethod]
    public void Resume_WhenPaused_RunsAgainAndResetsCounters()
    {
        var run = new TestRollout(TestPlans.Engine(failureLimit: 2, noDataLimit: 3));
        run.Cycle(Outcome.NoData);
        run.Cycle(Outcome.Fail);
        run.Step(new PauseCommand("dana@contoso.com", "look"));
        Assert.AreEqual(1, run.State.ConsecutiveFailures);

        var resumed = run.Step(new ResumeCommand("dana@contoso.com", "fixed"));

        Assert.AreEqual(CommandStatus.Accepted, resumed.Command!.Status);
        Assert.AreEqual(RolloutStatus.Running, resumed.State.Status);
        Assert.IsNull(resumed.State.StatusReason);
        Assert.AreEqual(0, resumed.State.ConsecutiveFailures);
        Assert.AreEqual(0, resumed.State.ConsecutiveNoData);
        CollectionAssert.AreEqual(new[] { AuditType.Resumed }, resumed.Audit.Select(a => a.Type).ToArray());

        var oneFailure = run.Cycle(Outcome.Fail);
        Assert.AreEqual(RolloutStatus.Running, oneFailure.State.Status, "the failure streak restarted at resume");
    }

    [TestMethod]
    public void Resume_AfterPauseAtBakeEnd_NextPassPromotes()
    {
        var run = new TestRollout(TestPlans.Engine());
        run.Step(new PauseCommand("dana@contoso.com", "hold"));
        run.Cycle(Outcome.Pass);
        run.Cycle(Outcome.Pass);
        run.Step(new ResumeCommand("dana@contoso.com"));

        var result = run.Cycle(Outcome.Pass);

        Assert.AreEqual(1, result.State.StageIndex);
    }

    [TestMethod]
    public void Resume_WhenRunning_Conflict()
    {
        var run = new TestRollout(TestPlans.Engine());
        var before = run.State;

        var result = run.Step(new ResumeCommand("dana@contoso.com"));

        Assert.AreEqual(CommandStatus.Conflict, result.Command!.Status);
        Assert.AreSame(before, result.State);
        Assert.IsEmpty(result.Audit);
    }

    [TestMethod]
    public void Resume_WhenAwaitingApproval_Conflict()
    {
        var run = new TestRollout(TestPlans.Approval);
        run.BakeUntilAwaitingApproval();

        var result = run.Step(new ResumeCommand("alex@contoso.com"));

        Assert.AreEqual(CommandStatus.Conflict, result.Command!.Status);
        Assert.AreEqual(RolloutStatus.AwaitingApproval, result.State.Status);
    }

    [TestMethod]
    [DataRow(RolloutStatus.Running)]
    [DataRow(RolloutStatus.Paused)]
    [DataRow(RolloutStatus.AwaitingApproval)]
    public void Rollback_FromLiveStatus_ExposureToNobody(RolloutStatus from)
    {
        var run = new TestRollout(TestPlans.Approval);
        if (from == RolloutStatus.Paused)
        {
            run.Step(new PauseCommand("alex@contoso.com", "hold"));
        }
        else if (from == RolloutStatus.AwaitingApproval)
        {
            run.BakeUntilAwaitingApproval();
        }

        Assert.AreEqual(from, run.State.Status, "setup");

        var result = run.Step(new RollbackCommand("dana@contoso.com", "checkout errors"));

        Assert.AreEqual(CommandStatus.Accepted, result.Command!.Status);
        Assert.AreEqual(RolloutStatus.RolledBack, result.State.Status);
        Assert.AreEqual("checkout errors", result.State.StatusReason);
        Assert.AreEqual(0m, result.State.ExposedPercent);
        CollectionAssert.AreEqual(new[] { AuditType.RolledBack, AuditType.ExposureApplied }, result.Audit.Select(a => a.Type).ToArray());
        Assert.AreEqual("dana@contoso.com", result.Audit[0].Actor);
        CollectionAssert.AreEqual(new RolloutEffect[] { new ApplyExposure("dark-mode", null) }, result.Effects.ToArray());
    }

    [TestMethod]
    [DataRow(RolloutStatus.Completed, "pause")]
    [DataRow(RolloutStatus.Completed, "resume")]
    [DataRow(RolloutStatus.Completed, "rollback")]
    [DataRow(RolloutStatus.Completed, "approve")]
    [DataRow(RolloutStatus.Completed, "signal")]
    [DataRow(RolloutStatus.RolledBack, "pause")]
    [DataRow(RolloutStatus.RolledBack, "resume")]
    [DataRow(RolloutStatus.RolledBack, "rollback")]
    [DataRow(RolloutStatus.RolledBack, "approve")]
    [DataRow(RolloutStatus.RolledBack, "signal")]
    public void Command_OnFinishedRollout_ConflictAndNothingChanges(RolloutStatus finished, string kind)
    {
        var run = new TestRollout(TestPlans.Approval);
        if (finished == RolloutStatus.Completed)
        {
            run.BakeUntilAwaitingApproval();
            run.Step(new ApproveCommand("alex@contoso.com"));
            run.BakeUntilAwaitingApproval();
            run.Step(new ApproveCommand("alex@contoso.com"));
        }
        else
        {
            run.Step(new RollbackCommand("alex@contoso.com", "stop"));
        }

        Assert.AreEqual(finished, run.State.Status, "setup");
        var before = run.State;
        RolloutCommand command = kind switch
        {
            "pause" => new PauseCommand("alex@contoso.com", "late", "c-late"),
            "resume" => new ResumeCommand("alex@contoso.com", null, "c-late"),
            "rollback" => new RollbackCommand("alex@contoso.com", "late", "c-late"),
            "approve" => new ApproveCommand("alex@contoso.com", null, "c-late"),
            _ => new SignalCommand("critical-issue", "pager", null, "c-late"),
        };
        Assert.AreEqual(kind, command.Kind);

        var result = run.Step(command);

        Assert.AreEqual(CommandStatus.Conflict, result.Command!.Status);
        Assert.AreSame(before, result.State);
        Assert.IsEmpty(result.Audit);
        Assert.IsEmpty(result.Effects);
    }

    // ---- Signals ----

    [TestMethod]
    [DataRow("critical-issue")]
    [DataRow("CRITICAL-Issue")]
    public void Signal_ListedWithRollback_RollsBack(string signal)
    {
        var run = new TestRollout(TestPlans.Engine());

        var result = run.Step(new SignalCommand(signal, "sentry", "spike in 500s"));

        Assert.AreEqual(CommandStatus.Accepted, result.Command!.Status);
        Assert.AreEqual(RolloutStatus.RolledBack, result.State.Status);
        StringAssert.Contains(result.State.StatusReason!, "from sentry: spike in 500s", StringComparison.Ordinal);
        CollectionAssert.AreEqual(new[] { AuditType.SignalReceived, AuditType.RolledBack, AuditType.ExposureApplied }, result.Audit.Select(a => a.Type).ToArray());
        Assert.AreEqual("sentry", result.Audit[0].Actor);
        Assert.AreEqual("rollback", result.Audit[0].Details.GetProperty("action").GetString());
        CollectionAssert.AreEqual(new RolloutEffect[] { new ApplyExposure("search-ranking", null) }, result.Effects.ToArray());
    }

    [TestMethod]
    public void Signal_ListedWithPause_Pauses()
    {
        var run = new TestRollout(TestPlans.Engine());

        var result = run.Step(new SignalCommand("oncall-paged", "pagerduty"));

        Assert.AreEqual(RolloutStatus.Paused, result.State.Status);
        CollectionAssert.AreEqual(new[] { AuditType.SignalReceived, AuditType.Paused }, result.Audit.Select(a => a.Type).ToArray());
        Assert.IsEmpty(result.Effects);
    }

    [TestMethod]
    public void Signal_ListedWithRollbackWhilePaused_RollsBack()
    {
        var run = new TestRollout(TestPlans.Engine());
        run.Step(new SignalCommand("oncall-paged", "pagerduty"));

        var result = run.Step(new SignalCommand("critical-issue", "pagerduty"));

        Assert.AreEqual(RolloutStatus.RolledBack, result.State.Status);
    }

    [TestMethod]
    public void Signal_NotInStopOn_OnlyRecorded()
    {
        var run = new TestRollout(TestPlans.Engine());

        var result = run.Step(new SignalCommand("deploy-finished", "pipeline"));

        Assert.AreEqual(CommandStatus.Accepted, result.Command!.Status);
        Assert.AreEqual(RolloutStatus.Running, result.State.Status);
        CollectionAssert.AreEqual(new[] { AuditType.SignalReceived }, result.Audit.Select(a => a.Type).ToArray());
        StringAssert.StartsWith(result.Audit[0].Details.GetProperty("action").GetString()!, "none", StringComparison.Ordinal);
        Assert.IsEmpty(result.Effects);
    }

    // ---- Idempotency ----

    [TestMethod]
    public void Command_RepeatedCommandId_DuplicateWithoutNewAudit()
    {
        var run = new TestRollout(TestPlans.Engine());
        run.Step(new PauseCommand("dana@contoso.com", "hold", "cmd-1"));
        run.Step(new ResumeCommand("dana@contoso.com", null, "cmd-2"));
        var before = run.State;
        var auditCount = run.Audit.Count;

        var retry = run.Step(new PauseCommand("dana@contoso.com", "hold", "cmd-1"));

        Assert.AreEqual(CommandStatus.Duplicate, retry.Command!.Status);
        Assert.IsTrue(retry.Command.Succeeded);
        Assert.AreEqual(RolloutStatus.Running, retry.State.Status);
        Assert.AreSame(before, retry.State);
        Assert.IsEmpty(retry.Audit);
        Assert.HasCount(auditCount, run.Audit);
    }

    [TestMethod]
    public void Command_RetriedRollbackAfterItEnded_DuplicateNotConflict()
    {
        var run = new TestRollout(TestPlans.Engine());
        run.Step(new RollbackCommand("dana@contoso.com", "bad", "cmd-9"));

        var retry = run.Step(new RollbackCommand("dana@contoso.com", "bad", "cmd-9"));

        Assert.AreEqual(CommandStatus.Duplicate, retry.Command!.Status);
        Assert.IsEmpty(retry.Audit);
        Assert.IsEmpty(retry.Effects);
    }

    [TestMethod]
    public void Command_RefusedWithCommandId_NotRememberedSoARetryIsJudgedAgain()
    {
        var run = new TestRollout(TestPlans.Approval);
        var refused = run.Step(new ApproveCommand("alex@contoso.com", null, "cmd-a"));
        Assert.AreEqual(CommandStatus.Conflict, refused.Command!.Status);
        run.BakeUntilAwaitingApproval();

        var retry = run.Step(new ApproveCommand("alex@contoso.com", null, "cmd-a"));

        Assert.AreEqual(CommandStatus.Accepted, retry.Command!.Status);
        Assert.AreEqual(1, retry.State.StageIndex);
    }

    [TestMethod]
    public void Pause_WhenAlreadyPausedWithCommandId_ReportsTheStateChange()
    {
        var run = new TestRollout(TestPlans.Engine());
        run.Step(new PauseCommand("dana@contoso.com", "first"));
        var before = run.State;

        var again = run.Step(new PauseCommand("alex@contoso.com", "second", "cmd-7"));

        Assert.AreNotEqual(before.RecentCommandIds.Length, again.State.RecentCommandIds.Length);
        Assert.IsTrue(again.Changed, "the state gained a command id, so the step must be persisted");
    }

    // ---- Audit log over a whole run ----

    [TestMethod]
    public void Audit_MixedRun_SeqContiguousAndTimesInOrder()
    {
        var run = new TestRollout(TestPlans.Approval);
        run.Cycle(Outcome.NoData);
        run.Step(new SignalCommand("deploy-finished", "pipeline"));
        run.Cycle(Outcome.Fail);
        run.Step(new PauseCommand("dana@contoso.com", "look"));
        run.Step(new ResumeCommand("dana@contoso.com"));
        run.BakeUntilAwaitingApproval();
        run.Step(new ApproveCommand("mallory@contoso.com"));
        run.Step(new ApproveCommand("alex@contoso.com"));
        run.Cycle(Outcome.Fail);
        run.Cycle(Outcome.Fail);

        Assert.AreEqual(RolloutStatus.RolledBack, run.State.Status);
        CollectionAssert.AreEqual(Enumerable.Range(1, run.Audit.Count).Select(i => (long)i).ToArray(), run.Audit.Select(a => a.Seq).ToArray());
        Assert.AreEqual(run.Audit[^1].Seq, run.State.AuditSeq);
        for (var i = 1; i < run.Audit.Count; i++)
        {
            Assert.IsTrue(run.Audit[i].At >= run.Audit[i - 1].At, $"audit {i} goes back in time");
        }

        Assert.AreEqual(run.Audit[^1].At, run.State.UpdatedAt);
    }

    [TestMethod]
    public void Step_ShortPlanToCompletion_ExactAuditTrail()
    {
        var run = new TestRollout(TestPlans.Approval);

        RunToEnd(run, "alex@contoso.com");

        CollectionAssert.AreEqual(
            new[]
            {
                AuditType.Started, AuditType.StageEntered, AuditType.ExposureApplied,
                AuditType.Evaluated, AuditType.Evaluated, AuditType.ApprovalRequested, AuditType.Approved,
                AuditType.StageEntered, AuditType.ExposureApplied,
                AuditType.Evaluated, AuditType.Evaluated, AuditType.ApprovalRequested, AuditType.Approved,
                AuditType.Completed,
            },
            run.AuditTypes.ToArray());
        Assert.AreEqual(TestTime.Start + TimeSpan.FromMinutes(20), run.Now);
    }

    [TestMethod]
    public void Step_SamplePlanToCompletion_AuditTrailFollowsThePlan()
    {
        var plan = TestPlans.Sample;
        var run = new TestRollout(plan, "checkout-v2-1");

        RunToEnd(run, "dana@contoso.com", approverOfInternal: "alex@contoso.com");

        Assert.AreEqual(RolloutStatus.Completed, run.State.Status);
        // Checks every 5 minutes: 8h = 96 checks, 2d = 576, 7d = 2016; the check that lands on the bake time promotes.
        var expected = new (AuditType Type, int Count)[]
        {
            (AuditType.Started, 1), (AuditType.StageEntered, 1), (AuditType.ExposureApplied, 1),
            (AuditType.Evaluated, 96), (AuditType.ApprovalRequested, 1), (AuditType.Approved, 1), (AuditType.StageEntered, 1), (AuditType.ExposureApplied, 1),
            (AuditType.Evaluated, 576), (AuditType.ApprovalRequested, 1), (AuditType.Approved, 1), (AuditType.StageEntered, 1), (AuditType.ExposureApplied, 1),
            (AuditType.Evaluated, 2016), (AuditType.StageEntered, 1), (AuditType.ExposureApplied, 1),
            (AuditType.Evaluated, 576), (AuditType.StageEntered, 1), (AuditType.ExposureApplied, 1),
            (AuditType.Evaluated, 576), (AuditType.StageEntered, 1), (AuditType.ExposureApplied, 1),
            (AuditType.Evaluated, 576), (AuditType.Completed, 1),
        };
        CollectionAssert.AreEqual(expected, RunLengths(run.AuditTypes).ToArray());
        CollectionAssert.AreEqual(
            new int?[] { 0, 1, 2, 3, 4, 5 },
            run.Effects.OfType<ApplyExposure>().Select(e => e.StageIndex).ToArray());
        Assert.IsTrue(run.Effects.OfType<ApplyExposure>().All(e => e.Flag == "checkout-v2"));
        Assert.AreEqual(TestTime.Start + TimeSpan.FromDays(15) + TimeSpan.FromHours(8), run.Now);
        CollectionAssert.AreEqual(Enumerable.Range(1, run.Audit.Count).Select(i => (long)i).ToArray(), run.Audit.Select(a => a.Seq).ToArray());
        CollectionAssert.AreEqual(
            new[] { "alex@contoso.com", "dana@contoso.com" },
            run.Audit.Where(a => a.Type == AuditType.Approved).Select(a => a.Actor).ToArray());
    }

    /// <summary>Drives a rollout as a host would: tick every interval, answer evaluations with a pass, approve when asked.</summary>
    private static void RunToEnd(TestRollout run, string approver, string? approverOfInternal = null)
    {
        for (var guard = 0; !run.State.IsTerminal; guard++)
        {
            Assert.IsLessThan(100_000, guard, "the rollout never finished");
            run.Advance(run.Interval);
            foreach (var request in run.Step(new Tick()).Effects.OfType<EvaluateCriteria>())
            {
                run.Step(new EvaluationCompleted(TestEvaluations.Of(request.StageIndex, run.Now, Outcome.Pass)));
            }

            if (run.State.Status == RolloutStatus.AwaitingApproval)
            {
                var who = run.State.StageIndex == 0 && approverOfInternal is not null ? approverOfInternal : approver;
                Assert.AreEqual(CommandStatus.Accepted, run.Step(new ApproveCommand(who)).Command!.Status);
            }
        }
    }

    private static IEnumerable<(AuditType Type, int Count)> RunLengths(IEnumerable<AuditType> types)
    {
        AuditType? current = null;
        var count = 0;
        foreach (var type in types)
        {
            if (type == current)
            {
                count++;
                continue;
            }

            if (current is { } previous)
            {
                yield return (previous, count);
            }

            (current, count) = (type, 1);
        }

        if (current is { } last)
        {
            yield return (last, count);
        }
    }
}
