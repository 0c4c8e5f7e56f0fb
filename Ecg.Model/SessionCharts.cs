using Ecg.Data;
using Plotly.NET;

namespace Ecg.Model;

/// <summary>
/// The session's HTML charts, built by Ecg.Data.HtmlCharts (Plotly.NET's chart API) over one plotly.min.js in
/// the session folder, which every page loads by relative path, so no page needs the network.
/// </summary>
public static class SessionCharts
{
    /// <summary>Loss.html, Accuracy.html and AUC.html from the epoch history.</summary>
    public static void WriteCurves(TrainingSession session, IReadOnlyList<EpochMetrics> history)
    {
        HtmlCharts.EnsurePlotly(session.Folder);
        var epochs = history.Select(m => (double)m.Epoch).ToArray();
        GenericChart Line(string name, Func<EpochMetrics, double> value, double width = 2) =>
            HtmlCharts.Line(name, epochs, history.Select(value).ToArray(), width);
        HtmlCharts.WritePage(session.Paths.Curve("Loss"), "Loss per epoch", "epoch", "binary cross-entropy", new[]
        {
            Line("train", m => m.TrainLoss),
            Line("validation", m => m.ValidationLoss),
        }, false, HtmlCharts.PlotlyFileName);
        HtmlCharts.WritePage(session.Paths.Curve("Accuracy"), "Validation binary accuracy, precision and recall (threshold 0.5)", "epoch", "", new[]
        {
            Line("binary accuracy", m => m.ValidationBinaryAccuracy),
            Line("precision", m => m.ValidationPrecision),
            Line("recall", m => m.ValidationRecall),
        }, false, HtmlCharts.PlotlyFileName);
        var classNames = session.Manifest.ClassNames;
        var auc = new List<GenericChart> { Line("macro", m => m.ValidationMacroAuc, width: 3) };
        for (int c = 0; c < classNames.Length; c++)
        {
            int column = c;
            auc.Add(Line(classNames[c], m => column < m.ValidationAucPerClass.Length ? m.ValidationAucPerClass[column] : double.NaN));
        }
        HtmlCharts.WritePage(session.Paths.Curve("AUC"), "Validation ROC AUC per epoch", "epoch", "ROC AUC", auc, false, HtmlCharts.PlotlyFileName);
    }

    /// <summary>
    /// ROC.html and PR.html: one ROC and one precision-recall curve per class (any number of classes) of the reported
    /// records' probabilities, each trace named with its class and area.
    /// </summary>
    public static void WriteRocAndPrecisionRecall(TrainingSession session, Evaluation e, string caption)
    {
        HtmlCharts.EnsurePlotly(session.Folder);
        var roc = new List<GenericChart>();
        var pr = new List<GenericChart>();
        for (int c = 0; c < e.Classes; c++)
        {
            var scores = new float[e.EcgIds.Length];
            var labels = new byte[e.EcgIds.Length];
            for (int r = 0; r < scores.Length; r++) { scores[r] = e.Probabilities[r * e.Classes + c]; labels[r] = e.Labels[r * e.Classes + c]; }
            var rocCurve = Metrics.Curves.Roc(scores, labels);
            var prCurve = Metrics.Curves.PrecisionRecall(scores, labels);
            roc.Add(HtmlCharts.Line($"{e.ClassNames[c]} (AUC {e.AucPerClass[c]:F3})", rocCurve.X, rocCurve.Y));
            pr.Add(HtmlCharts.Line($"{e.ClassNames[c]} (area {Metrics.Curves.Area(prCurve):F3})", prCurve.X, prCurve.Y));
        }
        roc.Add(HtmlCharts.Line("chance", new[] { 0.0, 1.0 }, new[] { 0.0, 1.0 }, 1));
        HtmlCharts.WritePage(session.Paths.Curve("ROC"), $"ROC curves per class ({caption})", "false positive rate", "true positive rate", roc, false, HtmlCharts.PlotlyFileName);
        HtmlCharts.WritePage(session.Paths.Curve("PR"), $"Precision-recall curves per class ({caption})", "recall", "precision", pr, false, HtmlCharts.PlotlyFileName);
    }

    /// <summary>confusion_matrices/&lt;class&gt;.html: a 2x2 heatmap of counts with true class rows and predicted columns.</summary>
    public static void WriteConfusionMatrix(TrainingSession session, string className, long trueNegative, long falsePositive,
                                            long falseNegative, long truePositive, string caption)
    {
        HtmlCharts.EnsurePlotly(session.Folder);
        var counts = new[] { new[] { trueNegative, falsePositive }, new[] { falseNegative, truePositive } };
        var heatmap = HtmlCharts.CountHeatmap(counts, new[] { "predicted 0", "predicted 1" }, new[] { "true 0", "true 1" });
        HtmlCharts.WritePage(session.Paths.ConfusionMatrix(HtmlCharts.SafeFileName(className)),
            $"{className}: {caption}", "predicted", "true", new[] { heatmap }, true, "../" + HtmlCharts.PlotlyFileName);
    }
}
