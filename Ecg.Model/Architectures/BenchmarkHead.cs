using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Ecg.Model.Architectures;

/// <summary>How <see cref="BenchmarkHead"/> pools (batch, C, L) feature maps over time before its linear layers.</summary>
public enum HeadPooling
{
    /// <summary>The convolutional networks' AdaptiveConcatPool1d: [max, mean], 2C features.</summary>
    MaxMean,

    /// <summary>
    /// The recurrent networks' AdaptiveConcatPoolRNN (rnn1d.py): [mean, max, last time step], 3C features.
    /// </summary>
    MeanMaxLast,
}

/// <summary>
/// The classification head of the PTB-XL benchmark (Strodthoff et al. 2020, <c>create_head1d</c> with
/// lin_ftrs=[128], ps=0.5, bn_final=False, concat_pooling=True): concatenated global max and average
/// pooling (2C features, max first), then fastai's bn_drop_lin twice:
/// BatchNorm(2C), Dropout(ps/2), Linear(2C→128), ReLU, BatchNorm(128), Dropout(ps), Linear(128→classes).
/// Input (batch, C, L) feature maps; output (batch, classes) logits. The recurrent networks use the same
/// linear layers after their own pooling (<see cref="HeadPooling.MeanMaxLast"/>, 3C features).
/// </summary>
public sealed class BenchmarkHead : Module<Tensor, Tensor>
{
    private readonly BatchNorm1d poolNorm, hiddenNorm;
    private readonly Dropout poolDropout, hiddenDropout;
    private readonly Linear hidden, classifier;
    private readonly HeadPooling pooling;

    /// <summary>Channels of the feature maps the head pools.</summary>
    public long InChannels { get; }

    /// <summary>Width of the hidden layer, the embedding.</summary>
    public int HiddenSize { get; }

    /// <summary>Features after pooling: 2C or 3C, the width of the first BatchNorm and linear layer.</summary>
    public long PooledFeatures { get; }

    public BenchmarkHead(long inChannels, int classes, int hiddenSize = 128, double finalDropout = 0.5,
                         HeadPooling pooling = HeadPooling.MaxMean)
        : base(nameof(BenchmarkHead))
    {
        InChannels = inChannels;
        HiddenSize = hiddenSize;
        this.pooling = pooling;
        PooledFeatures = (pooling == HeadPooling.MaxMean ? 2 : 3) * inChannels;
        // fastai's create_head1d: a single ps is spread as [ps/2, ps] over the two linear layers.
        poolNorm = BatchNorm1d(PooledFeatures);
        poolDropout = Dropout(finalDropout / 2);
        hidden = Linear(PooledFeatures, hiddenSize);
        hiddenNorm = BatchNorm1d(hiddenSize);
        hiddenDropout = Dropout(finalDropout);
        classifier = Linear(hiddenSize, classes);
        RegisterComponents();
    }

    /// <summary>The hidden layer's activations after ReLU (batch, <see cref="HiddenSize"/>).</summary>
    public Tensor Embed(Tensor features)
    {
        using var scope = NewDisposeScope();
        var pooled = Pool(features);
        var activated = functional.relu(hidden.forward(poolDropout.forward(poolNorm.forward(pooled))));
        return activated.MoveToOuterDisposeScope();
    }

    private Tensor Pool(Tensor features)
    {
        var max = features.amax(new long[] { -1 });
        var mean = features.mean(new long[] { -1 });
        // AdaptiveConcatPool1d(1) + Flatten: [max, mean] over time. AdaptiveConcatPoolRNN: [mean, max, last step];
        // for a bidirectional LSTM rnn1d.py also takes the last step of both directions' 2H channels (its second
        // slice, meant for the backward direction's first step, is empty), and so does this.
        return pooling == HeadPooling.MaxMean
            ? cat(new[] { max, mean }, 1)
            : cat(new[] { mean, max, features.select(-1, -1) }, 1);
    }

    public override Tensor forward(Tensor features)
    {
        using var scope = NewDisposeScope();
        var embedded = Embed(features);
        return classifier.forward(hiddenDropout.forward(hiddenNorm.forward(embedded))).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// A network that ends in the benchmark head: its own feature maps (batch, C, L), then the head's embedding and logits.
/// Each architecture supplies <see cref="Features"/> and its registered head; forward and Embed are written once here.
/// </summary>
public abstract class BenchmarkHeadNetwork : Module<Tensor, Tensor>, IEcgNetwork
{
    protected BenchmarkHeadNetwork(string name) : base(name) { }

    /// <summary>The feature maps (batch, C, L) the head pools, for input (batch, leads, T).</summary>
    protected abstract Tensor Features(Tensor x);

    /// <summary>The network's head (a registered field of the architecture, so its weights keep the name "head").</summary>
    protected abstract BenchmarkHead Head { get; }

    public int EmbeddingSize => Head.HiddenSize;

    public Tensor Embed(Tensor x)
    {
        using var features = Features(x);
        return Head.Embed(features);
    }

    public override Tensor forward(Tensor x)
    {
        using var features = Features(x);
        return Head.forward(features);
    }
}
