using Ecg.Model.Architectures;
using Ecg.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace Ecg.Model;

/// <summary>
/// A trained session's 128-d penultimate-layer embeddings (<see cref="CrossLeadCnn.Embed"/>) for dataset records,
/// with the session's own standardisation. A model evaluated with windows (trained on crops) embeds a record as
/// the mean of its window embeddings over the same windows evaluation uses (<see cref="WindowedInference.WindowStarts"/>):
/// the classifier's max over windows has no counterpart for a feature vector, and the mean keeps every part of the
/// record. A model evaluated on whole records embeds the whole record in one pass.
/// </summary>
public sealed class EmbeddingExtractor : IDisposable
{
    private readonly nn.Module<Tensor, Tensor> model;
    private readonly Device device;

    public TrainingSession Session { get; }
    public Standardisation Standardisation { get; }
    /// <summary>The weights loaded: "best" or an epoch number.</summary>
    public string Weights { get; }
    public int Dimension => ((IEcgNetwork)model).EmbeddingSize;

    private EmbeddingExtractor(TrainingSession session, nn.Module<Tensor, Tensor> model, Standardisation standardisation, Device device, string weights)
    {
        Session = session;
        this.model = model;
        Standardisation = standardisation;
        this.device = device;
        Weights = weights;
    }

    /// <summary>Loads the session's weights "best" (default) or those of an epoch number.</summary>
    public static EmbeddingExtractor Load(TrainingSession session, string weights = "best", string? device = null)
    {
        var config = session.Manifest.Config;
        var path = session.WeightsPath(weights);
        if (!File.Exists(path)) throw new FileNotFoundException($"Session '{session.Folder}' has no weights file '{path}'.", path);
        var resolved = Devices.Resolve(device ?? config.Device);
        var created = ModelFactory.Create(config, session.Manifest.LeadNames.Length, session.Manifest.ClassNames.Length);
        if (created is not IEcgNetwork)
        {
            created.Dispose();
            throw new NotSupportedException($"Session '{session.Folder}' uses model '{config.Model}', which has no embedding layer.");
        }
        var model = created;
        try
        {
            model.to(resolved);
            Checkpoint.LoadWeights(model, session, path);
            model.eval();
            return new EmbeddingExtractor(session, model, session.LoadStandardisation(), resolved,
                                          string.IsNullOrWhiteSpace(weights) ? "best" : weights.Trim().ToLowerInvariant());
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Embeddings (indices.Length * <see cref="Dimension"/>, row-major) of the records <paramref name="indices"/> of
    /// <paramref name="dataset"/>, one batch of the session's batch size at a time; <paramref name="batchDone"/> gets (done, total) batches.
    /// </summary>
    public float[] EmbedRecords(ProcessedDataset dataset, int[] indices, Action<int, int>? batchDone = null, CancellationToken cancel = default)
    {
        var manifest = Session.Manifest;
        if (dataset.Leads != manifest.LeadNames.Length)
            throw new ArgumentException($"Dataset has {dataset.Leads} leads; session '{Session.Folder}' was trained on {manifest.LeadNames.Length}.");
        if (dataset.SamplingRate != manifest.SamplingRate)
            throw new ArgumentException($"Dataset is sampled at {dataset.SamplingRate} Hz; session '{Session.Folder}' was trained at {manifest.SamplingRate} Hz.");
        var config = manifest.Config;
        var batches = new BatchBuilder(dataset, Standardisation, device);
        int dimension = Dimension, batchSize = config.BatchSize, batchCount = (indices.Length + batchSize - 1) / batchSize;
        var result = new float[indices.Length * dimension];
        using var noGrad = no_grad();
        for (int b = 0; b < batchCount; b++)
        {
            cancel.ThrowIfCancellationRequested();
            using var scope = NewDisposeScope();
            int offset = b * batchSize, count = Math.Min(batchSize, indices.Length - offset);
            var input = batches.Signals(indices, offset, count);
            var embedded = TransientFaults.Run(() => Embed(model, input, config.EvalWindow, config.EvalStride).cpu(),
                                               TransientFaults.AllFinite, $"records {offset}-{offset + count - 1}");
            if (!TransientFaults.AllFinite(embedded))
            {
                // Still not finite: the weights in memory may be corrupted; read them again from disk once.
                TransientFaults.Log?.Invoke($"reloading {Session.WeightsPath(Weights)} and embedding records {offset}-{offset + count - 1} again");
                Checkpoint.LoadWeights(model, Session, Session.WeightsPath(Weights));
                embedded = Embed(model, input, config.EvalWindow, config.EvalStride).cpu();
            }
            embedded.data<float>().CopyTo(result.AsSpan(offset * dimension, count * dimension));
            batchDone?.Invoke(b + 1, batchCount);
        }
        return result;
    }

    /// <summary>
    /// Embeddings (batch, 128) of input (batch, leads, T): one pass when <paramref name="window"/> is null or covers
    /// the input, else the mean over the evaluation windows.
    /// </summary>
    public static Tensor Embed(nn.Module<Tensor, Tensor> model, Tensor input, int? window, int? stride)
    {
        long length = input.shape[^1];
        var network = (IEcgNetwork)model;
        if (window is not int w || w >= length) return network.Embed(input);
        using var scope = NewDisposeScope();
        var starts = WindowedInference.WindowStarts(length, w, stride ?? w);
        long batch = input.shape[0], leads = input.shape[1];
        // (W, B, L, w) -> (W*B, L, w): one forward pass for all windows, as WindowedInference does.
        var windows = stack(starts.Select(s => input.narrow(-1, s, w)).ToArray()).reshape(starts.Length * batch, leads, w);
        var embedded = network.Embed(windows);
        return embedded.reshape(starts.Length, batch, embedded.shape[^1]).mean(new long[] { 0 }).MoveToOuterDisposeScope();
    }

    public void Dispose() => model.Dispose();
}
