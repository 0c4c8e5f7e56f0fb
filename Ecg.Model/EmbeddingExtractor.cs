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
    private readonly SessionModel model;

    public TrainingSession Session => model.Session;
    public Standardisation Standardisation => model.Standardisation;
    /// <summary>The weights loaded.</summary>
    public WeightsChoice Weights => model.Weights;
    public int Dimension => ((IEcgNetwork)model.Network).EmbeddingSize;

    private EmbeddingExtractor(SessionModel model) => this.model = model;

    /// <summary>Loads the session's <paramref name="weights"/> (a clear error for a network without an embedding layer).</summary>
    public static EmbeddingExtractor Load(TrainingSession session, WeightsChoice weights, string? device = null)
    {
        var loaded = SessionModel.Load(session, weights, device, null);
        if (loaded.Network is not IEcgNetwork)
        {
            loaded.Dispose();
            throw new NotSupportedException($"Session '{session.Folder}' uses model '{session.Manifest.Config.Model}', which has no embedding layer.");
        }
        return new EmbeddingExtractor(loaded);
    }

    /// <summary>Loads weights given as text ("best", "7", "9-12").</summary>
    public static EmbeddingExtractor Load(TrainingSession session, string weights = "best", string? device = null) =>
        Load(session, WeightsChoice.Parse(weights), device);

    /// <summary>
    /// Embeddings (indices.Length * <see cref="Dimension"/>, row-major) of the records <paramref name="indices"/> of
    /// <paramref name="dataset"/>, one batch of the session's batch size at a time; <paramref name="batchDone"/> gets (done, total) batches.
    /// With <paramref name="wholeRecord"/>, a windowed model embeds each record in one pass over all of it instead (the
    /// global pooling then spans the record): fewer samples through the network (1,000 against 7 x 250 at 100 Hz).
    /// </summary>
    public float[] EmbedRecords(ProcessedDataset dataset, int[] indices, Action<int, int>? batchDone = null, CancellationToken cancel = default, bool wholeRecord = false)
    {
        SessionCompatibility.Require(Session, dataset);
        var config = model.Config;
        var batches = new BatchBuilder(dataset, Standardisation, model.Device);
        int? window = wholeRecord ? null : config.EvalWindow;
        return InferenceLoop.Run(model.Network, batches, indices, config.BatchSize, Dimension,
            input => Embed(model.Network, input, window, config.EvalStride), model.ReloadWeights, batchDone, cancel);
    }

    /// <summary>Whether the session embeds a record as the mean over evaluation windows (else in one whole-record pass).</summary>
    public static bool Windowed(TrainingSession session) =>
        session.Manifest.Config.EvalWindow is int w && w < session.Manifest.Samples;

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
