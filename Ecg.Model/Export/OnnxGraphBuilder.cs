using System.Runtime.InteropServices;
using Google.Protobuf;
using Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Ecg.Model.Export;

/// <summary>
/// Builds the ONNX graph of a 1-d signal network in eval mode from its TorchSharp layers: each method adds the
/// nodes of one layer and returns the name of its output. BatchNorm is folded into the convolution before it
/// (or the linear layer after it), in double precision; dropout adds nothing. Shapes are tracked statically
/// (the batch is the only free dimension), so layers whose padding depends on the input length (Keras "same",
/// ceil-mode pooling) get fixed pads.
///
/// Convolutions and pools are written as 2-d ones over a (batch, C, 1, L) map (kernels 1 x k): ONNX Runtime's CPU
/// provider runs 2-d convolutions in its blocked NCHWc layout, and 1-d ones not. Which values are held that way is
/// tracked here (<see cref="planar"/>); tracked shapes stay the logical (batch, C, L), and the layers that need 3-d
/// input (LSTM, last step) get it back by a Squeeze.
/// </summary>
internal sealed class OnnxGraphBuilder
{
    /// <summary>Batch dimension in tracked shapes: the graph's only free dimension, named "batch".</summary>
    public const long Batch = -1;

    private readonly GraphProto graph = new();
    private readonly Dictionary<string, long[]> shapes = new();
    private readonly HashSet<string> initializerNames = new();
    /// <summary>Values held as (batch, C, 1, L).</summary>
    private readonly HashSet<string> planar = new();
    private readonly bool planarLayout;
    private string? planarAxes;
    private int nodeCount;

    /// <param name="planarLayout">write convolutions and pools as 2-d ones (the default; see the class summary).</param>
    public OnnxGraphBuilder(string name, bool planarLayout = true)
    {
        graph.Name = name;
        this.planarLayout = planarLayout;
    }

    public GraphProto Graph => graph;

    /// <summary>Shape of a value: (batch, channels, length) for feature maps, (batch, features) after pooling.</summary>
    public long[] ShapeOf(string value) =>
        shapes.TryGetValue(value, out var shape) ? shape : throw new InvalidOperationException($"ONNX export: no value '{value}' in the graph.");

    /// <summary>Declares the float input (batch, channels, length).</summary>
    public string Input(string name, long channels, long length)
    {
        graph.Input.Add(ValueInfo(name, new[] { Batch, channels, length }));
        shapes[name] = new[] { Batch, channels, length };
        return name;
    }

    /// <summary>Makes <paramref name="value"/> a graph output under <paramref name="name"/>.</summary>
    public void Output(string value, string name)
    {
        var shape = ShapeOf(value);
        AddNode("Identity", new[] { Unplanar(value) }, name);
        shapes[name] = shape;
        graph.Output.Add(ValueInfo(name, shape));
    }

    // ---------------------------------------------------------------------------------------------
    // Layers
    // ---------------------------------------------------------------------------------------------

    /// <summary>(x - mean) / std, with float32 constants, as <see cref="BatchBuilder"/> standardises.</summary>
    public string Standardise(string x, Standardisation standardisation)
    {
        if (standardisation.Kind == "none") return x;
        var mean = Constant("standardisation.mean", new[] { (float)standardisation.Mean }, Array.Empty<long>());
        var std = Constant("standardisation.std", new[] { (float)standardisation.Std }, Array.Empty<long>());
        var centred = AddNode("Sub", new[] { x, mean }, Fresh("standardisation.centred"));
        shapes[centred] = ShapeOf(x);
        return Same(x, AddNode("Div", new[] { centred, std }, Fresh("standardised")));
    }

