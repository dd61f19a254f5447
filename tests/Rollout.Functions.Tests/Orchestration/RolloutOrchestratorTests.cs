using System.Diagnostics;
using Rollout.Core.Api;
using Rollout.Core.Engine;
using Rollout.Core.Gates;
using Rollout.Core.Targeting;
using Rollout.Functions.Orchestration;
using Rollout.Functions.Tests.Fakes;

namespace Rollout.Functions.Tests.Orchestration;

[TestClass]
public sealed class RolloutOrchestratorTests
{
    [TestMethod]
    public async Task RunAsync_RolloutOfDays_CompletesInMillisecondsOnTheVirtualClock()
    {
        await using var rig = await FunctionsRig.CreateAsync();
        var watch = Stopwatch.StartNew();

        var harness = await rig.StartAsync(TestPlans.Days("checkout-v2"));
        await harness.RunUntilAsync(h => h.IsCompleted);
        watch.Stop();

        var state = await rig.StateAsync(harness.InstanceId);
        Assert.AreEqual(RolloutStatus.Completed, state.Status);
        Assert.AreEqual(3, state.StageIndex);
        Assert.IsTrue(rig.Clock.Now - VirtualClock.T0 >= TimeSpan.FromDays(6), $"only {rig.Clock.Now - VirtualClock.T0} of bake time passed");
        Assert.IsTrue(watch.Elapsed < TimeSpan.FromSeconds(20), $"six days took {watch.Elapsed} of wall time");
        var audit = await rig.AuditAsync(harness.InstanceId);
        CollectionAssert.AreEqual(new[] { "internal", "10%", "50%", "100%" }, audit.Where(a => a.Type == AuditType.StageEntered).Select(a => a.Details.GetProperty("stage").GetString()).ToArray());
        Assert.AreEqual(AuditType.Completed, audit[^1].Type);
        CollectionAssert.AreEqual(audit.Select(a => a.Seq).ToArray(), Enumerable.Range(1, audit.Count).Select(i => (long)i).ToArray(), "the audit log has a gap or a repeat");

        // Every stage's exposure was applied, in order, and the flag is on for anyone with a subject id now.
        CollectionAssert.AreEqual(new[] { 0, 1, 2, 3 }, rig.Exposure.Applied.Select(s => s.StageIndex).Distinct().ToArray());
        var (decision, _) = await rig.Flags.EvaluateAsync("checkout-v2", new SubjectContext("someone@fabrikam.com", null, null, null, null), CancellationToken.None);
        Assert.IsTrue(decision.Enabled);
        Assert.AreEqual(0, harness.LostEvents);
    }

    [TestMethod]
    public async Task RunAsync_EveryStep_EndsInContinueAsNewWithBoundedHistory()
    {
        await using var rig = await FunctionsRig.CreateAsync();
        var harness = await rig.StartAsync(TestPlans.Days("checkout-v2"));
        await harness.RunUntilAsync(h => h.IsCompleted);

        Assert.IsTrue(harness.Generations.Count > 30, $"only {harness.Generations.Count} generations");
        foreach (var (generation, index) in harness.Generations.Select((g, i) => (g, i)))
        {
            var stepped = generation.Actions.Any(a => a.Kind == "CallActivity" && (a.Detail.StartsWith(nameof(RolloutActivities.AppendAudit), StringComparison.Ordinal) || a.Detail.StartsWith(nameof(RolloutActivities.EvaluateCriteria), StringComparison.Ordinal)));
            if (stepped)
            {
                Assert.AreEqual("ContinueAsNew", generation.Actions[^1].Kind, $"generation {index} stepped but did not end in ContinueAsNew");
            }

            // One step per generation: at most one evaluation and one checkpoint, and a history that does not grow with the rollout.
            Assert.IsTrue(generation.Actions.Count(a => a.Detail.StartsWith(nameof(RolloutActivities.AppendAudit), StringComparison.Ordinal)) <= 1, $"generation {index} checkpointed twice");
            Assert.IsTrue(generation.History.Count <= 6, $"generation {index} has {generation.History.Count} history events");
        }

        // Only the last generation completes the orchestration, and it runs no step.
        Assert.IsTrue(harness.Generations.Take(harness.Generations.Count - 1).All(g => g.ContinuedAsNew));
        var last = harness.Generations[^1];
        Assert.IsFalse(last.ContinuedAsNew);
        Assert.IsFalse(last.Actions.Any(a => a.Kind == "CallActivity"));
    }

