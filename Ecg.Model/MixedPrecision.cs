using TorchSharp;
using TorchSharp.Modules;
using Ecg.Model.Architectures;
using static TorchSharp.torch;

namespace Ecg.Model;

/// <summary>The arithmetic a training step runs in: <see cref="Names"/> lists what <c>--precision</c> takes.</summary>
public static class TrainingPrecision
{
    public const string Float32 = "float32";
    public const string BFloat16 = "bfloat16";
    public static IReadOnlyList<string> Names { get; } = new[] { Float32, BFloat16 };
}

/// <summary>
/// bfloat16 mixed-precision training on CPU, what <c>torch.autocast("cpu")</c> gives in Python (TorchSharp has no
/// autocast): a bfloat16 copy of the network (the shadow) runs forward and backward, while the float32 network keeps
/// everything that must stay exact across steps: the master weights the optimizer updates, BatchNorm's running
/// statistics, checkpoints and evaluation. Each step (<see cref="Backward"/>) pulls the master's weights, statistics,
/// trainability and modes into the shadow, runs it, computes the loss in float32 from its logits, and pushes the
/// shadow's gradients and updated statistics back in float32. On CPUs with AMX-BF16 the convolutions run 1.6-3x faster;
/// with AVX512-BF16 alone only inception1d gains (<see cref="SlowOnThisCpu"/>).
/// </summary>
public sealed class MixedPrecision : IDisposable
{
    private readonly nn.Module<Tensor, Tensor> shadow;
    private readonly (Parameter Master, Parameter Shadow)[] parameters;
    private readonly (Tensor Master, Tensor Shadow)[] buffers;
    private readonly (nn.Module Master, nn.Module Shadow)[] modules;

    private MixedPrecision(nn.Module<Tensor, Tensor> shadow, nn.Module master)
    {
        this.shadow = shadow;
        var shadowParameters = shadow.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        var shadowBuffers = shadow.named_buffers().ToDictionary(b => b.name, b => b.buffer);
        var shadowModules = shadow.named_modules().ToDictionary(m => m.name, m => m.module);
        parameters = master.named_parameters().Select(p => (p.parameter, shadowParameters[p.name])).ToArray();
        buffers = master.named_buffers().Select(b => (b.buffer, shadowBuffers[b.name])).ToArray();
        modules = master.named_modules().Select(m => (m.module, shadowModules[m.name])).ToArray();
        if (parameters.Length != shadowParameters.Count || buffers.Length != shadowBuffers.Count || modules.Length != shadowModules.Count)
            throw new InvalidOperationException("MixedPrecision: the bfloat16 copy does not have the network's parameters, buffers and modules.");
    }

    /// <summary>
    /// Why bfloat16 would not pay for <paramref name="model"/> on this machine, or null. Without AVX512-BF16 or
    /// AMX-BF16 (the flags avx512_bf16, amx_bf16 in /proc/cpuinfo) libtorch emulates bfloat16 convolutions. How slow
    /// depends on what it emulates with: resnet1d-wang trained at 9 samples/s on an AVX2-only 2-core EPYC (xresnet1d18
    /// in float32: 630), and at 158 against float32's 224 on a 2-core Xeon with AVX-512 but no BF16. With AVX512-BF16
    /// but no AMX, a 2-core Xeon trained inception1d at 1.39x float32's speed but resnet1d-wang at 0.87x and
    /// xresnet1d101 at 0.98x: the ResNets' gains (1.6-3x) need AMX's tile units, so every model but inception1d is
    /// told so. All figures from `ecg bench --stages train --precisions float32,bfloat16`. Null on CUDA and where the
    /// flags cannot be read.
    /// </summary>
    public static string? SlowOnThisCpu(Device device, string model, string cpuinfoPath = "/proc/cpuinfo")
    {
        if (device.type != DeviceType.CPU || !File.Exists(cpuinfoPath)) return null;
        string? flags;
        try { flags = File.ReadLines(cpuinfoPath).FirstOrDefault(line => line.StartsWith("flags", StringComparison.Ordinal)); }
        catch (IOException) { return null; }
        if (flags is null || Flags(flags).Contains("amx_bf16")) return null;
        if (HasBfloat16Instructions(flags))
        {
            if (model == Architecture.Inception1d.Name) return null;
            return "--precision bfloat16 with " + model + " on a CPU with AVX512-BF16 but no AMX (" + cpuinfoPath + " lists avx512_bf16, not amx_bf16): " +
                   "on such a 2-core Xeon bfloat16 trained resnet1d-wang at 0.87x and xresnet1d101 at 0.98x float32's speed (inception1d: 1.39x); " +
                   "the ResNets' 1.6-3x needs AMX. Compare here with `ecg bench --stages train --models " + model + " --precisions float32,bfloat16`.";
        }
        var emulation = HasAvx512(flags)
            ? "slower than float32 (AVX-512 without BF16: resnet1d-wang at 0.7x float32's speed)"
            : "many times slower than float32 (AVX2 only: resnet1d-wang at 9 samples/s)";
        return "--precision bfloat16 on a CPU without AVX512-BF16 or AMX-BF16 (" + cpuinfoPath + " lists neither avx512_bf16 nor amx_bf16): " +
               "libtorch emulates bfloat16 here, " + emulation + ". Use --precision float32 on this machine.";
    }

