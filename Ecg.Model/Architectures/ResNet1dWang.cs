using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Ecg.Model.Architectures;

/// <summary>
/// The benchmark's BasicBlock1d: Conv(k1, stride)+BN+ReLU, Conv(k2)+BN, plus the identity (or a
/// 1x1 strided conv + BN when the shape changes), then ReLU.
/// </summary>
internal sealed class BasicBlock1d : Module<Tensor, Tensor>
{
    private readonly Conv1d conv1, conv2;
    private readonly BatchNorm1d bn1, bn2;
    private readonly Sequential? downsample;

    public BasicBlock1d(string name, long inChannels, long channels, long stride, long kernel1, long kernel2) : base(name)
    {
        conv1 = Conv1d(inChannels, channels, kernel1, stride: stride, padding: (kernel1 - 1) / 2, bias: false);
        bn1 = BatchNorm1d(channels);
        conv2 = Conv1d(channels, channels, kernel2, padding: (kernel2 - 1) / 2, bias: false);
        bn2 = BatchNorm1d(channels);
        if (stride != 1 || inChannels != channels)
            downsample = Sequential(("0", Conv1d(inChannels, channels, 1, stride: stride, bias: false)), ("1", BatchNorm1d(channels)));
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var path = bn2.forward(conv2.forward(functional.relu(bn1.forward(conv1.forward(x)))));
        var identity = downsample is null ? x : downsample.forward(x);
        return functional.relu(path + identity).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// resnet1d_wang of the PTB-XL benchmark (resnet1d.py, after Wang et al. 2017), as its training
/// script builds it: stem Conv1d(leads→128, k 7, stride 1)+BN+ReLU without pooling, three basic blocks
/// of 128 channels (kernels 5 and 3; stride 1, 2, 2), and the benchmark head.
/// Input (batch, leads, T); output (batch, classes) logits. Torch's default initialisation; the
/// benchmark's training script applied <see cref="BenchmarkInitialisation.ApplyWeightInit"/>.
/// </summary>
public sealed class ResNet1dWang : BenchmarkHeadNetwork
{
    private readonly Conv1d stemConv;
    private readonly BatchNorm1d stemNorm;
    private readonly Sequential blocks;
    private readonly BenchmarkHead head;

    public int Leads { get; }
    public int Classes { get; }

    public ResNet1dWang(int leads = 12, int classes = 5, int channels = 128, int kernelSize = 5, int stemKernelSize = 7,
                        int embeddingSize = 128, double headDropout = 0.5)
        : base(nameof(ResNet1dWang))
    {
        Leads = leads;
        Classes = classes;
        stemConv = Conv1d(leads, channels, stemKernelSize, padding: (stemKernelSize - 1) / 2, bias: false);
        stemNorm = BatchNorm1d(channels);
        // An int kernel_size k becomes [k, k // 2 + 1] in BasicBlock1d: 5 → (5, 3).
        long second = kernelSize / 2 + 1;
        blocks = Sequential(
            ("0", new BasicBlock1d("0", channels, channels, 1, kernelSize, second)),
            ("1", new BasicBlock1d("1", channels, channels, 2, kernelSize, second)),
            ("2", new BasicBlock1d("2", channels, channels, 2, kernelSize, second)));
        head = new BenchmarkHead(channels, classes, embeddingSize, headDropout);
        RegisterComponents();
    }

    protected override BenchmarkHead Head => head;

    protected override Tensor Features(Tensor x)
    {
        InputChecks.RequireSignalBatch(x, Leads, 1, nameof(ResNet1dWang));
        using var scope = NewDisposeScope();
        var stemmed = functional.relu(stemNorm.forward(stemConv.forward(x)));
        return blocks.forward(stemmed).MoveToOuterDisposeScope();
    }
}