    /// <summary>
    /// A Conv1d, with the eval-mode BatchNorm that follows it folded in when <paramref name="norm"/> is given
    /// (channels <paramref name="normOffset"/>.. of it, for a convolution that feeds part of a concatenation).
    /// Pads are the convolution's own unless <paramref name="pads"/> (left, right) overrides them.
    /// </summary>
    public string Conv(string x, Conv1d conv, string path, BatchNorm1d? norm = null, int normOffset = 0, (long Left, long Right)? pads = null)
    {
        if (conv.padding_type is not null)
            throw new NotSupportedException($"ONNX export: '{path}' uses padding mode {conv.padding_type}; only explicit padding is exported.");
        if (conv.padding_mode != PaddingModes.Zeros)
            throw new NotSupportedException($"ONNX export: '{path}' pads with {conv.padding_mode}; only zero padding is exported.");
        var input = ShapeOf(x);
        if (input.Length != 3 || input[1] != conv.in_channels)
            throw new InvalidOperationException($"ONNX export: '{path}' takes {conv.in_channels} channels, its input has shape ({Dims(input)}).");

        long outChannels = conv.out_channels, kernel = conv.kernel_size[0], stride = conv.stride[0], dilation = conv.dilation[0];
        long ownPadding = conv.padding?[0] ?? 0;
        var (left, right) = pads ?? (ownPadding, ownPadding);
        var weight = Values(conv.weight!);
        var bias = conv.bias is null ? new double[outChannels] : Values(conv.bias);
        if (norm is not null)
        {
            var (scale, shift) = Fold(norm, path, normOffset, outChannels);
            long perOutput = weight.Length / outChannels;
            for (long o = 0; o < outChannels; o++)
            {
                for (long j = 0; j < perOutput; j++) weight[o * perOutput + j] *= scale[o];
                bias[o] = bias[o] * scale[o] + shift[o];
            }
        }
        var weightShape = planarLayout ? new[] { conv.weight!.shape[0], conv.weight.shape[1], 1, kernel } : conv.weight!.shape;
        var w = Constant(path + ".weight", ToFloat(weight), weightShape);
        var b = Constant(path + ".bias", ToFloat(bias), new[] { outChannels });
        var y = AddNode("Conv", new[] { Planar(x), w, b }, Fresh(path), node =>
        {
            node.Attribute.Add(Ints("kernel_shape", Spatial(kernel, 1)));
            node.Attribute.Add(Ints("strides", Spatial(stride, 1)));
            node.Attribute.Add(Ints("dilations", Spatial(dilation, 1)));
            node.Attribute.Add(Ints("pads", planarLayout ? new[] { 0, left, 0, right } : new[] { left, right }));
            node.Attribute.Add(Int("group", conv.groups));
        });
        long length = (input[2] + left + right - dilation * (kernel - 1) - 1) / stride + 1;
        shapes[y] = new[] { Batch, outChannels, length };
        if (planarLayout) planar.Add(y);
        return y;
    }

    /// <summary>
    /// A Linear layer as Gemm; an eval-mode BatchNorm applied to its input (fastai's BN, Dropout, Linear) is
    /// folded in when <paramref name="inputNorm"/> is given.
    /// </summary>
    public string Linear(string x, Linear linear, string path, BatchNorm1d? inputNorm = null)
    {
        var input = ShapeOf(x);
        if (input.Length != 2 || input[1] != linear.in_features)
            throw new InvalidOperationException($"ONNX export: '{path}' takes {linear.in_features} features, its input has shape ({Dims(input)}).");
        long outputs = linear.out_features, inputs = linear.in_features;
        var weight = Values(linear.weight);
        var bias = linear.bias is null ? new double[outputs] : Values(linear.bias);
        if (inputNorm is not null)
        {
            // W (s x + t) + b = (W diag(s)) x + (W t + b)
            var (scale, shift) = Fold(inputNorm, path, 0, inputs);
            for (long o = 0; o < outputs; o++)
                for (long i = 0; i < inputs; i++)
                {
                    bias[o] += weight[o * inputs + i] * shift[i];
                    weight[o * inputs + i] *= scale[i];
                }
        }
        var w = Constant(path + ".weight", ToFloat(weight), new[] { outputs, inputs });
        var b = Constant(path + ".bias", ToFloat(bias), new[] { outputs });
        var y = AddNode("Gemm", new[] { x, w, b }, Fresh(path), node => node.Attribute.Add(Int("transB", 1)));
        shapes[y] = new[] { Batch, outputs };
        return y;
    }

