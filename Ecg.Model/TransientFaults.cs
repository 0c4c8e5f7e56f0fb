using static TorchSharp.torch;

namespace Ecg.Model;

/// <summary>
/// Recomputes a batch whose result is not finite. On the development machines (see <see cref="Avx512Guard"/>)
/// libtorch now and then returns NaN from finite input and weights, and the same batch computed again is
/// finite; a genuine divergence stays non-finite and is still reported. Each recompute is counted and logged
/// so that it never goes unnoticed.
/// </summary>
public static class TransientFaults
{
    /// <summary>Computations tried again per batch before giving up.</summary>
    public const int Retries = 2;

    private static long recomputed;

    /// <summary>Batches recomputed in this process so far.</summary>
    public static long Recomputed => Interlocked.Read(ref recomputed);

    /// <summary>Optional sink for a line per recompute (the trainer writes it to the session log).</summary>
    public static Action<string>? Log { get; set; }

    /// <summary>
    /// Runs <paramref name="compute"/> until <paramref name="isFinite"/> holds, at most 1 + <see cref="Retries"/> times;
    /// returns the last result (the caller reports it when still not finite). Results that are dropped are disposed.
    /// </summary>
    public static T Run<T>(Func<T> compute, Func<T, bool> isFinite, string what) where T : IDisposable
    {
        // isFinite is called exactly once per result, the last one included, so callers may record its verdict.
        var result = compute();
        for (int attempt = 1; !isFinite(result) && attempt <= Retries; attempt++)
        {
            Interlocked.Increment(ref recomputed);
            Log?.Invoke($"non-finite result for {what}; recomputing (attempt {attempt} of {Retries})");
            result.Dispose();
            result = compute();
        }
        return result;
    }

    public static bool AllFinite(Tensor t) => t.isfinite().all().item<bool>();
}

/// <summary>A loss, gradient or output that stayed non-finite after <see cref="TransientFaults.Retries"/> recomputes.</summary>
public sealed class NonFiniteException(string message) : InvalidOperationException(message);
