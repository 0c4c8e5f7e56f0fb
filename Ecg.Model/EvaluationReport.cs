using System.Globalization;
using System.Text;
using Ecg.Data;
using Ecg.Model.Export;
using Ecg.Model.Metrics;

namespace Ecg.Model;

/// <summary>What an evaluation produced: the numbers, the report text, where it was written, the thresholds used.</summary>
public sealed record EvaluationOutcome(Evaluation Evaluation, string Text, string ReportPath, DecisionThresholds? Thresholds);

/// <summary>
/// The evaluation report (`ecg evaluate`, `ecg average`, `ecg ensemble`): ROC AUC per class and macro with a bootstrap
/// interval, then classification reports at 0.5 and at per-class thresholds tuned for exactly the probabilities
/// reported (their weights and window aggregation), with where they were tuned.
/// </summary>
public static class EvaluationReport
{
    /// <summary>
    /// The report's file name under evaluations/: &lt;split&gt;_&lt;weights&gt;, plus _&lt;aggregation&gt; when it is not
    /// the session's own (so the names of reports written before typed choices stay the same).
    /// </summary>
    public static string Name(DataSplit split, WeightsChoice weights, WindowAggregation aggregation, WindowAggregation sessionAggregation) =>
        $"{split.Name()}_{weights}" + (aggregation != sessionAggregation ? $"_{aggregation.Name()}" : "");

    /// <summary>
    /// The text: <paramref name="title"/> then AUC per class and macro (with a 90% bootstrap interval over
    /// <paramref name="bootstrap"/> resamples, none for 0), a classification report at 0.5 and, with thresholds, one at them.
    /// </summary>
    public static string Text(string title, Evaluation e, int bootstrap, DecisionThresholds? thresholds)
    {
        var s = new StringBuilder();
        s.AppendLine(title);
        s.AppendLine("ROC AUC per class:");
        for (int c = 0; c < e.Classes; c++)
            s.AppendLine(CultureInfo.InvariantCulture, $"  {e.ClassNames[c],-6} {e.AucPerClass[c]:F4}");
        s.Append(CultureInfo.InvariantCulture, $"  macro  {e.MacroAuc:F4}");
        if (bootstrap > 0)
        {
            var ci = RocAuc.BootstrapMacro(e.Probabilities, e.Labels, e.Classes, bootstrap, 0, 0.90);
            s.Append(CultureInfo.InvariantCulture, $"  (90% bootstrap interval {ci.Lower:F4}-{ci.Upper:F4}, {bootstrap} resamples)");
        }
        s.AppendLine();
        s.AppendLine("  " + FmaxLine(e));
        s.AppendLine();
        s.AppendLine("Classification report at threshold 0.5:");
        s.AppendLine(ClassificationReport.Compute(e.Labels, Thresholds.Apply(e.Probabilities, e.Classes, DecisionThresholds.Default), e.ClassNames).ToText());
        if (thresholds is not null)
        {
            var same = thresholds.Provenance.TunedOn == e.Split ? "; these same records, so optimistic" : "";
            s.AppendLine($"Classification report at the per-class thresholds {thresholds.Provenance.Describe()}{same} ({thresholds.Listing()}):");
            s.AppendLine(ClassificationReport.Compute(e.Labels, Thresholds.Apply(e.Probabilities, e.Classes, thresholds.Values), e.ClassNames).ToText());
        }
        return s.ToString();
    }

    /// <summary>
    /// "Fmax   0.8123 (threshold 0.31, precision 0.80, recall 0.83)": the PTB-XL benchmark's sample-centric Fmax
    /// (<see cref="Fmax"/>), or why it is undefined (a record without a true class).
    /// </summary>
    public static string FmaxLine(Evaluation e)
    {
        try
        {
            var f = Fmax.Compute(e.Probabilities, e.Labels, e.Classes);
            return string.Create(CultureInfo.InvariantCulture,
                $"Fmax   {f.Fmax:F4} (threshold {f.Threshold:0.00}, precision {f.Precision:F4}, recall {f.Recall:F4})");
        }
        catch (ArgumentException x) { return "Fmax   n/a: " + x.Message; }
    }
}