    /// <summary>An eval-mode BatchNorm on its own (one that no convolution or linear layer absorbs): x * scale + shift per channel.</summary>
    public string BatchNorm(string x, BatchNorm1d norm, string path)
    {
        var input = ShapeOf(x);
        if (input.Length != 3 || input[1] != norm.num_features)
            throw new InvalidOperationException($"ONNX export: '{path}' normalises {norm.num_features} channels, its input has shape ({Dims(input)}).");
        var (scale, shift) = Fold(norm, path, 0, input[1]);
        // Per-channel constants broadcast over (batch, C, L), or (batch, C, 1, L) in the planar layout.
        var dims = planar.Contains(x) ? new[] { input[1], 1L, 1L } : new[] { input[1], 1L };
        var scaled = Same(x, AddNode("Mul", new[] { x, Constant(path + ".scale", ToFloat(scale), dims) }, Fresh(path)));
        return Same(x, AddNode("Add", new[] { scaled, Constant(path + ".shift", ToFloat(shift), dims) }, Fresh(path)));
    }

    /// <summary>
    /// A causal depthwise convolution with a computed kernel (a state-space layer's): y[c, t] = Σ_(l ≤ t) kernel[c, l] x[c, t - l],
    /// as Conv with group = C, the kernel reversed, and kernel length - 1 zeros of left padding.
    /// </summary>
    public string CausalDepthwiseConv(string x, float[] kernel, long kernelLength, string path)
    {
        var input = ShapeOf(x);
        long channels = input[1];
        if (kernel.Length != channels * kernelLength)
            throw new InvalidOperationException($"ONNX export: '{path}' has {kernel.Length} kernel values for {channels} channels of {kernelLength}.");
        var reversed = new float[kernel.Length];
        for (long c = 0; c < channels; c++)
            for (long l = 0; l < kernelLength; l++)
                reversed[c * kernelLength + kernelLength - 1 - l] = kernel[c * kernelLength + l];
        var w = Constant(path + ".kernel", reversed, planarLayout ? new[] { channels, 1, 1, kernelLength } : new[] { channels, 1, kernelLength });
        var b = Constant(path + ".bias", new float[channels], new[] { channels });
        var y = AddNode("Conv", new[] { Planar(x), w, b }, Fresh(path), node =>
        {
            node.Attribute.Add(Ints("kernel_shape", Spatial(kernelLength, 1)));
            node.Attribute.Add(Ints("pads", planarLayout ? new[] { 0, kernelLength - 1, 0, 0 } : new[] { kernelLength - 1, 0 }));
            node.Attribute.Add(Int("group", channels));
        });
        shapes[y] = new[] { Batch, channels, input[2] };
        if (planarLayout) planar.Add(y);
        return y;
    }

    /// <summary>GELU with the error function, as torch's default: x / 2 (1 + erf(x / √2)).</summary>
    public string Gelu(string x)
    {
        geluConstants ??= (Constant("gelu.inverse_sqrt2", new[] { (float)(1 / Math.Sqrt(2)) }, Array.Empty<long>()),
                           Constant("gelu.one", new[] { 1f }, Array.Empty<long>()), Constant("gelu.half", new[] { 0.5f }, Array.Empty<long>()));
        var (inverseSqrt2, one, half) = geluConstants.Value;
        var erf = AddNode("Erf", new[] { AddNode("Mul", new[] { x, inverseSqrt2 }, Fresh("gelu")) }, Fresh("gelu"));
        var gate = AddNode("Mul", new[] { AddNode("Add", new[] { erf, one }, Fresh("gelu")), half }, Fresh("gelu"));
        return Same(x, AddNode("Mul", new[] { x, gate }, Fresh("gelu")));
    }

    private (string InverseSqrt2, string One, string Half)? geluConstants;

    public string Relu(string x) => Same(x, AddNode("Relu", new[] { x }, Fresh("relu")));

    public string Sigmoid(string x) => Same(x, AddNode("Sigmoid", new[] { x }, Fresh("sigmoid")));

