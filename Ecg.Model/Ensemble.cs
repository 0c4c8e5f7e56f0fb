using System.Globalization;
using Ecg.Data;

namespace Ecg.Model;

/// <summary>
/// The Ensemble stage: the mean of several sessions' probabilities, evaluated like one session. Its thresholds are its
/// own, tuned for F1 on the ensemble's validation probabilities: averaging moves the probabilities, so no member's
/// cut-offs fit the ensemble.
/// </summary>
public static class Ensemble
{
    /// <summary>What reports and choice files say where members use different weights or aggregations.</summary>
    private const string EachMembersOwn = "each member's own";

    /// <summary>
    /// Evaluates the mean of the members' probabilities on <paramref name="split"/> (null: test when the first member's
    /// scheme has test records in the dataset, else validation), each member with <paramref name="weights"/> and windows
    /// combined by <paramref name="aggregation"/> (null: each member's own), and writes
    /// ensembles/sessions_&lt;a&gt;_&lt;b&gt;_..._&lt;split&gt;[_weights_W][_&lt;aggregation&gt;].txt.
    /// Members must share classes, leads and records (the same task, lead set and split).
    /// </summary>
    public static EnsembleOutcome Run(ArtifactLayout layout, IReadOnlyList<TrainingSession> members, ProcessedDataset dataset, DataSplit? split,
                                      WeightsChoice weights, WindowAggregation? aggregation, int bootstrap,
                                      Action<StageProgress>? progress = null, CancellationToken cancel = default) =>
        Run(layout, EnsembleMember.All(members, weights), dataset, split, aggregation, bootstrap, progress, cancel);

    /// <summary>
    /// As above, with members that may each name their own weights, e.g. one session's snapshots at the ends of its
    /// restarted cycles (`--sessions 2:12,2:24,2:36`). When the weights differ, the report and the file name list them
    /// per member: ensembles/sessions_&lt;a&gt;[w&lt;weights&gt;]_..._&lt;split&gt;[_&lt;aggregation&gt;].txt.
    /// </summary>
    public static EnsembleOutcome Run(ArtifactLayout layout, IReadOnlyList<EnsembleMember> members, ProcessedDataset dataset, DataSplit? split,
                                      WindowAggregation? aggregation, int bootstrap,
                                      Action<StageProgress>? progress = null, CancellationToken cancel = default) =>
        Run(layout, members, dataset, split, aggregation, bootstrap, null, progress, cancel);

    /// <summary>
    /// The ensemble stage itself, with the members combined as a choice made earlier says (<paramref name="applied"/>, from
    /// <see cref="ApplyChoice"/>; null: the plain mean).
    /// </summary>
    private static EnsembleOutcome Run(ArtifactLayout layout, IReadOnlyList<EnsembleMember> members, ProcessedDataset dataset, DataSplit? split,
                                       WindowAggregation? aggregation, int bootstrap, AppliedCombination? applied,
                                       Action<StageProgress>? progress, CancellationToken cancel)
    {
        if (members.Count < 2) throw new UserError("An ensemble needs at least two sessions, e.g. --sessions 1,2,3.");
        var sessions = members.Select(m => m.Session).ToArray();
        RequireSameTaskAndLeads(sessions);
        var chosen = split ?? DataSplits.DefaultForReport(sessions[0].SplitScheme, dataset);
        var common = EnsembleMember.CommonWeights(members);
        var names = string.Join(", ", members.Select(m => m.LabelAmong(common)));

        Evaluation[] evaluate(DataSplit part) => members.Select(m =>
            EvaluationStage.Evaluate(m.Session, dataset, part, m.Weights, aggregation ?? m.Session.Aggregation, progress, cancel)).ToArray();
        Evaluation combine(Evaluation[] evaluations, DataSplit part) =>
            applied is null ? Mean(evaluations, names, part) : applied.Combine(evaluations, names, part);
        var memberEvaluations = evaluate(chosen);
        var ensemble = combine(memberEvaluations, chosen);

        DecisionThresholds? thresholds = null;
        if (sessions[0].SplitScheme.ValidationIndices(dataset).Length > 0)
        {
            var tuning = chosen == DataSplit.Validation ? ensemble : combine(evaluate(DataSplit.Validation), DataSplit.Validation);
            thresholds = TuneThresholds(tuning, common, aggregation, "this ensemble");
        }

        var windows = aggregation is { } a ? $", windows combined by {a.Name()}" : "";
        var weightsText = common is null ? ", each member's own weights" : common.IsBest ? "" : $", weights {common}";
        var mean = applied is null ? "mean of probabilities" : applied.Describe(sessions);
        var text = $"Ensemble of sessions {names} ({mean}{windows}{weightsText})\n"
                   + EvaluationReport.Text($"Session {sessions[0].Number}, {ensemble.Split} split, {ensemble.EcgIds.Length} records", ensemble, bootstrap, thresholds);
        var suffix = (common is null || common.IsBest ? "" : $"_weights_{common}") + (aggregation is { } agg ? $"_{agg.Name()}" : "")
                     + (applied is null ? "" : "_applying_" + Path.GetFileNameWithoutExtension(applied.Path));
        var path = layout.EnsembleReport($"sessions_{string.Join("_", members.Select(m => m.FileTokenAmong(common)))}_{chosen.Name()}{suffix}");
        AtomicFile.WriteAllText(path, text);
        return new EnsembleOutcome(memberEvaluations, new EvaluationOutcome(ensemble, text, path, thresholds));
    }

