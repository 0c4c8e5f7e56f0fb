using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Ecg.Model.Architectures;

/// <summary>
/// The benchmark's InceptionBlock1d: a 1x1 bottleneck feeding parallel convolutions of several kernel
/// sizes, beside a max-pool (3, stride 1) + 1x1 branch on the block input; the branches are
/// concatenated (convolutions in kernel order, pool branch last), then BatchNorm and ReLU.
/// All convolutions "same"-padded, without bias.
/// </summary>
internal sealed class InceptionBlock1d : Module<Tensor, Tensor>
{
    private readonly Conv1d? bottleneck;
    private readonly ModuleList<Conv1d> convs;
    private readonly MaxPool1d pool;
    private readonly Conv1d poolConv;
    private readonly BatchNorm1d norm;

    public InceptionBlock1d(string name, long inChannels, long filters, long[] kernelSizes, long bottleneckSize) : base(name)
    {
        if (bottleneckSize > 0) bottleneck = Conv1d(inChannels, bottleneckSize, 1, bias: false);
        long convInput = bottleneckSize > 0 ? bottleneckSize : inChannels;
        convs = ModuleList(kernelSizes.Select(k => Conv1d(convInput, filters, k, padding: (k - 1) / 2, bias: false)).ToArray());
        pool = MaxPool1d(3, stride: 1, padding: 1);
        poolConv = Conv1d(inChannels, filters, 1, bias: false);
        norm = BatchNorm1d((kernelSizes.Length + 1) * filters);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var bottled = bottleneck is null ? x : bottleneck.forward(x);
        var branches = convs.Select(c => c.forward(bottled)).Append(poolConv.forward(pool.forward(x))).ToArray();
        return functional.relu(norm.forward(cat(branches, 1))).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// Inception1d of the PTB-XL benchmark (inception1d.py, after InceptionTime): <c>depth</c> inception
/// blocks, a residual shortcut (1x1 conv + BN, added, ReLU) around every three blocks, and the
/// benchmark head. The benchmark passes kernel_size = 8 x 5 = 40, giving branch kernels 39, 19, 9
/// (40, 20, 10 made odd); bottleneck 32, 32 filters per branch, depth 6.
/// Input (batch, leads, T); output (batch, classes) logits. Torch's default initialisation; the
/// benchmark's training script applied <see cref="BenchmarkInitialisation.ApplyWeightInit"/>.
/// </summary>
public sealed class Inception1d : BenchmarkHeadNetwork
{
    private readonly ModuleList<InceptionBlock1d> blocks;
    private readonly ModuleList<Sequential> shortcuts;
    private readonly BenchmarkHead head;
    private readonly bool useResidual;

    public int Leads { get; }
    public int Classes { get; }

    /// <summary>Whether a shortcut is added around every three blocks (read by the ONNX export).</summary>
    public bool UseResidual => useResidual;

    /// <summary>Branch kernel sizes derived from the kernel size argument (39, 19, 9 for 40).</summary>
    public IReadOnlyList<long> KernelSizes { get; }

    public Inception1d(int leads = 12, int classes = 5, int kernelSize = 40, int depth = 6, int bottleneckSize = 32,
                       int filters = 32, bool useResidual = true, int embeddingSize = 128, double headDropout = 0.5)
        : base(nameof(Inception1d))
    {
        if (kernelSize < 40) throw new ArgumentException($"Inception1d: kernel size must be at least 40 (the benchmark's assertion), got {kernelSize}.");
        if (depth % 3 != 0) throw new ArgumentException($"Inception1d: depth must be a multiple of 3, got {depth}.");
        Leads = leads;
        Classes = classes;
        this.useResidual = useResidual;
        var kernels = new long[] { kernelSize, kernelSize / 2, kernelSize / 4 }.Select(k => k % 2 == 0 ? k - 1 : k).ToArray();
        KernelSizes = kernels;
        long width = (kernels.Length + 1) * filters;
        blocks = ModuleList(Enumerable.Range(0, depth)
            .Select(d => new InceptionBlock1d(d.ToString(), d == 0 ? leads : width, filters, kernels, bottleneckSize)).ToArray());
        // Created even without residuals, as the benchmark does, so parameter counts agree.
        shortcuts = ModuleList(Enumerable.Range(0, depth / 3)
            .Select(d => Sequential(("conv", Conv1d(d == 0 ? leads : width, width, 1, bias: false)), ("bn", BatchNorm1d(width)))).ToArray());
        head = new BenchmarkHead(width, classes, embeddingSize, headDropout);
        RegisterComponents();
    }

    protected override BenchmarkHead Head => head;

    protected override Tensor Features(Tensor x)
    {
        InputChecks.RequireSignalBatch(x, Leads, 1, nameof(Inception1d));
        using var scope = NewDisposeScope();
        var residualInput = x;
        var current = x;
        for (int d = 0; d < blocks.Count; d++)
        {
            current = blocks[d].forward(current);
            if (useResidual && d % 3 == 2)
            {
                current = functional.relu(current + shortcuts[d / 3].forward(residualInput));
                residualInput = current;
            }
        }
        return current.MoveToOuterDisposeScope();
    }
}