    public string Add(string a, string b)
    {
        if (!ShapeOf(a).SequenceEqual(ShapeOf(b)))
            throw new InvalidOperationException($"ONNX export: cannot add shapes ({Dims(ShapeOf(a))}) and ({Dims(ShapeOf(b))}).");
        if (planar.Contains(a) != planar.Contains(b)) (a, b) = (Planar(a), Planar(b));
        return Same(a, AddNode("Add", new[] { a, b }, Fresh("add")));
    }

    /// <summary>Concatenation along the channel (or feature) axis 1.</summary>
    public string Concat(IReadOnlyList<string> parts)
    {
        var first = ShapeOf(parts[0]);
        var shape = (long[])first.Clone();
        shape[1] = parts.Sum(p => ShapeOf(p)[1]);
        bool anyPlanar = parts.Any(planar.Contains);
        var inputs = parts.Select(p => anyPlanar ? Planar(p) : p).ToArray();
        var y = AddNode("Concat", inputs, Fresh("concat"), node => node.Attribute.Add(Int("axis", 1)));
        shapes[y] = shape;
        if (anyPlanar) planar.Add(y);
        return y;
    }

    public string MaxPool(string x, MaxPool1d pool, string path)
    {
        long kernel = pool.kernel_size, stride = pool.stride ?? kernel, padding = pool.padding ?? 0, dilation = pool.dilation ?? 1;
        var input = ShapeOf(x);
        var y = AddNode("MaxPool", new[] { Planar(x) }, Fresh(path), node =>
        {
            node.Attribute.Add(Ints("kernel_shape", Spatial(kernel, 1)));
            node.Attribute.Add(Ints("strides", Spatial(stride, 1)));
            node.Attribute.Add(Ints("pads", planarLayout ? new[] { 0, padding, 0, padding } : new[] { padding, padding }));
            node.Attribute.Add(Ints("dilations", Spatial(dilation, 1)));
            node.Attribute.Add(Int("ceil_mode", pool.ceil_mode ? 1 : 0));
        });
        shapes[y] = new[] { Batch, input[1], PooledLength(input[2], kernel, stride, padding, dilation, pool.ceil_mode) };
        if (planarLayout) planar.Add(y);
        return y;
    }

    /// <summary>
    /// AvgPool1d. A ceil-mode window that runs past the end averages only the elements inside (torch's rule for
    /// zero padding); that window is made explicit by repeating the last element (Pad, edge mode), so the
    /// exported pool is a plain floor-mode average whatever the runtime's ceil-mode convention.
    /// </summary>
    public string AvgPool(string x, AvgPool1d pool, string path)
    {
        long kernel = pool.kernel_size, stride = pool.stride ?? kernel, padding = pool.padding ?? 0;
        if (padding != 0)
            throw new NotSupportedException($"ONNX export: '{path}' pads its average pool ({padding}); only unpadded average pools are exported.");
        var input = ShapeOf(x);
        long length = input[2];
        long outLength = PooledLength(length, kernel, stride, 0, 1, pool.ceil_mode);
        long needed = (outLength - 1) * stride + kernel;
        var pooledInput = Planar(x);
        if (needed > length)
        {
            // Only a single overhanging element is averaged correctly by repetition (kernel 2, as xresnet uses).
            if (needed - length != 1 || kernel != 2)
                throw new NotSupportedException($"ONNX export: '{path}' (kernel {kernel}, stride {stride}) overhangs length {length} by {needed - length}.");
            // Pad's pads: every axis's begin, then every axis's end; one more element at the end of time.
            var pads = Constant(path + ".pads", planarLayout ? new long[] { 0, 0, 0, 0, 0, 0, 0, 1 } : new long[] { 0, 0, 0, 0, 0, 1 });
            pooledInput = AddNode("Pad", new[] { pooledInput, pads }, Fresh(path + ".edge"), node => node.Attribute.Add(Text("mode", "edge")));
            shapes[pooledInput] = new[] { Batch, input[1], needed };
        }
        var y = AddNode("AveragePool", new[] { pooledInput }, Fresh(path), node =>
        {
            node.Attribute.Add(Ints("kernel_shape", Spatial(kernel, 1)));
            node.Attribute.Add(Ints("strides", Spatial(stride, 1)));
        });
        shapes[y] = new[] { Batch, input[1], outLength };
        if (planarLayout) planar.Add(y);
        return y;
    }

