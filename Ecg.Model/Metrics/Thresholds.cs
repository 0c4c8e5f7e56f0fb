namespace Ecg.Model.Metrics;

/// <summary>Per-class decision thresholds chosen by <see cref="Thresholds.TuneForF1"/> and the F1 each achieves on the tuning data.</summary>
public sealed record ThresholdTuning(double[] Thresholds, double[] F1);

/// <summary>
/// Turning scores into 0/1 predictions with per-class thresholds. Convention: a score predicts 1
/// when <c>score &gt;= threshold</c> (compared in double precision). Note Keras' binary_accuracy
/// (<see cref="BinaryAccuracy"/>) uses a strict &gt; instead.
/// </summary>
public static class Thresholds
{
    /// <summary>Predictions for N x C scores, class c predicted 1 where score &gt;= thresholds[c].</summary>
    public static byte[] Apply(float[] scores, int classes, double[] thresholds)
    {
        ArgumentNullException.ThrowIfNull(scores);
        ArgumentNullException.ThrowIfNull(thresholds);
        MultilabelInput.Rows(scores.Length, classes, nameof(scores));
        if (thresholds.Length != classes)
            throw new ArgumentException($"thresholds has {thresholds.Length} values but classes = {classes}.", nameof(thresholds));
        for (int c = 0; c < classes; c++)
            if (double.IsNaN(thresholds[c]))
                throw new ArgumentException($"thresholds[{c}] is NaN.", nameof(thresholds));
        MultilabelInput.RequireNotNaN(scores, classes, nameof(scores));
        var predictions = new byte[scores.Length];
        for (int i = 0; i < scores.Length; i++)
            predictions[i] = scores[i] >= thresholds[i % classes] ? (byte)1 : (byte)0;
        return predictions;
    }

    /// <summary>Predictions with one threshold for every class (score &gt;= threshold predicts 1).</summary>
    public static byte[] Apply(float[] scores, int classes, double threshold) =>
        Apply(scores, classes, Enumerable.Repeat(threshold, classes).ToArray());

    /// <summary>
    /// Per class, the threshold maximising F1 (sklearn f1_score, zero_division 0) on these scores and labels.
    /// Candidates are one cut between each pair of adjacent distinct scores, placed at their midpoint
    /// (so the threshold also separates unseen scores sensibly), the lowest score itself (predict all),
    /// and +∞ (predict none). Ties in F1 (compared exactly as 2tp / (2tp + fp + fn)) go to the
    /// largest threshold, i.e. the fewest positive predictions; a class whose F1 is 0 at every cut,
    /// such as one without positive labels, therefore gets +∞. O(N log N) per class.
    /// </summary>
    public static ThresholdTuning TuneForF1(float[] scores, byte[] labels, int classes)
    {
        ArgumentNullException.ThrowIfNull(scores);
        ArgumentNullException.ThrowIfNull(labels);
        MultilabelInput.Rows(scores.Length, nameof(scores), labels.Length, nameof(labels), classes);
        MultilabelInput.RequireBinary(labels, classes, nameof(labels));
        MultilabelInput.RequireNotNaN(scores, classes, nameof(scores));

        var thresholds = new double[classes];
        var f1 = new double[classes];
        for (int c = 0; c < classes; c++)
        {
            float[] keys = MultilabelInput.Column(scores, classes, c);
            byte[] column = MultilabelInput.Column(labels, classes, c);
            Array.Sort(keys, column);
            long positives = column.Sum(y => (long)y);

            // Start from "predict none" and lower the cut one distinct score at a time.
            double best = double.PositiveInfinity;
            long bestTp = 0, bestFp = 0;
            long tp = 0, fp = 0;
            int i = keys.Length - 1;
            while (i >= 0)
            {
                float score = keys[i];
                for (; i >= 0 && keys[i] == score; i--)
                {
                    if (column[i] != 0) tp++; else fp++;
                }
                if (IsBetter(tp, fp, positives - tp, bestTp, bestFp, positives - bestTp))
                {
                    best = i >= 0 ? 0.5 * ((double)keys[i] + score) : score;
                    bestTp = tp;
                    bestFp = fp;
                }
            }
            thresholds[c] = best;
            f1[c] = PrecisionRecallF1.Of(new BinaryConfusion(0, bestFp, positives - bestTp, bestTp)).F1;
        }
        return new ThresholdTuning(thresholds, f1);
    }

    /// <summary>Whether 2tp / (2tp + fp + fn) exceeds the best so far, compared exactly (0/0 counts as 0).</summary>
    private static bool IsBetter(long tp, long fp, long fn, long bestTp, long bestFp, long bestFn)
    {
        long denominator = 2 * tp + fp + fn, bestDenominator = 2 * bestTp + bestFp + bestFn;
        if (tp == 0) return false;
        if (bestTp == 0) return true;
        return (Int128)(2 * tp) * bestDenominator > (Int128)(2 * bestTp) * denominator;
    }
}
