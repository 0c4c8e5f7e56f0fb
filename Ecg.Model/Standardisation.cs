using Ecg.Data;

namespace Ecg.Model;

/// <summary>
/// The affine map applied to every signal value before the network: (x - Mean) / Std.
/// "global" fits one mean and standard deviation over all samples and leads of the training records only.
/// </summary>
public sealed record Standardisation(string Kind, double Mean, double Std)
{
    public static Standardisation Identity { get; } = new("none", 0.0, 1.0);

    public static Standardisation Fit(string kind, ProcessedDataset dataset, int[] trainIndices)
    {
        if (kind == "none") return Identity;
        if (kind != "global") throw new ArgumentException($"Unknown standardisation '{kind}': use none or global.");
        if (trainIndices.Length == 0) throw new ArgumentException("Global standardisation needs at least one training record.");
        // Double accumulators: float sums over ~2e7 values lose digits.
        double sum = 0, sumSquares = 0;
        long count = 0;
        foreach (var index in trainIndices)
        {
            var span = dataset.Signal(index).Span;
            foreach (var v in span) { sum += v; sumSquares += (double)v * v; }
            count += span.Length;
        }
        double mean = sum / count;
        double variance = Math.Max(sumSquares / count - mean * mean, 0.0);
        double std = Math.Sqrt(variance);
        if (!(std > 1e-12))
            throw new ArgumentException("Global standardisation: the training signals are constant (standard deviation 0).");
        return new Standardisation("global", mean, std);
    }
}