    /// <summary>
    /// The members' mean probabilities on one split, evaluated like a session's: weighted by <paramref name="weights"/>
    /// (summing to 1, one per member) when given, else equal.
    /// </summary>
    public static Evaluation Mean(IReadOnlyList<Evaluation> evaluations, string members, DataSplit split, IReadOnlyList<double>? weights = null)
    {
        RequireSameRecords(evaluations, members, split);
        var first = evaluations[0];
        var sum = new double[first.Probabilities.Length];
        for (int m = 0; m < evaluations.Count; m++)
        {
            var w = weights?[m] ?? 1.0 / evaluations.Count;
            var p = evaluations[m].Probabilities;
            for (int i = 0; i < sum.Length; i++) sum[i] += w * p[i];
        }
        return first.WithProbabilities(sum.Select(v => (float)v).ToArray());
    }

    /// <summary>
    /// Chooses an ensemble from <paramref name="candidates"/>, each with <paramref name="weights"/>: see the overload for
    /// candidates that name their own weights.
    /// </summary>
    public static ChosenEnsembleOutcome Choose(ArtifactLayout layout, IReadOnlyList<TrainingSession> candidates, ProcessedDataset dataset,
                                               WeightsChoice weights, WindowAggregation? aggregation, int rounds, int bootstrap,
                                               Action<StageProgress>? progress = null, CancellationToken cancel = default, double minimumGain = 0) =>
        Choose(layout, EnsembleMember.All(candidates, weights), dataset, aggregation, rounds, bootstrap, progress, cancel, minimumGain);