    /// <summary>Whether a /proc/cpuinfo flags line names a bfloat16 instruction set (AVX512-BF16 or AMX-BF16).</summary>
    public static bool HasBfloat16Instructions(string flagsLine) => Flags(flagsLine).Any(f => f is "avx512_bf16" or "amx_bf16");

    private static bool HasAvx512(string flagsLine) => Flags(flagsLine).Contains("avx512f");

    private static string[] Flags(string flagsLine) => flagsLine.Split(new[] { ' ', '\t', ':' }, StringSplitOptions.RemoveEmptyEntries);

    /// <summary>
    /// A bfloat16 shadow of <paramref name="master"/> (built by <see cref="ModelFactory"/> from the same config, so its
    /// parameter names match), or null when <paramref name="config"/> trains in float32.
    /// </summary>
    public static MixedPrecision? For(TrainingConfig config, int leads, int classes, nn.Module master, Device device)
    {
        if (config.Precision != TrainingPrecision.BFloat16) return null;
        var shadow = ModelFactory.Create(config, leads, classes);
        shadow.to(device).to(ScalarType.BFloat16);
        return new MixedPrecision(shadow, master);
    }

    /// <summary>
    /// One training step's forward and backward, returning the loss: on <paramref name="model"/> in float32 when
    /// <paramref name="mixed"/> is null, else through the bfloat16 shadow, with the gradients left on the master.
    /// </summary>
    /// <paramref name="output"/> is what the loss reads (default: the logits, forward); it is given the network that runs.
    public static Tensor Backward(MixedPrecision? mixed, nn.Module<Tensor, Tensor> model, Tensor input, Func<Tensor, Tensor> lossOf,
                                  Func<nn.Module<Tensor, Tensor>, Tensor, Tensor>? output = null)
    {
        output ??= (network, x) => network.forward(x);
        if (mixed is null)
        {
            var loss = lossOf(output(model, input));
            loss.backward();
            return loss;
        }
        mixed.Pull();
        var mixedLoss = lossOf(output(mixed.shadow, input.to(ScalarType.BFloat16)).to(ScalarType.Float32));
        mixedLoss.backward();
        mixed.Push();
        return mixedLoss;
    }

    /// <summary>
    /// Copies the master's weights (rounded to bfloat16), trainability, BatchNorm statistics and train/eval modes
    /// (dropout, frozen BatchNorm) into the shadow; clears its gradients.
    /// </summary>
    private void Pull()
    {
        using var noGrad = no_grad();
        foreach (var (master, copy) in modules)
            if (copy.training != master.training) { if (master.training) copy.train(); else copy.eval(); }
        foreach (var (master, copy) in parameters)
        {
            copy.copy_(master);
            copy.requires_grad = master.requires_grad;
        }
        shadow.zero_grad();
        foreach (var (master, copy) in buffers) copy.copy_(master);
    }

    /// <summary>After backward: the shadow's gradients become the master's (float32), and its updated BatchNorm statistics the master's.</summary>
    private void Push()
    {
        using var noGrad = no_grad();
        foreach (var (master, copy) in parameters)
        {
            if (copy.grad is not { } gradient) continue;
            if (master.grad is { } existing) existing.copy_(gradient);
            else master.grad = gradient.to(ScalarType.Float32).DetachFromDisposeScope();
        }
        foreach (var (master, copy) in buffers) master.copy_(copy);
    }

    public void Dispose() => shadow.Dispose();
}
