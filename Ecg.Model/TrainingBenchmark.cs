using System.Diagnostics;
using System.Globalization;
using TorchSharp;
using static TorchSharp.torch;

namespace Ecg.Model;

/// <summary>One measured figure: records per second for a model, phase, batch size and input length.</summary>
/// <param name="Model">the <see cref="ModelFactory"/> name of the network measured.</param>
/// <param name="Phase">"train" (forward, backward, Adam step) or "inference" (forward only, no gradients, eval mode).</param>
/// <param name="PeakResidentMegabytes">the process's peak resident memory so far (Linux VmHWM), MiB.</param>
/// <param name="Precision">a <see cref="TrainingPrecision"/> name: the arithmetic of the timed steps.</param>
public sealed record BenchmarkFigure(string Model, string Phase, int BatchSize, int Length, int Steps, double Seconds,
                                     double SamplesPerSecond, double PeakResidentMegabytes, string Precision = TrainingPrecision.Float32)
{
    public override string ToString() => string.Format(CultureInfo.InvariantCulture,
        "{7,-14} {0,-9} {8,-8} batch {1,4}  length {2,4}  {3,8:0.0} samples/s  ({4} steps, {5:0.0} s)  peak RSS {6:0} MiB",
        Phase, BatchSize, Length, SamplesPerSecond, Steps, Seconds, PeakResidentMegabytes, Model, Precision);
}

/// <summary>
/// Throughput of a network (the cross-lead CNN unless told; any <see cref="ModelFactory"/> name) on this machine
/// with random input (12 leads): training steps and inference at given batch sizes and lengths (1000 = 10 s at
/// 100 Hz, 250 = a 2.5 s crop).
/// </summary>
public static class TrainingBenchmark
{
    /// <summary>
    /// Measures every (batch size, length) pair: one warm-up step, then <paramref name="steps"/> timed steps,
    /// for training and for inference. Threads default to the core count. Training steps use the benchmark
    /// preset's optimizer (AdamW).
    /// </summary>
    public static IReadOnlyList<BenchmarkFigure> Run(int[]? batchSizes = null, int[]? lengths = null, int steps = 3,
                                                     int? threads = null, string device = "cpu", Action<BenchmarkFigure>? onFigure = null,
                                                     string model = ModelFactory.CrossLeadCnn, string[]? phases = null,
                                                     string[]? precisions = null)
    {
        if (!ModelFactory.Names.Contains(model))
            throw new ArgumentException($"Unknown model '{model}' (known: {string.Join(", ", ModelFactory.Names)}).");
        batchSizes ??= new[] { 64, 512 };
        lengths ??= new[] { 1000, 250 };
        if (steps < 1) throw new ArgumentException("steps must be at least 1.");
        Trainer.SetThreads(threads);
        var resolved = Devices.Resolve(device);
        var figures = new List<BenchmarkFigure>();
        foreach (var length in lengths)
            foreach (var batch in batchSizes)
            {
                foreach (var phase in phases ?? new[] { "train", "inference" })
                    foreach (var precision in precisions ?? new[] { TrainingPrecision.Float32 })
                    {
                        var figure = Measure(model, phase, batch, length, steps, resolved, precision);
                        figures.Add(figure);
                        onFigure?.Invoke(figure);
                    }
            }
        return figures;
    }

    private static BenchmarkFigure Measure(string name, string phase, int batch, int length, int steps, Device device, string precision)
    {
        if (!TrainingPrecision.Names.Contains(precision))
            throw new ArgumentException($"Unknown precision '{precision}' (known: {string.Join(", ", TrainingPrecision.Names)}).");
        manual_seed(0);
        var config = TrainingConfig.BenchmarkPreset with { Model = name, Precision = precision };
        using var model = ModelFactory.Create(config, 12, 5);
        model.to(device);
        bool training = phase == "train", bfloat16 = precision == TrainingPrecision.BFloat16;
        // Training as Trainer runs it (a bfloat16 shadow with float32 master weights); inference on the network cast to bfloat16.
        using var mixed = training ? MixedPrecision.For(config, 12, 5, model, device) : null;
        if (!training && bfloat16) model.to(ScalarType.BFloat16);
        using var optimizer = optim.AdamW(model.parameters(), 1e-3, 0.9, 0.999, 1e-8, 1e-2);
        using var x = randn(batch, 12, length, device: device);
        using var y = randint(0, 2, new long[] { batch, 5 }, device: device).to_type(ScalarType.Float32);
        if (training) model.train(); else model.eval();

        void Step()
        {
            using var scope = NewDisposeScope();
            if (training)
            {
                optimizer.zero_grad();
                var loss = MixedPrecision.Backward(mixed, model, x, logits => nn.functional.binary_cross_entropy_with_logits(logits, y));
                optimizer.step();
                loss.item<float>();
            }
            else
            {
                using var noGrad = no_grad();
                model.forward(bfloat16 ? x.to(ScalarType.BFloat16) : x).to(ScalarType.Float32).sum().item<float>();
            }
        }

        Step();   // warm-up: allocations and kernel selection
        var clock = Stopwatch.StartNew();
        for (int s = 0; s < steps; s++) Step();
        double seconds = clock.Elapsed.TotalSeconds;
        return new BenchmarkFigure(name, phase, batch, length, steps, seconds, batch * steps / seconds, PeakResidentMegabytes(), precision);
    }

    /// <summary>
    /// MiB from a /proc/self/status line such as "VmHWM:\t  123456 kB": a tab, then padding spaces only while
    /// the number has fewer than 8 digits (from about 9.5 GiB on there are none).
    /// </summary>
    public static double StatusLineMegabytes(string line) =>
        double.Parse(line.Split(new[] { ' ', '\t' }, StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024.0;

    /// <summary>
    /// Starts a new peak for <see cref="PeakResidentMegabytes"/>: a full collection, then (Linux) "5" to
    /// /proc/self/clear_refs, so each measured step gets its own peak. Where the kernel refuses, the peak stays the process's.
    /// </summary>
    public static void ResetPeakResidentMemory()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        try { File.WriteAllText("/proc/self/clear_refs", "5"); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }

    /// <summary>Peak resident memory of this process (VmHWM on Linux; peak working set elsewhere), MiB.</summary>
    public static double PeakResidentMegabytes()
    {
        const string status = "/proc/self/status";
        if (File.Exists(status))
            foreach (var line in File.ReadLines(status))
                if (line.StartsWith("VmHWM:"))
                    return StatusLineMegabytes(line);
        using var process = Process.GetCurrentProcess();
        return process.PeakWorkingSet64 / (1024.0 * 1024.0);
    }
}
