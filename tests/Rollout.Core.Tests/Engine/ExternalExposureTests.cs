using System.Collections.Immutable;
using Rollout.Core.Engine;
using Rollout.Core.Gates;
using Rollout.Core.Metrics;
using Rollout.Core.Plans;

namespace Rollout.Core.Tests.Engine;

[TestClass]
public sealed class ExternalExposureTests
{
    private static readonly DateTimeOffset T0 = new(2026, 3, 1, 10, 0, 0, TimeSpan.Zero);

    private static RolloutPlan Plan(string extra) => PlanParser.Parse($$"""
        { "name": "p", "flag": "f", "stages": [
            { "name": "a", "audience": { "users": ["alice"] }, "minDuration": "1h" },
            { "name": "b", "percent": 50, "minDuration": "1h" } ]{{extra}} }
        """, false, new MetricSourceCatalog([MetricSourceSchema.Http])).Plan!;

    private static Evaluation Pass(int stage, DateTimeOffset at) => new(at, stage, [new CriterionResult("c", Outcome.Pass, 0.001, null, 100, null, "ok")]);

    [TestMethod]
    public void EvaluationCompleted_ExternalExposureNotConfirmed_HoldsTheStage()
    {
        var started = RolloutMachine.Start("r", Plan(""", "exposure": { "type": "webhook", "url": "https://hooks.example/flags" }"""), "alex", T0).State;

        var result = RolloutMachine.Step(started, new EvaluationCompleted(Pass(0, T0.AddHours(2))), T0.AddHours(2));

        Assert.IsTrue(started.ExposurePending);
        Assert.AreEqual(0, result.State.StageIndex);
        Assert.AreEqual(RolloutStatus.Running, result.State.Status);
    }

    [TestMethod]
    public void ExposureConfirmed_ThenBakeTimeFromConfirmation_Promotes()
    {
        var started = RolloutMachine.Start("r", Plan(""", "exposure": { "type": "webhook", "url": "https://hooks.example/flags" }"""), "alex", T0).State;

        var confirmed = RolloutMachine.Step(started, new ExposureConfirmed(0, "webhook"), T0.AddMinutes(30));
        var tooEarly = RolloutMachine.Step(confirmed.State, new EvaluationCompleted(Pass(0, T0.AddHours(1))), T0.AddHours(1));
        var baked = RolloutMachine.Step(tooEarly.State, new EvaluationCompleted(Pass(0, T0.AddMinutes(91))), T0.AddMinutes(91));

        Assert.AreEqual(AuditType.ExposureConfirmed, confirmed.Audit.Single().Type);
        Assert.IsFalse(confirmed.State.ExposurePending);
        Assert.AreEqual(0, tooEarly.State.StageIndex, "the stage bakes from the confirmation, not from the stage's start");
        Assert.AreEqual(1, baked.State.StageIndex);
        Assert.IsTrue(baked.State.ExposurePending, "the new stage's exposure is owed");
        CollectionAssert.Contains(baked.Effects.ToArray(), new ApplyExposure("f", 1));
    }

    [TestMethod]
    public void ExposureConfirmed_StaleOrRepeated_ChangesNothing()
    {
        var started = RolloutMachine.Start("r", Plan(""", "exposure": { "type": "webhook", "url": "https://hooks.example/flags" }"""), "alex", T0).State;
        var confirmed = RolloutMachine.Step(started, new ExposureConfirmed(0, "webhook"), T0).State;

        Assert.IsFalse(RolloutMachine.Step(confirmed, new ExposureConfirmed(0, "webhook"), T0.AddMinutes(1)).Changed);
        Assert.IsFalse(RolloutMachine.Step(started, new ExposureConfirmed(1, "webhook"), T0).Changed);
        Assert.IsFalse(RolloutMachine.Step(started, new ExposureConfirmed(null, "webhook"), T0).Changed);
    }

