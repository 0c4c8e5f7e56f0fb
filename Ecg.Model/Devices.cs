using static TorchSharp.torch;

namespace Ecg.Model;

/// <summary>Picks the compute device from the user's choice: "auto" (CUDA when TorchSharp reports it), "cpu" or "cuda".</summary>
public static class Devices
{
    public static Device Resolve(string choice)
    {
        switch ((choice ?? "auto").Trim().ToLowerInvariant())
        {
            case "auto":
                return cuda.is_available() ? CUDA : CPU;
            case "cpu":
                return CPU;
            case "cuda":
                if (!cuda.is_available())
                    throw new ArgumentException(
                        "--device cuda was asked for, but TorchSharp reports no CUDA device. This build uses the " +
                        "TorchSharp-cpu runtime; swap it for TorchSharp-cuda-linux in paket.dependencies to use a GPU.");
                return CUDA;
            default:
                throw new ArgumentException($"Unknown device '{choice}': use auto, cpu or cuda.");
        }
    }
}
