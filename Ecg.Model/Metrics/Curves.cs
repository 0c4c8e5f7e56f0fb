namespace Ecg.Model.Metrics;

/// <summary>Points of a curve over decision thresholds, one per distinct score (highest first).</summary>
public sealed record CurvePoints(double[] X, double[] Y);

/// <summary>
/// ROC and precision-recall curves of one class, as scikit-learn's roc_curve (drop_intermediate=False) and
/// precision_recall_curve compute them: one point per distinct score, thresholds from the highest score down.
/// </summary>
public static class Curves
{
    /// <summary>(false positive rate, true positive rate), starting at (0, 0) and ending at (1, 1).</summary>
    public static CurvePoints Roc(ReadOnlySpan<float> scores, ReadOnlySpan<byte> labels)
    {
        var (tps, fps) = Cumulative(scores, labels);
        double p = tps.Length > 0 ? tps[^1] : 0, n = fps.Length > 0 ? fps[^1] : 0;
        var x = new double[tps.Length + 1];
        var y = new double[tps.Length + 1];
        for (int i = 0; i < tps.Length; i++)
        {
            x[i + 1] = n > 0 ? fps[i] / n : double.NaN;
            y[i + 1] = p > 0 ? tps[i] / p : double.NaN;
        }
        return new CurvePoints(x, y);
    }

    /// <summary>
    /// (recall, precision) from the highest threshold down, starting at recall 0, precision 1 (sklearn's last point,
    /// listed first here) and ending at the lowest score.
    /// </summary>
    public static CurvePoints PrecisionRecall(ReadOnlySpan<float> scores, ReadOnlySpan<byte> labels)
    {
        var (tps, fps) = Cumulative(scores, labels);
        double p = tps.Length > 0 ? tps[^1] : 0;
        var recall = new double[tps.Length + 1];
        var precision = new double[tps.Length + 1];
        precision[0] = 1;
        for (int i = 0; i < tps.Length; i++)
        {
            recall[i + 1] = p > 0 ? tps[i] / p : double.NaN;
            precision[i + 1] = tps[i] + fps[i] > 0 ? tps[i] / (tps[i] + fps[i]) : 0;
        }
        return new CurvePoints(recall, precision);
    }

    /// <summary>True and false positives when predicting every score &gt;= each distinct score, highest first.</summary>
    private static (double[] Tps, double[] Fps) Cumulative(ReadOnlySpan<float> scores, ReadOnlySpan<byte> labels)
    {
        if (scores.Length != labels.Length) throw new ArgumentException($"{scores.Length} scores but {labels.Length} labels.");
        var order = new int[scores.Length];
        for (int i = 0; i < order.Length; i++) order[i] = i;
        var s = scores.ToArray();
        Array.Sort(order, (a, b) => s[b].CompareTo(s[a]));
        var tps = new List<double>();
        var fps = new List<double>();
        double tp = 0, fp = 0;
        for (int k = 0; k < order.Length; k++)
        {
            if (labels[order[k]] != 0) tp++; else fp++;
            // One point per distinct score: after the last record that has it.
            if (k == order.Length - 1 || s[order[k + 1]] != s[order[k]]) { tps.Add(tp); fps.Add(fp); }
        }
        return (tps.ToArray(), fps.ToArray());
    }

    /// <summary>Area under a curve by the trapezoidal rule (sklearn.metrics.auc).</summary>
    public static double Area(CurvePoints c)
    {
        double area = 0;
        for (int i = 1; i < c.X.Length; i++) area += (c.X[i] - c.X[i - 1]) * (c.Y[i] + c.Y[i - 1]) / 2;
        return area;
    }
}