    /// <summary>
    /// Chooses an ensemble from <paramref name="candidates"/> on validation alone (<see cref="EnsembleSelection.Greedy"/>,
    /// at most <paramref name="rounds"/> rounds), tunes its thresholds there too, then evaluates the chosen weighted mean
    /// once on the test records (the validation records when the scheme has no test records in the dataset, said so in
    /// the report). A candidate may name its own weights, so one session's snapshots (`2:12,2:24,2:36`) compete with
    /// other sessions on the validation fold. Writes ensembles/chosen_from_&lt;a&gt;_&lt;b&gt;_..._&lt;split&gt;[_weights_W][_&lt;aggregation&gt;].txt
    /// (a candidate with weights of its own as &lt;a&gt;w&lt;weights&gt;) and a .json beside it with the members, weights and every round.
    /// </summary>
    public static ChosenEnsembleOutcome Choose(ArtifactLayout layout, IReadOnlyList<EnsembleMember> candidates, ProcessedDataset dataset,
                                               WindowAggregation? aggregation, int rounds, int bootstrap,
                                               Action<StageProgress>? progress = null, CancellationToken cancel = default, double minimumGain = 0)
    {
        if (!(minimumGain >= 0)) throw new UserError($"--min-gain {minimumGain}: give 0 or more.");
        if (candidates.Count < 2) throw new UserError("Choosing an ensemble needs at least two candidate sessions, e.g. --sessions 1,2,3.");
        if (rounds < 1) throw new UserError($"--rounds {rounds}: give at least 1.");
        var sessions = candidates.Select(m => m.Session).ToArray();
        RequireSameTaskAndLeads(sessions);
        var scheme = RequireValidationRecords(sessions[0], dataset, "to choose an ensemble on");
        var common = EnsembleMember.CommonWeights(candidates);
        string label(int c) => candidates[c].LabelAmong(common);
        var names = string.Join(", ", candidates.Select(m => m.LabelAmong(common)));
        Evaluation evaluate(EnsembleMember m, DataSplit part) =>
            EvaluationStage.Evaluate(m.Session, dataset, part, m.Weights, aggregation ?? m.Session.Aggregation, progress, cancel);

        var validation = candidates.Select(m => evaluate(m, DataSplit.Validation)).ToArray();
        RequireSameRecords(validation, names, DataSplit.Validation);
        var choice = EnsembleSelection.Greedy(validation, rounds, minimumGain);
        var chosen = Enumerable.Range(0, candidates.Count).Where(c => choice.Counts[c] > 0).ToArray();
        var chosenWeights = chosen.Select(c => choice.Weights[c]).ToArray();
        var chosenNames = string.Join(", ", chosen.Select(label));
        var validationEnsemble = Mean(chosen.Select(c => validation[c]).ToArray(), chosenNames, DataSplit.Validation, chosenWeights);
        var thresholds = TuneThresholds(validationEnsemble, common, aggregation, "this chosen ensemble");

        var report = scheme.TestIndices(dataset).Length > 0 ? DataSplit.Test : DataSplit.Validation;
        var reported = report == DataSplit.Validation ? validationEnsemble
            : Mean(chosen.Select(c => evaluate(candidates[c], DataSplit.Test)).ToArray(), chosenNames, DataSplit.Test, chosenWeights);

        var folds = string.Join(",", scheme.ValidationFolds);
        var lines = new List<string>
        {
            $"Ensemble chosen from sessions {names} on the validation split (fold {folds}, {validation[0].EcgIds.Length} records) by forward " +
            $"selection with replacement (Caruana et al. 2004), {rounds} rounds" +
            (minimumGain > 0 ? string.Create(CultureInfo.InvariantCulture, $", a later round kept only for a gain of at least {minimumGain:G4}") : "") +
            $"; kept: round {choice.KeptRound}, validation macro AUC {choice.ValidationMacroAuc:F4}.",
            "Members and weights (weighted mean of probabilities" + (aggregation is { } a ? $", windows combined by {a.Name()}" : "") +
            (common is null ? ", each member's own weights" : common.IsBest ? "" : $", weights {common}") + "):",
        };
        lines.AddRange(chosen.Select(c => $"  session {label(c)} ({sessions[c].Manifest.Config.Model}): weight {choice.Weights[c]:F4} " +
                                          $"({choice.Counts[c]} of {choice.KeptRound}), alone on validation {validation[c].MacroAuc:F4}"));
        lines.Add("Rounds (candidate added, validation macro AUC after it): " +
                  string.Join("; ", choice.Rounds.Select(r => $"{r.Round}: {label(r.Added)} {r.ValidationMacroAuc:F4}")));
        if (report == DataSplit.Validation)
            lines.Add("The scheme has no test records in this dataset: the figures below are on the validation records the choice was made on.");
        var text = string.Join("\n", lines) + "\n"
                   + EvaluationReport.Text($"Chosen ensemble, {reported.Split} split, {reported.EcgIds.Length} records", reported, bootstrap, thresholds);

        var suffix = (common is null || common.IsBest ? "" : $"_weights_{common}") + (aggregation is { } agg ? $"_{agg.Name()}" : "")
                     + (minimumGain > 0 ? string.Create(CultureInfo.InvariantCulture, $"_min_gain_{minimumGain:G4}") : "");
        var name = $"chosen_from_{string.Join("_", candidates.Select(m => m.FileTokenAmong(common)))}_{report.Name()}{suffix}";
        var path = layout.EnsembleReport(name);
        var record = new ChosenEnsembleFile(
            sessions.Select(s => s.Number).ToArray(), chosen.Select(c => sessions[c].Number).ToArray(), chosenWeights,
            choice.KeptRound, rounds, choice.ValidationMacroAuc, choice.Rounds.Select(r => sessions[r.Added].Number).ToArray(),
            choice.Rounds.Select(r => r.ValidationMacroAuc).ToArray(), common?.ToString() ?? EachMembersOwn, aggregation?.Name() ?? EachMembersOwn,
            report.Name(), reported.MacroAuc, minimumGain,
            common is null ? chosen.Select(c => candidates[c].Weights.ToString()).ToArray() : null);
        AtomicFile.WriteAllText(layout.EnsembleChoice(name), System.Text.Json.JsonSerializer.Serialize(record, JsonDefaults.Options));
        AtomicFile.WriteAllText(path, text);
        return new ChosenEnsembleOutcome(choice, chosen.Select(c => candidates[c]).ToArray(), chosenWeights,
                                         new EvaluationOutcome(reported, text, path, thresholds));
    }