/// <summary>The window aggregation chosen on validation, with every candidate's validation macro AUC.</summary>
public sealed record AggregationChoice(WindowAggregation Chosen, (WindowAggregation Aggregation, double MacroAuc)[] Candidates)
{
    /// <summary>"Aggregation chosen on the validation split: mean (validation macro AUC: max 0.9440, mean 0.9452, whole 0.9391)".</summary>
    public string Describe() =>
        $"Aggregation chosen on the validation split: {Chosen.Name()} (validation macro AUC: " +
        string.Join(", ", Candidates.Select(c => string.Create(CultureInfo.InvariantCulture, $"{c.Aggregation.Name()} {c.MacroAuc:F4}"))) + ")";
}

/// <summary>The Evaluate stage: a session's weights on a split, the report printed by the CLI and saved under evaluations/.</summary>
public static class EvaluationStage
{
    /// <summary>
    /// Evaluates <paramref name="weights"/> of the session on <paramref name="split"/> (null: test when the dataset has
    /// test records, else validation) with windows combined by <paramref name="aggregation"/> (null: the session's),
    /// and writes evaluations/&lt;name&gt;.txt. Thresholds: the saved ones when they were tuned for these weights and this
    /// aggregation; else tuned now on the validation records for exactly these probabilities (and saved, so predict finds
    /// them); none when the scheme has no validation records.
    /// </summary>
    public static EvaluationOutcome Run(TrainingSession session, ProcessedDataset dataset, DataSplit? split, WeightsChoice weights,
                                        WindowAggregation? aggregation, int bootstrap, Action<StageProgress>? progress = null,
                                        CancellationToken cancel = default, InferenceEngine engine = InferenceEngine.Torch) =>
        RunWith(session, dataset, split, weights, aggregation, bootstrap, progress, cancel, engine, validation: null, preface: null);

    /// <summary><see cref="Run"/>, with the validation evaluation of this aggregation when the caller has it (thresholds
    /// are tuned on it instead of evaluating again) and a line to start the report with.</summary>
    private static EvaluationOutcome RunWith(TrainingSession session, ProcessedDataset dataset, DataSplit? split, WeightsChoice weights,
                                             WindowAggregation? aggregation, int bootstrap, Action<StageProgress>? progress,
                                             CancellationToken cancel, InferenceEngine engine, Evaluation? validation, string? preface)
    {
        var chosen = split ?? DataSplits.DefaultForReport(session.SplitScheme, dataset);
        var how = aggregation ?? session.Aggregation;
        var evaluation = Evaluate(session, dataset, chosen, weights, how, progress, cancel, engine);
        var thresholds = ThresholdsFor(session, dataset, weights, how, validation ?? evaluation, progress, cancel, engine);
        var text = (preface is null ? "" : preface + "\n")
                   + EvaluationReport.Text($"Session {session.Number}, {evaluation.Split} split, {evaluation.EcgIds.Length} records", evaluation, bootstrap, thresholds);
        var path = session.Paths.Evaluation(EvaluationReport.Name(chosen, weights, how, session.Aggregation));
        AtomicFile.WriteAllText(path, text);
        return new EvaluationOutcome(evaluation, text, path, thresholds);
    }

