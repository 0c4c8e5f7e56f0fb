using Ecg.Data;
using Ecg.Model.Architectures;
using TorchSharp;
using static TorchSharp.torch;

namespace Ecg.Model;

/// <summary>What a session's training minimises (config.json's <c>objective</c>).</summary>
public static class TrainingObjective
{
    /// <summary>Binary cross-entropy on the task's labels: a classifier (every session before objectives existed).</summary>
    public const string Supervised = "supervised";

    /// <summary>Self-supervised pretraining on the signals alone (<see cref="ContrastivePretraining"/>); labels are not read.</summary>
    public const string Contrastive = "contrastive";

    public static IReadOnlyList<string> Names { get; } = new[] { Supervised, Contrastive };
}

/// <summary>
/// Self-supervised contrastive pretraining (SimCLR, Chen et al. 2020, as applied to ECGs by Mehari and Strodthoff 2022):
/// each training record gives two views (two random crops, each changed by the session's augmentation), the network
/// embeds both (<see cref="IEcgNetwork.Embed"/>, the 128-d embedding later stages analyse), and the NT-Xent loss pulls
/// the two views of a record together against the other 2B - 2 views of the batch. No projection head is added, so
/// every pretrained tensor is one the fine-tuned classifier keeps (`ecg train --init-from`). Validation is the same loss
/// on the validation records with views drawn from a fixed seed, so epochs compare on equal terms; the best epoch is
/// the lowest.
/// </summary>
public static class ContrastivePretraining
{
    /// <summary>
    /// NT-Xent (normalised temperature-scaled cross-entropy) over <paramref name="embeddings"/> (2B, D): rows i and i + B
    /// are the two views of one record. Each row's embedding is L2-normalised; row i's logits are its cosine similarities
    /// to the other 2B - 1 rows divided by <paramref name="temperature"/>, its target the other view; the mean over 2B rows.
    /// </summary>
    public static Tensor NtXent(Tensor embeddings, double temperature)
    {
        if (embeddings.dim() != 2 || embeddings.shape[0] < 2 || embeddings.shape[0] % 2 != 0)
            throw new ArgumentException($"NT-Xent needs (2B, D) embeddings, two views of B >= 1 records; got ({string.Join(", ", embeddings.shape)}).");
        if (!(temperature > 0)) throw new ArgumentException($"NT-Xent temperature must be positive; got {temperature}.");
        using var scope = NewDisposeScope();
        long n = embeddings.shape[0], b = n / 2;
        var z = nn.functional.normalize(embeddings.to(ScalarType.Float32), p: 2, dim: 1);
        var similarity = z.mm(z.t()) / temperature;
        using var self = eye(n, dtype: ScalarType.Bool, device: embeddings.device);
        similarity = similarity.masked_fill(self, float.NegativeInfinity);
        var other = cat(new[] { arange(b, n, dtype: ScalarType.Int64), arange(0, b, dtype: ScalarType.Int64) }).to(embeddings.device);
        return nn.functional.cross_entropy(similarity, other).MoveToOuterDisposeScope();
    }

    /// <summary>The network's embedding of a batch: the output contrastive training differentiates.</summary>
    public static Tensor Embed(nn.Module<Tensor, Tensor> model, Tensor input) =>
        (model as IEcgNetwork ?? throw new InvalidOperationException($"{model.GetName()} has no embedding: contrastive pretraining needs an IEcgNetwork.")).Embed(input);

    /// <summary>
    /// One training batch's input: the two views of records <paramref name="order"/>[offset..offset+count), stacked as
    /// (2 count, leads, T), first views first. Both draw crops and augmentation from <paramref name="random"/>.
    /// </summary>
    internal static Tensor Views(BatchBuilder batches, int[] order, int offset, int count, int? cropLength, Random random, Augmentation? augmentation)
    {
        using var first = batches.Signals(order, offset, count, cropLength, random, augmentation);
        using var second = batches.Signals(order, offset, count, cropLength, random, augmentation);
        return cat(new[] { first, second }, 0);
    }

    /// <summary>
    /// Mean NT-Xent over the records <paramref name="indices"/> in batches of the config's size (eval mode, no gradients),
    /// with views drawn from a stream seeded by the config's seed alone, so every epoch is scored on the same views.
    /// A last batch of one record is skipped (it has no negatives); the mean is weighted by batch size.
    /// </summary>
    internal static double ValidationLoss(nn.Module<Tensor, Tensor> model, BatchBuilder batches, int[] indices, TrainingConfig config,
                                          Augmentation? augmentation, Action<int, int>? batchDone = null, CancellationToken cancel = default)
    {
        bool wasTraining = model.training;
        model.eval();
        try
        {
            using var noGrad = no_grad();
            var random = new Random(unchecked((int)Trainer.EpochSeed(config.Seed, 0)));
            int batchSize = config.BatchSize, batchCount = (indices.Length + batchSize - 1) / batchSize;
            double sum = 0;
            long weight = 0;
            for (int b = 0; b < batchCount; b++)
            {
                cancel.ThrowIfCancellationRequested();
                using var scope = NewDisposeScope();
                int offset = b * batchSize, count = Math.Min(batchSize, indices.Length - offset);
                if (count < 2) continue;
                var input = Views(batches, indices, offset, count, config.CropLength, random, augmentation);
                var loss = NtXent(Embed(model, input), config.ContrastiveTemperature).item<float>();
                if (!float.IsFinite(loss))
                    throw new NonFiniteException($"The validation contrastive loss is non-finite ({loss}) at batch {b + 1}.");
                sum += loss * count;
                weight += count;
                batchDone?.Invoke(b + 1, batchCount);
            }
            return weight == 0 ? double.NaN : sum / weight;
        }
        finally { if (wasTraining) model.train(); }
    }
}
