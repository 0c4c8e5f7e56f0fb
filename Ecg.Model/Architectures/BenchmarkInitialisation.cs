using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Ecg.Model.Architectures;

/// <summary>
/// Weight initialisations used by the PTB-XL benchmark code.
/// </summary>
public static class BenchmarkInitialisation
{
    /// <summary>
    /// The benchmark's <c>weight_init</c> (basic_conv1d.py), which its training script applies to every
    /// model trained from scratch: Kaiming-normal (fan-in, ReLU gain) convolution and linear weights,
    /// zero biases, BatchNorm weight 1 and bias 0. Note: this resets XResNet1d's zero-initialised
    /// last BatchNorm of each block to 1, as happened in the benchmark's runs.
    /// </summary>
    public static void ApplyWeightInit(Module module) => Apply(module, resetBatchNormWeight: true);

    /// <summary>
    /// fastai's <c>init_cnn</c> as XResNet1d calls it: Kaiming-normal convolution and linear weights,
    /// every bias (BatchNorm's too) zero; BatchNorm weights are left as constructed.
    /// </summary>
    public static void ApplyInitCnn(Module module) => Apply(module, resetBatchNormWeight: false);

    // The two differ only in whether BatchNorm weights are reset to 1.
    private static void Apply(Module module, bool resetBatchNormWeight)
    {
        using var noGrad = no_grad();
        foreach (var (_, m) in module.named_modules())
        {
            switch (m)
            {
                case Conv1d conv:
                    init.kaiming_normal_(conv.weight);
                    if (conv.bias is not null) init.zeros_(conv.bias);
                    break;
                case Linear linear:
                    init.kaiming_normal_(linear.weight);
                    if (linear.bias is not null) init.zeros_(linear.bias);
                    break;
                case BatchNorm1d norm:
                    if (resetBatchNormWeight) init.ones_(norm.weight);
                    init.zeros_(norm.bias);
                    break;
            }
        }
    }
}
