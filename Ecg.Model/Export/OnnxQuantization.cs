using System.Runtime.InteropServices;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Onnx;

namespace Ecg.Model.Export;

/// <summary>What <see cref="OnnxQuantization.QuantizeInt8"/> did: the convolutions quantized and the activation ranges it calibrated.</summary>
public sealed record OnnxQuantizationResult(string Path, int QuantizedConvolutions, int CalibrationWindows, IReadOnlyDictionary<string, (float Min, float Max)> Ranges);

/// <summary>
/// Static int8 quantization of an exported graph in ONNX's QDQ form (QuantizeLinear / DequantizeLinear pairs around
/// float operators, which ONNX Runtime fuses into integer kernels: DQ -> Conv -> Q becomes QLinearConv), as
/// onnxruntime.quantization's static QDQ quantizer writes it:
/// <list type="bullet">
/// <item>every ungrouped Conv whose weight is a constant (grouped and depthwise ones stay float: ONNX Runtime's integer
/// kernels run them slower than its float ones): weights int8, symmetric, one scale per output channel (axis 0); bias int32
/// with scale input scale x weight scale (zero point 0), so the integer kernel adds it exactly;</item>
/// <item>the Conv's input and output activations uint8, asymmetric, one scale per tensor, from their minimum and maximum
/// over calibration windows (the range widened to hold 0, so zero padding is exact);</item>
/// <item>everything else (pooling, residual additions, the head's Gemm layers, sigmoid) stays float32, fed by the
/// dequantized values.</item>
/// </list>
/// The metadata of the float file is kept, with "quantization" added, so the file scores a record as the float one does.
/// </summary>
public static class OnnxQuantization
{
    /// <summary>
    /// Quantizes the float model at <paramref name="floatModelPath"/> into <paramref name="outputPath"/> (atomically),
    /// calibrating on <paramref name="windows"/>: (count, leads, window) row-major in mV, as the graph takes them.
    /// </summary>
    public static OnnxQuantizationResult QuantizeInt8(string floatModelPath, float[] windows, int count, string outputPath, int batchSize = 128, int threads = 2)
    {
        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(floatModelPath));
        var initializers = model.Graph.Initializer.ToDictionary(t => t.Name, StringComparer.Ordinal);
        var convolutions = model.Graph.Node.Where(n => n.OpType == "Conv" && n.Input.Count >= 2 && initializers.ContainsKey(n.Input[1])
                                                       && (n.Input.Count < 3 || initializers.ContainsKey(n.Input[2]))
                                                       && (n.Attribute.FirstOrDefault(a => a.Name == "group")?.I ?? 1) == 1).ToArray();
        if (convolutions.Length == 0) throw new ArgumentException($"'{floatModelPath}' has no convolution with constant weights to quantize.");
        if (count < 1) throw new ArgumentException("Quantization needs at least one calibration window.");
        var activations = convolutions.SelectMany(n => new[] { n.Input[0], n.Output[0] }).Distinct(StringComparer.Ordinal).ToArray();
        var ranges = Calibrate(model, activations, windows, count, batchSize, threads);
        var inputScales = convolutions.Select(n => Parameters(ranges[n.Input[0]]).Scale).ToArray();   // before the inputs are rewired

        var graph = model.Graph;
        var quantizedAs = new Dictionary<string, string>(StringComparer.Ordinal);   // activation -> its dequantized copy
        var nodes = new List<NodeProto>();
        var added = new List<TensorProto>();
        foreach (var name in activations.Where(a => graph.Input.Any(i => i.Name == a)))
            nodes.AddRange(QuantizeActivation(name, ranges[name], added, quantizedAs));
        foreach (var node in graph.Node)
        {
            nodes.Add(node);
            foreach (var output in node.Output)
                if (ranges.TryGetValue(output, out var range)) nodes.AddRange(QuantizeActivation(output, range, added, quantizedAs));
        }
        // Every reader of a quantized activation reads its dequantized copy (the Q nodes keep reading the float value).
        foreach (var node in nodes.Where(n => n.OpType != "QuantizeLinear"))
            for (int k = 0; k < node.Input.Count; k++)
                if (quantizedAs.TryGetValue(node.Input[k], out var dequantized)) node.Input[k] = dequantized;