    [TestMethod]
    public void Rollback_ExternalExposure_OwesNobodyUntilConfirmed()
    {
        var started = RolloutMachine.Start("r", Plan(""", "exposure": { "type": "webhook", "url": "https://hooks.example/flags" }"""), "alex", T0).State;
        var confirmed = RolloutMachine.Step(started, new ExposureConfirmed(0, "webhook"), T0).State;

        var rolledBack = RolloutMachine.Step(confirmed, new RollbackCommand("gal", "incident"), T0.AddMinutes(5)).State;
        var done = RolloutMachine.Step(rolledBack, new ExposureConfirmed(null, "webhook"), T0.AddMinutes(6)).State;

        Assert.IsTrue(rolledBack.ExposurePending);
        Assert.IsNull(rolledBack.DesiredExposureStage);
        Assert.IsFalse(done.ExposurePending);
    }

    [TestMethod]
    public void Start_BuiltInStore_NeedsNoConfirmation()
    {
        var started = RolloutMachine.Start("r", Plan(string.Empty), "alex", T0).State;

        var result = RolloutMachine.Step(started, new EvaluationCompleted(Pass(0, T0.AddHours(2))), T0.AddHours(2));

        Assert.IsFalse(started.ExposurePending);
        Assert.AreEqual(1, result.State.StageIndex);
    }

    [TestMethod]
    public void Step_PlanWithNotify_EmitsOneNotificationPerNotableEntryWithDedupeKey()
    {
        var plan = Plan(""", "notify": ["release-team", "oncall"]""");
        var start = RolloutMachine.Start("r", plan, "alex", T0);
        var paused = RolloutMachine.Step(start.State, new PauseCommand("gal", "hold"), T0.AddMinutes(1));

        var notify = start.Effects.OfType<NotifyChannels>().Single();
        Assert.AreEqual(AuditType.StageEntered, notify.Event.Type);
        CollectionAssert.AreEqual(new[] { "release-team", "oncall" }, notify.Channels.ToArray());
        Assert.AreEqual($"r:{notify.Event.Seq}", notify.DedupeKey);
        Assert.AreEqual(AuditType.Paused, paused.Effects.OfType<NotifyChannels>().Single().Event.Type);
        Assert.IsEmpty(RolloutMachine.Start("r", Plan(string.Empty), "alex", T0).Effects.OfType<NotifyChannels>());
    }

    [TestMethod]
    [DataRow(""", "notify": ["no spaces"]""", "$.notify[0]")]
    [DataRow(""", "exposure": { "type": "carrier-pigeon" }""", "$.exposure.type")]
    [DataRow(""", "exposure": { "type": "webhook" }""", "$.exposure.url")]
    [DataRow(""", "exposure": { "type": "webhook", "url": "ftp://x" }""", "$.exposure.url")]
    [DataRow(""", "exposure": { "type": "app-configuration", "connection": "main", "endpoint": "https://x" }""", "$.exposure.endpoint")]
    [DataRow(""", "exposure": { "type": "app-configuration", "connection": "main", "label": "a*" }""", "$.exposure.label")]
    public void Parse_InvalidNotifyOrExposure_IsRefusedByPath(string extra, string path)
    {
        var result = PlanParser.Parse($$"""{ "name": "p", "flag": "f", "stages": [ { "name": "a", "percent": 5, "minDuration": "1h" } ]{{extra}} }""", false, new MetricSourceCatalog([MetricSourceSchema.Http]));

        Assert.IsFalse(result.IsValid);
        CollectionAssert.Contains(result.Errors.Keys.ToArray(), path, string.Join("; ", result.Errors.Keys));
    }

    [TestMethod]
    public void Parse_AppConfigurationExposure_KeepsNamedConnectionAndLabel()
    {
        var plan = Plan(""", "notify": ["ops"], "exposure": { "type": "app-configuration", "connection": "main", "label": "prod" }""");

        Assert.AreEqual(ExposureTargetSpec.AppConfiguration, plan.Exposure!.Type);
        Assert.AreEqual("main", plan.Exposure.Get("connection"));
        Assert.AreEqual("prod", plan.Exposure.Get("label"));
        Assert.IsTrue(plan.HasExternalExposure);
        CollectionAssert.AreEqual(new[] { "ops" }, plan.Notify.ToArray());
        Assert.AreEqual(ImmutableArray<string>.Empty.Length, Plan(string.Empty).Notify.Length);
    }
}
