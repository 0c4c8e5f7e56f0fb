using TorchSharp;
using static TorchSharp.torch;

namespace Ecg.Model;

/// <summary>Builds the network a config names, so more architectures can join by adding one entry.</summary>
public static class ModelFactory
{
    public const string CrossLeadCnn = "cross-lead-cnn";

    public static IReadOnlyList<string> Names { get; } = new[] { CrossLeadCnn };

    /// <summary>A fresh network for input (batch, leads, T) with one logit per class.</summary>
    public static nn.Module<Tensor, Tensor> Create(TrainingConfig config, int leads, int classes) =>
        config.Model switch
        {
            CrossLeadCnn => new CrossLeadCnn(leads, classes, config.ResolveLayerSettings()),
            _ => throw new ArgumentException($"Unknown model '{config.Model}' (known: {string.Join(", ", Names)})."),
        };
}
