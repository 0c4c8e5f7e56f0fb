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

    /// <summary>The members' mean probabilities on one split, evaluated like a session's.</summary>
    public static Evaluation Mean(IReadOnlyList<Evaluation> evaluations, string members, DataSplit split)
    {
        var first = evaluations[0];
        if (evaluations.Any(e => !e.EcgIds.SequenceEqual(first.EcgIds)))
            throw new UserError($"Sessions {members} do not share the same {split.Name()} records (different split schemes or datasets).");
        var mean = new float[first.Probabilities.Length];
        foreach (var e in evaluations)
            for (int i = 0; i < mean.Length; i++) mean[i] += e.Probabilities[i] / evaluations.Count;
        return first.WithProbabilities(mean);
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
