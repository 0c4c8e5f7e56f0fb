using static TorchSharp.torch;

namespace Ecg.Model.Architectures;

/// <summary>Shape checks shared by the architectures, so a wrong input fails with its shape named.</summary>
internal static class InputChecks
{
    public static void RequireSignalBatch(Tensor x, int leads, long minimumLength, string network)
    {
        if (x.dim() != 3)
            throw new ArgumentException(
                $"{network}: input must be (batch, leads, samples), got shape ({string.Join(", ", x.shape)}).", nameof(x));
        if (x.shape[1] != leads)
            throw new ArgumentException(
                $"{network}: input has {x.shape[1]} leads in dimension 1, the network was built for {leads} " +
                $"(shape ({string.Join(", ", x.shape)}); signals stored (batch, samples, leads) need a transpose).", nameof(x));
        if (x.shape[2] < minimumLength)
            throw new ArgumentException(
                $"{network}: input has {x.shape[2]} samples, at least {minimumLength} are needed.", nameof(x));
    }
}