        var replaced = new HashSet<string>(StringComparer.Ordinal);
        var weightNodes = new List<NodeProto>();
        for (int c = 0; c < convolutions.Length; c++)
        {
            var conv = convolutions[c];
            float inputScale = inputScales[c];
            var weight = initializers[conv.Input[1]];
            var scales = QuantizeWeight(weight, added, weightNodes, out var weightName);
            conv.Input[1] = weightName;
            replaced.Add(weight.Name);
            if (conv.Input.Count >= 3)
            {
                var bias = initializers[conv.Input[2]];
                conv.Input[2] = QuantizeBias(bias, scales.Select(s => s * inputScale).ToArray(), added, weightNodes);
                replaced.Add(bias.Name);
            }
        }
        // Weights dequantize first (constants: ONNX Runtime folds them into the integer kernels).
        graph.Node.Clear();
        graph.Node.AddRange(weightNodes);
        graph.Node.AddRange(nodes);
        var kept = graph.Initializer.Where(t => !replaced.Contains(t.Name) || graph.Node.Any(n => n.Input.Contains(t.Name))).ToArray();
        graph.Initializer.Clear();
        graph.Initializer.AddRange(kept);
        graph.Initializer.AddRange(added);
        var note = $"int8 QDQ: {convolutions.Length} convolutions (int8 weights per output channel, uint8 activations per tensor), calibrated on {count} windows";
        var existing = model.MetadataProps.FirstOrDefault(p => p.Key == OnnxModelMetadata.QuantizationKey);
        if (existing is not null) model.MetadataProps.Remove(existing);
        model.MetadataProps.Add(new StringStringEntryProto { Key = OnnxModelMetadata.QuantizationKey, Value = note });

