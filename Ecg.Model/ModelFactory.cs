using Ecg.Model.Architectures;
using TorchSharp;
using static TorchSharp.torch;

namespace Ecg.Model;

/// <summary>Builds the network a config names, so more architectures can join by adding one entry.</summary>
public static class ModelFactory
{
    public const string CrossLeadCnn = "cross-lead-cnn";

    /// <summary>Every model name `--model` accepts: the original network and the PTB-XL benchmark's families.</summary>
    public static IReadOnlyList<string> Names { get; } = new[]
    {
        CrossLeadCnn, "xresnet1d18", "xresnet1d34", "xresnet1d50", "xresnet1d101", "xresnet1d152", "inception1d", "resnet1d-wang",
    };

    /// <summary>A fresh network for input (batch, leads, T) with one logit per class; every one also implements <see cref="IEcgNetwork"/>.</summary>
    public static nn.Module<Tensor, Tensor> Create(TrainingConfig config, int leads, int classes) =>
        config.Model switch
        {
            CrossLeadCnn => new CrossLeadCnn(leads, classes, config.ResolveLayerSettings()),
            "xresnet1d18" => new XResNet1d(XResNet1dVariant.XResNet1d18, leads, classes),
            "xresnet1d34" => new XResNet1d(XResNet1dVariant.XResNet1d34, leads, classes),
            "xresnet1d50" => new XResNet1d(XResNet1dVariant.XResNet1d50, leads, classes),
            "xresnet1d101" => new XResNet1d(XResNet1dVariant.XResNet1d101, leads, classes),
            "xresnet1d152" => new XResNet1d(XResNet1dVariant.XResNet1d152, leads, classes),
            "inception1d" => new Inception1d(leads, classes),
            "resnet1d-wang" => new ResNet1dWang(leads, classes),
            _ => throw new ArgumentException($"Unknown model '{config.Model}' (known: {string.Join(", ", Names)})."),
        };
}
