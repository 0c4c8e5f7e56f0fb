namespace Ecg.Model.Metrics;

/// <summary>
/// scikit-learn 1.2.1 <c>jaccard_score</c> on multilabel 0/1 arrays: |true ∩ predicted| / |true ∪ predicted|,
/// with the default zero_division ("warn"): an empty union scores 0.0.
/// </summary>
public static class Jaccard
{
    /// <summary>Jaccard index of each class (sklearn average=None).</summary>
    public static double[] PerClass(byte[] labels, byte[] predictions, int classes) =>
        MultilabelConfusion.PerClass(labels, predictions, classes).Select(Of).ToArray();

    /// <summary>Mean over records of each record's index (sklearn average="samples").</summary>
    public static double Samples(byte[] labels, byte[] predictions, int classes) =>
        NumpySum.Mean(MultilabelConfusion.PerRecord(labels, predictions, classes).Select(Of).ToArray());

    /// <summary>Unweighted mean over classes (sklearn average="macro").</summary>
    public static double Macro(byte[] labels, byte[] predictions, int classes) =>
        NumpySum.Mean(PerClass(labels, predictions, classes));

    /// <summary>Index of the counts pooled over classes (sklearn average="micro").</summary>
    public static double Micro(byte[] labels, byte[] predictions, int classes)
    {
        var perClass = MultilabelConfusion.PerClass(labels, predictions, classes);
        long tp = perClass.Sum(c => c.TruePositives), fp = perClass.Sum(c => c.FalsePositives), fn = perClass.Sum(c => c.FalseNegatives);
        return PrecisionRecallF1.Ratio(tp, tp + fp + fn);
    }

    /// <summary>Mean over classes weighted by support (sklearn average="weighted"); unweighted when no class has support.</summary>
    public static double Weighted(byte[] labels, byte[] predictions, int classes)
    {
        var perClass = MultilabelConfusion.PerClass(labels, predictions, classes);
        double[] scores = perClass.Select(Of).ToArray();
        double weights = perClass.Sum(c => (double)c.ActualPositives);
        if (weights == 0.0) return NumpySum.Mean(scores); // sklearn drops all-zero weights
        return NumpySum.Sum(scores.Select((s, i) => s * perClass[i].ActualPositives).ToArray()) / weights;
    }

    private static double Of(BinaryConfusion c) =>
        PrecisionRecallF1.Ratio(c.TruePositives, c.TruePositives + c.FalsePositives + c.FalseNegatives);
}
