using Ecg.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace Ecg.Model;

/// <summary>Inference over dataset records: record-level logits, one batch at a time, no gradients.</summary>
internal static class ModelRunner
{
    /// <summary>Logits (indices.Length * classes, row-major), windowed and aggregated as the config says.</summary>
    public static float[] Logits(nn.Module<Tensor, Tensor> model, BatchBuilder batches, int[] indices, int classes,
                                 TrainingConfig config, Action<int, int>? batchDone = null, CancellationToken cancel = default)
    {
        model.eval();
        var result = new float[indices.Length * classes];
        int batchSize = config.BatchSize, batchCount = (indices.Length + batchSize - 1) / batchSize;
        using var noGrad = no_grad();
        for (int b = 0; b < batchCount; b++)
        {
            cancel.ThrowIfCancellationRequested();
            using var scope = NewDisposeScope();
            int offset = b * batchSize, count = Math.Min(batchSize, indices.Length - offset);
            var input = batches.Signals(indices, offset, count);
            var logits = TransientFaults.Run(() => WindowedInference.Logits(model, input, config.EvalWindow, config.EvalStride, config.EvalAggregation).cpu(),
                                             TransientFaults.AllFinite, $"records {offset}-{offset + count - 1}");
            if (logits.isnan().any().item<bool>()) throw NaNReport(model, input, indices[offset]);
            logits.data<float>().CopyTo(result.AsSpan(offset * classes, count * classes));
            batchDone?.Invoke(b + 1, batchCount);
        }
        return result;
    }

    /// <summary>Says where a NaN output came from: the input, the weights/statistics, or the computation.</summary>
    private static Exception NaNReport(nn.Module<Tensor, Tensor> model, Tensor input, int firstRecord)
    {
        bool inputNaN = !input.isfinite().all().item<bool>();
        bool transient;
        using (var again = model.forward(input)) transient = !again.isnan().any().item<bool>();
        var badState = model.state_dict().Where(kv => kv.Value.is_floating_point() && !kv.Value.isfinite().all().item<bool>()).Select(kv => kv.Key).ToList();
        return new NonFiniteException(
            $"The model produced NaN for the batch starting at record index {firstRecord}: " +
            (inputNaN ? "the input holds NaN or infinite values. " : "the input is finite. ") +
            (badState.Count > 0 ? $"Non-finite weights or statistics: {string.Join(", ", badState)}. " : "All weights and statistics are finite. ") +
            (transient ? "Recomputing the same batch gave finite values (a transient native fault)." : "Recomputing gives NaN again."));
    }

    public static float[] Sigmoid(float[] logits) => logits.Select(z => 1f / (1f + MathF.Exp(-z))).ToArray();

    /// <summary>Mean binary cross-entropy over all (record, class) entries, computed from logits as torch does.</summary>
    public static double BceWithLogits(float[] logits, byte[] labels, float[]? positiveWeight, int classes)
    {
        double total = 0;
        for (int i = 0; i < logits.Length; i++)
        {
            double z = logits[i], y = labels[i];
            double w = positiveWeight is null ? 1.0 : positiveWeight[i % classes];
            // log(1 + exp(-|z|)) + max(-z, 0), numerically stable
            double logSigmoidNeg = Math.Log(1 + Math.Exp(-Math.Abs(z))) + Math.Max(z, 0);   // -log(1 - sigmoid(z))
            double logSigmoidPos = logSigmoidNeg - z;                                        // -log(sigmoid(z))
            total += w * y * logSigmoidPos + (1 - y) * logSigmoidNeg;
        }
        return total / logits.Length;
    }

    /// <summary>Multi-hot labels of the records, row-major.</summary>
    public static byte[] LabelsOf(ProcessedDataset dataset, int[] indices)
    {
        int classes = dataset.ClassNames.Length;
        var labels = new byte[indices.Length * classes];
        for (int k = 0; k < indices.Length; k++) dataset.LabelsOf(indices[k]).Span.CopyTo(labels.AsSpan(k * classes, classes));
        return labels;
    }
}
