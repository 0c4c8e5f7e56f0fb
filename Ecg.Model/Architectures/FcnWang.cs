using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Ecg.Model.Architectures;

/// <summary>
/// fcn_wang of the PTB-XL benchmark (basic_conv1d.py, the fully convolutional network of Wang et al. 2017):
/// three Conv1d + BatchNorm + ReLU layers, leads→128 (kernel 8), 128→256 (kernel 5), 256→128 (kernel 3),
/// stride 1, no pooling, convolutions without bias; then the benchmark head on 128 channels.
/// Padding is (k - 1) / 2 as in the benchmark's _conv1d, so the kernel-8 layer shortens the sequence by one.
/// Input (batch, leads, T); output (batch, classes) logits. Torch's default initialisation; the benchmark's
/// training script applied <see cref="BenchmarkInitialisation.ApplyWeightInit"/>.
/// </summary>
public sealed class FcnWang : BenchmarkHeadNetwork
{
    private static readonly (long Channels, long Kernel)[] Layers = { (128, 8), (256, 5), (128, 3) };

    private readonly Sequential convs;
    private readonly BenchmarkHead head;

    public int Leads { get; }
    public int Classes { get; }

    public FcnWang(int leads = 12, int classes = 5, int embeddingSize = 128, double headDropout = 0.5)
        : base(nameof(FcnWang))
    {
        Leads = leads;
        Classes = classes;
        var layers = new List<(string, Module<Tensor, Tensor>)>();
        long inChannels = leads;
        for (int i = 0; i < Layers.Length; i++)
        {
            var (channels, kernel) = Layers[i];
            layers.Add((i.ToString(), Sequential(
                ("conv", Conv1d(inChannels, channels, kernel, padding: (kernel - 1) / 2, bias: false)),
                ("norm", BatchNorm1d(channels)),
                ("relu", ReLU()))));
            inChannels = channels;
        }
        convs = Sequential(layers.ToArray());
        head = new BenchmarkHead(inChannels, classes, embeddingSize, headDropout);
        RegisterComponents();
    }

    protected override BenchmarkHead Head => head;

    protected override Tensor Features(Tensor x)
    {
        // The kernel-8 layer needs 2 samples to leave one.
        InputChecks.RequireSignalBatch(x, Leads, 2, nameof(FcnWang));
        return convs.forward(x);
    }
}
