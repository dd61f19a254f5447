using Rollout.Core.Engine;
using Rollout.Core.Gates;
using Rollout.Core.Storage;
using Rollout.Functions.Orchestration;
using Rollout.Functions.Tests.Fakes;

namespace Rollout.Functions.Tests.Orchestration;

[TestClass]
public sealed class RolloutActivitiesTests
{
    [TestMethod]
    public async Task AppendAudit_RetriedAfterItLanded_WritesNothingMore()
    {
        await using var rig = await FunctionsRig.CreateAsync();
        var (state, _) = await CreateAsync(rig, "retried");
        var step = RolloutMachine.Step(state, new PauseCommand("a@contoso.com", "r", "c1"), rig.Clock.Now + TimeSpan.FromMinutes(1));
        var request = new AppendAuditRequest(step.State, step.Audit, null, StateChanged: true);

        await rig.Activities.AppendAudit(request, CancellationToken.None);
        await rig.Activities.AppendAudit(request, CancellationToken.None);

        var stored = await rig.Store.GetAsync(state.Id, CancellationToken.None);
        Assert.AreEqual(RolloutStatus.Paused, stored!.State.Status);
        Assert.AreEqual(1, (await rig.AuditAsync(state.Id)).Count(a => a.Type == AuditType.Paused));
    }

    [TestMethod]
    public async Task AppendAudit_StaleDuplicateOfAnOlderStep_WritesNothing()
    {
        await using var rig = await FunctionsRig.CreateAsync();
        var (state, _) = await CreateAsync(rig, "stale");
        var first = RolloutMachine.Step(state, new PauseCommand("a@contoso.com", "r"), rig.Clock.Now + TimeSpan.FromMinutes(1));
        var second = RolloutMachine.Step(first.State, new ResumeCommand("a@contoso.com"), rig.Clock.Now + TimeSpan.FromMinutes(2));
        await rig.Activities.AppendAudit(new(first.State, first.Audit, null, true), CancellationToken.None);
        await rig.Activities.AppendAudit(new(second.State, second.Audit, null, true), CancellationToken.None);

        await rig.Activities.AppendAudit(new(first.State, first.Audit, null, true), CancellationToken.None);

        Assert.AreEqual(RolloutStatus.Running, (await rig.StateAsync(state.Id)).Status);
        Assert.AreEqual(second.State.AuditSeq, (await rig.AuditAsync(state.Id)).Max(a => a.Seq));
    }

    [TestMethod]
    public async Task AppendAudit_RefusedCommand_RecordsOnlyTheAnswer()
    {
        await using var rig = await FunctionsRig.CreateAsync();
        var (state, version) = await CreateAsync(rig, "refused");
        var command = new StoredCommand(state.Id, "c9", "resume", "{\"actor\":\"a\"}", rig.Clock.Now, null);
        await rig.Store.AcceptCommandAsync(command, CancellationToken.None);
        var step = RolloutMachine.Step(state, new ResumeCommand("a", null, "c9"), rig.Clock.Now);
        Assert.AreEqual(CommandStatus.Conflict, step.Command!.Status);

        await rig.Activities.AppendAudit(new(step.State, step.Audit, command with { Result = step.Command }, StateChanged: false), CancellationToken.None);

        Assert.AreEqual(CommandStatus.Conflict, (await rig.AnswerAsync(state.Id, "c9"))!.Status);
        Assert.AreEqual(version, (await rig.Store.GetAsync(state.Id, CancellationToken.None))!.Version);
    }

    [TestMethod]
    public async Task EvaluateCriteria_ReadsTreatmentAndBaselineForTheStage()
    {
        await using var rig = await FunctionsRig.CreateAsync();
        var (state, _) = await CreateAsync(rig, "evaluated");
        var queries = new List<Core.Metrics.MetricQuery>();
        rig.Metrics.OnRead = q =>
        {
            lock (queries)
            {
                queries.Add(q);
            }
        };

        var evaluation = await rig.Activities.EvaluateCriteria(new EvaluateRequest(state, 0, state.StageStartedAt), CancellationToken.None);

        Assert.AreEqual(Outcome.Pass, evaluation.Outcome);
        Assert.AreEqual(rig.Clock.Now, evaluation.At);
        CollectionAssert.AreEquivalent(new[] { Core.Metrics.Cohort.Treatment, Core.Metrics.Cohort.Baseline }, queries.Select(q => q.Cohort).ToArray());
        Assert.IsTrue(queries.All(q => q.Stage == "internal" && q.Since == state.StageStartedAt && q.RolloutId == state.Id));
    }

    private static async Task<(RolloutState State, long Version)> CreateAsync(FunctionsRig rig, string flag)
    {
        var start = RolloutMachine.Start($"r-{flag}", FunctionsRig.Plan(TestPlans.Days(flag)), "a@contoso.com", rig.Clock.Now);
        await rig.Store.CreateAsync(start.State, start.Audit, CancellationToken.None);
        var stored = await rig.Store.GetAsync(start.State.Id, CancellationToken.None);
        return (stored!.State, stored.Version);
    }
}
