using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Ecg.Model.Architectures;

/// <summary>The depths of the benchmark's xresnet1d family (blocks per stage, block expansion).</summary>
public enum XResNet1dVariant
{
    /// <summary>Basic blocks [2, 2, 2, 2].</summary>
    XResNet1d18,
    /// <summary>Basic blocks [3, 4, 6, 3].</summary>
    XResNet1d34,
    /// <summary>Bottleneck blocks (expansion 4) [3, 4, 6, 3].</summary>
    XResNet1d50,
    /// <summary>Bottleneck blocks (expansion 4) [3, 4, 23, 3]: the benchmark's best single model.</summary>
    XResNet1d101,
    /// <summary>Bottleneck blocks (expansion 4) [3, 8, 36, 3].</summary>
    XResNet1d152,
}

/// <summary>
/// fastai's ConvLayer as the benchmark uses it: Conv1d ("same" padding (k-1)/2, no bias), BatchNorm,
/// then ReLU when <paramref name="activate"/>. The BatchNorm weight starts at 0 when
/// <paramref name="zeroNorm"/> (fastai's NormType.BatchZero), so a residual block starts as identity.
/// </summary>
internal sealed class XConvLayer : Module<Tensor, Tensor>
{
    private readonly Conv1d conv;
    private readonly BatchNorm1d norm;
    private readonly bool activate;

    public XConvLayer(string name, long inChannels, long outChannels, long kernel, long stride, bool activate, bool zeroNorm)
        : base(name)
    {
        this.activate = activate;
        conv = Conv1d(inChannels, outChannels, kernel, stride: stride, padding: (kernel - 1) / 2, bias: false);
        norm = BatchNorm1d(outChannels);
        using (no_grad())
        {
            if (zeroNorm) init.zeros_(norm.weight);
        }
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var convolved = conv.forward(x);
        var normalised = norm.forward(convolved);
        if (!activate) return normalised;
        using (normalised) return functional.relu(normalised);
    }
}

/// <summary>
/// The benchmark's xresnet ResBlock: a conv path (two k-convs for expansion 1; 1x1, k, 1x1 for
/// bottlenecks) whose last BatchNorm starts at zero, and an identity path that average-pools
/// (kernel 2, ceil mode) when the block strides and projects with a 1x1 conv + BN when the
/// channel count changes; ReLU after the sum.
/// </summary>
internal sealed class XResBlock : Module<Tensor, Tensor>
{
    private readonly Sequential convs;
    private readonly AvgPool1d? pool;
    private readonly XConvLayer? projection;

