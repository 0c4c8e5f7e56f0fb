using System.Globalization;
using System.Text;
using Ecg.Data;
using static TorchSharp.torch;

namespace Ecg.Model;

/// <summary>
/// The end-of-training reports, from the best weights: predictions.csv (validation and test records),
/// thresholds tuned on validation, the classification report and per-class confusion matrices on test
/// (on validation when the split has no test set).
/// </summary>
public static class SessionReport
{
    public static void Write(TrainingSession session, ProcessedDataset dataset, CancellationToken cancel = default)
    {
        var split = session.SplitScheme;
        var validation = Evaluator.Evaluate(session, dataset, split.ValidationIndices(dataset), "validation", "best", cancel);
        var test = Evaluator.Evaluate(session, dataset, split.TestIndices(dataset), "test", "best", cancel);
        WritePredictions(session, new[] { validation, test });
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