    /// <summary>
    /// Stacks <paramref name="members"/> (<see cref="EnsembleStacking"/>): per class, a logistic regression from the
    /// members' logits, fitted on the validation records alone, thresholds tuned there too; then reports the stack once on
    /// the test records (the validation records when the scheme has none in the dataset, said so in the report). Writes
    /// ensembles/stacked_&lt;a&gt;_&lt;b&gt;_..._&lt;split&gt;[_weights_W][_&lt;aggregation&gt;].txt and a .json beside it that
    /// <see cref="ApplyChoice"/> reads.
    /// </summary>
    public static EvaluationOutcome Stack(ArtifactLayout layout, IReadOnlyList<TrainingSession> members, ProcessedDataset dataset,
                                          WeightsChoice weights, WindowAggregation? aggregation, int bootstrap,
                                          Action<StageProgress>? progress = null, CancellationToken cancel = default, double c = EnsembleStacking.DefaultC)
    {
        if (members.Count < 2) throw new UserError("Stacking needs at least two sessions, e.g. --sessions 1,2.");
        RequireSameTaskAndLeads(members);
        var scheme = RequireValidationRecords(members[0], dataset, "to fit a stack on");
        var names = string.Join(", ", members.Select(s => s.Number));
        Evaluation[] evaluate(DataSplit part) => members.Select(s =>
            EvaluationStage.Evaluate(s, dataset, part, weights, aggregation ?? s.Aggregation, progress, cancel)).ToArray();
        var validation = evaluate(DataSplit.Validation);
        RequireSameRecords(validation, names, DataSplit.Validation);
        var stack = EnsembleStacking.Fit(validation, c);
        var stackedValidation = EnsembleStacking.Apply(stack, validation);
        var thresholds = TuneThresholds(stackedValidation, weights, aggregation, "this stack");
        var report = scheme.TestIndices(dataset).Length > 0 ? DataSplit.Test : DataSplit.Validation;
        Evaluation reported;
        if (report == DataSplit.Validation) reported = stackedValidation;
        else
        {
            var test = evaluate(DataSplit.Test);
            RequireSameRecords(test, names, DataSplit.Test);
            reported = EnsembleStacking.Apply(stack, test);
        }

        var first = validation[0];
        var lines = new List<string>
        {
            $"Ensemble of sessions {names} stacked: per class, a logistic regression (L2, C = {c.ToString("G4", CultureInfo.InvariantCulture)}) on the members' logits, fitted on the " +
                $"validation split (fold {string.Join(",", scheme.ValidationFolds)}, {first.EcgIds.Length} records): validation macro AUC " +
                $"{stackedValidation.MacroAuc:F4}, the plain mean {Mean(validation, names, DataSplit.Validation).MacroAuc:F4}" +
                (aggregation is { } a ? $"; windows combined by {a.Name()}" : "") + (weights.IsBest ? "" : $"; weights {weights}") + ".",
            "Coefficients per class (on each member's logit) and intercept:",
        };
        for (int k = 0; k < first.Classes; k++)
            lines.Add(string.Create(CultureInfo.InvariantCulture, $"  {first.ClassNames[k]}: ") +
                      string.Join(", ", members.Select((s, m) => string.Create(CultureInfo.InvariantCulture, $"session {s.Number} {stack.Coefficients[k][m]:F4}"))) +
                      string.Create(CultureInfo.InvariantCulture, $", intercept {stack.Intercepts[k]:F4}"));
        if (report == DataSplit.Validation)
            lines.Add("The scheme has no test records in this dataset: the figures below are on the validation records the stack was fitted on.");
        var text = string.Join("\n", lines) + "\n"
                   + EvaluationReport.Text($"Stacked ensemble, {reported.Split} split, {reported.EcgIds.Length} records", reported, bootstrap, thresholds);
        var suffix = (weights.IsBest ? "" : $"_weights_{weights}") + (aggregation is { } agg ? $"_{agg.Name()}" : "");
        var name = $"stacked_{string.Join("_", members.Select(s => s.Number))}_{report.Name()}{suffix}";
        var path = layout.EnsembleReport(name);
        var record = new StackedEnsembleFile(members.Select(s => s.Number).ToArray(), first.ClassNames, stack.Coefficients, stack.Intercepts, c,
                                             weights.ToString(), aggregation?.Name() ?? EachMembersOwn, stackedValidation.MacroAuc,
                                             report.Name(), reported.MacroAuc);
        AtomicFile.WriteAllText(layout.EnsembleChoice(name), System.Text.Json.JsonSerializer.Serialize(record, JsonDefaults.Options));
        AtomicFile.WriteAllText(path, text);
        return new EvaluationOutcome(reported, text, path, thresholds);
    }