    [TestMethod]
    public async Task RunAsync_PauseEvent_InterruptsThePendingTimer()
    {
        await using var rig = await FunctionsRig.CreateAsync();
        var harness = await rig.StartAsync(TestPlans.Days("pause-me"));
        var wake = harness.Checkpoint.State.NextWakeAt!.Value;
        Assert.AreEqual(VirtualClock.T0 + TimeSpan.FromHours(4), wake);

        var pauseAt = VirtualClock.T0 + TimeSpan.FromMinutes(10);
        var commandId = await rig.SendAsync(harness, "pause", new CommandBody(Actor: "oncall@contoso.com", Reason: "checkout tickets"), pauseAt);
        await harness.AdvanceToAsync(pauseAt);

        var state = await rig.StateAsync(harness.InstanceId);
        Assert.AreEqual(RolloutStatus.Paused, state.Status);
        Assert.AreEqual(CommandStatus.Accepted, (await rig.AnswerAsync(harness.InstanceId, commandId))!.Status);
        var paused = (await rig.AuditAsync(harness.InstanceId)).Single(a => a.Type == AuditType.Paused);
        Assert.AreEqual(pauseAt, paused.At);

        // The generation that was waiting on the 4-hour timer ended at the pause: it cancelled the timer, ran no evaluation.
        var interrupted = harness.Generations.Single(g => g.History.Any(h => h.Kind == "EventRaised"));
        Assert.AreEqual(pauseAt, interrupted.EndedAt);
        Assert.IsTrue(interrupted.Actions.Any(a => a.Kind == "CreateTimer" && a.Detail.EndsWith(wake.ToString("O"), StringComparison.Ordinal)));
        Assert.IsTrue(interrupted.Actions.Any(a => a.Kind == "CancelTimer"));
        Assert.IsFalse(interrupted.History.Any(h => h.Kind == "TimerFired"));
        Assert.AreEqual(0, rig.Metrics.Reads);
        Assert.AreEqual("ContinueAsNew", interrupted.Actions[^1].Kind);
        Assert.IsTrue(rig.Notifier.Delivered.Any(n => n.Events.Any(e => e.Type == AuditType.Paused)));
    }

    [TestMethod]
    public async Task RunAsync_RollbackEvent_InterruptsTheTimerAndEndsTheOrchestration()
    {
        await using var rig = await FunctionsRig.CreateAsync();
        var harness = await rig.StartAsync(TestPlans.Days("roll-me-back"));
        await harness.AdvanceToAsync(VirtualClock.T0 + TimeSpan.FromDays(1.5)); // into stage 10%
        Assert.AreEqual(1, harness.Checkpoint.State.StageIndex);

        var at = rig.Clock.Now + TimeSpan.FromMinutes(7);
        await rig.SendAsync(harness, "rollback", new CommandBody(Actor: "alex@contoso.com", Reason: "error budget burning"), at);
        await harness.RunUntilAsync(h => h.IsCompleted);

        var state = await rig.StateAsync(harness.InstanceId);
        Assert.AreEqual(RolloutStatus.RolledBack, state.Status);
        Assert.AreEqual(0m, state.ExposedPercent);
        Assert.AreEqual(at, (await rig.AuditAsync(harness.InstanceId)).Single(a => a.Type == AuditType.RolledBack).At);
        Assert.AreEqual(RolloutStatus.RolledBack, rig.Exposure.Applied.Last().Status, "the rollback's exposure (nobody) was not applied");
        var (decision, _) = await rig.Flags.EvaluateAsync("roll-me-back", new SubjectContext("u1", ["internal"], null, null, null), CancellationToken.None);
        Assert.IsFalse(decision.Enabled, "the flag is still on after the rollback");
        Assert.IsTrue(rig.Notifier.Delivered.Any(n => n.Events.Any(e => e.Type == AuditType.RolledBack)));
    }

