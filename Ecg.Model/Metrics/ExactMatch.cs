namespace Ecg.Model.Metrics;

/// <summary>
/// Subset accuracy: the fraction of records whose predicted label set equals the true one exactly
/// (scikit-learn 1.2.1 <c>accuracy_score</c> on multilabel arrays).
/// </summary>
public static class ExactMatch
{
    public static double Compute(byte[] labels, byte[] predictions, int classes)
    {
        int rows = MultilabelConfusion.Validate(labels, predictions, classes);
        if (rows == 0) throw new ArgumentException("labels is empty; subset accuracy needs at least one record.", nameof(labels));
        int matches = 0;
        for (int r = 0; r < rows; r++)
        {
            if (labels.AsSpan(r * classes, classes).SequenceEqual(predictions.AsSpan(r * classes, classes)))
                matches++;
        }
        return (double)matches / rows;
    }
}