    public XResBlock(string name, int expansion, long inChannels, long channels, long stride, long kernel) : base(name)
    {
        long inWidth = inChannels * expansion, outWidth = channels * expansion;
        convs = expansion == 1
            ? Sequential(
                ("0", new XConvLayer("0", inWidth, channels, kernel, stride, activate: true, zeroNorm: false)),
                ("1", new XConvLayer("1", channels, outWidth, kernel, 1, activate: false, zeroNorm: true)))
            : Sequential(
                ("0", new XConvLayer("0", inWidth, channels, 1, 1, activate: true, zeroNorm: false)),
                ("1", new XConvLayer("1", channels, channels, kernel, stride, activate: true, zeroNorm: false)),
                ("2", new XConvLayer("2", channels, outWidth, 1, 1, activate: false, zeroNorm: true)));
        // pool_first=True: the pool comes before the projection.
        if (stride != 1) pool = AvgPool1d(2, ceil_mode: true);
        if (inWidth != outWidth) projection = new XConvLayer(nameof(projection), inWidth, outWidth, 1, 1, activate: false, zeroNorm: false);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var identity = x;
        if (pool is not null) identity = pool.forward(identity);
        if (projection is not null) identity = projection.forward(identity);
        return functional.relu(convs.forward(x) + identity).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// XResNet1d of the PTB-XL benchmark (xresnet1d.py, fastai's xresnet adapted to 1-d; kernel size 5
/// everywhere as the benchmark trains it): a stem of three ConvLayers (leads→32 stride 2, 32→32,
/// 32→64, kernel 5), max pool (3, stride 2, padding 1), four stages of residual blocks with 64
/// channels (times the expansion) and stride 2 from the second stage on, and the benchmark head.
/// Input (batch, leads, T); output (batch, classes) logits. Initialised as fastai's init_cnn does
/// (Kaiming-normal weights, zero biases, last BatchNorm of each block zero); the benchmark's training
/// script also applied <see cref="BenchmarkInitialisation.ApplyWeightInit"/> afterwards.
/// </summary>
public sealed class XResNet1d : BenchmarkHeadNetwork
{
    private readonly Sequential stem;
    private readonly MaxPool1d stemPool;
    private readonly Sequential stages;
    private readonly BenchmarkHead head;

    public XResNet1dVariant Variant { get; }
    public int Leads { get; }
    public int Classes { get; }

    /// <summary>Channels of the last stage's feature maps, pooled by the head.</summary>
    public long FeatureChannels { get; }

    public XResNet1d(XResNet1dVariant variant = XResNet1dVariant.XResNet1d101, int leads = 12, int classes = 5,
                     int kernelSize = 5, int stemKernelSize = 5, int embeddingSize = 128, double headDropout = 0.5)
        : base(nameof(XResNet1d))
    {
        if (kernelSize % 2 == 0 || stemKernelSize % 2 == 0)
            throw new ArgumentException($"XResNet1d: kernel sizes must be odd for 'same' padding, got {kernelSize} and {stemKernelSize}.");
        Variant = variant;
        Leads = leads;
        Classes = classes;
        var (expansion, blocksPerStage) = Layout(variant);

        long[] stemWidths = { leads, 32, 32, 64 };
        stem = Sequential(Enumerable.Range(0, 3).Select(i =>
            (i.ToString(), (Module<Tensor, Tensor>)new XConvLayer(i.ToString(), stemWidths[i], stemWidths[i + 1],
                stemKernelSize, i == 0 ? 2 : 1, activate: true, zeroNorm: false))).ToArray());
        stemPool = MaxPool1d(3, stride: 2, padding: 1);

        // block_szs = [64 // expansion, 64, 64, 64, 64]: widths before expansion.
        var widths = new long[] { 64 / expansion, 64, 64, 64, 64 };
        var stageModules = new List<(string, Module<Tensor, Tensor>)>();
        for (int stage = 0; stage < blocksPerStage.Length; stage++)
        {
            var blocks = Enumerable.Range(0, blocksPerStage[stage]).Select(b =>
                (b.ToString(), (Module<Tensor, Tensor>)new XResBlock(b.ToString(), expansion,
                    b == 0 ? widths[stage] : widths[stage + 1], widths[stage + 1],
                    stride: stage > 0 && b == 0 ? 2 : 1, kernel: kernelSize))).ToArray();
            stageModules.Add((stage.ToString(), Sequential(blocks)));
        }
        stages = Sequential(stageModules.ToArray());
        FeatureChannels = widths[^1] * expansion;
        head = new BenchmarkHead(FeatureChannels, classes, embeddingSize, headDropout);
        RegisterComponents();
        BenchmarkInitialisation.ApplyInitCnn(this);
    }

    /// <summary>Block expansion and blocks per stage of each variant (xresnet1d.py).</summary>
    public static (int Expansion, int[] BlocksPerStage) Layout(XResNet1dVariant variant) => variant switch
    {
        XResNet1dVariant.XResNet1d18 => (1, new[] { 2, 2, 2, 2 }),
        XResNet1dVariant.XResNet1d34 => (1, new[] { 3, 4, 6, 3 }),
        XResNet1dVariant.XResNet1d50 => (4, new[] { 3, 4, 6, 3 }),
        XResNet1dVariant.XResNet1d101 => (4, new[] { 3, 4, 23, 3 }),
        XResNet1dVariant.XResNet1d152 => (4, new[] { 3, 8, 36, 3 }),
        _ => throw new ArgumentOutOfRangeException(nameof(variant), variant, "unknown XResNet1d variant"),
    };

    protected override BenchmarkHead Head => head;

    protected override Tensor Features(Tensor x)
    {
        InputChecks.RequireSignalBatch(x, Leads, 1, Variant.ToString());
        using var stemmed = stem.forward(x);
        using var pooled = stemPool.forward(stemmed);
        return stages.forward(pooled);
    }
}
