namespace Ecg.Model.Metrics;

/// <summary>
/// Point estimate of macro ROC AUC with a bootstrap percentile interval.
/// <see cref="Lower"/> and <see cref="Upper"/> are the (1 - Confidence)/2 and (1 + Confidence)/2
/// quantiles (linear interpolation, like numpy.percentile / pandas.quantile) of the
/// <see cref="Iterations"/> accepted resamples; <see cref="Rejected"/> counts resamples drawn and
/// discarded because some evaluated class lacked positives or negatives.
/// </summary>
public sealed record BootstrapInterval(
    double Point, double Mean, double Lower, double Upper, double Confidence, int Iterations, int Rejected);

/// <summary>
/// Area under the ROC curve, equal to scikit-learn 1.2.1 <c>roc_auc_score</c>.
/// Ties are handled as scikit-learn does (trapezoid over the distinct thresholds), which equals the
/// Mann-Whitney statistic with tied positive/negative pairs counted 1/2; it is computed here in
/// O(n log n) per class from one sort, with exact integer pair counts and a single final division.
/// </summary>
/// <remarks>
/// Where AUC is undefined (only one label value present) scikit-learn raises ValueError
/// ("Only one class present in y_true"); here <see cref="Binary"/> and <see cref="PerClass"/> return
/// <see cref="double.NaN"/> instead, and <see cref="Macro"/> averages over the classes where it is
/// defined (skipping the others), so a fold that lacks a rare class still gets a score.
/// NaN scores are rejected with <see cref="ArgumentException"/> (scikit-learn rejects them too).
/// </remarks>
public static class RocAuc
{
    /// <summary>
    /// ROC AUC of one binary problem (sklearn <c>roc_auc_score(labels, scores)</c>).
    /// Returns <see cref="double.NaN"/> when labels contain only 0s or only 1s (sklearn raises there).
    /// </summary>
    public static double Binary(ReadOnlySpan<float> scores, ReadOnlySpan<byte> labels)
    {
        if (scores.Length != labels.Length)
            throw new ArgumentException(
                $"labels has {labels.Length} values but scores has {scores.Length}; they must match.", nameof(labels));
        MultilabelInput.RequireBinary(labels, 1, nameof(labels));
        MultilabelInput.RequireNotNaN(scores, 1, nameof(scores));
        float[] keys = scores.ToArray();
        byte[] items = labels.ToArray();
        return OfUnsorted(keys, items);
    }

    /// <summary>ROC AUC of every class (sklearn <c>roc_auc_score(Y, S, average=None)</c>); NaN for a class with only one label value.</summary>
    public static double[] PerClass(float[] scores, byte[] labels, int classes)
    {
        Validate(scores, labels, classes);
        var result = new double[classes];
        for (int c = 0; c < classes; c++)
            result[c] = OfUnsorted(MultilabelInput.Column(scores, classes, c), MultilabelInput.Column(labels, classes, c));
        return result;
    }

    /// <summary>
    /// Unweighted mean of the per-class AUCs (sklearn <c>average="macro"</c>) over the classes where
    /// AUC is defined; classes with only positives or only negatives are skipped (sklearn raises).
    /// NaN when no class is defined.
    /// </summary>
    public static double Macro(float[] scores, byte[] labels, int classes) => MeanOfDefined(PerClass(scores, labels, classes));

    /// <summary>AUC of all N x C (score, label) pairs pooled (sklearn <c>average="micro"</c>).</summary>
    public static double Micro(float[] scores, byte[] labels, int classes)
    {
        Validate(scores, labels, classes);
        return OfUnsorted((float[])scores.Clone(), (byte[])labels.Clone());
    }