    [TestMethod]
    public async Task RunAsync_FailingMetrics_RollBackAtTheFailureLimit()
    {
        await using var rig = await FunctionsRig.CreateAsync();
        var harness = await rig.StartAsync(TestPlans.Days("bad-metrics"));
        rig.Failing();

        await harness.RunUntilAsync(h => h.IsCompleted);

        var state = await rig.StateAsync(harness.InstanceId);
        Assert.AreEqual(RolloutStatus.RolledBack, state.Status);
        CollectionAssert.AreEqual(new[] { Outcome.Fail, Outcome.Fail }, (await rig.EvaluationsAsync(harness.InstanceId)).ToArray());
        Assert.AreEqual(VirtualClock.T0 + TimeSpan.FromHours(8), rig.Clock.Now);
    }

    [TestMethod]
    public async Task RunAsync_ApprovalStage_WaitsForAnApproverAndRefusesOthers()
    {
        await using var rig = await FunctionsRig.CreateAsync();
        var harness = await rig.StartAsync(TestPlans.WithApproval("search-v3"));
        await harness.RunUntilAsync(h => h.Checkpoint.State.Status == RolloutStatus.AwaitingApproval);
        Assert.AreEqual(VirtualClock.T0 + TimeSpan.FromHours(1), rig.Clock.Now);

        var stranger = await rig.SendAsync(harness, "approve", new CommandBody(Approver: "mallory@contoso.com"));
        await harness.RunUntilIdleAsync();
        Assert.AreEqual(CommandStatus.Forbidden, (await rig.AnswerAsync(harness.InstanceId, stranger))!.Status);
        Assert.AreEqual(RolloutStatus.AwaitingApproval, (await rig.StateAsync(harness.InstanceId)).Status);

        var approver = await rig.SendAsync(harness, "approve", new CommandBody(Approver: TestPlans.Approver, Comment: "numbers look good"));
        await harness.RunUntilIdleAsync();
        Assert.AreEqual(CommandStatus.Accepted, (await rig.AnswerAsync(harness.InstanceId, approver))!.Status);
        var state = await rig.StateAsync(harness.InstanceId);
        Assert.AreEqual(1, state.StageIndex);
        Assert.AreEqual(RolloutStatus.Running, state.Status);

        await harness.RunUntilAsync(h => h.IsCompleted);
        Assert.AreEqual(RolloutStatus.Completed, (await rig.StateAsync(harness.InstanceId)).Status);
    }

    [TestMethod]
    public async Task RunAsync_CommandArrivingDuringAnEvaluation_IsCarriedToTheNextGeneration()
    {
        await using var rig = await FunctionsRig.CreateAsync();
        var harness = await rig.StartAsync(TestPlans.Days("busy"));
        string? commandId = null;
        rig.Metrics.OnRead = _ =>
        {
            if (commandId is null)
            {
                commandId = rig.SendAsync(harness, "pause", new CommandBody(Actor: "oncall@contoso.com", Reason: "paged")).GetAwaiter().GetResult();
            }
        };

        await harness.RunUntilAsync(h => h.Checkpoint.State.Status == RolloutStatus.Paused);

        // The evaluation that was running completed (and was recorded), then the pause was applied, nothing lost.
        Assert.AreEqual(CommandStatus.Accepted, (await rig.AnswerAsync(harness.InstanceId, commandId!))!.Status);
        var audit = await rig.AuditAsync(harness.InstanceId);
        var evaluated = audit.First(a => a.Type == AuditType.Evaluated);
        var paused = audit.Single(a => a.Type == AuditType.Paused);
        Assert.IsTrue(evaluated.Seq < paused.Seq);
        var carrying = harness.Generations.First(g => g.History.Any(h => h.Kind == "EventRaised"));
        Assert.IsNotNull(FunctionsRig.Deserialize<RolloutCheckpoint>(carrying.Actions[^1].Detail).PendingCommand, "the command was not carried over");
        Assert.AreEqual(0, harness.LostEvents);
    }

