namespace Ecg.Model.Metrics;

/// <summary>
/// numpy's pairwise summation of float64 (used by sum, mean and average), reproduced so that
/// averages over records agree with scikit-learn to the last bit, not only to rounding error.
/// </summary>
internal static class NumpySum
{
    private const int BlockSize = 128; // numpy's PW_BLOCKSIZE

    public static double Sum(ReadOnlySpan<double> values)
    {
        int n = values.Length;
        if (n < 8)
        {
            double sum = 0.0;
            foreach (double v in values) sum += v;
            return sum;
        }
        if (n <= BlockSize)
        {
            Span<double> r = stackalloc double[8];
            values[..8].CopyTo(r);
            int i = 8;
            for (; i < n - n % 8; i += 8)
                for (int j = 0; j < 8; j++) r[j] += values[i + j];
            double sum = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
            for (; i < n; i++) sum += values[i];
            return sum;
        }
        int half = n / 2;
        half -= half % 8;
        return Sum(values[..half]) + Sum(values[half..]);
    }

    /// <summary>numpy.mean: pairwise sum divided by the count.</summary>
    public static double Mean(ReadOnlySpan<double> values) => Sum(values) / values.Length;
}