    /// <summary>
    /// What a choice made earlier (<paramref name="choicePath"/>: the .json <see cref="Choose"/> or <see cref="Stack"/>
    /// writes) does with its members, done to <paramref name="sessions"/> instead: the chosen weights, or the fitted stack.
    /// One session per member, in the file's order, each trained with its member's recipe. This is how a choice made on
    /// fold 8 carries to the same recipes retrained under <c>--split refit</c> (folds 1-8) and tested on fold 9, where
    /// nothing may be chosen. Windows are combined as in the choice unless <paramref name="aggregation"/> says otherwise.
    /// A damaged file, a count that does not match or a session whose recipe differs from its member's is refused,
    /// naming the file, the session and the field.
    /// </summary>
    public static EnsembleOutcome ApplyChoice(ArtifactLayout layout, string choicePath, IReadOnlyList<TrainingSession> sessions, ProcessedDataset dataset,
                                              DataSplit? split, WeightsChoice weights, WindowAggregation? aggregation, int bootstrap,
                                              Action<StageProgress>? progress = null, CancellationToken cancel = default)
    {
        // "ensembles/chosen_from_....json" as --choose names it: relative to the working folder, else to the artifacts root.
        if (!File.Exists(choicePath) && !Path.IsPathRooted(choicePath) && File.Exists(Path.Combine(layout.Root, choicePath)))
            choicePath = Path.Combine(layout.Root, choicePath);
        var (members, memberWeights, fileAggregation, applied) = ReadChoice(choicePath, sessions);
        if (sessions.Count != members.Length)
            throw new UserError($"'{choicePath}' chose {members.Length} member(s) (sessions {string.Join(",", members)}); " +
                                $"--sessions gave {sessions.Count}: give one session per member, in that order.");
        if (sessions.Count == 1)
            throw new UserError($"'{choicePath}' kept one member (session {members[0]}): evaluate session {sessions[0].Number} alone with `ecg evaluate`.");
        for (int i = 0; i < sessions.Count; i++)
        {
            TrainingSession member;
            try { member = TrainingSession.Open(layout, members[i].ToString(CultureInfo.InvariantCulture)); }
            catch (UserError e) { throw new UserError($"'{choicePath}': member session {members[i]} cannot be opened to check its recipe: {e.Message}"); }
            RequireSameRecipe(member, sessions[i], choicePath);
        }
        // The choice file names its aggregation, or "each member's own" when none was forced.
        var chosenAggregation = aggregation ?? (WindowAggregations.Names.Contains(fileAggregation) ? WindowAggregations.Parse(fileAggregation) : null);
        // A choice among snapshots names each member's weights: the sessions standing in take the same ones.
        if (memberWeights is not null && !weights.IsBest)
            throw new UserError($"'{choicePath}' names each member's weights ({string.Join(", ", memberWeights.Select(w => w.ToString()))}): leave --weights out.");
        var applying = memberWeights is null ? EnsembleMember.All(sessions, weights)
            : sessions.Select((s, i) => new EnsembleMember(s, memberWeights[i])).ToArray();
        return Run(layout, applying, dataset, split, chosenAggregation, bootstrap, applied, progress, cancel);
    }

