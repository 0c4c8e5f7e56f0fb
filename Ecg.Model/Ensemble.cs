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
                                      Action<StageProgress>? progress = null, CancellationToken cancel = default)
    {
        if (members.Count < 2) throw new UserError("An ensemble needs at least two sessions, e.g. --sessions 1,2,3.");
        RequireSameTaskAndLeads(members);
        var chosen = split ?? DataSplits.DefaultForReport(members[0].SplitScheme, dataset);
        var names = string.Join(", ", members.Select(s => s.Number));

        Evaluation[] evaluate(DataSplit part) => members.Select(s =>
            EvaluationStage.Evaluate(s, dataset, part, weights, aggregation ?? s.Aggregation, progress, cancel)).ToArray();
        var memberEvaluations = evaluate(chosen);
        var ensemble = Mean(memberEvaluations, names, chosen);

        DecisionThresholds? thresholds = null;
        if (members[0].SplitScheme.ValidationIndices(dataset).Length > 0)
        {
            var tuning = chosen == DataSplit.Validation ? ensemble : Mean(evaluate(DataSplit.Validation), names, DataSplit.Validation);
            // The provenance names the members' weights and aggregation ("each member's own" when none is forced).
            var tuned = DecisionThresholds.Tune(tuning, weights, aggregation ?? WindowAggregation.Max);
            thresholds = tuned with
            {
                Provenance = tuned.Provenance with { TunedFor = "this ensemble", Aggregation = aggregation is null ? "each member's own" : tuned.Provenance.Aggregation },
            };
        }

        var windows = aggregation is { } a ? $", windows combined by {a.Name()}" : "";
        var weightsText = weights.IsBest ? "" : $", weights {weights}";
        var text = $"Ensemble of sessions {names} (mean of probabilities{windows}{weightsText})\n"
                   + EvaluationReport.Text($"Session {members[0].Number}, {ensemble.Split} split, {ensemble.EcgIds.Length} records", ensemble, bootstrap, thresholds);
        var suffix = (weights.IsBest ? "" : $"_weights_{weights}") + (aggregation is { } agg ? $"_{agg.Name()}" : "");
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

/// <summary>An ensemble's result: each member's evaluation (in member order) and the ensemble's own.</summary>
public sealed record EnsembleOutcome(Evaluation[] Members, EvaluationOutcome Ensemble);

/// <summary>A chosen ensemble: the selection, the members kept (candidate order) with their weights, and its evaluation.</summary>
public sealed record ChosenEnsembleOutcome(EnsembleChoice Choice, TrainingSession[] Members, double[] Weights, EvaluationOutcome Ensemble);

/// <summary>ensembles/chosen_from_....json: what was chosen, from what, how, and the one reported figure.</summary>
public sealed record ChosenEnsembleFile(
    int[] Candidates, int[] Members, double[] Weights, int KeptRound, int Rounds, double ValidationMacroAuc,
    int[] AddedPerRound, double[] ValidationMacroAucPerRound, string SessionWeights, string Aggregation,
    string ReportedSplit, double ReportedMacroAuc, double MinimumGain = 0);

