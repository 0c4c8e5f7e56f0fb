using System.Globalization;
using System.Text;
using System.Text.Json;
using Ecg.Data;

namespace Ecg.Model.Metrics;

/// <summary>One line of a classification report: a class or an average ("micro avg", ...).</summary>
public sealed record ReportRow(string Name, double Precision, double Recall, double F1, long Support);

/// <summary>
/// scikit-learn 1.2.1 <c>classification_report</c> for multilabel 0/1 predictions: per-class
/// precision, recall, F1 and support, then the micro, macro, weighted and samples averages
/// (each average's support is the total support, as in sklearn). zero_division is sklearn's
/// default ("warn", i.e. 0.0). <see cref="ToText"/> reproduces sklearn's text layout exactly;
/// <see cref="Rows"/>, <see cref="ToCsv"/> and <see cref="ToJson"/> give structured access.
/// </summary>
public sealed class ClassificationReport
{
    private ClassificationReport(IReadOnlyList<ReportRow> classes, ReportRow micro, ReportRow macro, ReportRow weighted, ReportRow samples)
    {
        Classes = classes;
        MicroAverage = micro;
        MacroAverage = macro;
        WeightedAverage = weighted;
        SamplesAverage = samples;
    }

    /// <summary>One row per class, in class order.</summary>
    public IReadOnlyList<ReportRow> Classes { get; }

    /// <summary>Scores of pooled counts ("micro avg").</summary>
    public ReportRow MicroAverage { get; }

    /// <summary>Unweighted mean of class scores ("macro avg").</summary>
    public ReportRow MacroAverage { get; }

    /// <summary>Support-weighted mean of class scores ("weighted avg").</summary>
    public ReportRow WeightedAverage { get; }

    /// <summary>Mean of per-record scores ("samples avg").</summary>
    public ReportRow SamplesAverage { get; }

    /// <summary>The class rows followed by the four averages, as sklearn lists them.</summary>
    public IReadOnlyList<ReportRow> Rows => [.. Classes, MicroAverage, MacroAverage, WeightedAverage, SamplesAverage];

    /// <summary>Report with class names "0", "1", ... like sklearn without target_names.</summary>
    public static ClassificationReport Compute(byte[] labels, byte[] predictions, int classes) =>
        Compute(labels, predictions, Enumerable.Range(0, classes).Select(c => c.ToString(CultureInfo.InvariantCulture)).ToArray());

    /// <summary>Report for N x C labels and predictions, C = <paramref name="classNames"/>.Count.</summary>
    public static ClassificationReport Compute(byte[] labels, byte[] predictions, IReadOnlyList<string> classNames)
    {
        ArgumentNullException.ThrowIfNull(classNames);
        int classes = classNames.Count;
        var perClass = MultilabelConfusion.PerClass(labels, predictions, classes);
        long totalSupport = perClass.Sum(c => c.ActualPositives);
        ReportRow Row(string name, PrfScores s, long support) => new(name, s.Precision, s.Recall, s.F1, support);

        var classRows = perClass.Select((c, i) => Row(classNames[i], PrecisionRecallF1.Of(c), c.ActualPositives)).ToArray();
        var classScores = perClass.Select(PrecisionRecallF1.Of).ToArray();
        return new ClassificationReport(
            classRows,
            Row("micro avg", PrecisionRecallF1.Micro(perClass), totalSupport),
            Row("macro avg", PrecisionRecallF1.Macro(classScores), totalSupport),
            Row("weighted avg", PrecisionRecallF1.Weighted(perClass), totalSupport),
            Row("samples avg", PrecisionRecallF1.Samples(labels, predictions, classes), totalSupport));
    }

    /// <summary>The report as sklearn's classification_report(..., digits=<paramref name="digits"/>) prints it.</summary>
    public string ToText(int digits = 2)
    {
        if (digits < 0) throw new ArgumentOutOfRangeException(nameof(digits), digits, "digits must be non-negative.");
        const string longestAverageName = "weighted avg";
        int width = Math.Max(Math.Max(Classes.Select(r => r.Name.Length).DefaultIfEmpty(0).Max(), longestAverageName.Length), digits);
        string[] headers = ["precision", "recall", "f1-score", "support"];

        var text = new StringBuilder();
        text.Append(new string(' ', width)).Append(' ');
        foreach (string h in headers) text.Append(' ').Append(h.PadLeft(9));
        text.Append("\n\n");
        void Line(ReportRow row)
        {
            text.Append(row.Name.PadLeft(width)).Append(' ');
            foreach (double v in new[] { row.Precision, row.Recall, row.F1 })
                text.Append(' ').Append(PythonFormat.Fixed(v, digits).PadLeft(9));
            text.Append(' ').Append(row.Support.ToString(CultureInfo.InvariantCulture).PadLeft(9)).Append('\n');
        }
        foreach (var row in Classes) Line(row);
        text.Append('\n');
        foreach (var row in new[] { MicroAverage, MacroAverage, WeightedAverage, SamplesAverage }) Line(row);
        return text.ToString();
    }

    /// <summary>
    /// CSV with header <c>name,precision,recall,f1-score,support</c>, one line per <see cref="Rows"/> entry,
    /// numbers in invariant culture with round-trip precision.
    /// </summary>
    public string ToCsv()
    {
        var text = new StringBuilder("name,precision,recall,f1-score,support\n");
        foreach (var row in Rows)
        {
            text.Append(CsvField(row.Name)).Append(',')
                .Append(row.Precision.ToString("R", CultureInfo.InvariantCulture)).Append(',')
                .Append(row.Recall.ToString("R", CultureInfo.InvariantCulture)).Append(',')
                .Append(row.F1.ToString("R", CultureInfo.InvariantCulture)).Append(',')
                .Append(row.Support.ToString(CultureInfo.InvariantCulture)).Append('\n');
        }
        return text.ToString();
    }

    /// <summary>JSON shaped like sklearn's classification_report(..., output_dict=True).</summary>
    public string ToJson(bool indented = false)
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = indented }))
        {
            writer.WriteStartObject();
            foreach (var row in Rows)
            {
                writer.WriteStartObject(row.Name);
                writer.WriteNumber("precision", row.Precision);
                writer.WriteNumber("recall", row.Recall);
                writer.WriteNumber("f1-score", row.F1);
                writer.WriteNumber("support", row.Support);
                writer.WriteEndObject();
            }
            writer.WriteEndObject();
        }
        return Encoding.UTF8.GetString(stream.ToArray());
    }

    private static string CsvField(string value) =>
        value.IndexOfAny([',', '"', '\n', '\r']) >= 0 ? "\"" + value.Replace("\"", "\"\"") + "\"" : value;
}
