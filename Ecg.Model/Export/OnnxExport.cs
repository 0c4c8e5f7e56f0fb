using Ecg.Data;
using System.Reflection;
using Ecg.Model.Architectures;
using Google.Protobuf;
using Onnx;
using TorchSharp;
using static TorchSharp.torch;

namespace Ecg.Model.Export;

/// <summary>What <see cref="OnnxExport.Export"/> wrote.</summary>
/// <param name="Path">The .onnx file.</param>
/// <param name="Metadata">The metadata stored in it.</param>
/// <param name="Nodes">Graph nodes (after BatchNorm folding, without dropout).</param>
/// <param name="Parameters">Float values in the graph's initialisers.</param>
/// <param name="Operators">How many nodes of each operator type the graph has.</param>
public sealed record OnnxExportResult(string Path, OnnxModelMetadata Metadata, int Nodes, long Parameters, IReadOnlyDictionary<string, int> Operators);

/// <summary>
/// Writes a trained network as an ONNX model (IR 8, opset 17: what ONNX 1.12's checker and ONNX Runtime 1.31
/// both accept) for inference: BatchNorm folded into the convolutions and linear layers, dropout removed,
/// the session's standardisation as the graph's first nodes. Input <c>signals</c> (batch, leads, window) in mV;
/// outputs <c>logits</c> and <c>probabilities</c> (batch, classes) and <c>embedding</c> (batch, embedding size),
/// the penultimate activations. The metadata (<see cref="OnnxModelMetadata"/>) carries the class names, the
/// window and how windows combine.
/// </summary>
public static class OnnxExport
{
    public const long IrVersion = 8;
    public const long OpsetVersion = 17;
    public const string InputName = "signals", LogitsName = "logits", ProbabilitiesName = "probabilities", EmbeddingName = "embedding";

    /// <summary>Network types the export knows (one graph emitter each).</summary>
    public static IReadOnlyCollection<Type> SupportedNetworks => OnnxNetworkEmitters.ByType.Keys.ToArray();

    /// <summary>
    /// Exports the session's weights <paramref name="weights"/> ("best", an epoch number or an averaged range, as
    /// <see cref="TrainingSession.WeightsPath"/> reads them) to <paramref name="outputPath"/> (written atomically).
    /// The graph takes the session's evaluation window (the whole record when it evaluates whole records).
    /// </summary>
    public static OnnxExportResult Export(TrainingSession session, string weights, string outputPath) =>
        Export(session, weights, outputPath, wholeRecord: false);

    /// <summary>Export; with <paramref name="wholeRecord"/> the graph takes whole records (aggregation "whole") even when the session evaluates windows.</summary>
    public static OnnxExportResult Export(TrainingSession session, string weights, string outputPath, bool wholeRecord)
    {
        using var network = LoadSession(session, weights, out var metadata, wholeRecord);
        return ExportNetwork(network, metadata, outputPath);
    }

