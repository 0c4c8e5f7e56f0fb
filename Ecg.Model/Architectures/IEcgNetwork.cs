using static TorchSharp.torch;

namespace Ecg.Model.Architectures;

/// <summary>
/// What the training loop and the feature-space analysis need from every ECG classifier besides
/// <c>forward</c>: input (batch, leads, T) signals, output (batch, classes) logits, and the
/// penultimate embedding that the feature-space stage clusters and probes.
/// </summary>
public interface IEcgNetwork
{
    /// <summary>The (batch, <see cref="EmbeddingSize"/>) penultimate activations for input (batch, leads, T).</summary>
    Tensor Embed(Tensor x);

    /// <summary>Width of the embedding returned by <see cref="Embed"/>.</summary>
    int EmbeddingSize { get; }
}