        Ecg.Data.AtomicFile.Write(outputPath, temporary =>
        {
            using var file = File.Create(temporary);
            model.WriteTo(file);
        });
        return new OnnxQuantizationResult(Path.GetFullPath(outputPath), convolutions.Length, count, ranges);
    }

    /// <summary>uint8 scale and zero point of a range widened to hold 0.</summary>
    internal static (float Scale, byte ZeroPoint) Parameters((float Min, float Max) range)
    {
        float min = Math.Min(range.Min, 0f), max = Math.Max(range.Max, 0f);
        float scale = max > min ? (max - min) / 255f : 1f;
        return (scale, (byte)Math.Clamp(Math.Round(-min / scale), 0, 255));
    }

    /// <summary>Minimum and maximum of each named value over the windows: the graph run with those values as extra outputs.</summary>
    private static Dictionary<string, (float Min, float Max)> Calibrate(ModelProto model, string[] names, float[] windows, int count, int batchSize, int threads)
    {
        var probe = model.Clone();
        foreach (var name in names.Where(n => probe.Graph.Output.All(o => o.Name != n)))
            probe.Graph.Output.Add(new ValueInfoProto
            {
                Name = name,
                Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float } },
            });
        var input = model.Graph.Input[0];
        var dims = input.Type.TensorType.Shape.Dim.Select(d => d.DimValue).ToArray();
        long leads = dims[1], window = dims[2], perWindow = leads * window;
        if (windows.Length != count * perWindow)
            throw new ArgumentException($"{count} calibration windows of {leads} x {window} need {count * perWindow} values, got {windows.Length}.");
        using var options = OnnxInferenceEngine.Options(threads);
        using var session = new InferenceSession(probe.ToByteArray(), options);
        using var runOptions = new RunOptions();
        var ranges = names.ToDictionary(n => n, _ => (Min: float.PositiveInfinity, Max: float.NegativeInfinity), StringComparer.Ordinal);
        for (int first = 0; first < count; first += batchSize)
        {
            int run = Math.Min(batchSize, count - first);
            using var value = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, windows.AsMemory((int)(first * perWindow), (int)(run * perWindow)),
                                                                    new long[] { run, leads, window });
            using var outputs = session.Run(runOptions, new[] { input.Name }, new[] { value }, names);
            for (int k = 0; k < names.Length; k++)
            {
                var data = outputs[k].GetTensorDataAsSpan<float>();
                var (min, max) = ranges[names[k]];
                foreach (var v in data) { if (v < min) min = v; if (v > max) max = v; }
                ranges[names[k]] = (min, max);
            }
        }
        foreach (var (name, range) in ranges)
            if (!float.IsFinite(range.Min) || !float.IsFinite(range.Max))
                throw new InvalidDataException($"Quantization: the calibration windows give '{name}' a non-finite range ({range.Min}, {range.Max}).");
        return ranges;
    }

    private static IEnumerable<NodeProto> QuantizeActivation(string name, (float Min, float Max) range, List<TensorProto> added, Dictionary<string, string> quantizedAs)
    {
        var (scale, zeroPoint) = Parameters(range);
        var scaleName = name + ".q_scale";
        var zeroName = name + ".q_zero_point";
        added.Add(FloatTensor(scaleName, new[] { scale }, Array.Empty<long>()));
        added.Add(new TensorProto { Name = zeroName, DataType = (int)TensorProto.Types.DataType.Uint8, RawData = ByteString.CopyFrom(zeroPoint) });
        var quantized = name + ".quantized";
        var dequantized = name + ".dequantized";
        quantizedAs[name] = dequantized;
        yield return Node("QuantizeLinear", new[] { name, scaleName, zeroName }, quantized);
        yield return Node("DequantizeLinear", new[] { quantized, scaleName, zeroName }, dequantized);
    }

    /// <summary>int8 weights, symmetric per output channel; returns the scales and names the dequantized weight.</summary>
    private static float[] QuantizeWeight(TensorProto weight, List<TensorProto> added, List<NodeProto> nodes, out string dequantized)
    {
        var values = FloatValues(weight);
        int outputs = (int)weight.Dims[0], perOutput = values.Length / outputs;
        var scales = new float[outputs];
        var quantized = new sbyte[values.Length];
        for (int o = 0; o < outputs; o++)
        {
            float max = 0;
            for (int j = 0; j < perOutput; j++) max = Math.Max(max, Math.Abs(values[o * perOutput + j]));
            scales[o] = max > 0 ? max / 127f : 1f;
            for (int j = 0; j < perOutput; j++)
                quantized[o * perOutput + j] = (sbyte)Math.Clamp(Math.Round(values[o * perOutput + j] / scales[o]), -127, 127);
        }
        var q = new TensorProto { Name = weight.Name + ".int8", DataType = (int)TensorProto.Types.DataType.Int8, RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(quantized.AsSpan())) };
        q.Dims.AddRange(weight.Dims);
        added.Add(q);
        added.Add(FloatTensor(weight.Name + ".scale", scales, new long[] { outputs }));
        var zero = new TensorProto { Name = weight.Name + ".zero_point", DataType = (int)TensorProto.Types.DataType.Int8, RawData = ByteString.CopyFrom(new byte[outputs]) };
        zero.Dims.Add(outputs);
        added.Add(zero);
        dequantized = weight.Name + ".dequantized";
        nodes.Add(Node("DequantizeLinear", new[] { q.Name, weight.Name + ".scale", zero.Name }, dequantized, axis: 0));
        return scales;
    }

    /// <summary>int32 bias at scale input scale x weight scale per channel, zero point 0; returns the dequantized bias's name.</summary>
    private static string QuantizeBias(TensorProto bias, float[] scales, List<TensorProto> added, List<NodeProto> nodes)
    {
        var values = FloatValues(bias);
        var quantized = values.Select((v, o) => (int)Math.Clamp(Math.Round(v / (double)scales[o]), int.MinValue + 1, int.MaxValue)).ToArray();
        var q = new TensorProto { Name = bias.Name + ".int32", DataType = (int)TensorProto.Types.DataType.Int32, RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(quantized.AsSpan())) };
        q.Dims.Add(values.Length);
        added.Add(q);
        added.Add(FloatTensor(bias.Name + ".scale", scales, new long[] { values.Length }));
        var zero = new TensorProto { Name = bias.Name + ".zero_point", DataType = (int)TensorProto.Types.DataType.Int32, RawData = ByteString.CopyFrom(new byte[4 * values.Length]) };
        zero.Dims.Add(values.Length);
        added.Add(zero);
        var dequantized = bias.Name + ".dequantized";
        nodes.Add(Node("DequantizeLinear", new[] { q.Name, bias.Name + ".scale", zero.Name }, dequantized, axis: 0));
        return dequantized;
    }

    private static float[] FloatValues(TensorProto t)
    {
        if (t.DataType != (int)TensorProto.Types.DataType.Float) throw new InvalidDataException($"Quantization: '{t.Name}' is not float32.");
        if (t.FloatData.Count > 0) return t.FloatData.ToArray();
        return MemoryMarshal.Cast<byte, float>(t.RawData.Span).ToArray();
    }

    private static TensorProto FloatTensor(string name, float[] values, long[] dims)
    {
        var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float, RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(values.AsSpan())) };
        t.Dims.AddRange(dims);
        return t;
    }

    private static NodeProto Node(string op, string[] inputs, string output, long? axis = null)
    {
        var node = new NodeProto { OpType = op, Name = output };
        node.Input.AddRange(inputs);
        node.Output.Add(output);
        if (axis is long a) node.Attribute.Add(new AttributeProto { Name = "axis", Type = AttributeProto.Types.AttributeType.Int, I = a });
        return node;
    }
}
