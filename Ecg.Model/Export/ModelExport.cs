using Ecg.Data;

namespace Ecg.Model.Export;

/// <summary>The file formats `ecg export` writes: the float ONNX graph, safetensors, or the ONNX graph quantized to int8.</summary>
public enum ExportFormat { Onnx, Safetensors, OnnxInt8 }

/// <summary>
/// What runs a session's network at inference: TorchSharp (the default), ONNX Runtime on the exported graph, or ONNX
/// Runtime on that graph quantized to int8 (<see cref="OnnxQuantization"/>).
/// </summary>
public enum InferenceEngine { Torch, Onnx, OnnxInt8 }

public static class ExportChoices
{
    public static IReadOnlyList<string> FormatNames { get; } = new[] { "onnx", "safetensors", "onnx-int8" };
    public static IReadOnlyList<string> EngineNames { get; } = new[] { "torch", "onnx", "onnx-int8" };

    public static ExportFormat ParseFormat(string text) =>
        FormatNames.ToList().IndexOf((text ?? "").Trim().ToLowerInvariant()) is var i and >= 0 ? (ExportFormat)i
            : throw new UserError($"--format '{text}': use one of {string.Join(", ", FormatNames)}.");

    public static InferenceEngine ParseEngine(string text) =>
        EngineNames.ToList().IndexOf((text ?? "").Trim().ToLowerInvariant()) is var i and >= 0 ? (InferenceEngine)i
            : throw new UserError($"--engine '{text}': use one of {string.Join(", ", EngineNames)}.");
}

/// <summary>The Export stage, and the exported ONNX file the ONNX engine runs.</summary>
public static class ModelExport
{
    /// <summary>Calibration records of an int8 export: this many of the session's training records (a seeded sample).</summary>
    public const int CalibrationRecords = 256;

    /// <summary>Where a session's export of some weights goes by default: export/model_&lt;weights&gt;.onnx, _int8.onnx or .safetensors.</summary>
    public static string DefaultPath(TrainingSession session, WeightsChoice weights, ExportFormat format) => format switch
    {
        ExportFormat.Onnx => session.Paths.Export(weights.ToString(), "onnx"),
        ExportFormat.OnnxInt8 => session.Paths.Export(weights + "_int8", "onnx"),
        _ => session.Paths.Export(weights.ToString(), "safetensors"),
    };

    /// <summary>
    /// `ecg export`: writes the session's weights in the format to <paramref name="output"/> (null: the default path).
    /// int8 calibrates on <paramref name="dataset"/> (the session's records; needed only for that format). Returns a summary line.
    /// </summary>
    public static (string Path, string Summary) Run(TrainingSession session, WeightsChoice weights, ExportFormat format, string? output,
                                                    Func<ProcessedDataset>? dataset = null)
    {
        var path = Path.GetFullPath(output ?? DefaultPath(session, weights, format));
        if (format == ExportFormat.OnnxInt8)
        {
            var q = QuantizeInt8(session, EnsureOnnx(session, weights), path,
                                 (dataset ?? throw new ArgumentException("An int8 export needs the session's dataset to calibrate on.")).Invoke());
            return (q.Path, $"int8 ONNX model of session {session.Number} ({session.Manifest.Config.Model}, {weights} weights): {q.QuantizedConvolutions} " +
                            $"convolutions quantized, calibrated on {q.CalibrationWindows:N0} windows of {CalibrationRecords} training records");
        }
        if (format == ExportFormat.Onnx)
        {
            var r = OnnxExport.Export(session, weights.ToString(), path);
            return (r.Path, $"ONNX model of session {session.Number} ({session.Manifest.Config.Model}, {weights} weights): {r.Nodes} nodes, " +
                            $"{r.Parameters:N0} parameters, input (batch, {r.Metadata.LeadNames.Length}, {r.Metadata.WindowSamples}), classes " +
                            string.Join(",", r.Metadata.ClassNames));
        }
        var s = SafetensorsExport.Export(session, weights.ToString(), path);
        return (s.Path, $"safetensors of session {session.Number} ({session.Manifest.Config.Model}, {weights} weights): {s.Tensors} tensors with PyTorch-style names (docs/export.md)");
    }

    /// <summary>
    /// The ONNX file the ONNX engine runs for these weights: the default export path, exported now when it is missing
    /// or was exported from another weights file (its metadata records the weights' SHA-256).
    /// </summary>
    public static string EnsureOnnx(TrainingSession session, WeightsChoice weights) => EnsureOnnx(session, weights, wholeRecord: false);

    /// <summary>
    /// EnsureOnnx; with <paramref name="wholeRecord"/>, the graph for whole records (export/model_&lt;weights&gt;_whole.onnx
    /// for a session that evaluates windows), exported when missing or stale.
    /// </summary>
    public static string EnsureOnnx(TrainingSession session, WeightsChoice weights, bool wholeRecord)
    {
        wholeRecord = wholeRecord && session.Aggregation != WindowAggregation.Whole;   // a whole-record session's own graph is one
        var path = wholeRecord ? session.Paths.Export(weights + "_whole", "onnx") : DefaultPath(session, weights, ExportFormat.Onnx);
        if (IsCurrent(session, weights, path, wholeRecord, quantized: false)) return path;
        OnnxExport.Export(session, weights.ToString(), path, wholeRecord);
        return path;
    }

