using System.Globalization;

namespace Rollout.LoadHarness;

/// <summary>
/// Figure 5, an ANALYSIS, not a measurement: history events and Azure Storage transactions of the Durable Functions
/// design (one Core step per orchestration generation: activities for evaluate and audit, apply-exposure when the stage
/// changes, then <c>Task.WhenAny(CreateTimer, WaitForExternalEvent)</c> and <c>ContinueAsNew</c>), counted from the
/// Durable Task Framework's history event types and the Azure Storage provider's documented use of queues, tables and
/// blobs, then priced for the README's checkout-v2 plan. Every count and price is a parameter (bench/README.md).
/// </summary>
internal static class AzureCost
{
    public static int Run(Args args)
    {
        var m = new Model(
            IntervalMinutes: args.Double("interval-minutes", 5),
            Days: args.Double("days", 16),
            Stages: args.Int("stages", 6),
            ActivitiesPerEvaluation: args.Int("activities", 2),
            StateKb: args.Double("state-kb", 12),
            Partitions: args.Int("partitions", 4),
            QueuePricePer10K: args.Double("queue-price", 0.0004),
            TablePricePer10K: args.Double("table-price", 0.00036),
            BlobPricePer10K: args.Double("blob-price", 0.0044));
        Console.WriteLine("# ANALYSIS, not a measurement: see bench/README.md for the sources of every count and price.");
        Console.WriteLine(m.Report());
        return 0;
    }

    /// <summary>The cost model; <see cref="Report"/> prints the counts per episode, per evaluation, per stage and per rollout.</summary>
    internal sealed record Model(
        double IntervalMinutes, double Days, int Stages, int ActivitiesPerEvaluation, double StateKb, int Partitions,
        double QueuePricePer10K, double TablePricePer10K, double BlobPricePer10K)
    {
        // Azure Storage provider: queue messages above 45 KB (and history payloads above it) go to a blob.
        private const double LargeMessageKb = 45;

        public string Report()
        {
            var i = CultureInfo.InvariantCulture;
            var evaluations = Days * 24 * 60 / IntervalMinutes;

            // One generation = one evaluation. Episodes (orchestrator executions) of a generation:
            //  1 start:     OrchestratorStarted, ExecutionStarted, TaskScheduled(evaluate), OrchestratorCompleted
            //  per activity after the first: OrchestratorStarted, TaskCompleted, TaskScheduled(next), OrchestratorCompleted
            //  last activity completes:      OrchestratorStarted, TaskCompleted, TimerCreated, OrchestratorCompleted
            //  timer fires:                  OrchestratorStarted, TimerFired, ExecutionCompleted(ContinuedAsNew), OrchestratorCompleted
            // WaitForExternalEvent adds no event until an event arrives (then EventRaised replaces TimerFired).
            var episodes = 1 + ActivitiesPerEvaluation + 1;
            var historyEvents = 4 * episodes;
            var stageChangeEvents = 4; // apply-exposure: TaskScheduled + an episode with TaskCompleted (OrchestratorStarted/Completed)

            // Storage transactions per episode: read the instance's history (1 table query), append the episode's rows
            // (1 entity group transaction), update the Instances row (1), dequeue + delete its control-queue message (2),
            // plus the message's enqueue by whoever sent it (1).
            var tablePerEpisode = 3.0;
            var queuePerEpisode = 3.0;

            // Each activity: enqueue, dequeue, delete on the work-item queue (3).
            var queuePerActivity = 3.0;
            var large = StateKb > LargeMessageKb;
            var blobPerGeneration = large ? 2 * 2.0 : 0; // ContinueAsNew input and ExecutionStarted payload: write + read each

            var tablePerEvaluation = tablePerEpisode * episodes;
            var queuePerEvaluation = (queuePerEpisode * episodes) + (queuePerActivity * ActivitiesPerEvaluation);
            var perEvaluation = tablePerEvaluation + queuePerEvaluation + blobPerGeneration;
            var perStageChange = (tablePerEpisode + queuePerEpisode) + queuePerActivity;

            // Fixed, per function app and not per rollout: idle polling of the control queues and the work-item queue
            // (backing off to maxQueuePollingInterval, 30 s by default) and partition lease renewals (one blob
            // operation per partition every 10 s).
            var idlePollsPerDay = (Partitions + 1) * (86400 / 30.0);
            var leaseRenewalsPerDay = Partitions * (86400 / 10.0);

            var rolloutTable = tablePerEvaluation * evaluations + tablePerEpisode * Stages;
            var rolloutQueue = queuePerEvaluation * evaluations + (queuePerEpisode + queuePerActivity) * Stages;
            var rolloutBlob = blobPerGeneration * evaluations;
            var rolloutCost = (rolloutTable * TablePricePer10K + rolloutQueue * QueuePricePer10K + rolloutBlob * BlobPricePer10K) / 10000;
            var fixedCostPerDay = (idlePollsPerDay * QueuePricePer10K + leaseRenewalsPerDay * BlobPricePer10K) / 10000;

            return string.Create(i, $"""
                plan: checkout-v2, {Stages} stages, interval {IntervalMinutes} min, {Days} days -> {evaluations:0} evaluations (orchestration generations)
                history events per evaluation: {historyEvents} ({episodes} episodes x 4: OrchestratorStarted, ExecutionStarted|TaskCompleted|TimerFired, TaskScheduled|TimerCreated|ExecutionCompleted, OrchestratorCompleted)
                history events per stage change (apply-exposure activity): +{stageChangeEvents}
                history events per rollout: {historyEvents * evaluations + stageChangeEvents * Stages:0} (in {evaluations:0} generations; ContinueAsNew starts each with an empty history)
                storage transactions per evaluation: {perEvaluation:0} = table {tablePerEvaluation:0} (history read + history batch + Instances row, per episode) + queue {queuePerEvaluation:0} (control queue put/get/delete per episode, work-item queue put/get/delete per activity) + blob {blobPerGeneration:0} (state {StateKb} KB {(large ? ">" : "<=")} 45 KB)
                storage transactions per stage change: +{perStageChange:0}
                storage transactions per stage (average): {perEvaluation * evaluations / Stages + perStageChange:0}
                storage transactions per rollout: {rolloutTable + rolloutQueue + rolloutBlob:0} (table {rolloutTable:0}, queue {rolloutQueue:0}, blob {rolloutBlob:0})
                cost per rollout at ${QueuePricePer10K}/10k queue, ${TablePricePer10K}/10k table, ${BlobPricePer10K}/10k blob operations: ${rolloutCost:0.0000}
                fixed per function app (not per rollout): {idlePollsPerDay:0} idle queue polls/day + {leaseRenewalsPerDay:0} lease renewals/day = ${fixedCostPerDay:0.0000}/day, ${fixedCostPerDay * Days:0.0000} over {Days} days
                RESULT azure-cost: {historyEvents} history events and {perEvaluation:0} storage transactions per evaluation; {rolloutTable + rolloutQueue + rolloutBlob:0} transactions and ${rolloutCost:0.000} per checkout-v2 rollout, plus ${fixedCostPerDay:0.000}/day per app (analysis)
                """);
        }
    }
}
