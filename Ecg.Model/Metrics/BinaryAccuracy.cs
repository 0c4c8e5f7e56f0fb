namespace Ecg.Model.Metrics;

/// <summary>
/// Keras <c>binary_accuracy</c>: the fraction of all N x C entries where (score &gt; threshold) equals
/// the label. Keras thresholds strictly (score &gt; 0.5 predicts 1), unlike <see cref="Thresholds.Apply"/>
/// which uses &gt;=; Keras averages in float32, this in float64.
/// </summary>
public static class BinaryAccuracy
{
    public static double Compute(float[] scores, byte[] labels, int classes, double threshold = 0.5)
    {
        ArgumentNullException.ThrowIfNull(scores);
        ArgumentNullException.ThrowIfNull(labels);
        MultilabelInput.Rows(scores.Length, nameof(scores), labels.Length, nameof(labels), classes);
        MultilabelInput.RequireBinary(labels, classes, nameof(labels));
        if (scores.Length == 0) throw new ArgumentException("scores is empty; accuracy needs at least one entry.", nameof(scores));
        long correct = 0;
        for (int i = 0; i < scores.Length; i++)
        {
            byte predicted = scores[i] > threshold ? (byte)1 : (byte)0;
            if (predicted == labels[i]) correct++;
        }
        return (double)correct / scores.Length;
    }

    /// <summary>Fraction of entries where predictions equal labels (1 - Hamming loss).</summary>
    public static double FromPredictions(byte[] labels, byte[] predictions, int classes)
    {
        MultilabelConfusion.Validate(labels, predictions, classes);
        if (labels.Length == 0) throw new ArgumentException("labels is empty; accuracy needs at least one entry.", nameof(labels));
        long correct = 0;
        for (int i = 0; i < labels.Length; i++)
            if (labels[i] == predictions[i]) correct++;
        return (double)correct / labels.Length;
    }
}
