namespace Ecg.Model.Metrics;

/// <summary>Fmax and where it is reached: the threshold, the averaged precision and recall there, and the
/// coverage (fraction of records that predict at least one class there).</summary>
public sealed record FmaxResult(double Fmax, double Threshold, double Precision, double Recall, double Coverage);

/// <summary>Sample-centric precision, recall, F and coverage at each threshold (NaN where undefined).</summary>
public sealed record FmaxCurve(double[] Thresholds, double[] Precision, double[] Recall, double[] F, double[] Coverage);

/// <summary>
/// Sample-centric Fmax (the CAFA protein-function metric) as the PTB-XL benchmark's authors compute it.
/// The benchmark's code/utils/utils.py (helme/ecg_ptbxl_benchmarking) defines no Fmax; the paper's Fmax is
/// <c>eval_scores</c> / <c>eval_prrc_parallel</c> of their <c>clinical_ts/eval_utils_cafa.py</c> (e.g. in
/// tmehari/ecg-selfsupervised), reproduced here:
/// <list type="bullet">
/// <item>thresholds t = 0.00, 0.01, ..., 1.00 (<c>np.arange(0.00, 1.01, 1/100)</c>, i.e. i * 0.01);</item>
/// <item>a record predicts the classes whose score is &gt;= t; its precision is TP / (classes predicted),
/// undefined when it predicts none; its recall is TP / (its true classes);</item>
/// <item>P(t) averages precision over the records that predict something (<c>np.nanmean</c>; NaN when none does),
/// R(t) averages recall over all records, F(t) = 2 P R / (P + R) (NaN when P is NaN or P + R = 0);</item>
/// <item>Fmax is the largest F(t), at the first such threshold (<c>np.nanargmax</c>); 0 (threshold, precision,
/// recall and coverage 0 too) when F is NaN at every threshold.</item>
/// </list>
/// Scores are compared in double precision, as NumPy compares float32 scores with its float64 thresholds.
/// Unlike NumPy, a record without any true class is refused (its recall is 0/0, which makes NumPy's R(t) NaN at
/// every threshold and Fmax 0); the benchmark's tasks never have one (ProcessedDataset.ForTask drops them).
/// </summary>
public static class Fmax
{
    /// <summary>The benchmark's 101 thresholds, i * 0.01 for i = 0..100.</summary>
    public static double[] BenchmarkThresholds() => Enumerable.Range(0, 101).Select(i => i * 0.01).ToArray();

    /// <summary>Fmax over <see cref="BenchmarkThresholds"/> of N x C scores (row-major) against 0/1 labels.</summary>
    public static FmaxResult Compute(float[] scores, byte[] labels, int classes) =>
        Compute(scores, labels, classes, BenchmarkThresholds());

    /// <summary>Fmax over the given thresholds.</summary>
    public static FmaxResult Compute(float[] scores, byte[] labels, int classes, double[] thresholds)
    {
        var curve = Curve(scores, labels, classes, thresholds);
        int best = -1;
        for (int k = 0; k < curve.F.Length; k++)
            if (!double.IsNaN(curve.F[k]) && (best < 0 || curve.F[k] > curve.F[best])) best = k;
        return best < 0
            ? new FmaxResult(0.0, 0.0, 0.0, 0.0, 0.0)
            : new FmaxResult(curve.F[best], curve.Thresholds[best], curve.Precision[best], curve.Recall[best], curve.Coverage[best]);
    }

    /// <summary>P(t), R(t), F(t) and coverage at each of the given thresholds (see the class summary).</summary>
    public static FmaxCurve Curve(float[] scores, byte[] labels, int classes, double[] thresholds)
    {
        ArgumentNullException.ThrowIfNull(scores);
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(thresholds);
        int rows = MultilabelInput.Rows(scores.Length, nameof(scores), labels.Length, nameof(labels), classes);
        MultilabelInput.RequireBinary(labels, classes, nameof(labels));
        MultilabelInput.RequireNotNaN(scores, classes, nameof(scores));
        if (rows == 0) throw new ArgumentException("Fmax needs at least one record.", nameof(scores));
        var positives = new int[rows];
        for (int i = 0; i < rows; i++)
        {
            for (int c = 0; c < classes; c++) positives[i] += labels[i * classes + c];
            if (positives[i] == 0)
                throw new ArgumentException(
                    $"labels[record {i}] has no true class: its recall, and so Fmax, is undefined (the benchmark drops such records).",
                    nameof(labels));
        }

        int n = thresholds.Length;
        var precision = new double[n];
        var recall = new double[n];
        var f = new double[n];
        var coverage = new double[n];
        for (int k = 0; k < n; k++)
        {
            double t = thresholds[k];
            double precisionSum = 0, recallSum = 0;
            int predicting = 0;
            for (int i = 0; i < rows; i++)
            {
                int predicted = 0, truePositives = 0;
                for (int c = 0; c < classes; c++)
                {
                    if ((double)scores[i * classes + c] >= t)
                    {
                        predicted++;
                        truePositives += labels[i * classes + c];
                    }
                }
                if (predicted > 0)
                {
                    precisionSum += (double)truePositives / predicted;
                    predicting++;
                }
                recallSum += (double)truePositives / positives[i];
            }
            precision[k] = predicting > 0 ? precisionSum / predicting : double.NaN;
            recall[k] = recallSum / rows;
            coverage[k] = (double)predicting / rows;
            // NaN when precision is NaN or both are 0 (0/0), as NumPy gives.
            f[k] = 2 * precision[k] * recall[k] / (precision[k] + recall[k]);
        }
        return new FmaxCurve((double[])thresholds.Clone(), precision, recall, f, coverage);
    }
}