    /// <summary>
    /// A choice file read back, every field it is used for checked: its members, its aggregation and how it combines them
    /// (a stack file holds coefficients, a chosen ensemble's weights).
    /// </summary>
    private static (int[] Members, WeightsChoice[]? MemberWeights, string Aggregation, AppliedCombination Applied) ReadChoice(string path, IReadOnlyList<TrainingSession> sessions)
    {
        if (!File.Exists(path)) throw new UserError($"Ensemble choice '{path}' not found (`ecg ensemble --choose` or `--stack` writes ensembles/....json).");
        var text = File.ReadAllText(path);
        bool isStack;
        try
        {
            using var json = System.Text.Json.JsonDocument.Parse(text);
            isStack = json.RootElement.ValueKind == System.Text.Json.JsonValueKind.Object && json.RootElement.TryGetProperty("coefficients", out _);
        }
        catch (System.Text.Json.JsonException e) { throw new UserError($"Ensemble choice '{path}' is not a choice file: {e.Message}"); }
        if (isStack)
        {
            var (members, aggregation, applied) = ReadStack(path, text, sessions);
            return (members, null, aggregation, applied);
        }
        return ReadWeights(path, text);
    }

    private static T Deserialize<T>(string path, string text) where T : class
    {
        try { return System.Text.Json.JsonSerializer.Deserialize<T>(text, JsonDefaults.Options) ?? throw new UserError($"Ensemble choice '{path}' is empty (null)."); }
        catch (System.Text.Json.JsonException e) { throw new UserError($"Ensemble choice '{path}' is not a choice file: {e.Message}"); }
    }

    private static (int[], WeightsChoice[]?, string, AppliedCombination) ReadWeights(string path, string text)
    {
        var file = Deserialize<ChosenEnsembleFile>(path, text);
        if (file.Members is null || file.Members.Length == 0)
            throw new UserError($"Ensemble choice '{path}': field 'members' is missing or empty.");
        if (file.Weights is null || file.Weights.Length != file.Members.Length)
            throw new UserError($"Ensemble choice '{path}': field 'weights' must hold one weight per member ({file.Members.Length}).");
        if (file.Weights.Any(w => !(w > 0 && w <= 1)) || Math.Abs(file.Weights.Sum() - 1) > 1e-6)
            throw new UserError($"Ensemble choice '{path}': field 'weights' [{string.Join(", ", file.Weights.Select(w => w.ToString("G6", CultureInfo.InvariantCulture)))}] " +
                                "must be positive and sum to 1.");
        WeightsChoice[]? memberWeights = null;
        if (file.MemberWeights is { } named)
        {
            if (named.Length != file.Members.Length)
                throw new UserError($"Ensemble choice '{path}': field 'member_weights' must name one member's weights per member ({file.Members.Length}).");
            memberWeights = named.Select((w, i) =>
            {
                try { return WeightsChoice.Parse(w ?? "", "value"); }
                catch (UserError e) { throw new UserError($"Ensemble choice '{path}': field 'member_weights', member {i + 1} (session {file.Members[i]}): {e.Message}"); }
            }).ToArray();
        }
        // "6", or "6:12" where the member names its weights.
        string label(int session, int i) => memberWeights is null || memberWeights[i].IsBest
            ? session.ToString(CultureInfo.InvariantCulture) : $"{session}:{memberWeights[i]}";
        var applied = new AppliedCombination(path,
            (evaluations, names, part) => Mean(evaluations, names, part, file.Weights),
            sessions => "weighted mean of probabilities, " + string.Join(", ", sessions.Select((s, i) => string.Create(CultureInfo.InvariantCulture,
                            $"session {label(s.Number, i)} {file.Weights[i]:F4} (as member {label(file.Members[i], i)})"))) + $", weights chosen by {path}");
        return (file.Members, memberWeights, file.Aggregation ?? "", applied);
    }

    private static (int[], string, AppliedCombination) ReadStack(string path, string text, IReadOnlyList<TrainingSession> sessions)
    {
        var file = Deserialize<StackedEnsembleFile>(path, text);
        if (file.Members is null || file.Members.Length == 0)
            throw new UserError($"Ensemble choice '{path}': field 'members' is missing or empty.");
        var classes = sessions.Count > 0 ? sessions[0].Manifest.ClassNames : Array.Empty<string>();
        if (file.ClassNames is null || !file.ClassNames.SequenceEqual(classes))
            throw new UserError($"Ensemble choice '{path}': field 'class_names' [{string.Join(",", file.ClassNames ?? Array.Empty<string>())}] " +
                                $"is not the sessions' [{string.Join(",", classes)}].");
        if (file.Coefficients is null || file.Coefficients.Length != classes.Length
            || file.Coefficients.Any(c => c is null || c.Length != file.Members.Length || c.Any(v => !double.IsFinite(v))))
            throw new UserError($"Ensemble choice '{path}': field 'coefficients' must hold, per class, one finite coefficient per member ({file.Members.Length}).");
        if (file.Intercepts is null || file.Intercepts.Length != classes.Length || file.Intercepts.Any(v => !double.IsFinite(v)))
            throw new UserError($"Ensemble choice '{path}': field 'intercepts' must hold one finite intercept per class ({classes.Length}).");
        var stack = new StackedCombination(file.Coefficients, file.Intercepts, file.C);
        var applied = new AppliedCombination(path,
            (evaluations, names, part) => { RequireSameRecords(evaluations, names, part); return EnsembleStacking.Apply(stack, evaluations); },
            sessions => "logistic stack of logits, " + string.Join(", ", sessions.Select((s, i) => $"session {s.Number} as member {file.Members[i]}")) +
                        $", fitted by {path}");
        return (file.Members, file.Aggregation ?? "", applied);
    }

