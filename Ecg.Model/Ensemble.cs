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
        Run(layout, members, dataset, split, weights, aggregation, bootstrap, null, progress, cancel);

    /// <summary>
    /// <see cref="Run(ArtifactLayout, IReadOnlyList{TrainingSession}, ProcessedDataset, DataSplit?, WeightsChoice, WindowAggregation?, int, Action{StageProgress}?, CancellationToken)"/>
    /// with the members weighted as a choice made earlier says (<paramref name="applied"/>, from <see cref="ApplyChoice"/>);
    /// null: equal weights.
    /// </summary>
    private static EnsembleOutcome Run(ArtifactLayout layout, IReadOnlyList<TrainingSession> members, ProcessedDataset dataset, DataSplit? split,
                                       WeightsChoice weights, WindowAggregation? aggregation, int bootstrap, AppliedChoice? applied,
                                       Action<StageProgress>? progress, CancellationToken cancel)
    {
        if (members.Count < 2) throw new UserError("An ensemble needs at least two sessions, e.g. --sessions 1,2,3.");
        RequireSameTaskAndLeads(members);
        var chosen = split ?? DataSplits.DefaultForReport(members[0].SplitScheme, dataset);
        var names = string.Join(", ", members.Select(s => s.Number));

        Evaluation[] evaluate(DataSplit part) => members.Select(s =>
            EvaluationStage.Evaluate(s, dataset, part, weights, aggregation ?? s.Aggregation, progress, cancel)).ToArray();
        var memberEvaluations = evaluate(chosen);
        var ensemble = Mean(memberEvaluations, names, chosen, applied?.Weights);

        DecisionThresholds? thresholds = null;
        if (members[0].SplitScheme.ValidationIndices(dataset).Length > 0)
        {
            var tuning = chosen == DataSplit.Validation ? ensemble : Mean(evaluate(DataSplit.Validation), names, DataSplit.Validation, applied?.Weights);
            // The provenance names the members' weights and aggregation ("each member's own" when none is forced).
            var tuned = DecisionThresholds.Tune(tuning, weights, aggregation ?? WindowAggregation.Max);
            thresholds = tuned with
            {
                Provenance = tuned.Provenance with { TunedFor = "this ensemble", Aggregation = aggregation is null ? "each member's own" : tuned.Provenance.Aggregation },
            };
        }

        var windows = aggregation is { } a ? $", windows combined by {a.Name()}" : "";
        var weightsText = weights.IsBest ? "" : $", weights {weights}";
        var mean = applied is null ? "mean of probabilities"
            : "weighted mean of probabilities, " + string.Join(", ", members.Select((s, i) => string.Create(CultureInfo.InvariantCulture,
                  $"session {s.Number} {applied.Weights[i]:F4} (as member {applied.Members[i]})"))) + $", weights chosen by {applied.Path}";
        var text = $"Ensemble of sessions {names} ({mean}{windows}{weightsText})\n"
                   + EvaluationReport.Text($"Session {members[0].Number}, {ensemble.Split} split, {ensemble.EcgIds.Length} records", ensemble, bootstrap, thresholds);
        var suffix = (weights.IsBest ? "" : $"_weights_{weights}") + (aggregation is { } agg ? $"_{agg.Name()}" : "")
                     + (applied is null ? "" : "_applying_" + Path.GetFileNameWithoutExtension(applied.Path));
        var path = layout.EnsembleReport($"sessions_{string.Join("_", members.Select(s => s.Number))}_{chosen.Name()}{suffix}");
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
    /// Chooses an ensemble from <paramref name="candidates"/> on validation alone (<see cref="EnsembleSelection.Greedy"/>,
    /// at most <paramref name="rounds"/> rounds), tunes its thresholds there too, then evaluates the chosen weighted mean
    /// once on the test records (the validation records when the scheme has no test records in the dataset, said so in
    /// the report). Writes ensembles/chosen_from_&lt;a&gt;_&lt;b&gt;_..._&lt;split&gt;[_weights_W][_&lt;aggregation&gt;].txt and a .json
    /// beside it with the members, weights and every round.
    /// </summary>
    public static ChosenEnsembleOutcome Choose(ArtifactLayout layout, IReadOnlyList<TrainingSession> candidates, ProcessedDataset dataset,
                                               WeightsChoice weights, WindowAggregation? aggregation, int rounds, int bootstrap,
                                               Action<StageProgress>? progress = null, CancellationToken cancel = default, double minimumGain = 0)
    {
        if (!(minimumGain >= 0)) throw new UserError($"--min-gain {minimumGain}: give 0 or more.");
        if (candidates.Count < 2) throw new UserError("Choosing an ensemble needs at least two candidate sessions, e.g. --sessions 1,2,3.");
        if (rounds < 1) throw new UserError($"--rounds {rounds}: give at least 1.");
        RequireSameTaskAndLeads(candidates);
        var scheme = candidates[0].SplitScheme;
        if (scheme.ValidationIndices(dataset).Length == 0)
            throw new UserError($"Session {candidates[0].Number} was trained under the {scheme.Name} split, which has no validation records " +
                                "to choose an ensemble on: use sessions trained under --split select or benchmark.");
        var names = string.Join(", ", candidates.Select(s => s.Number));
        Evaluation evaluate(TrainingSession s, DataSplit part) =>
            EvaluationStage.Evaluate(s, dataset, part, weights, aggregation ?? s.Aggregation, progress, cancel);

        var validation = candidates.Select(s => evaluate(s, DataSplit.Validation)).ToArray();
        RequireSameRecords(validation, names, DataSplit.Validation);
        var choice = EnsembleSelection.Greedy(validation, rounds, minimumGain);
        var chosen = Enumerable.Range(0, candidates.Count).Where(c => choice.Counts[c] > 0).ToArray();
        var chosenWeights = chosen.Select(c => choice.Weights[c]).ToArray();
        var chosenNames = string.Join(", ", chosen.Select(c => candidates[c].Number));
        var validationEnsemble = Mean(chosen.Select(c => validation[c]).ToArray(), chosenNames, DataSplit.Validation, chosenWeights);
        var tuned = DecisionThresholds.Tune(validationEnsemble, weights, aggregation ?? WindowAggregation.Max);
        var thresholds = tuned with
        {
            Provenance = tuned.Provenance with { TunedFor = "this chosen ensemble", Aggregation = aggregation is null ? "each member's own" : tuned.Provenance.Aggregation },
        };

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
            (weights.IsBest ? "" : $", weights {weights}") + "):",
        };
        lines.AddRange(chosen.Select(c => $"  session {candidates[c].Number} ({candidates[c].Manifest.Config.Model}): weight {choice.Weights[c]:F4} " +
                                          $"({choice.Counts[c]} of {choice.KeptRound}), alone on validation {validation[c].MacroAuc:F4}"));
        lines.Add("Rounds (candidate added, validation macro AUC after it): " +
                  string.Join("; ", choice.Rounds.Select(r => $"{r.Round}: {candidates[r.Added].Number} {r.ValidationMacroAuc:F4}")));
        if (report == DataSplit.Validation)
            lines.Add("The scheme has no test records in this dataset: the figures below are on the validation records the choice was made on.");
        var text = string.Join("\n", lines) + "\n"
                   + EvaluationReport.Text($"Chosen ensemble, {reported.Split} split, {reported.EcgIds.Length} records", reported, bootstrap, thresholds);

        var suffix = (weights.IsBest ? "" : $"_weights_{weights}") + (aggregation is { } agg ? $"_{agg.Name()}" : "")
                     + (minimumGain > 0 ? string.Create(CultureInfo.InvariantCulture, $"_min_gain_{minimumGain:G4}") : "");
        var name = $"chosen_from_{string.Join("_", candidates.Select(s => s.Number))}_{report.Name()}{suffix}";
        var path = layout.EnsembleReport(name);
        var record = new ChosenEnsembleFile(
            candidates.Select(s => s.Number).ToArray(), chosen.Select(c => candidates[c].Number).ToArray(), chosenWeights,
            choice.KeptRound, rounds, choice.ValidationMacroAuc, choice.Rounds.Select(r => candidates[r.Added].Number).ToArray(),
            choice.Rounds.Select(r => r.ValidationMacroAuc).ToArray(), weights.ToString(), aggregation?.Name() ?? "each member's own",
            report.Name(), reported.MacroAuc, minimumGain);
        AtomicFile.WriteAllText(layout.EnsembleChoice(name), System.Text.Json.JsonSerializer.Serialize(record, JsonDefaults.Options));
        AtomicFile.WriteAllText(path, text);
        return new ChosenEnsembleOutcome(choice, chosen.Select(c => candidates[c]).ToArray(), chosenWeights,
                                         new EvaluationOutcome(reported, text, path, thresholds));
    }

    /// <summary>
    /// The weighted mean a choice made earlier (<paramref name="choicePath"/>, the .json <see cref="Choose"/> writes) gives
    /// its members, applied to <paramref name="sessions"/> instead: one per chosen member, in the file's order, each trained
    /// with its member's recipe. This is how a choice made on fold 8 carries to the same recipes retrained under
    /// <c>--split refit</c> (folds 1-8) and tested on fold 9, where nothing may be chosen. Windows are combined as in the
    /// choice unless <paramref name="aggregation"/> says otherwise. A damaged file, a count that does not match or a
    /// session whose recipe differs from its member's is refused, naming the file, the session and the field.
    /// </summary>
    public static EnsembleOutcome ApplyChoice(ArtifactLayout layout, string choicePath, IReadOnlyList<TrainingSession> sessions, ProcessedDataset dataset,
                                              DataSplit? split, WeightsChoice weights, WindowAggregation? aggregation, int bootstrap,
                                              Action<StageProgress>? progress = null, CancellationToken cancel = default)
    {
        // "ensembles/chosen_from_....json" as --choose names it: relative to the working folder, else to the artifacts root.
        if (!File.Exists(choicePath) && !Path.IsPathRooted(choicePath) && File.Exists(Path.Combine(layout.Root, choicePath)))
            choicePath = Path.Combine(layout.Root, choicePath);
        var choice = ReadChoice(choicePath);
        if (sessions.Count != choice.Members.Length)
            throw new UserError($"'{choicePath}' chose {choice.Members.Length} member(s) (sessions {string.Join(",", choice.Members)}); " +
                                $"--sessions gave {sessions.Count}: give one session per member, in that order.");
        if (sessions.Count == 1)
            throw new UserError($"'{choicePath}' kept one member (session {choice.Members[0]}): evaluate session {sessions[0].Number} alone with `ecg evaluate`.");
        for (int i = 0; i < sessions.Count; i++)
        {
            TrainingSession member;
            try { member = TrainingSession.Open(layout, choice.Members[i].ToString(CultureInfo.InvariantCulture)); }
            catch (UserError e) { throw new UserError($"'{choicePath}': member session {choice.Members[i]} cannot be opened to check its recipe: {e.Message}"); }
            RequireSameRecipe(member, sessions[i], choicePath);
        }
        // The choice file names its aggregation, or "each member's own" when none was forced.
        var chosenAggregation = aggregation ?? (WindowAggregations.Names.Contains(choice.Aggregation) ? WindowAggregations.Parse(choice.Aggregation) : null);
        return Run(layout, sessions, dataset, split, weights, chosenAggregation, bootstrap, new AppliedChoice(choicePath, choice.Members, choice.Weights), progress, cancel);
    }

    /// <summary>A choice file read back, every field it is used for checked.</summary>
    private static ChosenEnsembleFile ReadChoice(string path)
    {
        if (!File.Exists(path)) throw new UserError($"Ensemble choice '{path}' not found (`ecg ensemble --choose` writes ensembles/chosen_from_....json).");
        ChosenEnsembleFile? file;
        try { file = System.Text.Json.JsonSerializer.Deserialize<ChosenEnsembleFile>(File.ReadAllText(path), JsonDefaults.Options); }
        catch (System.Text.Json.JsonException e) { throw new UserError($"Ensemble choice '{path}' is not a choice file: {e.Message}"); }
        if (file is null || file.Members is null || file.Members.Length == 0)
            throw new UserError($"Ensemble choice '{path}': field 'members' is missing or empty.");
        if (file.Weights is null || file.Weights.Length != file.Members.Length)
            throw new UserError($"Ensemble choice '{path}': field 'weights' must hold one weight per member ({file.Members.Length}).");
        if (file.Weights.Any(w => !(w > 0 && w <= 1)) || Math.Abs(file.Weights.Sum() - 1) > 1e-6)
            throw new UserError($"Ensemble choice '{path}': field 'weights' [{string.Join(", ", file.Weights.Select(w => w.ToString("G6", CultureInfo.InvariantCulture)))}] " +
                                "must be positive and sum to 1.");
        return file;
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

/// <summary>A choice applied to other sessions: its file, the members it chose and their weights (in the file's order).</summary>
internal sealed record AppliedChoice(string Path, int[] Members, double[] Weights);

/// <summary>An ensemble's result: each member's evaluation (in member order) and the ensemble's own.</summary>
public sealed record EnsembleOutcome(Evaluation[] Members, EvaluationOutcome Ensemble);

/// <summary>A chosen ensemble: the selection, the members kept (candidate order) with their weights, and its evaluation.</summary>
public sealed record ChosenEnsembleOutcome(EnsembleChoice Choice, TrainingSession[] Members, double[] Weights, EvaluationOutcome Ensemble);

/// <summary>ensembles/chosen_from_....json: what was chosen, from what, how, and the one reported figure.</summary>
public sealed record ChosenEnsembleFile(
    int[] Candidates, int[] Members, double[] Weights, int KeptRound, int Rounds, double ValidationMacroAuc,
    int[] AddedPerRound, double[] ValidationMacroAucPerRound, string SessionWeights, string Aggregation,
    string ReportedSplit, double ReportedMacroAuc, double MinimumGain = 0);

