using System.Globalization;
using System.Text;
using System.Text.Json;
using Ecg.Data;
using Ecg.Model.Metrics;

namespace Ecg.Model;

/// <summary>
/// The end-of-training reports, from the best weights: predictions.csv (validation and test records),
/// classification_report.txt and confusion_matrices/&lt;class&gt;.html on test (on validation when the split
/// has no test set), at threshold 0.5 and at per-class thresholds tuned on validation (thresholds.json).
/// Test data enters here only, after training has finished.
/// </summary>
public static class SessionReport
{
    public static void Write(TrainingSession session, ProcessedDataset dataset, CancellationToken cancel = default)
    {
        var split = session.SplitScheme;
        var validation = Evaluator.Evaluate(session, dataset, split.ValidationIndices(dataset), "validation", "best", cancel);
        var test = Evaluator.Evaluate(session, dataset, split.TestIndices(dataset), "test", "best", cancel);
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
            .AppendLine()
            .AppendLine("Threshold 0.5 for every class:")
            .AppendLine(ClassificationReport.Compute(reported.Labels, Thresholds.Apply(reported.Probabilities, classes, 0.5), names).ToText());

        // Thresholds are tuned on validation only, then applied unchanged to the reported set.
        double[]? tuned = null;
        if (validation.EcgIds.Length > 0)
        {
            var tuning = Thresholds.TuneForF1(validation.Probabilities, validation.Labels, classes);
            tuned = tuning.Thresholds;
            var halfF1 = PrecisionRecallF1.PerClass(validation.Labels, Thresholds.Apply(validation.Probabilities, classes, 0.5), classes);
            WriteThresholds(session, names, tuning, halfF1.Select(p => p.F1).ToArray(), validation.EcgIds.Length);
            text.AppendLine()
                .AppendLine("Per-class thresholds tuned on validation for F1 (thresholds.json): "
                            + string.Join(", ", names.Select((n, c) => $"{n} {tuned[c].ToString("0.####", CultureInfo.InvariantCulture)}")))
                .AppendLine(ClassificationReport.Compute(reported.Labels, Thresholds.Apply(reported.Probabilities, classes, tuned), names).ToText());
        }
        var rule = tuned is null ? "threshold 0.5" : "thresholds tuned on validation";
        var predictions = tuned is null ? Thresholds.Apply(reported.Probabilities, classes, 0.5) : Thresholds.Apply(reported.Probabilities, classes, tuned);
        WriteConfusionMatrices(session, names, reported.Labels, predictions, $"{reported.Split} set, {rule}");
        AtomicFile.WriteAllText(Path.Combine(session.Folder, "classification_report.txt"), text.ToString());
    }

    private sealed record ClassThreshold(string Name, double Threshold, double ValidationF1, double ValidationF1AtDefault);

    private sealed record ThresholdFile(string TunedOn, int ValidationRecords, string Rule, double DefaultThreshold, ClassThreshold[] Classes);

    private static void WriteThresholds(TrainingSession session, string[] names, ThresholdTuning tuning, double[] f1AtHalf, int records)
    {
        var document = new ThresholdFile("validation", records,
            "predict the class when probability >= threshold; Infinity means never", 0.5,
            names.Select((n, c) => new ClassThreshold(n, tuning.Thresholds[c], tuning.F1[c], f1AtHalf[c])).ToArray());
        // JsonDefaults writes a class with no F1 gain at any cut (threshold +Infinity, never predicted) as "Infinity".
        AtomicFile.WriteAllText(ThresholdsPath(session), JsonSerializer.Serialize(document, JsonDefaults.Options));
    }

    public static string ThresholdsPath(TrainingSession session) => Path.Combine(session.Folder, "thresholds.json");

    /// <summary>The per-class thresholds of thresholds.json, in class order.</summary>
    public static double[] ReadThresholds(TrainingSession session)
    {
        var path = ThresholdsPath(session);
        if (!File.Exists(path)) throw new FileNotFoundException($"Session '{session.Folder}' has no thresholds.json (no validation set, or training unfinished).", path);
        var document = JsonSerializer.Deserialize<ThresholdFile>(File.ReadAllText(path), JsonDefaults.Options)
                       ?? throw new InvalidDataException($"'{path}' is empty.");
        if (!document.Classes.Select(c => c.Name).SequenceEqual(session.Manifest.ClassNames))
            throw new InvalidDataException($"'{path}': classes differ from the session's [{string.Join(",", session.Manifest.ClassNames)}].");
        return document.Classes.Select(c => c.Threshold).ToArray();
    }

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
        AtomicFile.WriteAllText(Path.Combine(session.Folder, "predictions.csv"), csv.ToString());
    }
}
