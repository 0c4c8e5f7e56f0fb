using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Ecg.Model.Architectures;

/// <summary>
/// The classification head of the PTB-XL benchmark (Strodthoff et al. 2020, <c>create_head1d</c> with
/// lin_ftrs=[128], ps=0.5, bn_final=False, concat_pooling=True): concatenated global max and average
/// pooling (2C features, max first), then fastai's bn_drop_lin twice:
/// BatchNorm(2C), Dropout(ps/2), Linear(2C→128), ReLU, BatchNorm(128), Dropout(ps), Linear(128→classes).
/// Input (batch, C, L) feature maps; output (batch, classes) logits.
/// </summary>
public sealed class BenchmarkHead : Module<Tensor, Tensor>
{
    private readonly BatchNorm1d poolNorm, hiddenNorm;
    private readonly Dropout poolDropout, hiddenDropout;
    private readonly Linear hidden, classifier;

    /// <summary>Channels of the feature maps the head pools.</summary>
    public long InChannels { get; }

    /// <summary>Width of the hidden layer, the embedding.</summary>
    public int HiddenSize { get; }

    public BenchmarkHead(long inChannels, int classes, int hiddenSize = 128, double finalDropout = 0.5)
        : base(nameof(BenchmarkHead))
    {
        InChannels = inChannels;
        HiddenSize = hiddenSize;
        // fastai's create_head1d: a single ps is spread as [ps/2, ps] over the two linear layers.
        poolNorm = BatchNorm1d(2 * inChannels);
        poolDropout = Dropout(finalDropout / 2);
        hidden = Linear(2 * inChannels, hiddenSize);
        hiddenNorm = BatchNorm1d(hiddenSize);
        hiddenDropout = Dropout(finalDropout);
        classifier = Linear(hiddenSize, classes);
        RegisterComponents();
    }

    /// <summary>The hidden layer's activations after ReLU (batch, <see cref="HiddenSize"/>).</summary>
    public Tensor Embed(Tensor features)
    {
        using var scope = NewDisposeScope();
        // AdaptiveConcatPool1d(1) + Flatten: [max, mean] over time.
        var pooled = cat(new[] { features.amax(new long[] { -1 }), features.mean(new long[] { -1 }) }, 1);
        var activated = functional.relu(hidden.forward(poolDropout.forward(poolNorm.forward(pooled))));
        return activated.MoveToOuterDisposeScope();
    }

    public override Tensor forward(Tensor features)
    {
        using var scope = NewDisposeScope();
        var embedded = Embed(features);
        return classifier.forward(hiddenDropout.forward(hiddenNorm.forward(embedded))).MoveToOuterDisposeScope();
    }
}
