namespace Ecg.Model.Metrics;

/// <summary>
/// scikit-learn 1.2.1 <c>multilabel_confusion_matrix</c> on N x C row-major 0/1 labels and predictions.
/// </summary>
public static class MultilabelConfusion
{
    /// <summary>One confusion per class (sklearn default, samplewise=False).</summary>
    public static BinaryConfusion[] PerClass(byte[] labels, byte[] predictions, int classes)
    {
        Validate(labels, predictions, classes);
        var counts = new long[classes, 4]; // index = 2 * label + prediction: tn, fp, fn, tp
        for (int i = 0; i < labels.Length; i++)
            counts[i % classes, 2 * labels[i] + predictions[i]]++;
        var result = new BinaryConfusion[classes];
        for (int c = 0; c < classes; c++)
            result[c] = new BinaryConfusion(counts[c, 0], counts[c, 1], counts[c, 2], counts[c, 3]);
        return result;
    }

    /// <summary>One confusion per record over its C classes (sklearn samplewise=True).</summary>
    public static BinaryConfusion[] PerRecord(byte[] labels, byte[] predictions, int classes)
    {
        int rows = Validate(labels, predictions, classes);
        var result = new BinaryConfusion[rows];
        Span<long> counts = stackalloc long[4];
        for (int r = 0; r < rows; r++)
        {
            counts.Clear();
            for (int i = r * classes; i < (r + 1) * classes; i++)
                counts[2 * labels[i] + predictions[i]]++;
            result[r] = new BinaryConfusion(counts[0], counts[1], counts[2], counts[3]);
        }
        return result;
    }

    /// <summary>Checks shapes and 0/1 values; returns N.</summary>
    internal static int Validate(byte[] labels, byte[] predictions, int classes)
    {
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(predictions);
        int rows = MultilabelInput.Rows(labels.Length, nameof(labels), predictions.Length, nameof(predictions), classes);
        MultilabelInput.RequireBinary(labels, classes, nameof(labels));
        MultilabelInput.RequireBinary(predictions, classes, nameof(predictions));
        return rows;
    }
}
