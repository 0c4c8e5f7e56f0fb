using Ecg.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace Ecg.Model;

/// <summary>
/// The one batched inference loop of the toolkit: records of a dataset, a batch at a time, no gradients, through a
/// per-batch function (logits, embeddings), into one row-major array. Its fault policy, for every caller:
/// <list type="number">
/// <item>a batch whose result is not finite is computed again (<see cref="TransientFaults"/>, at most twice);</item>
/// <item>if it stays non-finite and the weights came from a file, the model is presumed corrupted in memory: the
/// weights are read again from disk once and the batch computed once more;</item>
/// <item>still non-finite: a <see cref="NonFiniteException"/> that says whether the input, the weights or the
/// computation holds the NaN (training catches it and resumes from its last checkpoint).</item>
/// </list>
/// </summary>
public static class InferenceLoop
{
    /// <summary>
    /// Runs <paramref name="compute"/> ((batch, leads, T) -> (batch, <paramref name="width"/>)) over the records
    /// <paramref name="indices"/> of <paramref name="batches"/>' dataset. <paramref name="reloadWeights"/> (null: the
    /// weights live only in memory) reads the model's weights again from disk; <paramref name="batchDone"/> gets
    /// (done, total) batches.
    /// </summary>
    internal static float[] Run(nn.Module<Tensor, Tensor> model, BatchBuilder batches, int[] indices, int batchSize, int width,
                                Func<Tensor, Tensor> compute, Action? reloadWeights, Action<int, int>? batchDone = null,
                                CancellationToken cancel = default)
    {
        model.eval();
        var result = new float[indices.Length * width];
        int batchCount = (indices.Length + batchSize - 1) / batchSize;
        using var noGrad = no_grad();
        for (int b = 0; b < batchCount; b++)
        {
            cancel.ThrowIfCancellationRequested();
            using var scope = NewDisposeScope();
            int offset = b * batchSize, count = Math.Min(batchSize, indices.Length - offset);
            var input = batches.Signals(indices, offset, count);
            var what = $"records {offset}-{offset + count - 1}";
            var output = TransientFaults.Run(() => compute(input).cpu(), TransientFaults.AllFinite, what);
            if (!TransientFaults.AllFinite(output) && reloadWeights is not null)
            {
                TransientFaults.Log?.Invoke($"non-finite result for {what} after recomputing; reading the weights again from disk");
                reloadWeights();
                model.eval();
                output = compute(input).cpu();
            }
            if (!TransientFaults.AllFinite(output)) throw NonFiniteReport(model, input, compute, indices[offset]);
            output.data<float>().CopyTo(result.AsSpan(offset * width, count * width));
            batchDone?.Invoke(b + 1, batchCount);
        }
        return result;
    }

    /// <summary>Says where a non-finite output came from: the input, the weights/statistics, or the computation.</summary>
    private static NonFiniteException NonFiniteReport(nn.Module<Tensor, Tensor> model, Tensor input, Func<Tensor, Tensor> compute, int firstRecord)
    {
        bool inputBad = !input.isfinite().all().item<bool>();
        bool transient;
        using (var again = compute(input)) transient = again.isfinite().all().item<bool>();
        var badState = model.state_dict().Where(kv => kv.Value.is_floating_point() && !kv.Value.isfinite().all().item<bool>()).Select(kv => kv.Key).ToList();
        return new NonFiniteException(
            $"The model produced non-finite values for the batch starting at record index {firstRecord}: " +
            (inputBad ? "the input holds NaN or infinite values. " : "the input is finite. ") +
            (badState.Count > 0 ? $"Non-finite weights or statistics: {string.Join(", ", badState)}. " : "All weights and statistics are finite. ") +
            (transient ? "Recomputing the same batch gave finite values (a transient native fault)." : "Recomputing gives non-finite values again."));
    }
}