    /// <summary>
    /// A torch LSTM (any layer count, one or two directions, with or without biases) run over the time axis of a
    /// (batch, C, L) feature map, as ONNX LSTM nodes, one per layer; returns (batch, directions x hidden, L), the
    /// LSTM's output sequence channels-first. Dropout between layers is a training-time effect and is left out.
    /// torch orders the gates i, f, g, o; ONNX i, o, f, c: the weight blocks are reordered.
    /// </summary>
    public string Lstm(string x, LSTM lstm, string path)
    {
        var input = ShapeOf(x);
        var parameters = lstm.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        int layers = 0;
        while (parameters.ContainsKey($"weight_ih_l{layers}")) layers++;
        if (layers == 0) throw new InvalidOperationException($"ONNX export: LSTM '{path}' has no weight_ih_l0 (parameters: {string.Join(", ", parameters.Keys)}).");
        if (parameters.Keys.Any(k => k.StartsWith("weight_hr", StringComparison.Ordinal)))
            throw new NotSupportedException($"ONNX export: LSTM '{path}' has projections (proj_size), which ONNX LSTM lacks.");
        int directions = parameters.ContainsKey("weight_ih_l0_reverse") ? 2 : 1;
        long hidden = parameters["weight_hh_l0"].shape[1];
        long length = input[2];

        // (batch, C, L) -> (L, batch, C): ONNX LSTM's default layout is sequence first.
        var sequence = Transpose(Unplanar(x), new long[] { 2, 0, 1 }, new[] { length, Batch, input[1] }, path + ".sequence");
        for (int layer = 0; layer < layers; layer++)
        {
            long inputs = ShapeOf(sequence)[2];
            var suffixes = directions == 2 ? new[] { "", "_reverse" } : new[] { "" };
            var w = new List<double>();
            var r = new List<double>();
            var b = new List<double>();
            foreach (var suffix in suffixes)
            {
                w.AddRange(OnnxGateOrder(Values(parameters[$"weight_ih_l{layer}{suffix}"])));
                r.AddRange(OnnxGateOrder(Values(parameters[$"weight_hh_l{layer}{suffix}"])));
                // ONNX B is [Wb, Rb] per direction: torch's bias_ih and bias_hh.
                foreach (var bias in new[] { "bias_ih", "bias_hh" })
                    b.AddRange(parameters.TryGetValue($"{bias}_l{layer}{suffix}", out var t) ? OnnxGateOrder(Values(t)) : new double[4 * hidden]);
            }
            var name = $"{path}.l{layer}";
            var wName = Constant(name + ".W", ToFloat(w.ToArray()), new[] { directions, 4 * hidden, inputs });
            var rName = Constant(name + ".R", ToFloat(r.ToArray()), new[] { directions, 4 * hidden, hidden });
            var bName = Constant(name + ".B", ToFloat(b.ToArray()), new[] { directions, 8 * hidden });
            var y = AddNode("LSTM", new[] { sequence, wName, rName, bName }, Fresh(name), node =>
            {
                node.Attribute.Add(Int("hidden_size", hidden));
                node.Attribute.Add(Text("direction", directions == 2 ? "bidirectional" : "forward"));
            });
            shapes[y] = new[] { length, directions, Batch, hidden };
            // Y (L, directions, batch, H) -> (L, batch, directions x H), the next layer's input.
            var batchMajor = Transpose(y, new long[] { 0, 2, 1, 3 }, new[] { length, Batch, directions, hidden }, name + ".y");
            var shape = Constant(name + ".shape", new long[] { 0, 0, directions * hidden });
            sequence = AddNode("Reshape", new[] { batchMajor, shape }, Fresh(name + ".output"));
            shapes[sequence] = new[] { length, Batch, directions * hidden };
        }
        return Transpose(sequence, new long[] { 1, 2, 0 }, new[] { Batch, directions * hidden, length }, path + ".features");
    }