    [TestMethod]
    public async Task RunAsync_TwoCommandsAtOnce_AreBothAppliedInArrivalOrder()
    {
        await using var rig = await FunctionsRig.CreateAsync();
        var harness = await rig.StartAsync(TestPlans.Days("two-at-once"));
        var at = VirtualClock.T0 + TimeSpan.FromMinutes(1);
        var pause = await rig.SendAsync(harness, "pause", new CommandBody(Actor: "a@contoso.com", Reason: "look"), at);
        var resume = await rig.SendAsync(harness, "resume", new CommandBody(Actor: "b@contoso.com"), at);

        await harness.AdvanceToAsync(at);

        Assert.AreEqual(CommandStatus.Accepted, (await rig.AnswerAsync(harness.InstanceId, pause))!.Status);
        Assert.AreEqual(CommandStatus.Accepted, (await rig.AnswerAsync(harness.InstanceId, resume))!.Status);
        Assert.AreEqual(RolloutStatus.Running, (await rig.StateAsync(harness.InstanceId)).Status);
        var types = (await rig.AuditAsync(harness.InstanceId)).Select(a => a.Type).ToList();
        Assert.IsTrue(types.IndexOf(AuditType.Paused) < types.IndexOf(AuditType.Resumed));
    }

    [TestMethod]
    public async Task RunAsync_SameCommandIdTwice_IsAppliedOnce()
    {
        await using var rig = await FunctionsRig.CreateAsync();
        var harness = await rig.StartAsync(TestPlans.Days("dupes"));
        var body = new CommandBody(Signal: "oncall-paged", Source: "pagerduty", CommandId: "page-42");
        await rig.SendAsync(harness, "signals", body);
        await harness.RunUntilIdleAsync();
        await rig.SendAsync(harness, "signals", body);
        await harness.RunUntilIdleAsync();

        Assert.AreEqual(1, (await rig.AuditAsync(harness.InstanceId)).Count(a => a.Type == AuditType.SignalReceived));
        Assert.AreEqual(RolloutStatus.Paused, (await rig.StateAsync(harness.InstanceId)).Status);
    }

    [TestMethod]
    public async Task RunAsync_StoreDownDuringACheckpoint_RetriesTheStepLaterWithoutLosingTheCommand()
    {
        await using var rig = await FunctionsRig.CreateAsync();
        var harness = await rig.StartAsync(TestPlans.Days("flaky-store"));
        rig.Store.SaveFailuresLeft = 7; // more than one activity's retries (5 attempts)

        var commandId = await rig.SendAsync(harness, "pause", new CommandBody(Actor: "oncall@contoso.com", Reason: "store maintenance"));
        await harness.RunUntilAsync(h => h.Checkpoint.State.Status == RolloutStatus.Paused);

        Assert.AreEqual(0, rig.Store.SaveFailuresLeft);
        Assert.AreEqual(8, rig.Store.SaveAttempts);
        Assert.AreEqual(CommandStatus.Accepted, (await rig.AnswerAsync(harness.InstanceId, commandId))!.Status);
        Assert.AreEqual(1, (await rig.AuditAsync(harness.InstanceId)).Count(a => a.Type == AuditType.Paused));
        var backedOff = harness.Generations.Single(g => g.Actions[^1].Kind == "ContinueAsNew" && FunctionsRig.Deserialize<RolloutCheckpoint>(g.Actions[^1].Detail).RetryAt is not null);
        Assert.IsNotNull(FunctionsRig.Deserialize<RolloutCheckpoint>(backedOff.Actions[^1].Detail).PendingCommand);
    }

