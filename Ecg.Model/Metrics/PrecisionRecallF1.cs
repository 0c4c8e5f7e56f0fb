namespace Ecg.Model.Metrics;

/// <summary>Precision, recall and F1 of one class or one average.</summary>
public readonly record struct PrfScores(double Precision, double Recall, double F1);

/// <summary>
/// scikit-learn 1.2.1 <c>precision_recall_fscore_support</c> on multilabel 0/1 arrays with the
/// default zero_division="warn": a ratio whose denominator is 0 is 0.0 (sklearn also warns; we do not).
/// F1 is computed as sklearn does, 2·p·r / (p + r) with p + r = 0 giving 0.
/// </summary>
public static class PrecisionRecallF1
{
    /// <summary>Scores of every class (sklearn average=None).</summary>
    public static PrfScores[] PerClass(byte[] labels, byte[] predictions, int classes) =>
        MultilabelConfusion.PerClass(labels, predictions, classes).Select(Of).ToArray();

    /// <summary>Scores of the pooled counts over all classes (sklearn average="micro").</summary>
    public static PrfScores Micro(byte[] labels, byte[] predictions, int classes) =>
        Micro(MultilabelConfusion.PerClass(labels, predictions, classes));

    /// <summary>Unweighted mean over classes (sklearn average="macro"); classes without labels count as 0.</summary>
    public static PrfScores Macro(byte[] labels, byte[] predictions, int classes) =>
        Macro(PerClass(labels, predictions, classes));

    /// <summary>Mean over classes weighted by support (sklearn average="weighted"); 0 when there are no positive labels at all.</summary>
    public static PrfScores Weighted(byte[] labels, byte[] predictions, int classes) =>
        Weighted(MultilabelConfusion.PerClass(labels, predictions, classes));

    /// <summary>Mean over records of each record's scores (sklearn average="samples"); a record without labels or predictions scores 0.</summary>
    public static PrfScores Samples(byte[] labels, byte[] predictions, int classes) =>
        Macro(MultilabelConfusion.PerRecord(labels, predictions, classes).Select(Of).ToArray());

    /// <summary>Micro-averaged precision (sklearn precision_score(average="micro")).</summary>
    public static double MicroPrecision(byte[] labels, byte[] predictions, int classes) => Micro(labels, predictions, classes).Precision;

    /// <summary>Micro-averaged recall (sklearn recall_score(average="micro")).</summary>
    public static double MicroRecall(byte[] labels, byte[] predictions, int classes) => Micro(labels, predictions, classes).Recall;

    /// <summary>Scores of one set of counts.</summary>
    public static PrfScores Of(BinaryConfusion counts)
    {
        double precision = Ratio(counts.TruePositives, counts.PredictedPositives);
        double recall = Ratio(counts.TruePositives, counts.ActualPositives);
        return new PrfScores(precision, recall, F1(precision, recall));
    }

    internal static PrfScores Micro(BinaryConfusion[] perClass)
    {
        long tn = 0, fp = 0, fn = 0, tp = 0;
        foreach (var c in perClass)
        {
            tn += c.TrueNegatives; fp += c.FalsePositives; fn += c.FalseNegatives; tp += c.TruePositives;
        }
        return Of(new BinaryConfusion(tn, fp, fn, tp));
    }

    internal static PrfScores Macro(PrfScores[] scores)
    {
        if (scores.Length == 0) return new PrfScores(0.0, 0.0, 0.0);
        return new PrfScores(
            NumpySum.Mean(scores.Select(s => s.Precision).ToArray()),
            NumpySum.Mean(scores.Select(s => s.Recall).ToArray()),
            NumpySum.Mean(scores.Select(s => s.F1).ToArray()));
    }

    internal static PrfScores Weighted(BinaryConfusion[] perClass)
    {
        // numpy.average(values, weights=support): sum(values * weights) / sum(weights).
        double weights = perClass.Sum(c => (double)c.ActualPositives);
        // sklearn returns the zero_division value (0 by default) when no class has support.
        if (weights == 0.0) return new PrfScores(0.0, 0.0, 0.0);
        var scores = perClass.Select(Of).ToArray();
        double WeightedMean(Func<PrfScores, double> part) =>
            NumpySum.Sum(scores.Select((s, i) => part(s) * perClass[i].ActualPositives).ToArray()) / weights;
        return new PrfScores(WeightedMean(s => s.Precision), WeightedMean(s => s.Recall), WeightedMean(s => s.F1));
    }

    internal static double Ratio(long numerator, long denominator) =>
        denominator == 0 ? 0.0 : (double)numerator / denominator;

    /// <summary>sklearn's F-beta with beta = 1, in its operation order: (1 + 1)·p·r / (p + r), denominator 0 → 1.</summary>
    internal static double F1(double precision, double recall)
    {
        double denominator = precision + recall;
        if (denominator == 0.0) denominator = 1.0;
        return 2.0 * precision * recall / denominator;
    }
}
