using Ecg.Data;

namespace Ecg.Model.Export;

/// <summary>The file formats `ecg export` writes.</summary>
public enum ExportFormat { Onnx, Safetensors }

/// <summary>What runs a session's network at inference: TorchSharp (the default) or ONNX Runtime on the exported graph.</summary>
public enum InferenceEngine { Torch, Onnx }

public static class ExportChoices
{
    public static IReadOnlyList<string> FormatNames { get; } = new[] { "onnx", "safetensors" };
    public static IReadOnlyList<string> EngineNames { get; } = new[] { "torch", "onnx" };

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
    /// <summary>Where a session's export of some weights goes by default: export/model_&lt;weights&gt;.onnx or .safetensors.</summary>
    public static string DefaultPath(TrainingSession session, WeightsChoice weights, ExportFormat format) =>
        session.Paths.Export(weights.ToString(), format == ExportFormat.Onnx ? "onnx" : "safetensors");

    /// <summary>`ecg export`: writes the session's weights in the format to <paramref name="output"/> (null: the default path). Returns a summary line.</summary>
    public static (string Path, string Summary) Run(TrainingSession session, WeightsChoice weights, ExportFormat format, string? output)
    {
        var path = Path.GetFullPath(output ?? DefaultPath(session, weights, format));
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
        var weightsSha = TrainingSession.Sha256(session.WeightsPath(weights));
        if (File.Exists(path))
        {
            try
            {
                using var existing = OnnxInferenceEngine.Load(path);
                if (existing.Metadata.WeightsSha256 == weightsSha && (existing.Metadata.Aggregation == "whole") == (wholeRecord || session.Aggregation == WindowAggregation.Whole))
                    return path;
            }
            catch (Exception e) when (e is InvalidDataException or IOException or Microsoft.ML.OnnxRuntime.OnnxRuntimeException) { }
        }
        OnnxExport.Export(session, weights.ToString(), path, wholeRecord);
        return path;
    }

    /// <summary>
    /// ONNX Runtime on the session's exported graph for these weights. The aggregation is the session's (it is in the
    /// graph's metadata), or whole: a graph over whole records, exported beside the windowed one.
    /// </summary>
    public static OnnxInferenceEngine LoadOnnx(TrainingSession session, WeightsChoice weights, WindowAggregation? aggregation)
    {
        if (aggregation is { } a && a != session.Aggregation && a != WindowAggregation.Whole)
            throw new UserError($"--engine onnx runs the exported graph with the session's own window aggregation ({session.Aggregation.Name()}) or whole records; " +
                                $"use --engine torch for --aggregation {a.Name()}.");
        return OnnxInferenceEngine.Load(EnsureOnnx(session, weights, aggregation == WindowAggregation.Whole));
    }
}
