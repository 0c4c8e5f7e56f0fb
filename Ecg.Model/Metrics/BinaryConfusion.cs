namespace Ecg.Model.Metrics;

/// <summary>
/// Counts of one binary problem, laid out by <see cref="ToMatrix"/> as scikit-learn's
/// multilabel_confusion_matrix does for each class: [[tn, fp], [fn, tp]].
/// </summary>
public readonly record struct BinaryConfusion(long TrueNegatives, long FalsePositives, long FalseNegatives, long TruePositives)
{
    /// <summary>Records with label 1 (true positives + false negatives).</summary>
    public long ActualPositives => TruePositives + FalseNegatives;

    /// <summary>Records predicted 1 (true positives + false positives).</summary>
    public long PredictedPositives => TruePositives + FalsePositives;

    /// <summary>[[tn, fp], [fn, tp]].</summary>
    public long[,] ToMatrix() => new[,] { { TrueNegatives, FalsePositives }, { FalseNegatives, TruePositives } };
}
