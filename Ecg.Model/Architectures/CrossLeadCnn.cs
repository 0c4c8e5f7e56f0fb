using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;
using Ecg.Model.Architectures;

namespace Ecg.Model;

/// <summary>BatchNorm and initialisation settings: torch's defaults, or the original Keras model's.</summary>
/// <param name="BatchNormMomentum">torch convention: weight of the new batch statistic (Keras momentum 0.99 is 0.01 here).</param>
/// <param name="BatchNormEpsilon">added to the variance.</param>
/// <param name="GlorotInit">Glorot-uniform weights and zero biases, as Keras initialises layers.</param>
public sealed record LayerSettings(double BatchNormMomentum, double BatchNormEpsilon, bool GlorotInit)
{
    /// <summary>torch's defaults (momentum 0.1, epsilon 1e-5, Kaiming-uniform initialisation).</summary>
    public static LayerSettings Torch { get; } = new(0.1, 1e-5, false);

    /// <summary>The original Keras model: BatchNormalization(momentum 0.99, epsilon 1e-3), Glorot-uniform.</summary>
    public static LayerSettings Keras { get; } = new(0.01, 1e-3, true);
}

/// <summary>
/// Conv1d + BatchNorm + ReLU + Dropout with Keras "same" padding: output length ceil(T / stride),
/// padding split as Keras does (the extra element on the right when the total is odd).
/// </summary>
internal sealed class ConvBlock : Module<Tensor, Tensor>
{
    private readonly Conv1d conv;
    private readonly BatchNorm1d norm;
    private readonly Dropout dropout;
    private readonly long kernel, stride;

    public ConvBlock(string name, long inChannels, long outChannels, long kernel, long stride, long groups,
                     double dropoutRate, LayerSettings settings) : base(name)
    {
        this.kernel = kernel;
        this.stride = stride;
        // No bias before BatchNorm: BN's shift makes it redundant.
        conv = Conv1d(inChannels, outChannels, kernel, stride: stride, groups: groups, bias: false);
        norm = BatchNorm1d(outChannels, eps: settings.BatchNormEpsilon, momentum: settings.BatchNormMomentum);
        dropout = Dropout(dropoutRate);
        if (settings.GlorotInit) init.xavier_uniform_(conv.weight);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        long length = x.shape[^1];
        long outLength = (length + stride - 1) / stride;
        long total = Math.Max((outLength - 1) * stride + kernel - length, 0);
        long left = total / 2;
        using var padded = functional.pad(x, new[] { left, total - left });
        using var convolved = conv.forward(padded);
        using var normalised = norm.forward(convolved);
        using var activated = functional.relu(normalised);
        return dropout.forward(activated);
    }
}

/// <summary>
/// The cross-lead CNN of the original notebooks: per-lead (grouped) convolution, a strided
/// downsampling convolution, cross-lead convolutions, global average pooling, a 128-unit
/// embedding and one logit per class. Input (batch, 12 leads, T); output (batch, classes) logits.
/// </summary>
public sealed class CrossLeadCnn : Module<Tensor, Tensor>, IEcgNetwork
{
    /// <summary>Width of the penultimate layer, the embedding analysed in the feature-space stage.</summary>
    public const int EmbeddingSize = 128;

    private readonly ConvBlock perLead, downsample, crossLead1, crossLead2, deep;
    private readonly Linear embedding, classifier;
    private readonly Dropout headDropout;

    int IEcgNetwork.EmbeddingSize => EmbeddingSize;

    public int Leads { get; }
    public int Classes { get; }

    public CrossLeadCnn(int leads = 12, int classes = 5, LayerSettings? settings = null) : base(nameof(CrossLeadCnn))
    {
        settings ??= LayerSettings.Torch;
        Leads = leads;
        Classes = classes;
        perLead = new ConvBlock(nameof(perLead), leads, 3 * leads, 15, 1, groups: leads, 0.2, settings);
        downsample = new ConvBlock(nameof(downsample), 3 * leads, 64, 7, 2, 1, 0.2, settings);
        crossLead1 = new ConvBlock(nameof(crossLead1), 64, 128, 7, 1, 1, 0.2, settings);
        crossLead2 = new ConvBlock(nameof(crossLead2), 128, 128, 5, 2, 1, 0.2, settings);
        deep = new ConvBlock(nameof(deep), 128, 256, 5, 1, 1, 0.2, settings);
        embedding = Linear(256, EmbeddingSize);
        headDropout = Dropout(0.3);
        classifier = Linear(EmbeddingSize, classes);
        if (settings.GlorotInit)
        {
            foreach (var dense in new[] { embedding, classifier })
            {
                init.xavier_uniform_(dense.weight);
                init.zeros_(dense.bias);
            }
        }
        RegisterComponents();
    }

    /// <summary>The 128-d penultimate-layer activations (after ReLU), for feature-space analysis.</summary>
    public Tensor Embed(Tensor x)
    {
        using var scope = NewDisposeScope();
        var features = deep.forward(crossLead2.forward(crossLead1.forward(downsample.forward(perLead.forward(x)))));
        var pooled = features.mean(new long[] { -1 });
        return functional.relu(embedding.forward(pooled)).MoveToOuterDisposeScope();
    }

    public override Tensor forward(Tensor x)
    {
        using var embedded = Embed(x);
        using var dropped = headDropout.forward(embedded);
        return classifier.forward(dropped);
    }
}