    /// <summary>
    /// A session stands in for a member only when trained with the same recipe: every config field but where it ran
    /// (device, threads) and what it started from (--init-from names other sessions).
    /// </summary>
    private static void RequireSameRecipe(TrainingSession member, TrainingSession session, string choicePath)
    {
        static Dictionary<string, string> recipe(TrainingConfig c)
        {
            var normalised = c with { Device = "", Threads = null, InitFrom = null };
            using var json = System.Text.Json.JsonDocument.Parse(System.Text.Json.JsonSerializer.Serialize(normalised, JsonDefaults.Options));
            return json.RootElement.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetRawText());
        }
        var (m, s) = (recipe(member.Manifest.Config), recipe(session.Manifest.Config));
        var differing = m.Keys.Union(s.Keys).Where(k => m.GetValueOrDefault(k) != s.GetValueOrDefault(k))
            .Select(k => $"{k} {s.GetValueOrDefault(k) ?? "(none)"} against {m.GetValueOrDefault(k) ?? "(none)"}").ToArray();
        if (differing.Length > 0)
            throw new UserError($"Session {session.Number} does not share the recipe of member session {member.Number} of '{choicePath}': " +
                                string.Join("; ", differing) + ". Train it with the member's options (under --split refit, say).");
    }

    /// <summary>A choice is made on validation records: refuse sessions whose scheme has none, saying what they were for.</summary>
    private static SplitScheme RequireValidationRecords(TrainingSession first, ProcessedDataset dataset, string purpose)
    {
        var scheme = first.SplitScheme;
        if (scheme.ValidationIndices(dataset).Length == 0)
            throw new UserError($"Session {first.Number} was trained under the {scheme.Name} split, which has no validation records " +
                                $"{purpose}: use sessions trained under --split select or benchmark.");
        return scheme;
    }

    /// <summary>
    /// F1 thresholds tuned on an ensemble's validation probabilities; the provenance names the members' weights (null:
    /// they differ) and aggregation ("each member's own" when none is forced) and what they were tuned for.
    /// </summary>
    private static DecisionThresholds TuneThresholds(Evaluation validation, WeightsChoice? weights, WindowAggregation? aggregation, string tunedFor)
    {
        var tuned = DecisionThresholds.Tune(validation, weights ?? WeightsChoice.Best, aggregation ?? WindowAggregation.Max);
        return tuned with
        {
            Provenance = tuned.Provenance with
            {
                TunedFor = tunedFor,
                Weights = weights is null ? EachMembersOwn : tuned.Provenance.Weights,
                Aggregation = aggregation is null ? EachMembersOwn : tuned.Provenance.Aggregation,
            },
        };
    }

    /// <summary>Evaluations of different records cannot be averaged: refuse, naming the members and the split.</summary>
    private static void RequireSameRecords(IReadOnlyList<Evaluation> evaluations, string members, DataSplit split)
    {
        var first = evaluations[0];
        if (evaluations.Any(e => !e.EcgIds.SequenceEqual(first.EcgIds)))
            throw new UserError($"Sessions {members} do not share the same {split.Name()} records (different split schemes or datasets).");
    }

    /// <summary>Members trained on different label sets or leads cannot be averaged: refuse with what differs.</summary>
    private static void RequireSameTaskAndLeads(IReadOnlyList<TrainingSession> members)
    {
        var first = members[0].Manifest;
        foreach (var s in members.Skip(1))
        {
            if (!s.Manifest.ClassNames.SequenceEqual(first.ClassNames))
                throw new UserError($"Session {s.Number} predicts [{string.Join(",", s.Manifest.ClassNames)}], session {members[0].Number} " +
                                    $"[{string.Join(",", first.ClassNames)}]: an ensemble's members must share their task (classes).");
            if (!s.Manifest.LeadNames.SequenceEqual(first.LeadNames, StringComparer.OrdinalIgnoreCase))
                throw new UserError($"Session {s.Number} reads leads [{string.Join(",", s.Manifest.LeadNames)}], session {members[0].Number} " +
                                    $"[{string.Join(",", first.LeadNames)}]: an ensemble's members must share their leads.");
        }
    }
}

