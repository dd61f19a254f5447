using System.Collections.Frozen;
using Rollout.Core.Engine;
using Rollout.Core.Gates;
using Rollout.Core.Metrics;
using Rollout.Core.Plans;

namespace Rollout.Integrations.Metrics;

/// <summary>
/// Runs an <see cref="EvaluateCriteria"/> effect: reads every criterion of the plan from its source, for the
/// treatment cohort and (when the criterion compares) the baseline, concurrently, then judges each reading.
/// </summary>
public sealed class CriteriaEvaluator
{
    private readonly FrozenDictionary<string, IMetricSource> sources;
    private readonly TimeProvider time;

    /// <summary>Creates an evaluator over the given source adapters.</summary>
    public CriteriaEvaluator(IEnumerable<IMetricSource> sources, TimeProvider time)
    {
        this.sources = sources.ToFrozenDictionary(s => s.Schema.Type, StringComparer.Ordinal);
        this.time = time;
        Catalog = new MetricSourceCatalog(this.sources.Values.Select(s => s.Schema));
    }

    /// <summary>The source types this evaluator can read, for plan validation.</summary>
    public MetricSourceCatalog Catalog { get; }

    /// <summary>Evaluates every criterion of <paramref name="state"/>'s plan for the effect's stage.</summary>
    public async Task<Evaluation> EvaluateAsync(RolloutState state, EvaluateCriteria effect, CancellationToken cancellationToken)
    {
        var plan = state.Plan;
        var stage = plan.Stages[effect.StageIndex].Name;
        var results = await Task.WhenAll(plan.Criteria.Select(async criterion =>
        {
            if (criterion.ErrorBudget is { } budget)
            {
                var windows = budget.Windows.Select(w => w.Window).Concat(budget.BudgetWindow is { } b ? [b] : []).Distinct().ToArray();
                var readings = await Task.WhenAll(windows.Select(w => ReadAsync(criterion, Cohort.Treatment, state.Id, plan.Flag, stage, effect.Since, cancellationToken, w)));
                return GateEvaluator.EvaluateErrorBudget(criterion, windows.Zip(readings).ToDictionary(p => p.First, p => p.Second));
            }

            var treatment = ReadAsync(criterion, Cohort.Treatment, state.Id, plan.Flag, stage, effect.Since, cancellationToken);
            var baseline = criterion.ComparesWithBaseline
                ? ReadOptionalAsync(criterion, state.Id, plan.Flag, stage, effect.Since, cancellationToken)
                : Task.FromResult<MetricReading?>(null);
            return GateEvaluator.Evaluate(criterion, await treatment, await baseline);
        }));
        return new Evaluation(time.GetUtcNow(), effect.StageIndex, [.. results]);
    }

    private async Task<MetricReading?> ReadOptionalAsync(CriterionPlan criterion, string id, string flag, string stage, DateTimeOffset since, CancellationToken ct) =>
        await ReadAsync(criterion, Cohort.Baseline, id, flag, stage, since, ct);

    private async Task<MetricReading> ReadAsync(CriterionPlan criterion, Cohort cohort, string id, string flag, string stage, DateTimeOffset since, CancellationToken ct, TimeSpan? window = null)
    {
        if (!sources.TryGetValue(criterion.Source.Type, out var source))
        {
            return MetricReading.Failed($"no adapter for source type '{criterion.Source.Type}' on this host");
        }

        try
        {
            return await source.ReadAsync(new MetricQuery(criterion.Source, cohort, id, flag, stage, since, window), ct);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            // An adapter bug or fault is missing data, never a pass.
            return MetricReading.Failed($"source error: {ex.GetType().Name}: {ex.Message}");
        }
    }
}
