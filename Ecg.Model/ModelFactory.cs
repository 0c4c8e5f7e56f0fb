using Ecg.Model.Architectures;
using TorchSharp;
using static TorchSharp.torch;

namespace Ecg.Model;

/// <summary>Builds the network a config names; the models themselves are listed once, in <see cref="Architecture.All"/>.</summary>
public static class ModelFactory
{
    /// <summary>The default model's name, as a constant for option defaults.</summary>
    public const string CrossLeadCnn = "cross-lead-cnn";

    /// <summary>Every model name `--model` accepts, in <see cref="Architecture.All"/>'s order.</summary>
    public static IReadOnlyList<string> Names { get; } = Architecture.All.Select(a => a.Name).ToArray();

    /// <summary>A fresh network for input (batch, leads, T) with one logit per class; every one also implements <see cref="IEcgNetwork"/>.</summary>
    public static nn.Module<Tensor, Tensor> Create(TrainingConfig config, int leads, int classes) =>
        config.ResolveArchitecture().Create(leads, classes, config.ResolveLayerSettings());
}
