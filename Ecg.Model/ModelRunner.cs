using Ecg.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace Ecg.Model;

/// <summary>Helpers of training and evaluation: validation logits, sigmoid, BCE from logits, labels of records.</summary>
internal static class ModelRunner
{
    /// <summary>
    /// Logits (indices.Length * classes, row-major) of a model being trained, windowed and aggregated as the config
    /// says. Its weights live only in memory, so a batch that stays non-finite ends in a <see cref="NonFiniteException"/>
    /// (the trainer resumes from its last checkpoint).
    /// </summary>
    public static float[] Logits(nn.Module<Tensor, Tensor> model, BatchBuilder batches, int[] indices, int classes,
                                 TrainingConfig config, Action<int, int>? batchDone = null, CancellationToken cancel = default)
    {
        var aggregation = WindowAggregations.Parse(config.EvalAggregation, "eval_aggregation");
        return InferenceLoop.Run(model, batches, indices, config.BatchSize, classes,
            input => WindowedInference.Logits(model, input, config.EvalWindow, config.EvalStride, aggregation), null, batchDone, cancel);
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
