using Rollout.Core.Api;
using Rollout.Core.Engine;
using Rollout.Functions.Orchestration;
using Rollout.Functions.Tests.Fakes;

namespace Rollout.Functions.Tests.Orchestration;

[TestClass]
public sealed class ReplayTests
{
    [TestMethod]
    public async Task Replay_SameHistory_GivesTheSameDecisionsWithoutRunningAnActivity()
    {
        await using var rig = await FunctionsRig.CreateAsync();
        var harness = await rig.StartAsync(TestPlans.WithApproval("replayed"));
        await harness.RunUntilAsync(h => h.Checkpoint.State.Status == RolloutStatus.AwaitingApproval);
        await rig.SendAsync(harness, "approve", new CommandBody(Approver: "mallory@contoso.com"));
        await rig.SendAsync(harness, "approve", new CommandBody(Approver: TestPlans.Approver));
        await harness.RunUntilAsync(h => h.IsCompleted);
        var executions = harness.ActivityExecutions.Count;

        Assert.IsTrue(harness.Generations.Count > 5);
        foreach (var (generation, index) in harness.Generations.Select((g, i) => (g, i)))
        {
            var replayed = harness.Replay(generation);
            CollectionAssert.AreEqual(generation.Actions.ToList(), replayed.ToList(), $"generation {index} decided differently on replay");
        }

        Assert.AreEqual(executions, harness.ActivityExecutions.Count, "a replay executed an activity");
    }

    [TestMethod]
    public async Task Replay_TimerInterruptedByACommand_GivesTheSameDecisions()
    {
        await using var rig = await FunctionsRig.CreateAsync();
        var harness = await rig.StartAsync(TestPlans.Days("replayed-pause"));
        await rig.SendAsync(harness, "pause", new CommandBody(Actor: "a@contoso.com", Reason: "r"), VirtualClock.T0 + TimeSpan.FromMinutes(3));
        await rig.SendAsync(harness, "rollback", new CommandBody(Actor: "a@contoso.com", Reason: "r"), VirtualClock.T0 + TimeSpan.FromHours(9));
        await harness.RunUntilAsync(h => h.IsCompleted);

        var interrupted = harness.Generations.Where(g => g.Actions.Any(a => a.Kind == "CancelTimer")).ToList();
        Assert.AreEqual(2, interrupted.Count);
        foreach (var generation in harness.Generations)
        {
            CollectionAssert.AreEqual(generation.Actions.ToList(), harness.Replay(generation).ToList());
        }
    }

    [TestMethod]
    public async Task Replay_DifferentActivityResult_ChangesTheDecisions()
    {
        // The comparison above means something: feed one generation a failing evaluation instead of a passing one.
        await using var rig = await FunctionsRig.CreateAsync();
        var harness = await rig.StartAsync(TestPlans.Days("tampered"));
        await harness.RunUntilAsync(h => h.Generations.Any(g => g.History.Any(e => e.Kind == "ActivityCompleted" && e.Name == nameof(RolloutActivities.EvaluateCriteria))));
        var original = harness.Generations.First(g => g.History.Any(e => e.Name == nameof(RolloutActivities.EvaluateCriteria)));
        var history = original.History.Select(e => e.Name == nameof(RolloutActivities.EvaluateCriteria)
            ? e with { Payload = e.Payload!.Replace("\"outcome\":\"Pass\"", "\"outcome\":\"Fail\"", StringComparison.Ordinal).Replace("0.001", "0.5", StringComparison.Ordinal) }
            : e).ToList();

        var replayed = harness.Replay(original with { History = history });

        Assert.AreNotEqual(original.Actions[^1], replayed[^1]);
        var next = FunctionsRig.Deserialize<RolloutCheckpoint>(replayed[^1].Detail);
        Assert.AreEqual(1, next.State.ConsecutiveFailures);
    }
}