    /// <summary>
    /// The session's network with the weights <paramref name="weights"/> on the CPU, and the metadata an export
    /// records for it: the evaluation window (the whole record when the session evaluates whole records), classes,
    /// standardisation and provenance.
    /// </summary>
    internal static nn.Module<Tensor, Tensor> LoadSession(TrainingSession session, string weights, out OnnxModelMetadata metadata, bool wholeRecord = false)
    {
        // The one loader of a session's weights (checksum verified), on the CPU; the export owns the network from here.
        var choice = WeightsChoice.Parse(weights);
        var model = SessionModel.Load(session, choice, "cpu", null);
        var network = model.Network;
        try
        {
            var manifest = session.Manifest;
            var config = model.Config;
            bool windowed = !wholeRecord && model.Aggregation != WindowAggregation.Whole && config.EvalWindow is int w && w < manifest.Samples;
            metadata = new OnnxModelMetadata
            {
                Model = config.Model,
                ClassNames = manifest.ClassNames,
                LeadNames = manifest.LeadNames,
                SamplingRate = manifest.SamplingRate,
                WindowSamples = windowed ? config.EvalWindow!.Value : manifest.Samples,
                WindowStride = windowed ? config.EvalStride ?? config.EvalWindow : null,
                Aggregation = windowed ? config.EvalAggregation : "whole",
                RecordSamples = manifest.Samples,
                EmbeddingSize = ((IEcgNetwork)network).EmbeddingSize,
                Standardisation = model.Standardisation,
                BatchSize = config.BatchSize,
                Session = session.Folder,
                Weights = choice.ToString(),
                WeightsSha256 = TrainingSession.Sha256(model.WeightsPath),
                ToolVersion = typeof(OnnxExport).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0],
            };
            return network;
        }
        catch
        {
            network.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Exports a network (any type in <see cref="SupportedNetworks"/>) with the given metadata. <paramref name="planarLayout"/>
    /// false writes 1-d convolutions and pools instead of the default 2-d ones over (batch, C, 1, L) (see OnnxGraphBuilder):
    /// the same numbers, slower in ONNX Runtime; kept to measure what the layout buys.
    /// </summary>
    public static OnnxExportResult ExportNetwork(nn.Module<Tensor, Tensor> network, OnnxModelMetadata metadata, string outputPath, bool planarLayout = true)
    {
        var model = Build(network, metadata, planarLayout);
        AtomicFile.Write(outputPath, temporary =>
        {
            using var file = File.Create(temporary);
            model.WriteTo(file);
        });
        long parameters = model.Graph.Initializer.Where(t => t.DataType == (int)TensorProto.Types.DataType.Float).Sum(t => t.Dims.Aggregate(1L, (a, d) => a * d));
        var operators = model.Graph.Node.GroupBy(n => n.OpType).OrderBy(g => g.Key, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count());
        return new OnnxExportResult(Path.GetFullPath(outputPath), metadata, model.Graph.Node.Count, parameters, operators);
    }

    internal static ModelProto Build(nn.Module<Tensor, Tensor> network, OnnxModelMetadata metadata, bool planarLayout = true)
    {
        if (!OnnxNetworkEmitters.ByType.TryGetValue(network.GetType(), out var emit))
            throw new NotSupportedException($"ONNX export knows no graph for {network.GetType().Name} (known: {string.Join(", ", SupportedNetworks.Select(t => t.Name))}).");
        if (metadata.WindowSamples < 1) throw new ArgumentException($"ONNX export: window of {metadata.WindowSamples} samples.");
        var graph = new OnnxGraphBuilder(metadata.Model, planarLayout);
        var input = graph.Input(InputName, metadata.LeadNames.Length, metadata.WindowSamples);
        OnnxNetworkOutputs outputs;
        // Eval mode for the export only (BatchNorm statistics are read, not used), restored after.
        bool wasTraining = network.training;
        network.eval();
        try
        {
            using var noGrad = no_grad();
            outputs = emit(graph, new ModuleTree(network), graph.Standardise(input, metadata.Standardisation));
        }
        finally
        {
            if (wasTraining) network.train();
        }
        var classes = graph.ShapeOf(outputs.Logits)[1];
        if (classes != metadata.ClassNames.Length)
            throw new InvalidOperationException($"ONNX export: the network has {classes} outputs, the metadata {metadata.ClassNames.Length} class names.");
        if (graph.ShapeOf(outputs.Embedding)[1] != metadata.EmbeddingSize)
            throw new InvalidOperationException($"ONNX export: the embedding has {graph.ShapeOf(outputs.Embedding)[1]} values, the metadata says {metadata.EmbeddingSize}.");
        graph.Output(outputs.Logits, LogitsName);
        graph.Output(graph.Sigmoid(outputs.Logits), ProbabilitiesName);
        graph.Output(outputs.Embedding, EmbeddingName);

        return Model(graph, metadata.ToProperties(), metadata.ToolVersion,
            $"{metadata.Model}: input '{InputName}' (batch, {metadata.LeadNames.Length} leads, {metadata.WindowSamples} samples) in mV; " +
            $"outputs '{LogitsName}', '{ProbabilitiesName}' (batch, {metadata.ClassNames.Length}: {string.Join(", ", metadata.ClassNames)}) " +
            $"and '{EmbeddingName}' (batch, {metadata.EmbeddingSize}).");
    }

    /// <summary>A model around a built graph: IR version, opset and metadata.</summary>
    internal static ModelProto Model(OnnxGraphBuilder graph, IEnumerable<KeyValuePair<string, string>> properties, string? producerVersion, string doc)
    {
        var model = new ModelProto
        {
            IrVersion = IrVersion,
            ProducerName = "ecg",
            ProducerVersion = producerVersion ?? "",
            ModelVersion = 1,
            DocString = doc,
            Graph = graph.Graph,
        };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = OpsetVersion });
        foreach (var (key, value) in properties) model.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });
        return model;
    }
}
