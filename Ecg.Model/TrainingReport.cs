using System.Globalization;
using System.Text;
using System.Text.Json;
using Ecg.Data;
using Ecg.Model.Metrics;

namespace Ecg.Model;

/// <summary>
/// The end-of-training reports, from the best weights: predictions.csv (validation and test records),
/// classification_report.txt and confusion_matrices/&lt;class&gt;.html on test (on validation when the split
/// has no test set), at threshold 0.5 and at per-class thresholds tuned on validation (thresholds.json, with what they
/// were tuned for). Test data enters here only, after training has finished.
/// </summary>
public static class TrainingReport
{
    public static void Write(TrainingSession session, ProcessedDataset dataset, CancellationToken cancel = default)
    {
        var split = session.SplitScheme;
        var best = WeightsChoice.Best;
        var validation = Evaluator.Evaluate(session, dataset, DataSplit.Validation, best, null, cancel);
        var test = Evaluator.Evaluate(session, dataset, DataSplit.Test, best, null, cancel);
        WritePredictions(session, new[] { validation, test });

        var reported = test.EcgIds.Length > 0 ? test : validation;
        if (reported.EcgIds.Length == 0) return;
        var names = reported.ClassNames;
        int classes = reported.Classes;
        var text = new StringBuilder()
            .AppendLine($"Session {session.Number}: best weights (epoch {session.LoadState().BestEpoch}) on the {reported.Split} set ({reported.EcgIds.Length} records).")
            .AppendLine()
            .AppendLine("ROC AUC per class: " + string.Join(", ", names.Select((n, c) => $"{n} {Format(reported.AucPerClass[c])}")))
            .AppendLine("ROC AUC macro: " + Format(reported.MacroAuc))
            .AppendLine(EvaluationReport.FmaxLine(reported))
            .AppendLine()
            .AppendLine("Threshold 0.5 for every class:")
            .AppendLine(ClassificationReport.Compute(reported.Labels, Thresholds.Apply(reported.Probabilities, classes, 0.5), names).ToText());

        // Thresholds are tuned on validation only, then applied unchanged to the reported set.
        DecisionThresholds? tuned = null;
        if (validation.EcgIds.Length > 0)
        {
            tuned = DecisionThresholds.Tune(validation, best, session.Aggregation);
            tuned.Save(session);
            text.AppendLine()
                .AppendLine("Per-class thresholds tuned on validation for F1 (thresholds.json): " + tuned.Listing())
                .AppendLine(ClassificationReport.Compute(reported.Labels, Thresholds.Apply(reported.Probabilities, classes, tuned.Values), names).ToText());
        }
        var rule = tuned is null ? "threshold 0.5" : "thresholds tuned on validation";
        var predictions = Thresholds.Apply(reported.Probabilities, classes, tuned?.Values ?? Enumerable.Repeat(0.5, classes).ToArray());
        WriteConfusionMatrices(session, names, reported.Labels, predictions, $"{reported.Split} set, {rule}");
        SessionCharts.WriteRocAndPrecisionRecall(session, reported, $"{reported.Split} set, {reported.EcgIds.Length} records, best weights");
        WriteHeadline(session, reported);
        AtomicFile.WriteAllText(session.Paths.ClassificationReport, text.ToString());
    }

    /// <summary>The thresholds of thresholds.json (best weights, the session's aggregation), in class order.</summary>
    public static double[] ReadThresholds(TrainingSession session) =>
        (DecisionThresholds.Find(session, WeightsChoice.Best, session.Aggregation)
         ?? throw new FileNotFoundException($"Session '{session.Folder}' has no thresholds.json (no validation set, or training unfinished).", session.Paths.Thresholds))
        .Values;

    /// <summary>headline.json: what the session page opens with (the reported split's macro AUC, Fmax, AUC per class).</summary>
    public sealed record Headline(string Split, int Records, int BestEpoch, double MacroAuc, double Fmax, double FmaxThreshold,
                                  string[] ClassNames, double[] AucPerClass);

    private static void WriteHeadline(TrainingSession session, Evaluation e)
    {
        double fmax = double.NaN, threshold = double.NaN;
        try { var f = Fmax.Compute(e.Probabilities, e.Labels, e.Classes); (fmax, threshold) = (f.Fmax, f.Threshold); }
        catch (ArgumentException) { } // a record without a true class: Fmax undefined, NaN in the file
        var headline = new Headline(e.Split, e.EcgIds.Length, session.LoadState().BestEpoch, e.MacroAuc, fmax, threshold, e.ClassNames, e.AucPerClass);
        AtomicFile.WriteAllText(session.Paths.Headline, JsonSerializer.Serialize(headline, JsonDefaults.Options));
    }

    /// <summary>The session's headline.json, or null when training has not finished (or predates it).</summary>
    public static Headline? ReadHeadline(TrainingSession session) =>
        File.Exists(session.Paths.Headline) ? JsonSerializer.Deserialize<Headline>(File.ReadAllText(session.Paths.Headline), JsonDefaults.Options) : null;

    private static string Format(double v) => double.IsNaN(v) ? "n/a" : v.ToString("0.0000", CultureInfo.InvariantCulture);
    private static void WriteConfusionMatrices(TrainingSession session, string[] names, byte[] labels, byte[] predictions, string caption)
    {
        var perClass = MultilabelConfusion.PerClass(labels, predictions, names.Length);
        for (int c = 0; c < names.Length; c++)
        {
            var m = perClass[c];
            SessionCharts.WriteConfusionMatrix(session, names[c], m.TrueNegatives, m.FalsePositives, m.FalseNegatives, m.TruePositives, caption);
        }
    }

    private static void WritePredictions(TrainingSession session, IEnumerable<Evaluation> evaluations)
    {
        var classNames = session.Manifest.ClassNames;
        var csv = new StringBuilder("ecg_id,split,")
            .Append(string.Join(",", classNames.Select(c => "p_" + c))).Append(',')
            .AppendLine(string.Join(",", classNames.Select(c => "label_" + c)));
        foreach (var e in evaluations)
            for (int r = 0; r < e.EcgIds.Length; r++)
            {
                csv.Append(e.EcgIds[r].ToString(CultureInfo.InvariantCulture)).Append(',').Append(e.Split);
                for (int c = 0; c < e.Classes; c++) csv.Append(',').Append(e.Probabilities[r * e.Classes + c].ToString("R", CultureInfo.InvariantCulture));
                for (int c = 0; c < e.Classes; c++) csv.Append(',').Append(e.Labels[r * e.Classes + c]);
                csv.AppendLine();
            }
        AtomicFile.WriteAllText(session.Paths.Predictions, csv.ToString());
    }
}