/// <summary>
/// A choice applied to other sessions: its file, how it combines the members' evaluations (members in the file's order)
/// and how the report says so.
/// </summary>
internal sealed record AppliedCombination(string Path, Func<Evaluation[], string, DataSplit, Evaluation> Combine,
                                          Func<IReadOnlyList<TrainingSession>, string> Describe);

/// <summary>An ensemble's result: each member's evaluation (in member order) and the ensemble's own.</summary>
public sealed record EnsembleOutcome(Evaluation[] Members, EvaluationOutcome Ensemble);

/// <summary>
/// One member of an ensemble: a session and which of its weights, "SESSION[:WEIGHTS]" as `--init-from` takes it
/// (<see cref="FineTuning.Parse"/>): "2" (best), "2:12" (epoch 12), "2:9-12" (epochs 9-12 averaged).
/// </summary>
public sealed record EnsembleMember(TrainingSession Session, WeightsChoice Weights)
{
    /// <summary>"2", or "2:12" for other weights than the best.</summary>
    public string Label => Weights.IsBest ? Session.Number.ToString(CultureInfo.InvariantCulture) : $"{Session.Number}:{Weights}";

    /// <summary>The member in a file name: "2", or "2w12".</summary>
    public string FileToken => Weights.IsBest ? Session.Number.ToString(CultureInfo.InvariantCulture) : $"{Session.Number}w{Weights}";

    /// <summary>Every session with the same weights.</summary>
    public static EnsembleMember[] All(IEnumerable<TrainingSession> sessions, WeightsChoice weights) =>
        sessions.Select(session => new EnsembleMember(session, weights)).ToArray();

    /// <summary>The weights every member uses, or null when they differ (then each member is named with its own).</summary>
    public static WeightsChoice? CommonWeights(IReadOnlyList<EnsembleMember> members) =>
        members.All(m => m.Weights == members[0].Weights) ? members[0].Weights : null;

    /// <summary>The member among others using <paramref name="common"/> weights: its session number alone, else <see cref="Label"/>.</summary>
    public string LabelAmong(WeightsChoice? common) => common is null ? Label : Session.Number.ToString(CultureInfo.InvariantCulture);

    /// <summary>As <see cref="LabelAmong"/>, in a file name.</summary>
    public string FileTokenAmong(WeightsChoice? common) => common is null ? FileToken : Session.Number.ToString(CultureInfo.InvariantCulture);
}

/// <summary>A chosen ensemble: the selection, the members kept (candidate order) with their weights, and its evaluation.</summary>
public sealed record ChosenEnsembleOutcome(EnsembleChoice Choice, EnsembleMember[] Members, double[] Weights, EvaluationOutcome Ensemble);

/// <summary>
/// ensembles/chosen_from_....json: what was chosen, from what, how, and the one reported figure. Where the candidates
/// named their own weights, <see cref="MemberWeights"/> holds each member's (SessionWeights then says "each member's own").
/// </summary>
public sealed record ChosenEnsembleFile(
    int[] Candidates, int[] Members, double[] Weights, int KeptRound, int Rounds, double ValidationMacroAuc,
    int[] AddedPerRound, double[] ValidationMacroAucPerRound, string SessionWeights, string Aggregation,
    string ReportedSplit, double ReportedMacroAuc, double MinimumGain = 0, string[]? MemberWeights = null);

/// <summary>ensembles/stacked_....json: the members, the fitted stack (per class: coefficients on the members' logits, intercept) and the one reported figure.</summary>
public sealed record StackedEnsembleFile(
    int[] Members, string[] ClassNames, double[][] Coefficients, double[] Intercepts, double C, string SessionWeights, string Aggregation,
    double ValidationMacroAuc, string ReportedSplit, double ReportedMacroAuc);

