using System.Diagnostics;
using Ecg.Model.Architectures;
using TorchSharp;
using static TorchSharp.torch;

namespace Ecg.Model.Export;

/// <summary>One timed round of one engine: <see cref="Windows"/> network inputs in <see cref="Seconds"/>.</summary>
public sealed record EngineSpeed(string Model, string Engine, int Round, int Windows, double Seconds)
{
    /// <summary>Network inputs (windows of 12 leads) per second.</summary>
    public double WindowsPerSecond => Windows / Seconds;
}

/// <summary>
/// Inference throughput of TorchSharp against ONNX Runtime for one architecture on the same machine: the same
/// random-weight network, exported once, fed the same batches of (batch, leads, window) mV inputs from a float
/// array, standardised (inside the ONNX graph; before forward in torch, as <see cref="BatchBuilder"/> does), logits
/// copied back. Rounds alternate torch, ONNX, torch, ... so a change in machine load hits both engines alike. With
/// <c>oneDimensional</c> a third engine runs the same network exported with 1-d convolutions (what the default 2-d layout buys);
/// with <c>int8</c> another runs the graph quantized to int8 (<see cref="OnnxQuantization"/>, calibrated on the timed input).
/// </summary>
public static class InferenceSpeed
{
    public static IReadOnlyList<EngineSpeed> Compare(string model, int batch = 128, int window = 250, int batchesPerRound = 5, int rounds = 3,
                                                     int threads = 2, string? workFolder = null, Action<EngineSpeed>? roundDone = null,
                                                     bool oneDimensional = false, bool int8 = false)
    {
        if (batch < 1 || window < 1 || batchesPerRound < 1 || rounds < 1 || threads < 1)
            throw new ArgumentException("InferenceSpeed.Compare: batch, window, batches, rounds and threads must be positive.");
        const int leads = 12, classes = 5;
        var standardisation = new Standardisation("global", 0.0, 0.2);
        torch.set_num_threads(threads);
        using var network = ModelFactory.Create(new TrainingConfig { Model = model }, leads, classes);
        network.eval();
        var folder = workFolder ?? Path.Combine(Path.GetTempPath(), $"ecg-onnx-speed-{Environment.ProcessId}");
        var onnxPath = Path.Combine(folder, $"{model}.onnx");
        var onnx1dPath = Path.Combine(folder, $"{model}.1d.onnx");
        var int8Path = Path.Combine(folder, $"{model}.int8.onnx");
        var metadata = new OnnxModelMetadata
        {
            Model = model, ClassNames = Enumerable.Range(0, classes).Select(c => $"class{c}").ToArray(),
            LeadNames = Enumerable.Range(0, leads).Select(l => $"lead{l}").ToArray(), SamplingRate = 100, WindowSamples = window,
            Aggregation = "whole", RecordSamples = window, EmbeddingSize = ((IEcgNetwork)network).EmbeddingSize, Standardisation = standardisation,
        };
        OnnxExport.ExportNetwork(network, metadata, onnxPath);
        if (oneDimensional) OnnxExport.ExportNetwork(network, metadata, onnx1dPath, planarLayout: false);
        var random = new Random(1);
        var input = Enumerable.Range(0, batch * leads * window).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray();
        var sink = new float[batch * classes];
        if (int8) OnnxQuantization.QuantizeInt8(onnxPath, input, batch, int8Path, batch, threads);
        try
        {
            using var engine = OnnxInferenceEngine.Load(onnxPath, threads);
            using var engine1d = oneDimensional ? OnnxInferenceEngine.Load(onnx1dPath, threads) : null;
            using var engineInt8 = int8 ? OnnxInferenceEngine.Load(int8Path, threads) : null;
            void runTorch()
            {
                using var scope = NewDisposeScope();
                using var noGrad = no_grad();
                var x = tensor(input, new long[] { batch, leads, window }).sub_((float)standardisation.Mean).div_((float)standardisation.Std);
                network.forward(x).data<float>().CopyTo(sink);
            }
            void runOnnx() => engine.RunWindows(input, batch).Logits.CopyTo(sink, 0);
            void runOnnx1d() => engine1d!.RunWindows(input, batch).Logits.CopyTo(sink, 0);
            var engines = new List<(string, Action)> { ("torchsharp", runTorch), ("onnxruntime", runOnnx) };
            if (oneDimensional) engines.Add(("onnxruntime, 1-d convolutions", runOnnx1d));
            if (int8) engines.Add(("onnxruntime int8", () => engineInt8!.RunWindows(input, batch).Logits.CopyTo(sink, 0)));
            // Warm-up: first calls allocate and (for ONNX Runtime) finish the session's preparation.
            foreach (var (_, run) in engines) run();
            var results = new List<EngineSpeed>();
            for (int round = 1; round <= rounds; round++)
                foreach (var (name, run) in engines)
                {
                    var clock = Stopwatch.StartNew();
                    for (int b = 0; b < batchesPerRound; b++) run();
                    var speed = new EngineSpeed(model, name, round, batch * batchesPerRound, clock.Elapsed.TotalSeconds);
                    results.Add(speed);
                    roundDone?.Invoke(speed);
                }
            return results;
        }
        finally
        {
            if (workFolder is null && Directory.Exists(folder)) Directory.Delete(folder, true);
        }
    }
}
