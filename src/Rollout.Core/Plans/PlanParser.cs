using System.Collections.Immutable;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Rollout.Core.Metrics;

namespace Rollout.Core.Plans;

/// <summary>
/// Reads a plan from JSON or YAML and validates it as a whole: either a <see cref="RolloutPlan"/> or every
/// problem, keyed by JSON path (<c>$.stages[1].minDuration</c>).
/// </summary>
public static partial class PlanParser
{
    private const int MaxStages = 50;
    private const int MaxCriteria = 50;
    private const int MaxAudienceEntries = 10_000;

    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9._\-]{0,99}$", RegexOptions.CultureInvariant)]
    private static partial Regex FlagPattern();

    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9_\-]{0,63}$", RegexOptions.CultureInvariant)]
    private static partial Regex ChannelPattern();

    /// <summary>Parses plan text; <paramref name="isYaml"/> selects YAML, otherwise JSON.</summary>
    public static PlanParseResult Parse(string text, bool isYaml, MetricSourceCatalog catalog)
    {
        JsonNode? root;
        try
        {
            root = isYaml ? YamlToJson.Convert(text) : JsonNode.Parse(text, documentOptions: new JsonDocumentOptions { MaxDepth = 32, AllowDuplicateProperties = false });
        }
        catch (JsonException ex)
        {
            return PlanParseResult.Invalid("$", $"the body is not valid JSON: {ex.Message}");
        }

        catch (YamlDotNet.Core.YamlException ex)
        {
            return PlanParseResult.Invalid("$", $"the body is not valid YAML: line {ex.Start.Line}, column {ex.Start.Column}: {ex.Message}");
        }
        catch (FormatException ex)
        {
            return PlanParseResult.Invalid("$", ex.Message);
        }

        return Validate(root, catalog);
    }

    /// <summary>Validates an already parsed JSON document.</summary>
    public static PlanParseResult Validate(JsonNode? root, MetricSourceCatalog catalog)
    {
        var v = new Collector();
        if (root is not JsonObject plan)
        {
            v.Add("$", "a plan must be a JSON object");
            return v.Result(null);
        }

        v.KnownKeys(plan, "$", "name", "flag", "description", "owner", "stages", "criteria", "evaluation", "stopOn", "notify", "exposure");
        var name = v.RequiredString(plan, "$", "name", 100);
        var flag = v.RequiredString(plan, "$", "flag", 100);
        if (flag is not null && !FlagPattern().IsMatch(flag))
        {
            v.Add("$.flag", "a flag name may use letters, digits, '.', '_' and '-' and must start with a letter or digit");
        }

        var description = v.OptionalString(plan, "$", "description", 2000);
        var owner = v.OptionalString(plan, "$", "owner", 200);
        var stages = ParseStages(v, plan);
        var criteria = ParseCriteria(v, plan, catalog);
        var evaluation = ParseEvaluation(v, plan);
        var stopOn = ParseStopRules(v, plan);
        var notify = ParseNotify(v, plan);
        var exposure = ParseExposure(v, plan);

        if (v.HasErrors)
        {
            return v.Result(null);
        }

        return v.Result(new RolloutPlan(name!, flag!, description, owner, stages, criteria, evaluation, stopOn) { Notify = notify, Exposure = exposure });
    }

    private static ImmutableArray<string> ParseNotify(Collector v, JsonObject plan)
    {
        var names = v.StringList(plan, "$", "notify", 20);
        for (var i = 0; i < names.Length; i++)
        {
            if (!ChannelPattern().IsMatch(names[i]))
            {
                v.Add($"$.notify[{i}]", $"'{names[i]}' is not a channel name: letters, digits, '_' and '-' (up to 64); the URL is configured on the host as Notifications:Teams:<name>, never in a plan");
            }
        }

        return names;
    }

    private static ExposureTargetSpec? ParseExposure(Collector v, JsonObject plan)
    {
        const string path = "$.exposure";
        if (plan["exposure"] is null)
        {
            return null;
        }

        if (plan["exposure"] is not JsonObject exposure)
        {
            v.Add(path, "exposure must be an object: { \"type\": \"webhook\", \"url\": \"https://...\" }");
            return null;
        }

        var type = v.RequiredString(exposure, path, "type", 50);
        if (type is null)
        {
            return null;
        }

        if (!ExposureTargetSpec.Types.TryGetValue(type, out var schema))
        {
            v.Add($"{path}.type", $"'{type}' is not an exposure target: use {string.Join(", ", ExposureTargetSpec.Types.Keys.Select(k => $"'{k}'"))}");
            return null;
        }

        var settings = ImmutableSortedDictionary.CreateBuilder<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in exposure)
        {
            if (key == "type")
            {
                continue;
            }

            if (!schema.Required.Contains(key) && !schema.Optional.Contains(key))
            {
                var known = schema.Required.Concat(schema.Optional).ToArray();
                v.Add($"{path}.{key}", known.Length == 0 ? $"a '{type}' target takes no settings" : $"unknown setting for a '{type}' target (known: {string.Join(", ", known)})");
                continue;
            }

            if (AsText(value) is not { Length: > 0 } text || value is not JsonValue)
            {
                v.Add($"{path}.{key}", "a target setting must be a non-empty string or a number");
                continue;
            }

            settings[key] = text.Trim();
        }

        foreach (var required in schema.Required.Where(r => !settings.ContainsKey(r) && exposure[r] is null))
        {
            v.Add($"{path}.{required}", $"'{required}' is required for a '{type}' target");
        }

        if (settings.TryGetValue("url", out var url)
            && (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") || !string.IsNullOrEmpty(uri.UserInfo)))
        {
            v.Add($"{path}.url", "url must be an absolute http(s) URL without credentials");
        }

        if (settings.TryGetValue("connection", out var connection) && !ChannelPattern().IsMatch(connection))
        {
            v.Add($"{path}.connection", $"'{connection}' is not a connection name: letters, digits, '_' and '-'; the connection string is configured on the host as Exposure:AppConfiguration:<name>");
        }

        if (settings.TryGetValue("label", out var label) && (label.Contains('*', StringComparison.Ordinal) || label.Contains(',', StringComparison.Ordinal) || label.Length > 100))
        {
            v.Add($"{path}.label", "a label may not contain '*' or ',' and may be at most 100 characters");
        }

        if (settings.TryGetValue("timeout", out var timeoutText))
        {
            if (!Durations.TryParse(timeoutText, out var timeout, out var error))
            {
                v.Add($"{path}.timeout", error);
            }
            else if (timeout <= TimeSpan.Zero || timeout > TimeSpan.FromMinutes(5))
            {
                v.Add($"{path}.timeout", "timeout must be above 0 and at most 5 minutes");
            }
        }

        return new ExposureTargetSpec(type, settings.ToImmutable());
    }

    private static ImmutableArray<StagePlan> ParseStages(Collector v, JsonObject plan)
    {
        if (v.RequiredArray(plan, "$", "stages") is not { } array)
        {
            return [];
        }

        if (array.Count == 0)
        {
            v.Add("$.stages", "a plan needs at least one stage");
        }
        else if (array.Count > MaxStages)
        {
            v.Add("$.stages", $"a plan may have at most {MaxStages} stages");
        }

        var result = ImmutableArray.CreateBuilder<StagePlan>(array.Count);
        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        decimal previousPercent = 0;
        for (var i = 0; i < array.Count; i++)
        {
            var path = $"$.stages[{i}]";
            if (array[i] is not JsonObject stage)
            {
                v.Add(path, "a stage must be an object");
                continue;
            }

            v.KnownKeys(stage, path, "name", "audience", "percent", "minDuration", "approval");
            var stageName = v.RequiredString(stage, path, "name", 100);
            if (stageName is not null && !names.Add(stageName))
            {
                v.Add($"{path}.name", $"stage name '{stageName}' is used twice; stage names must be unique");
            }

            var audience = ParseAudience(v, stage, path);
            decimal? percent = null;
            if (stage["percent"] is { } percentNode)
            {
                if (!TryGetDecimal(percentNode, out var p) || p < 0 || p > 100)
                {
                    v.Add($"{path}.percent", "percent must be a number from 0 to 100");
                }
                else if (decimal.Round(p, 3) != p)
                {
                    v.Add($"{path}.percent", "percent may have at most 3 decimals");
                }
                else if (p < previousPercent)
                {
                    v.Add($"{path}.percent", $"percent {p.ToString(CultureInfo.InvariantCulture)} is below an earlier stage's {previousPercent.ToString(CultureInfo.InvariantCulture)}; exposure only grows");
                }
                else
                {
                    percent = p;
                    previousPercent = p;
                }
            }

            if (audience.IsEmpty && stage["percent"] is null)
            {
                v.Add(path, "a stage needs an audience, a percent or both");
            }

            var minDuration = TimeSpan.Zero;
            if (stage["minDuration"] is null)
            {
                v.Add($"{path}.minDuration", "minDuration (the stage's bake time) is required, e.g. 'P2D' or '30m'");
            }
            else if (!Durations.TryParse(AsText(stage["minDuration"]), out minDuration, out var durationError))
            {
                v.Add($"{path}.minDuration", durationError);
            }

            ApprovalPolicy? approval = null;
            if (stage["approval"] is { } approvalNode)
            {
                approval = ParseApproval(v, approvalNode, $"{path}.approval");
            }

            result.Add(new StagePlan(stageName ?? string.Empty, audience, percent, minDuration, approval));
        }

        return result.ToImmutable();
    }

    private static Audience ParseAudience(Collector v, JsonObject stage, string stagePath)
    {
        if (stage["audience"] is null)
        {
            return Audience.Empty;
        }

        var path = $"{stagePath}.audience";
        if (stage["audience"] is not JsonObject audience)
        {
            v.Add(path, "audience must be an object with users, groups, tenants, regions or roles");
            return Audience.Empty;
        }

        v.KnownKeys(audience, path, "users", "groups", "tenants", "regions", "roles");
        ImmutableArray<string> List(string key) => v.StringList(audience, path, key, MaxAudienceEntries);
        return new Audience(List("users"), List("groups"), List("tenants"), List("regions"), List("roles"));
    }

    private static ApprovalPolicy? ParseApproval(Collector v, JsonNode node, string path)
    {
        if (node is not JsonObject approval)
        {
            v.Add(path, "approval must be an object: { \"approvers\": [\"alex@contoso.com\"] }");
            return null;
        }

        v.KnownKeys(approval, path, "approvers");
        if (approval["approvers"] is null)
        {
            v.Add($"{path}.approvers", "approvers is required: who may sign this stage off");
            return null;
        }

        var approvers = v.StringList(approval, path, "approvers", 100);
        if (approvers.IsEmpty && approval["approvers"] is JsonArray)
        {
            v.Add($"{path}.approvers", "approvers must name at least one person");
        }

        return new ApprovalPolicy(approvers);
    }

    private static ImmutableArray<CriterionPlan> ParseCriteria(Collector v, JsonObject plan, MetricSourceCatalog catalog)
    {
        if (plan["criteria"] is null)
        {
            return [];
        }

        if (plan["criteria"] is not JsonArray array)
        {
            v.Add("$.criteria", "criteria must be an array");
            return [];
        }

        if (array.Count > MaxCriteria)
        {
            v.Add("$.criteria", $"a plan may have at most {MaxCriteria} criteria");
        }

        var result = ImmutableArray.CreateBuilder<CriterionPlan>(array.Count);
        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < array.Count; i++)
        {
            var path = $"$.criteria[{i}]";
            if (array[i] is not JsonObject criterion)
            {
                v.Add(path, "a criterion must be an object");
                continue;
            }

            v.KnownKeys(criterion, path, "name", "kind", "source", "min", "max", "maxBaselineRatio", "minBaselineRatio", "maxBaselineDifference", "test", "minSamples", "slo", "windows", "budget");
            var criterionName = v.RequiredString(criterion, path, "name", 100);
            if (criterionName is not null && !names.Add(criterionName))
            {
                v.Add($"{path}.name", $"criterion name '{criterionName}' is used twice; criterion names must be unique");
            }

            var kind = v.OptionalString(criterion, path, "kind", 50) ?? "threshold";
            if (kind is not ("threshold" or "error-budget"))
            {
                v.Add($"{path}.kind", $"'{kind}' is not a criterion kind: use 'threshold' (the default) or 'error-budget'");
            }

            var source = ParseSource(v, criterion, path, catalog);
            var min = v.OptionalNumber(criterion, path, "min");
            var max = v.OptionalNumber(criterion, path, "max");
            var ratio = v.OptionalNumber(criterion, path, "maxBaselineRatio");
            var minRatio = v.OptionalNumber(criterion, path, "minBaselineRatio");
            var maxDifference = v.OptionalNumber(criterion, path, "maxBaselineDifference");
            var test = ParseTest(v, criterion, path, source, catalog);
            long minSamples = 0;
            if (criterion["minSamples"] is { } samplesNode)
            {
                if (!TryGetDecimal(samplesNode, out var s) || s < 0 || s != decimal.Truncate(s) || s > long.MaxValue)
                {
                    v.Add($"{path}.minSamples", "minSamples must be a whole number of 0 or more");
                }
                else
                {
                    minSamples = (long)s;
                }
            }

            if (source is not null && minSamples > 0 && catalog.TryGet(source.Type, out var schema) && schema.SamplesSetting is { } samplesKey && source.Get(samplesKey) is null)
            {
                v.Add($"{path}.source.{samplesKey}", $"minSamples is {minSamples}, so the source must say where the sample count is ('{samplesKey}')");
            }

            ErrorBudgetPolicy? budget = null;
            string[] thresholdKeys = ["min", "max", "maxBaselineRatio", "minBaselineRatio", "maxBaselineDifference", "test"];
            if (kind == "error-budget")
            {
                budget = ParseErrorBudget(v, criterion, path, source);
                foreach (var key in thresholdKeys.Where(k => criterion[k] is not null))
                {
                    v.Add($"{path}.{key}", $"an error-budget criterion is judged by its burn rate; '{key}' does not apply");
                }
            }
            else
            {
                foreach (var key in new[] { "slo", "windows", "budget" }.Where(k => criterion[k] is not null))
                {
                    v.Add($"{path}.{key}", $"'{key}' belongs to a criterion of kind 'error-budget'");
                }

                if (thresholdKeys.All(k => criterion[k] is null))
                {
                    v.Add(path, "a criterion needs a threshold: min, max, maxBaselineRatio, minBaselineRatio, maxBaselineDifference or a test");
                }
            }

            if (min is not null && max is not null && min > max)
            {
                v.Add($"{path}.min", $"min {min.Value.ToString(CultureInfo.InvariantCulture)} is above max {max.Value.ToString(CultureInfo.InvariantCulture)}");
            }

            if (ratio is not null && ratio <= 0)
            {
                v.Add($"{path}.maxBaselineRatio", "maxBaselineRatio must be above 0 (1.5 allows 50% worse than the baseline)");
            }

            if (minRatio is not null && minRatio <= 0)
            {
                v.Add($"{path}.minBaselineRatio", "minBaselineRatio must be above 0 (0.95 allows 5% below the baseline)");
            }

            if (maxDifference is not null && maxDifference < 0)
            {
                v.Add($"{path}.maxBaselineDifference", "maxBaselineDifference must be 0 or more");
            }

            result.Add(new CriterionPlan(criterionName ?? string.Empty, source ?? new MetricSourceSpec(string.Empty, ImmutableSortedDictionary<string, string>.Empty), min, max, ratio, minSamples)
            {
                MinBaselineRatio = minRatio,
                MaxBaselineDifference = maxDifference,
                Test = test,
                ErrorBudget = budget,
            });
        }

        return result.ToImmutable();
    }

    private static BaselineTest? ParseTest(Collector v, JsonObject criterion, string criterionPath, MetricSourceSpec? source, MetricSourceCatalog catalog)
    {
        if (criterion["test"] is null)
        {
            return null;
        }

        var path = $"{criterionPath}.test";
        if (criterion["test"] is not JsonObject test)
        {
            v.Add(path, "test must be an object: { \"kind\": \"two-proportion\", \"confidence\": 0.95 }");
            return null;
        }

        v.KnownKeys(test, path, "kind", "confidence");
        var kindText = v.RequiredString(test, path, "kind", 50);
        BaselineTestKind? kind = kindText switch
        {
            "two-proportion" => BaselineTestKind.TwoProportion,
            "mann-whitney" => BaselineTestKind.MannWhitney,
            null => null,
            _ => null,
        };
        if (kindText is not null && kind is null)
        {
            v.Add($"{path}.kind", $"'{kindText}' is not a test: use 'two-proportion' (rates) or 'mann-whitney' (raw values such as latencies)");
        }

        var confidence = 0.95;
        if (test["confidence"] is not null)
        {
            confidence = v.OptionalNumber(test, path, "confidence") ?? confidence;
            if (confidence is <= 0.5 or >= 1)
            {
                v.Add($"{path}.confidence", "confidence must be above 0.5 and below 1, e.g. 0.95");
            }
        }

        if (kind == BaselineTestKind.MannWhitney && source is not null && catalog.TryGet(source.Type, out var schema))
        {
            if (!schema.Optional.Contains("values") && !schema.Required.Contains("values"))
            {
                v.Add($"{path}.kind", $"a Mann-Whitney test needs raw values, which a '{source.Type}' source cannot give");
            }
            else if (source.Get("values") is null)
            {
                v.Add($"{criterionPath}.source.values", "a Mann-Whitney test needs the source to say where the raw values are ('values', a JSONPath to an array of numbers)");
            }
        }

        return kind is { } k ? new BaselineTest(k, confidence) : null;
    }

    private static ErrorBudgetPolicy? ParseErrorBudget(Collector v, JsonObject criterion, string path, MetricSourceSpec? source)
    {
        var slo = v.OptionalNumber(criterion, path, "slo");
        if (criterion["slo"] is null)
        {
            v.Add($"{path}.slo", "slo is required for an error-budget criterion, e.g. 0.999");
        }
        else if (slo is not null && (slo <= 0 || slo >= 1))
        {
            v.Add($"{path}.slo", "slo must be above 0 and below 1, e.g. 0.999");
        }

        var windows = ImmutableArray.CreateBuilder<BurnRateWindow>();
        if (v.RequiredArray(criterion, path, "windows") is { } array)
        {
            if (array.Count == 0)
            {
                v.Add($"{path}.windows", "list at least one burn-rate window, e.g. { \"window\": \"1h\", \"maxBurnRate\": 14.4 }");
            }

            for (var i = 0; i < array.Count; i++)
            {
                var windowPath = $"{path}.windows[{i}]";
                if (array[i] is not JsonObject window)
                {
                    v.Add(windowPath, "a window must be an object: { \"window\": \"1h\", \"maxBurnRate\": 14.4 }");
                    continue;
                }

                v.KnownKeys(window, windowPath, "window", "maxBurnRate");
                if (!Durations.TryParse(AsText(window["window"]), out var length, out var error) || length <= TimeSpan.Zero)
                {
                    v.Add($"{windowPath}.window", window["window"] is null ? "'window' is required" : error.Length > 0 ? error : "a window must be longer than 0");
                    continue;
                }

                var rate = v.OptionalNumber(window, windowPath, "maxBurnRate");
                if (rate is null or <= 0)
                {
                    v.Add($"{windowPath}.maxBurnRate", "maxBurnRate is required and must be above 0 (1 spends the budget exactly over the SLO period)");
                    continue;
                }

                windows.Add(new BurnRateWindow(length, rate.Value));
            }
        }

        TimeSpan? budgetWindow = null;
        double? maxSpent = null;
        if (criterion["budget"] is { } budgetNode)
        {
            var budgetPath = $"{path}.budget";
            if (budgetNode is not JsonObject budget)
            {
                v.Add(budgetPath, "budget must be an object: { \"window\": \"30d\", \"maxSpent\": 1.0 }");
            }
            else
            {
                v.KnownKeys(budget, budgetPath, "window", "maxSpent");
                if (Durations.TryParse(AsText(budget["window"]), out var length, out var error) && length > TimeSpan.Zero)
                {
                    budgetWindow = length;
                }
                else
                {
                    v.Add($"{budgetPath}.window", budget["window"] is null ? "'window' is required, e.g. '30d'" : error);
                }

                maxSpent = v.OptionalNumber(budget, budgetPath, "maxSpent") ?? 1.0;
                if (maxSpent is <= 0 or > 1)
                {
                    v.Add($"{budgetPath}.maxSpent", "maxSpent is the share of the budget that may be spent: above 0 and at most 1");
                }
            }
        }

        if (source is not null && !source.Settings.Values.Any(value => value.Contains("{{window}}", StringComparison.Ordinal)))
        {
            v.Add($"{path}.source", "an error-budget source must use {{window}} in its query or URL: it is asked for the error ratio of each window");
        }

        return slo is { } s ? new ErrorBudgetPolicy(s, windows.ToImmutable(), budgetWindow, maxSpent) : null;
    }

    private static MetricSourceSpec? ParseSource(Collector v, JsonObject criterion, string criterionPath, MetricSourceCatalog catalog)
    {
        var path = $"{criterionPath}.source";
        if (criterion["source"] is null)
        {
            v.Add(path, "source is required: where the metric is read from");
            return null;
        }

        if (criterion["source"] is not JsonObject source)
        {
            v.Add(path, "source must be an object with a type");
            return null;
        }

        var type = v.RequiredString(source, path, "type", 50);
        if (type is null)
        {
            return null;
        }

        if (!catalog.TryGet(type, out var schema))
        {
            v.Add($"{path}.type", $"source type '{type}' is not available on this host (available: {string.Join(", ", catalog.Types)})");
            return null;
        }

        var settings = ImmutableSortedDictionary.CreateBuilder<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in source)
        {
            if (key == "type")
            {
                continue;
            }

            if (!schema.Required.Contains(key) && !schema.Optional.Contains(key))
            {
                v.Add($"{path}.{key}", $"unknown setting for a '{type}' source (known: {string.Join(", ", schema.Required.Concat(schema.Optional))})");
                continue;
            }

            if (value is JsonValue scalar && scalar.GetValueKind() is JsonValueKind.String or JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False)
            {
                settings[key] = AsText(scalar)!;
            }
            else
            {
                v.Add($"{path}.{key}", "a source setting must be a string or a number");
            }
        }

        foreach (var required in schema.Required.Where(r => !settings.ContainsKey(r) && source[r] is null))
        {
            v.Add($"{path}.{required}", $"'{required}' is required for a '{type}' source");
        }

        var spec = new MetricSourceSpec(type, settings.ToImmutable());
        foreach (var (key, problem) in schema.Validate(spec))
        {
            v.Add($"{path}.{key}", problem);
        }

        return spec;
    }

    private static EvaluationPolicy ParseEvaluation(Collector v, JsonObject plan)
    {
        var defaults = EvaluationPolicy.Default;
        if (plan["evaluation"] is null)
        {
            return defaults;
        }

        const string path = "$.evaluation";
        if (plan["evaluation"] is not JsonObject evaluation)
        {
            v.Add(path, "evaluation must be an object");
            return defaults;
        }

        v.KnownKeys(evaluation, path, "interval", "failureLimit", "noDataLimit", "onFailure", "onNoData");
        var interval = defaults.Interval;
        if (evaluation["interval"] is { } intervalNode)
        {
            if (!Durations.TryParse(AsText(intervalNode), out interval, out var error))
            {
                v.Add($"{path}.interval", error);
            }
            else if (interval < TimeSpan.FromSeconds(1))
            {
                v.Add($"{path}.interval", "interval must be at least 1 second");
            }
        }

        int Limit(string key, int fallback)
        {
            if (evaluation[key] is not { } node)
            {
                return fallback;
            }

            if (!TryGetDecimal(node, out var n) || n < 1 || n > 1000 || n != decimal.Truncate(n))
            {
                v.Add($"{path}.{key}", $"{key} must be a whole number from 1 to 1000");
                return fallback;
            }

            return (int)n;
        }

        LimitAction Action(string key, LimitAction fallback) =>
            evaluation[key] is null ? fallback : v.ParseAction(evaluation[key], $"{path}.{key}") ?? fallback;

        return new EvaluationPolicy(
            interval,
            Limit("failureLimit", defaults.FailureLimit),
            Limit("noDataLimit", defaults.NoDataLimit),
            Action("onFailure", defaults.OnFailure),
            Action("onNoData", defaults.OnNoData));
    }

    private static ImmutableArray<StopRule> ParseStopRules(Collector v, JsonObject plan)
    {
        if (plan["stopOn"] is null)
        {
            return [];
        }

        if (plan["stopOn"] is not JsonArray array)
        {
            v.Add("$.stopOn", "stopOn must be an array of { signal, action }");
            return [];
        }

        var result = ImmutableArray.CreateBuilder<StopRule>(array.Count);
        var signals = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < array.Count; i++)
        {
            var path = $"$.stopOn[{i}]";
            if (array[i] is not JsonObject rule)
            {
                v.Add(path, "a stop rule must be an object: { \"signal\": \"critical-issue\", \"action\": \"rollback\" }");
                continue;
            }

            v.KnownKeys(rule, path, "signal", "action");
            var signal = v.RequiredString(rule, path, "signal", 100);
            if (signal is not null && !signals.Add(signal))
            {
                v.Add($"{path}.signal", $"signal '{signal}' is listed twice");
            }

            LimitAction? action = rule["action"] is null ? null : v.ParseAction(rule["action"], $"{path}.action");
            if (rule["action"] is null)
            {
                v.Add($"{path}.action", "action is required: 'pause' or 'rollback'");
            }

            if (signal is not null && action is not null)
            {
                result.Add(new StopRule(signal, action.Value));
            }
        }

        return result.ToImmutable();
    }

    private static bool TryGetDecimal(JsonNode node, out decimal value)
    {
        value = 0;
        return node is JsonValue scalar && scalar.GetValueKind() == JsonValueKind.Number && scalar.TryGetValue(out value);
    }

    private static string? AsText(JsonNode? node) => node switch
    {
        JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
        JsonValue v when v.GetValueKind() is JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False => v.ToJsonString(),
        _ => null,
    };

    private sealed class Collector
    {
        private readonly SortedDictionary<string, List<string>> errors = new(StringComparer.Ordinal);

        public bool HasErrors => errors.Count > 0;

        public void Add(string path, string message)
        {
            if (!errors.TryGetValue(path, out var list))
            {
                errors[path] = list = [];
            }

            list.Add(message);
        }

        public PlanParseResult Result(RolloutPlan? plan) => plan is not null && !HasErrors
            ? new PlanParseResult(plan, ImmutableSortedDictionary<string, ImmutableArray<string>>.Empty)
            : new PlanParseResult(null, errors.ToImmutableSortedDictionary(e => e.Key, e => e.Value.ToImmutableArray(), StringComparer.Ordinal));

        public void KnownKeys(JsonObject obj, string path, params string[] known)
        {
            foreach (var (key, _) in obj)
            {
                if (!known.Contains(key, StringComparer.Ordinal))
                {
                    Add($"{path}.{key}", $"unknown property '{key}' (expected one of: {string.Join(", ", known)})");
                }
            }
        }

        public string? RequiredString(JsonObject obj, string path, string key, int maxLength)
        {
            if (obj[key] is null)
            {
                Add($"{path}.{key}", $"'{key}' is required");
                return null;
            }

            return OptionalString(obj, path, key, maxLength);
        }

        public string? OptionalString(JsonObject obj, string path, string key, int maxLength)
        {
            if (obj[key] is null)
            {
                return null;
            }

            if (obj[key] is not JsonValue value || value.GetValueKind() != JsonValueKind.String)
            {
                Add($"{path}.{key}", $"'{key}' must be a string");
                return null;
            }

            var text = value.GetValue<string>().Trim();
            if (text.Length == 0)
            {
                Add($"{path}.{key}", $"'{key}' must not be empty");
                return null;
            }

            if (text.Length > maxLength)
            {
                Add($"{path}.{key}", $"'{key}' may be at most {maxLength} characters");
                return null;
            }

            return text;
        }

        public double? OptionalNumber(JsonObject obj, string path, string key)
        {
            if (obj[key] is null)
            {
                return null;
            }

            if (obj[key] is JsonValue value && value.GetValueKind() == JsonValueKind.Number && value.TryGetValue<double>(out var number) && double.IsFinite(number))
            {
                return number;
            }

            Add($"{path}.{key}", $"'{key}' must be a finite number");
            return null;
        }

        public ImmutableArray<string> StringList(JsonObject obj, string path, string key, int maxCount)
        {
            if (obj[key] is null)
            {
                return [];
            }

            if (obj[key] is not JsonArray array)
            {
                Add($"{path}.{key}", $"'{key}' must be an array of strings");
                return [];
            }

            if (array.Count > maxCount)
            {
                Add($"{path}.{key}", $"'{key}' may list at most {maxCount} entries");
                return [];
            }

            var result = ImmutableArray.CreateBuilder<string>(array.Count);
            var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            for (var i = 0; i < array.Count; i++)
            {
                if (array[i] is not JsonValue value || value.GetValueKind() != JsonValueKind.String || string.IsNullOrWhiteSpace(value.GetValue<string>()))
                {
                    Add($"{path}.{key}[{i}]", "must be a non-empty string");
                    continue;
                }

                var text = value.GetValue<string>().Trim();
                if (seen.Add(text))
                {
                    result.Add(text);
                }
            }

            return result.ToImmutable();
        }

        public JsonArray? RequiredArray(JsonObject obj, string path, string key)
        {
            if (obj[key] is null)
            {
                Add($"{path}.{key}", $"'{key}' is required");
                return null;
            }

            if (obj[key] is not JsonArray array)
            {
                Add($"{path}.{key}", $"'{key}' must be an array");
                return null;
            }

            return array;
        }

        public LimitAction? ParseAction(JsonNode? node, string path)
        {
            var text = AsText(node);
            if (string.Equals(text, "pause", StringComparison.OrdinalIgnoreCase))
            {
                return LimitAction.Pause;
            }

            if (string.Equals(text, "rollback", StringComparison.OrdinalIgnoreCase))
            {
                return LimitAction.Rollback;
            }

            Add(path, $"'{text ?? node?.ToJsonString()}' is not an action: use 'pause' or 'rollback'");
            return null;
        }
    }
}

/// <summary>The outcome of parsing a plan: the plan, or every problem keyed by JSON path.</summary>
public sealed record PlanParseResult(RolloutPlan? Plan, ImmutableSortedDictionary<string, ImmutableArray<string>> Errors)
{
    /// <summary>True when the plan is valid.</summary>
    public bool IsValid => Plan is not null;

    /// <summary>A result with a single problem.</summary>
    public static PlanParseResult Invalid(string path, string message) =>
        new(null, ImmutableSortedDictionary.CreateRange(StringComparer.Ordinal, [new KeyValuePair<string, ImmutableArray<string>>(path, [message])]));
}