    /// <summary>
    /// Chooses the window aggregation on the validation records alone (fold 8 under `select`), then evaluates
    /// <paramref name="split"/> (null: the default report split) once with it, as <see cref="Run"/> does. Candidates:
    /// max, mean and whole for a session evaluated on windows, only whole for one evaluated on whole records. The
    /// highest validation macro AUC wins; ties go to the session's own aggregation, then to the order max, mean, whole.
    /// The report starts with every candidate's validation figure. Refused for the validation split itself (its
    /// figure would be read on the records it was chosen on) and for a scheme without validation records.
    /// </summary>
    public static (EvaluationOutcome Outcome, AggregationChoice Choice) RunChoosingAggregation(
        TrainingSession session, ProcessedDataset dataset, DataSplit? split, WeightsChoice weights, int bootstrap,
        Action<StageProgress>? progress = null, CancellationToken cancel = default, InferenceEngine engine = InferenceEngine.Torch)
    {
        var chosenSplit = split ?? DataSplits.DefaultForReport(session.SplitScheme, dataset);
        if (chosenSplit == DataSplit.Validation)
            throw new UserError("--aggregation choose picks the aggregation on the validation split; evaluate another split with it " +
                                "(the validation figure would be read on the records it was chosen on).");
        if (session.SplitScheme.ValidationIndices(dataset).Length == 0)
            throw new UserError($"--aggregation choose needs validation records; split scheme '{session.SplitScheme.Name}' has none in this dataset.");
        var config = session.Manifest.Config;
        bool windowed = config.EvalWindow is int w && w < session.Manifest.Samples;
        var candidates = (windowed ? new[] { WindowAggregation.Max, WindowAggregation.Mean, WindowAggregation.Whole } : new[] { WindowAggregation.Whole })
            .OrderBy(a => a == session.Aggregation ? 0 : 1).ToArray();
        var scored = candidates
            .Select(a => (Aggregation: a, Validation: Evaluate(session, dataset, DataSplit.Validation, weights, a, progress, cancel, engine)))
            .ToArray();
        var best = scored.Aggregate((a, b) => b.Validation.MacroAuc > a.Validation.MacroAuc ? b : a);
        var choice = new AggregationChoice(best.Aggregation, scored.OrderBy(x => (int)x.Aggregation).Select(x => (x.Aggregation, x.Validation.MacroAuc)).ToArray());
        var outcome = RunWith(session, dataset, chosenSplit, weights, best.Aggregation, bootstrap, progress, cancel, engine, best.Validation, choice.Describe());
        return (outcome, choice);
    }

    /// <summary>The split's evaluation; a <see cref="UserError"/> naming the folds when it holds no records.</summary>
    internal static Evaluation Evaluate(TrainingSession session, ProcessedDataset dataset, DataSplit split, WeightsChoice weights,
                                        WindowAggregation aggregation, Action<StageProgress>? progress, CancellationToken cancel,
                                        InferenceEngine engine = InferenceEngine.Torch)
    {
        var step = $"session {session.Number}, {weights} weights, {split.Name()} records";
        var evaluation = Evaluator.Evaluate(session, dataset, split, weights, aggregation, cancel,
            (done, total) => progress?.Invoke(new StageProgress(step, done, total)), engine);
        if (evaluation.EcgIds.Length == 0)
            throw new UserError($"The {split.Name()} split of this dataset has no records (folds {string.Join(",", session.SplitScheme.FoldsOf(split))}).");
        return evaluation;
    }

    /// <summary>Saved thresholds that fit these probabilities, or fresh ones tuned on validation (null without validation records).</summary>
    private static DecisionThresholds? ThresholdsFor(TrainingSession session, ProcessedDataset dataset, WeightsChoice weights, WindowAggregation aggregation,
                                                     Evaluation evaluated, Action<StageProgress>? progress, CancellationToken cancel,
                                                     InferenceEngine engine)
    {
        if (DecisionThresholds.Find(session, weights, aggregation) is { } saved) return saved;
        if (session.SplitScheme.ValidationIndices(dataset).Length == 0) return null;
        var tuning = evaluated.Split == DataSplit.Validation.Name() ? evaluated
            : Evaluate(session, dataset, DataSplit.Validation, weights, aggregation, progress, cancel, engine);
        var tuned = DecisionThresholds.Tune(tuning, weights, aggregation);
        tuned.Save(session);
        return tuned;
    }
}