    /// <summary>Rows of a torch gate-stacked tensor [i; f; g; o] (4H rows) reordered to ONNX's [i; o; f; c].</summary>
    private static double[] OnnxGateOrder(double[] values)
    {
        long block = values.Length / 4;
        var reordered = new double[values.Length];
        int target = 0;
        foreach (var gate in new[] { 0, 3, 1, 2 })
        {
            Array.Copy(values, gate * block, reordered, target * block, block);
            target++;
        }
        return reordered;
    }

    private string Transpose(string x, long[] permutation, long[] shape, string hint)
    {
        var y = AddNode("Transpose", new[] { x }, Fresh(hint), node => node.Attribute.Add(Ints("perm", permutation)));
        shapes[y] = shape;
        return y;
    }

    /// <summary>The last time step: (batch, C, L) to (batch, C), a Gather of index L - 1 on the time axis.</summary>
    public string LastStep(string x)
    {
        var input = ShapeOf(x);
        if (input.Length != 3) throw new InvalidOperationException($"ONNX export: last time step of shape ({Dims(input)}), not (batch, C, L).");
        // A scalar index drops the time axis, as torch's select(-1, -1) does.
        var index = Constant("lastStep.index", new[] { input[2] - 1 }, Array.Empty<long>());
        var y = AddNode("Gather", new[] { Unplanar(x), index }, Fresh("lastStep"), node => node.Attribute.Add(Int("axis", 2)));
        shapes[y] = new[] { Batch, input[1] };
        return y;
    }

    /// <summary>Mean over time: (batch, C, L) to (batch, C).</summary>
    public string GlobalMean(string x) => Reduce("ReduceMean", x);

    /// <summary>Maximum over time: (batch, C, L) to (batch, C).</summary>
    public string GlobalMax(string x) => Reduce("ReduceMax", x);

    private string Reduce(string op, string x)
    {
        var input = ShapeOf(x);
        // Opset 17: axes is still an attribute of ReduceMean/ReduceMax (an input from opset 18).
        bool held2d = planar.Contains(x);
        var y = AddNode(op, new[] { x }, Fresh(op), node =>
        {
            node.Attribute.Add(held2d ? Ints("axes", 2, 3) : Ints("axes", 2));
            node.Attribute.Add(Int("keepdims", 0));
        });
        shapes[y] = new[] { Batch, input[1] };
        return y;
    }

    // ---------------------------------------------------------------------------------------------
    // Helpers
    // ---------------------------------------------------------------------------------------------

    private static long PooledLength(long length, long kernel, long stride, long padding, long dilation, bool ceil)
    {
        long span = length + 2 * padding - dilation * (kernel - 1) - 1;
        long outLength = (ceil ? (span + stride - 1) / stride : span / stride) + 1;
        // torch: the last window must start inside the input or the left padding.
        if (ceil && (outLength - 1) * stride >= length + padding) outLength--;
        return outLength;
    }

    /// <summary>Eval-mode BatchNorm as y = scale x + shift, for channels offset..offset+count.</summary>
    private static (double[] Scale, double[] Shift) Fold(BatchNorm1d norm, string path, int offset, long count)
    {
        if (norm.running_mean is null || norm.running_var is null)
            throw new NotSupportedException($"ONNX export: the BatchNorm after '{path}' keeps no running statistics.");
        if (offset + count > norm.num_features)
            throw new InvalidOperationException($"ONNX export: the BatchNorm after '{path}' has {norm.num_features} channels, {offset + count} needed.");
        var mean = Values(norm.running_mean);
        var variance = Values(norm.running_var);
        var gamma = norm.weight is null ? null : Values(norm.weight);
        var beta = norm.bias is null ? null : Values(norm.bias);
        var scale = new double[count];
        var shift = new double[count];
        for (int c = 0; c < count; c++)
        {
            int k = offset + c;
            scale[c] = (gamma?[k] ?? 1.0) / Math.Sqrt(variance[k] + norm.eps);
            shift[c] = (beta?[k] ?? 0.0) - mean[k] * scale[c];
        }
        return (scale, shift);
    }