    [TestMethod]
    public async Task RunAsync_NotificationFailingTwice_IsRetriedByThePolicy()
    {
        await using var rig = await FunctionsRig.CreateAsync();
        var harness = await rig.StartAsync(TestPlans.Days("notify-retry"));
        rig.Notifier.FailuresLeft = 2;

        await rig.SendAsync(harness, "pause", new CommandBody(Actor: "a@contoso.com", Reason: "r"));
        await harness.RunUntilIdleAsync();

        Assert.AreEqual(3, harness.ActivityExecutions.Count(e => e.Name == nameof(RolloutActivities.Notify)));
        Assert.AreEqual(1, rig.Notifier.Delivered.Count);
        Assert.AreEqual(VirtualClock.T0 + TimeSpan.FromSeconds(5 + 10), rig.Clock.Now, "the retries did not wait the policy's back-off");
    }

    [TestMethod]
    public async Task RunAsync_NotificationsUndeliverable_DoNotStopTheRollout()
    {
        await using var rig = await FunctionsRig.CreateAsync();
        var harness = await rig.StartAsync(TestPlans.WithApproval("no-webhook"));
        rig.Notifier.FailuresLeft = int.MaxValue;

        await harness.RunUntilAsync(h => h.Checkpoint.State.Status == RolloutStatus.AwaitingApproval);

        Assert.IsTrue(rig.Notifier.Attempts >= 4);
        Assert.IsTrue(rig.Notifier.Delivered.IsEmpty);
        Assert.IsTrue((await rig.AuditAsync(harness.InstanceId)).Any(a => a.Type == AuditType.ApprovalRequested));
    }

    [TestMethod]
    public async Task RunAsync_EvaluationActivityFailing_CountsAsNoDataAndNeverPromotes()
    {
        await using var rig = await FunctionsRig.CreateAsync();
        var harness = await rig.StartAsync(TestPlans.Days("no-telemetry"));
        rig.Handlers[nameof(RolloutActivities.EvaluateCriteria)] = _ => throw new TimeoutException("metrics backend timed out");

        await harness.RunUntilAsync(h => h.Checkpoint.State.Status == RolloutStatus.Paused);

        var state = await rig.StateAsync(harness.InstanceId);
        Assert.AreEqual(0, state.StageIndex);
        CollectionAssert.AreEqual(new[] { Outcome.NoData, Outcome.NoData, Outcome.NoData }, (await rig.EvaluationsAsync(harness.InstanceId)).ToArray());
        StringAssert.Contains(state.LastEvaluation!.Criteria[0].Reason, "metrics backend timed out");
    }

    [TestMethod]
    public async Task RunAsync_ExposureTargetDown_RetriesTheExposureUntilItIsApplied()
    {
        await using var rig = await FunctionsRig.CreateAsync();
        rig.Exposure.FailuresLeft = 4; // the first generation's call (3 attempts) and the next one's first attempt
        var harness = await rig.StartAsync(TestPlans.Days("exposure-retry"));
        Assert.IsTrue(harness.Checkpoint.ExposureOwed);

        await harness.RunUntilAsync(h => !h.Checkpoint.ExposureOwed);

        // Applied by the second generation after its own back-off, long before the first evaluation was due.
        Assert.AreEqual(0, rig.Exposure.FailuresLeft);
        Assert.AreEqual(0, rig.Exposure.Applied.Single().StageIndex);
        var appliedAt = rig.Exposure.AppliedAt.Single();
        Assert.IsTrue(appliedAt > VirtualClock.T0 + RolloutOrchestrator.RetryDelay && appliedAt < VirtualClock.T0 + TimeSpan.FromMinutes(5), $"applied at {appliedAt}");
        var calls = harness.ActivityExecutions.Select(e => e.Name).ToList();
        Assert.AreEqual(5, calls.Count(n => n == nameof(RolloutActivities.ApplyExposure)));
        Assert.IsTrue(calls.LastIndexOf(nameof(RolloutActivities.ApplyExposure)) < calls.IndexOf(nameof(RolloutActivities.EvaluateCriteria)));
    }
}