    /// <summary>
    /// Macro AUC (as <see cref="Macro"/>) with a bootstrap percentile interval, as in the PTB-XL
    /// benchmark: records are resampled with replacement (N draws from <see cref="Random"/> seeded
    /// with <paramref name="seed"/>), resamples in which an evaluated class has no positives (or no
    /// negatives) are discarded and redrawn until <paramref name="iterations"/> are accepted.
    /// Evaluated classes are those with both label values in the full data.
    /// </summary>
    /// <param name="confidence">Central interval mass, e.g. 0.90 for the benchmark's 5%..95% quantiles.</param>
    public static BootstrapInterval BootstrapMacro(
        float[] scores, byte[] labels, int classes, int iterations, int seed, double confidence = 0.90)
    {
        int rows = Validate(scores, labels, classes);
        if (iterations <= 0)
            throw new ArgumentOutOfRangeException(nameof(iterations), iterations, "iterations must be positive.");
        if (!(confidence > 0.0 && confidence < 1.0))
            throw new ArgumentOutOfRangeException(nameof(confidence), confidence, "confidence must lie strictly between 0 and 1.");

        double point = Macro(scores, labels, classes);
        int[] evaluated = Enumerable.Range(0, classes)
            .Where(c => HasBothLabels(labels, classes, c)).ToArray();
        if (evaluated.Length == 0)
            throw new ArgumentException("No class has both positive and negative labels; ROC AUC is undefined.", nameof(labels));

        // Sort each evaluated class once; a resample is then just a multiplicity per record, and its
        // AUC is a weighted walk over the presorted order (O(N) per class instead of a new sort).
        var sortedKeys = new float[evaluated.Length][];
        var sortedRecords = new int[evaluated.Length][];
        for (int k = 0; k < evaluated.Length; k++)
        {
            sortedKeys[k] = MultilabelInput.Column(scores, classes, evaluated[k]);
            sortedRecords[k] = Enumerable.Range(0, rows).ToArray();
            Array.Sort(sortedKeys[k], sortedRecords[k]);
        }

        var random = new Random(seed);
        var multiplicity = new int[rows];
        var positives = new int[evaluated.Length];
        var values = new double[iterations];
        int accepted = 0, rejected = 0;
        long maxAttempts = Math.Max(10_000L, 1_000L * iterations);
        while (accepted < iterations)
        {
            if (accepted + rejected >= maxAttempts)
                throw new InvalidOperationException(
                    $"Bootstrap drew {maxAttempts} resamples but only {accepted} contained positives and negatives of every class; "
                    + "some class is too rare for resampling.");
            Array.Clear(multiplicity);
            Array.Clear(positives);
            for (int i = 0; i < rows; i++)
            {
                int record = random.Next(rows);
                multiplicity[record]++;
                for (int k = 0; k < evaluated.Length; k++)
                    positives[k] += labels[record * classes + evaluated[k]];
            }
            bool valid = true;
            for (int k = 0; k < evaluated.Length && valid; k++)
                valid = positives[k] > 0 && positives[k] < rows;
            if (!valid) { rejected++; continue; }

            double sum = 0.0;
            for (int k = 0; k < evaluated.Length; k++)
                sum += OfSortedWeighted(sortedKeys[k], sortedRecords[k], multiplicity, labels, classes, evaluated[k]);
            values[accepted++] = sum / evaluated.Length;
        }

        Array.Sort(values);
        double alpha = (1.0 - confidence) / 2.0;
        return new BootstrapInterval(
            point, values.Average(), Quantile(values, alpha), Quantile(values, 1.0 - alpha),
            confidence, iterations, rejected);
    }

    private static int Validate(float[] scores, byte[] labels, int classes)
    {
        ArgumentNullException.ThrowIfNull(scores);
        ArgumentNullException.ThrowIfNull(labels);
        int rows = MultilabelInput.Rows(scores.Length, nameof(scores), labels.Length, nameof(labels), classes);
        MultilabelInput.RequireBinary(labels, classes, nameof(labels));
        MultilabelInput.RequireNotNaN(scores, classes, nameof(scores));
        return rows;
    }

    private static bool HasBothLabels(byte[] labels, int classes, int column)
    {
        bool sawPositive = false, sawNegative = false;
        for (int i = column; i < labels.Length; i += classes)
        {
            if (labels[i] == 1) sawPositive = true; else sawNegative = true;
            if (sawPositive && sawNegative) return true;
        }
        return false;
    }

    internal static double MeanOfDefined(double[] values)
    {
        double[] defined = values.Where(v => !double.IsNaN(v)).ToArray();
        return defined.Length == 0 ? double.NaN : NumpySum.Mean(defined);
    }

    /// <summary>Sorts both arrays in place by score and returns the AUC.</summary>
    private static double OfUnsorted(float[] keys, byte[] labels)
    {
        Array.Sort(keys, labels);
        // Walk groups of equal scores upward: each positive beats every negative below its group
        // and ties with half of the negatives inside it (this equals the trapezoid over thresholds).
        double negativesBelow = 0.0, positives = 0.0, pairs = 0.0;
        int i = 0;
        while (i < keys.Length)
        {
            float score = keys[i];
            double groupPositives = 0.0, groupNegatives = 0.0;
            for (; i < keys.Length && keys[i] == score; i++)
            {
                if (labels[i] != 0) groupPositives++; else groupNegatives++;
            }
            pairs += groupPositives * (2.0 * negativesBelow + groupNegatives); // doubled to stay integral
            negativesBelow += groupNegatives;
            positives += groupPositives;
        }
        return positives == 0.0 || negativesBelow == 0.0 ? double.NaN : pairs / (2.0 * positives * negativesBelow);
    }

    private static double OfSortedWeighted(
        float[] keys, int[] records, int[] multiplicity, byte[] labels, int classes, int column)
    {
        double negativesBelow = 0.0, positives = 0.0, pairs = 0.0;
        int i = 0;
        while (i < keys.Length)
        {
            float score = keys[i];
            double groupPositives = 0.0, groupNegatives = 0.0;
            for (; i < keys.Length && keys[i] == score; i++)
            {
                int record = records[i];
                int weight = multiplicity[record];
                if (labels[record * classes + column] != 0) groupPositives += weight; else groupNegatives += weight;
            }
            pairs += groupPositives * (2.0 * negativesBelow + groupNegatives);
            negativesBelow += groupNegatives;
            positives += groupPositives;
        }
        return positives == 0.0 || negativesBelow == 0.0 ? double.NaN : pairs / (2.0 * positives * negativesBelow);
    }

    /// <summary>numpy.percentile's default "linear" quantile of an ascending array.</summary>
    internal static double Quantile(double[] sorted, double q)
    {
        double position = (sorted.Length - 1) * q;
        int lower = (int)Math.Floor(position);
        int upper = Math.Min(lower + 1, sorted.Length - 1);
        double fraction = position - lower;
        return sorted[lower] + fraction * (sorted[upper] - sorted[lower]);
    }
}
