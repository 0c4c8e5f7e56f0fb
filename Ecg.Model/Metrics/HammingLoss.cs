namespace Ecg.Model.Metrics;

/// <summary>scikit-learn 1.2.1 <c>hamming_loss</c> on multilabel 0/1 arrays: the fraction of the N x C entries that differ.</summary>
public static class HammingLoss
{
    public static double Compute(byte[] labels, byte[] predictions, int classes)
    {
        int rows = MultilabelConfusion.Validate(labels, predictions, classes);
        if (rows == 0) throw new ArgumentException("labels is empty; Hamming loss needs at least one record.", nameof(labels));
        long differences = 0;
        for (int i = 0; i < labels.Length; i++)
            if (labels[i] != predictions[i]) differences++;
        return (double)differences / ((long)rows * classes);
    }
}
