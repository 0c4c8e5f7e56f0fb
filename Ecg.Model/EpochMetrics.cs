using System.Globalization;
using System.Text;

namespace Ecg.Model;

/// <summary>
/// One epoch's figures. Validation figures are NaN when the split has no validation set. Accuracy,
/// precision and recall are over every (record, class) decision at threshold 0.5 (micro), as Keras's metrics.
/// </summary>
public sealed record EpochMetrics
{
    public int Epoch { get; init; }
    public double TrainLoss { get; init; }
    public double ValidationLoss { get; init; } = double.NaN;
    public double ValidationBinaryAccuracy { get; init; } = double.NaN;
    public double ValidationPrecision { get; init; } = double.NaN;
    public double ValidationRecall { get; init; } = double.NaN;
    public double ValidationMacroAuc { get; init; } = double.NaN;
    public double[] ValidationAucPerClass { get; init; } = Array.Empty<double>();
    /// <summary>Learning rate of the epoch's last step.</summary>
    public double LearningRate { get; init; }
    public double Seconds { get; init; }
    public double TrainSamplesPerSecond { get; init; }
    /// <summary>Resident memory of the process at the end of the epoch, MiB.</summary>
    public double ResidentMegabytes { get; init; }

    private static string F(double v) => double.IsNaN(v) ? "" : v.ToString("R", CultureInfo.InvariantCulture);

    public static string CsvHeader(IReadOnlyList<string> classNames) =>
        "epoch,train_loss,val_loss,val_binary_accuracy,val_precision,val_recall,val_macro_auc,"
        + string.Concat(classNames.Select(c => $"val_auc_{c},"))
        + "learning_rate,seconds,train_samples_per_second,rss_mb";

    public string ToCsvRow(int classes)
    {
        var s = new StringBuilder();
        s.Append(Epoch).Append(',').Append(F(TrainLoss)).Append(',').Append(F(ValidationLoss)).Append(',')
         .Append(F(ValidationBinaryAccuracy)).Append(',').Append(F(ValidationPrecision)).Append(',')
         .Append(F(ValidationRecall)).Append(',').Append(F(ValidationMacroAuc)).Append(',');
        for (int j = 0; j < classes; j++)
            s.Append(j < ValidationAucPerClass.Length ? F(ValidationAucPerClass[j]) : "").Append(',');
        s.Append(F(LearningRate)).Append(',').Append(F(Seconds)).Append(',').Append(F(TrainSamplesPerSecond))
         .Append(',').Append(F(ResidentMegabytes));
        return s.ToString();
    }

    /// <summary>The training_log.txt line.</summary>
    public string ToLogLine(int epochs)
    {
        var inv = CultureInfo.InvariantCulture;
        string v(double x, string fmt) => double.IsNaN(x) ? "n/a" : x.ToString(fmt, inv);
        return string.Format(inv,
            "epoch {0}/{1}  loss {2}  val_loss {3}  val_acc {4}  val_precision {5}  val_recall {6}  val_macro_auc {7}  lr {8:0.###e+0}  {9:0.0} s  {10:0} samples/s  rss {11:0} MiB",
            Epoch, epochs, v(TrainLoss, "0.0000"), v(ValidationLoss, "0.0000"), v(ValidationBinaryAccuracy, "0.0000"),
            v(ValidationPrecision, "0.0000"), v(ValidationRecall, "0.0000"), v(ValidationMacroAuc, "0.0000"),
            LearningRate, Seconds, TrainSamplesPerSecond, ResidentMegabytes);
    }
}
