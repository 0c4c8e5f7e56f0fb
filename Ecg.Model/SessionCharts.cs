using System.Globalization;
using System.Reflection;
using System.Text;
using System.Text.Json;

namespace Ecg.Model;

/// <summary>
/// The session's self-contained HTML charts. Plotly.NET's chart builders are F# extension members that C#
/// cannot call by name, so the pages are written here as plain Plotly figures (JSON) over the plotly.js that
/// Plotly.NET ships inside its assembly; one copy of it sits in the session folder and every page loads it
/// by relative path, so no page needs the network.
/// </summary>
public static class SessionCharts
{
    public const string PlotlyFileName = "plotly.min.js";
    private const string PlotlyResource = "Plotly.NET.plotly-2.28.0.min.js";

    /// <summary>Loss.html, Accuracy.html and AUC.html from the epoch history.</summary>
    public static void WriteCurves(TrainingSession session, IReadOnlyList<EpochMetrics> history)
    {
        EnsurePlotly(session.Folder);
        var epochs = history.Select(m => m.Epoch).ToArray();
        WritePage(Path.Combine(session.Folder, "Loss.html"), "Loss per epoch", "epoch", "binary cross-entropy", new[]
        {
            Line("train", epochs, history.Select(m => m.TrainLoss)),
            Line("validation", epochs, history.Select(m => m.ValidationLoss)),
        });
        WritePage(Path.Combine(session.Folder, "Accuracy.html"), "Validation binary accuracy, precision and recall (threshold 0.5)", "epoch", "", new[]
        {
            Line("binary accuracy", epochs, history.Select(m => m.ValidationBinaryAccuracy)),
            Line("precision", epochs, history.Select(m => m.ValidationPrecision)),
            Line("recall", epochs, history.Select(m => m.ValidationRecall)),
        });
        var classNames = session.Manifest.ClassNames;
        var auc = new List<object> { Line("macro", epochs, history.Select(m => m.ValidationMacroAuc), width: 3) };
        for (int c = 0; c < classNames.Length; c++)
        {
            int column = c;
            auc.Add(Line(classNames[c], epochs, history.Select(m => column < m.ValidationAucPerClass.Length ? m.ValidationAucPerClass[column] : double.NaN)));
        }
        WritePage(Path.Combine(session.Folder, "AUC.html"), "Validation ROC AUC per epoch", "epoch", "ROC AUC", auc);
    }

    /// <summary>confusion_matrices/&lt;class&gt;.html: a 2x2 heatmap of counts with true class rows and predicted columns.</summary>
    public static void WriteConfusionMatrix(TrainingSession session, string className, long trueNegative, long falsePositive,
                                            long falseNegative, long truePositive, string caption)
    {
        EnsurePlotly(session.Folder);
        var z = new[] { new[] { trueNegative, falsePositive }, new[] { falseNegative, truePositive } };
        var heatmap = new Dictionary<string, object?>
        {
            ["type"] = "heatmap",
            ["z"] = z,
            ["x"] = new[] { "predicted 0", "predicted 1" },
            ["y"] = new[] { "true 0", "true 1" },
            ["text"] = z.Select(row => row.Select(v => v.ToString(CultureInfo.InvariantCulture)).ToArray()).ToArray(),
            ["texttemplate"] = "%{text}",
            ["colorscale"] = "Blues",
        };
        WritePage(Path.Combine(session.Folder, "confusion_matrices", SafeFileName(className) + ".html"),
            $"{className}: {caption}", "predicted", "true", new object[] { heatmap }, reverseY: true, plotlyPath: "../" + PlotlyFileName);
    }

    private static string SafeFileName(string name) =>
        string.Concat(name.Select(ch => Path.GetInvalidFileNameChars().Contains(ch) || ch == ' ' ? '_' : ch));

    private static object Line(string name, int[] x, IEnumerable<double> y, int width = 2) => new Dictionary<string, object?>
    {
        ["type"] = "scatter",
        ["mode"] = "lines+markers",
        ["name"] = name,
        ["x"] = x,
        // JSON has no NaN: a missing value is null, which Plotly draws as a gap.
        ["y"] = y.Select(v => double.IsFinite(v) ? (double?)v : null).ToArray(),
        ["line"] = new Dictionary<string, object> { ["width"] = width },
    };

    private static void WritePage(string path, string title, string xTitle, string yTitle, IEnumerable<object> traces,
                                  bool reverseY = false, string plotlyPath = PlotlyFileName)
    {
        var layout = new Dictionary<string, object?>
        {
            ["title"] = new { text = title },
            ["xaxis"] = new { title = new { text = xTitle } },
            ["yaxis"] = reverseY ? new { title = new { text = yTitle }, autorange = (object)"reversed" } : new { title = new { text = yTitle }, autorange = (object)true },
        };
        var figure = JsonSerializer.Serialize(new { data = traces, layout });
        var html = new StringBuilder()
            .AppendLine("<!DOCTYPE html>")
            .AppendLine("<html><head><meta charset=\"utf-8\"/>")
            .Append("<title>").Append(System.Net.WebUtility.HtmlEncode(title)).AppendLine("</title>")
            .Append("<script src=\"").Append(plotlyPath).AppendLine("\"></script>")
            .AppendLine("</head><body>")
            .AppendLine("<div id=\"chart\" style=\"width:100%;height:90vh;\"></div>")
            .Append("<script>const figure = ").Append(figure).AppendLine(";")
            .AppendLine("Plotly.newPlot('chart', figure.data, figure.layout, {responsive: true});</script>")
            .AppendLine("</body></html>");
        AtomicFile.WriteAllText(path, html.ToString());
    }

    /// <summary>Writes plotly.min.js (from Plotly.NET's assembly) into the folder once.</summary>
    private static void EnsurePlotly(string folder)
    {
        var target = Path.Combine(folder, PlotlyFileName);
        if (File.Exists(target)) return;
        var assembly = typeof(Plotly.NET.GenericChart).Assembly;
        using var source = assembly.GetManifestResourceStream(PlotlyResource)
            ?? throw new InvalidOperationException($"Plotly.NET {assembly.GetName().Version} no longer embeds '{PlotlyResource}'.");
        AtomicFile.Write(target, path => { using var file = File.Create(path); source.CopyTo(file); });
    }
}