    /// <summary>
    /// ONNX Runtime on the session's exported graph for these weights. The aggregation is the session's (it is in the
    /// graph's metadata), or whole: a graph over whole records, exported beside the windowed one. With
    /// <paramref name="int8"/>, the graph quantized to int8 (<see cref="EnsureOnnxInt8"/>; <paramref name="calibration"/>
    /// is the session's dataset, to calibrate on when the file is missing or stale).
    /// </summary>
    public static OnnxInferenceEngine LoadOnnx(TrainingSession session, WeightsChoice weights, WindowAggregation? aggregation,
                                               bool int8 = false, ProcessedDataset? calibration = null)
    {
        if (aggregation is { } a && a != session.Aggregation && a != WindowAggregation.Whole)
            throw new UserError($"--engine {(int8 ? "onnx-int8" : "onnx")} runs the exported graph with the session's own window aggregation ({session.Aggregation.Name()}) or whole records; " +
                                $"use --engine torch for --aggregation {a.Name()}.");
        bool whole = aggregation == WindowAggregation.Whole;
        return OnnxInferenceEngine.Load(int8 ? EnsureOnnxInt8(session, weights, whole, calibration) : EnsureOnnx(session, weights, whole));
    }

    /// <summary>
    /// The int8 file the onnx-int8 engine runs (export/model_&lt;weights&gt;[_whole]_int8.onnx): quantized now from the float
    /// graph when missing or made from other weights, calibrated on <paramref name="calibration"/>'s training records; without
    /// a dataset (ecg predict on record files) a missing file is an error that says how to make it.
    /// </summary>
    public static string EnsureOnnxInt8(TrainingSession session, WeightsChoice weights, bool wholeRecord, ProcessedDataset? calibration)
    {
        wholeRecord = wholeRecord && session.Aggregation != WindowAggregation.Whole;
        var path = session.Paths.Export(weights + (wholeRecord ? "_whole" : "") + "_int8", "onnx");
        if (IsCurrent(session, weights, path, wholeRecord, quantized: true)) return path;
        if (calibration is null)
            throw new UserError($"Session {session.Number} has no int8 model of its {weights} weights ('{path}'): make it with " +
                                $"ecg export --session {session.Number} --weights {weights} --format onnx-int8 (it calibrates on the session's training records).");
        QuantizeInt8(session, EnsureOnnx(session, weights, wholeRecord), path, calibration);
        return path;
    }

    /// <summary>
    /// Whether the ONNX file at <paramref name="path"/> loads and was made from these weights, for whole records or
    /// windows as asked, and quantized or not as asked; a damaged or unreadable file is not current.
    /// </summary>
    private static bool IsCurrent(TrainingSession session, WeightsChoice weights, string path, bool wholeRecord, bool quantized)
    {
        if (!File.Exists(path)) return false;
        try
        {
            using var existing = OnnxInferenceEngine.Load(path);
            var m = existing.Metadata;
            return m.WeightsSha256 == TrainingSession.Sha256(session.WeightsPath(weights)) && (m.Quantization is not null) == quantized
                   && (m.Aggregation == "whole") == (wholeRecord || session.Aggregation == WindowAggregation.Whole);
        }
        catch (Exception e) when (e is InvalidDataException or IOException or Microsoft.ML.OnnxRuntime.OnnxRuntimeException) { return false; }
    }

    /// <summary>
    /// Quantizes the float graph at <paramref name="floatPath"/> into <paramref name="path"/>, calibrated on the windows of
    /// <see cref="CalibrationRecords"/> of the session's training records (drawn with the session's seed): never on the
    /// validation or test records its figures are read on.
    /// </summary>
    private static OnnxQuantizationResult QuantizeInt8(TrainingSession session, string floatPath, string path, ProcessedDataset dataset)
    {
        SessionCompatibility.Require(session, dataset);
        var train = session.SplitScheme.TrainIndices(dataset);
        if (train.Length == 0) throw new UserError($"Session {session.Number}: no training records in this dataset to calibrate the int8 model on.");
        var order = (int[])train.Clone();
        new Random(unchecked((int)session.Manifest.Config.Seed)).Shuffle(order);
        var chosen = order.Take(CalibrationRecords).ToArray();
        using var floatEngine = OnnxInferenceEngine.Load(floatPath);
        var starts = floatEngine.WindowStarts(dataset.Samples);
        int window = floatEngine.Metadata.WindowSamples, count = chosen.Length * starts.Length;
        var windows = new float[(long)count * dataset.Leads * window];
        OnnxInferenceEngine.CutWindows(dataset, chosen, 0, chosen.Length, starts, window, windows);
        return OnnxQuantization.QuantizeInt8(floatPath, windows, count, path);
    }
}