    private static double[] Values(Tensor t)
    {
        using var detached = t.detach();
        using var onCpu = detached.cpu();
        using var wide = onCpu.to_type(ScalarType.Float64);
        using var flat = wide.contiguous();
        return flat.data<double>().ToArray();
    }

    private static float[] ToFloat(double[] values) => values.Select(v => (float)v).ToArray();

    private string Same(string like, string y)
    {
        shapes[y] = ShapeOf(like);
        if (planar.Contains(like)) planar.Add(y);
        return y;
    }

    /// <summary>Attribute values for one spatial axis: (1, value) over a planar map's (1, L) axes, else (value).</summary>
    private long[] Spatial(long value, long height) => planarLayout ? new[] { height, value } : new[] { value };

    /// <summary>The one initializer [2] that every Unsqueeze/Squeeze of the planar layout takes as its axes.</summary>
    private string PlanarAxes() => planarAxes ??= Constant("planar.axes", new long[] { 2 });

    /// <summary>A (batch, C, L) value as (batch, C, 1, L) when the layout is planar (Unsqueeze of axis 2); others as they are.</summary>
    private string Planar(string x)
    {
        if (!planarLayout || planar.Contains(x) || ShapeOf(x).Length != 3) return x;
        var axes = PlanarAxes();
        var y = AddNode("Unsqueeze", new[] { x, axes }, Fresh("planar"));
        shapes[y] = ShapeOf(x);
        planar.Add(y);
        return y;
    }

    /// <summary>A planar value back as (batch, C, L) (Squeeze of axis 2); others as they are.</summary>
    private string Unplanar(string x)
    {
        if (!planar.Contains(x)) return x;
        var axes = PlanarAxes();
        var y = AddNode("Squeeze", new[] { x, axes }, Fresh("sequence"));
        shapes[y] = ShapeOf(x);
        return y;
    }

    /// <summary>A new value name derived from a layer path, unique by the node counter.</summary>
    private string Fresh(string hint) => $"{hint}_{nodeCount}";

    private string AddNode(string op, string[] inputs, string output, Action<NodeProto>? configure = null)
    {
        var node = new NodeProto { OpType = op, Name = $"{op}_{nodeCount++}" };
        node.Input.AddRange(inputs);
        node.Output.Add(output);
        configure?.Invoke(node);
        graph.Node.Add(node);
        return output;
    }

    private string Constant(string name, float[] values, long[] dims)
    {
        var tensor = NewInitializer(name, TensorProto.Types.DataType.Float, dims);
        tensor.RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(values.AsSpan()));
        graph.Initializer.Add(tensor);
        return tensor.Name;
    }

    private string Constant(string name, long[] values) => Constant(name, values, new[] { (long)values.Length });

    private string Constant(string name, long[] values, long[] dims)
    {
        var tensor = NewInitializer(name, TensorProto.Types.DataType.Int64, dims);
        tensor.RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(values.AsSpan()));
        graph.Initializer.Add(tensor);
        return tensor.Name;
    }

    private TensorProto NewInitializer(string name, TensorProto.Types.DataType type, long[] dims)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("ONNX raw tensor data is little-endian.");
        var unique = name;
        for (int i = 2; !initializerNames.Add(unique); i++) unique = $"{name}_{i}";
        var tensor = new TensorProto { Name = unique, DataType = (int)type };
        tensor.Dims.AddRange(dims);
        return tensor;
    }

    private static ValueInfoProto ValueInfo(string name, long[] shape)
    {
        var tensorShape = new TensorShapeProto();
        foreach (var d in shape)
            tensorShape.Dim.Add(d == Batch ? new TensorShapeProto.Types.Dimension { DimParam = "batch" }
                                           : new TensorShapeProto.Types.Dimension { DimValue = d });
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = tensorShape } },
        };
    }

    private static AttributeProto Ints(string name, params long[] values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        a.Ints.AddRange(values);
        return a;
    }

    private static AttributeProto Int(string name, long value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    private static AttributeProto Text(string name, string value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(value) };

    private static string Dims(long[] shape) => string.Join(", ", shape.Select(d => d == Batch ? "batch" : d.ToString()));
}
