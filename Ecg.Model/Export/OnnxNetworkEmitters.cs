using System.Globalization;
using Ecg.Model.Architectures;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Ecg.Model.Export;

/// <summary>The two results every network's graph ends in: per-class logits and the penultimate embedding.</summary>
internal sealed record OnnxNetworkOutputs(string Logits, string Embedding);

/// <summary>Adds the nodes of one architecture's forward pass (eval mode) to the graph, from <paramref name="input"/>.</summary>
internal delegate OnnxNetworkOutputs OnnxNetworkEmitter(OnnxGraphBuilder graph, ModuleTree network, string input);

/// <summary>
/// A network's layers by their registered path ("stages.1.0.convs.2.conv"), read from TorchSharp's
/// <c>named_modules()</c>, so the emitters take weights, kernel sizes and strides from the layers themselves.
/// </summary>
internal sealed class ModuleTree
{
    private readonly Dictionary<string, nn.Module> byPath;

    public ModuleTree(nn.Module root)
    {
        Root = root;
        byPath = root.named_modules().ToDictionary(m => m.name, m => m.module);
    }

    public nn.Module Root { get; }

    public bool Has(string path) => byPath.ContainsKey(path);

    public T Get<T>(string path) where T : nn.Module =>
        byPath.TryGetValue(path, out var module)
            ? module as T ?? throw new InvalidOperationException($"ONNX export: '{path}' in {Root.GetName()} is a {module.GetType().Name}, not a {typeof(T).Name}.")
            : throw new InvalidOperationException($"ONNX export: {Root.GetName()} has no layer '{path}' (the network changed without its ONNX emitter).");

    public T? Find<T>(string path) where T : nn.Module => Has(path) ? Get<T>(path) : null;

    /// <summary>Paths of the numbered children of a Sequential or ModuleList, in index order.</summary>
    public IReadOnlyList<string> Numbered(string path)
    {
        var parent = path.Length == 0 ? Root : Get<nn.Module>(path);
        return parent.named_children()
            .Select(c => c.name)
            .Where(n => int.TryParse(n, NumberStyles.None, CultureInfo.InvariantCulture, out _))
            .OrderBy(n => int.Parse(n, CultureInfo.InvariantCulture))
            .Select(n => path.Length == 0 ? n : $"{path}.{n}")
            .ToArray();
    }
}

/// <summary>
/// One graph emitter per architecture, keyed by the network's type: a new architecture joins the export with
/// one entry in <see cref="ByType"/> and one method that mirrors its <c>forward</c> and <c>Embed</c>.
/// The emitters restate each forward pass in ONNX terms; the export tests compare every architecture's
/// ONNX Runtime output with TorchSharp's, so an emitter that drifts from its network fails there.
/// </summary>
internal static class OnnxNetworkEmitters
{
    public static IReadOnlyDictionary<Type, OnnxNetworkEmitter> ByType { get; } = new Dictionary<Type, OnnxNetworkEmitter>
    {
        [typeof(CrossLeadCnn)] = CrossLeadCnn,
        [typeof(XResNet1d)] = XResNet1d,
        [typeof(Inception1d)] = Inception1d,
        [typeof(ResNet1dWang)] = ResNet1dWang,
        [typeof(FcnWang)] = FcnWang,
        [typeof(Lstm1d)] = Lstm1d,
        [typeof(S4dNetwork)] = S4d,
    };

    /// <summary>
    /// S4dNetwork: 1x1 encoder; per block BatchNorm, the state-space convolution as a causal depthwise Conv whose kernel
    /// is computed for the graph's input length (the D term added at lag 0), GELU, 1x1 Conv, residual Add; final
    /// BatchNorm, benchmark head.
    /// </summary>
    private static OnnxNetworkOutputs S4d(OnnxGraphBuilder graph, ModuleTree network, string input)
    {
        var x = graph.Conv(input, network.Get<Conv1d>("encoder"), "encoder");
        foreach (var block in network.Numbered("blocks"))
        {
            var z = graph.BatchNorm(x, network.Get<BatchNorm1d>($"{block}.norm"), $"{block}.norm");
            var ssm = network.Get<S4dConvolution>($"{block}.ssm");
            long length = graph.ShapeOf(z)[2];
            float[] kernel, skip;
            using (no_grad())
            {
                using var k = ssm.Kernel(length);
                kernel = k.contiguous().data<float>().ToArray();
                using var d = ssm.Skip.to(ScalarType.Float32);
                skip = d.data<float>().ToArray();
            }
            for (int c = 0; c < ssm.Channels; c++) kernel[c * length] += skip[c];
            var y = graph.Gelu(graph.CausalDepthwiseConv(z, kernel, length, $"{block}.ssm"));
            x = graph.Add(x, graph.Conv(y, network.Get<Conv1d>($"{block}.output"), $"{block}.output"));
        }
        x = graph.BatchNorm(x, network.Get<BatchNorm1d>("finalNorm"), "finalNorm");
        return BenchmarkHead(graph, network, "head", x);
    }

    /// <summary>
    /// CrossLeadCnn: five ConvBlocks (Keras "same" padding: output length ceil(L / stride), the odd extra pad on
    /// the right), mean over time, embedding = ReLU(Linear), logits = Linear.
    /// </summary>
    private static OnnxNetworkOutputs CrossLeadCnn(OnnxGraphBuilder graph, ModuleTree network, string input)
    {
        var x = input;
        foreach (var block in new[] { "perLead", "downsample", "crossLead1", "crossLead2", "deep" })
        {
            var conv = network.Get<Conv1d>($"{block}.conv");
            long length = graph.ShapeOf(x)[2], kernel = conv.kernel_size[0], stride = conv.stride[0];
            long outLength = (length + stride - 1) / stride;
            long total = Math.Max((outLength - 1) * stride + kernel - length, 0);
            x = graph.Relu(graph.Conv(x, conv, $"{block}.conv", network.Get<BatchNorm1d>($"{block}.norm"), pads: (total / 2, total - total / 2)));
        }
        var pooled = graph.GlobalMean(x);
        var embedding = graph.Relu(graph.Linear(pooled, network.Get<Linear>("embedding"), "embedding"));
        return new(graph.Linear(embedding, network.Get<Linear>("classifier"), "classifier"), embedding);
    }

    /// <summary>
    /// XResNet1d: stem of three conv+BN+ReLU layers, max pool, residual stages (conv path whose last layer has no
    /// ReLU; identity path average-pooled and projected when present; ReLU after the sum), benchmark head.
    /// </summary>
    private static OnnxNetworkOutputs XResNet1d(OnnxGraphBuilder graph, ModuleTree network, string input)
    {
        var x = input;
        foreach (var layer in network.Numbered("stem")) x = graph.Relu(XConvLayer(graph, network, x, layer));
        x = graph.MaxPool(x, network.Get<MaxPool1d>("stemPool"), "stemPool");
        foreach (var stage in network.Numbered("stages"))
            foreach (var block in network.Numbered(stage))
            {
                var convs = network.Numbered($"{block}.convs");
                var path = x;
                for (int i = 0; i < convs.Count; i++)
                {
                    path = XConvLayer(graph, network, path, convs[i]);
                    if (i < convs.Count - 1) path = graph.Relu(path);
                }
                var identity = x;
                if (network.Find<AvgPool1d>($"{block}.pool") is { } pool) identity = graph.AvgPool(identity, pool, $"{block}.pool");
                if (network.Has($"{block}.projection")) identity = XConvLayer(graph, network, identity, $"{block}.projection");
                x = graph.Relu(graph.Add(path, identity));
            }
        return BenchmarkHead(graph, network, "head", x);
    }

    /// <summary>XConvLayer without its optional ReLU (the caller knows which layers activate).</summary>
    private static string XConvLayer(OnnxGraphBuilder graph, ModuleTree network, string x, string layer) =>
        graph.Conv(x, network.Get<Conv1d>($"{layer}.conv"), $"{layer}.conv", network.Get<BatchNorm1d>($"{layer}.norm"));

    /// <summary>
    /// Inception1d: blocks of a 1x1 bottleneck feeding parallel convolutions beside a max-pool + 1x1 branch,
    /// concatenated, BN (folded into each branch's convolution), ReLU; a conv+BN shortcut added every three blocks.
    /// </summary>
    private static OnnxNetworkOutputs Inception1d(OnnxGraphBuilder graph, ModuleTree network, string input)
    {
        var model = (Inception1d)network.Root;
        var blocks = network.Numbered("blocks");
        var shortcuts = network.Numbered("shortcuts");
        string x = input, residualInput = input;
        for (int d = 0; d < blocks.Count; d++)
        {
            var block = blocks[d];
            var norm = network.Get<BatchNorm1d>($"{block}.norm");
            var bottled = network.Find<Conv1d>($"{block}.bottleneck") is { } bottleneck ? graph.Conv(x, bottleneck, $"{block}.bottleneck") : x;
            var branches = new List<string>();
            int offset = 0;
            foreach (var convPath in network.Numbered($"{block}.convs"))
            {
                var conv = network.Get<Conv1d>(convPath);
                branches.Add(graph.Conv(bottled, conv, convPath, norm, offset));
                offset += (int)conv.out_channels;
            }
            var pooled = graph.MaxPool(x, network.Get<MaxPool1d>($"{block}.pool"), $"{block}.pool");
            branches.Add(graph.Conv(pooled, network.Get<Conv1d>($"{block}.poolConv"), $"{block}.poolConv", norm, offset));
            x = graph.Relu(graph.Concat(branches));
            if (model.UseResidual && d % 3 == 2)
            {
                var shortcut = shortcuts[d / 3];
                var projected = graph.Conv(residualInput, network.Get<Conv1d>($"{shortcut}.conv"), $"{shortcut}.conv", network.Get<BatchNorm1d>($"{shortcut}.bn"));
                x = graph.Relu(graph.Add(x, projected));
                residualInput = x;
            }
        }
        return BenchmarkHead(graph, network, "head", x);
    }

    /// <summary>ResNet1dWang: conv+BN+ReLU stem, basic blocks (two conv+BN, identity or 1x1 conv+BN, ReLU after the sum), benchmark head.</summary>
    private static OnnxNetworkOutputs ResNet1dWang(OnnxGraphBuilder graph, ModuleTree network, string input)
    {
        var x = graph.Relu(graph.Conv(input, network.Get<Conv1d>("stemConv"), "stemConv", network.Get<BatchNorm1d>("stemNorm")));
        foreach (var block in network.Numbered("blocks"))
        {
            var path = graph.Relu(graph.Conv(x, network.Get<Conv1d>($"{block}.conv1"), $"{block}.conv1", network.Get<BatchNorm1d>($"{block}.bn1")));
            path = graph.Conv(path, network.Get<Conv1d>($"{block}.conv2"), $"{block}.conv2", network.Get<BatchNorm1d>($"{block}.bn2"));
            var identity = network.Has($"{block}.downsample")
                ? graph.Conv(x, network.Get<Conv1d>($"{block}.downsample.0"), $"{block}.downsample.0", network.Get<BatchNorm1d>($"{block}.downsample.1"))
                : x;
            x = graph.Relu(graph.Add(path, identity));
        }
        return BenchmarkHead(graph, network, "head", x);
    }

    /// <summary>FcnWang: three conv+BN+ReLU layers (the convolutions' own (k - 1) / 2 padding), benchmark head.</summary>
    private static OnnxNetworkOutputs FcnWang(OnnxGraphBuilder graph, ModuleTree network, string input)
    {
        var x = input;
        foreach (var layer in network.Numbered("convs"))
            x = graph.Relu(graph.Conv(x, network.Get<Conv1d>($"{layer}.conv"), $"{layer}.conv", network.Get<BatchNorm1d>($"{layer}.norm")));
        return BenchmarkHead(graph, network, "head", x);
    }

    /// <summary>
    /// Lstm1d (lstm and lstm-bidir): the LSTM over time as ONNX LSTM nodes, its output sequence channels-first, then
    /// the benchmark head with [mean, max, last step] pooling.
    /// </summary>
    private static OnnxNetworkOutputs Lstm1d(OnnxGraphBuilder graph, ModuleTree network, string input) =>
        BenchmarkHead(graph, network, "head", graph.Lstm(input, network.Get<LSTM>("lstm"), "lstm"));

    /// <summary>
    /// BenchmarkHead: pooling over time ([max, mean], or [mean, max, last step] for the recurrent networks), BN +
    /// Linear (folded), ReLU = the embedding, BN + Linear (folded) = logits.
    /// Shared by every benchmark architecture; <paramref name="head"/> is its path in the network.
    /// </summary>
    public static OnnxNetworkOutputs BenchmarkHead(OnnxGraphBuilder graph, ModuleTree network, string head, string features)
    {
        var module = network.Get<Architectures.BenchmarkHead>(head);
        // The pooling is private to the head; its width tells the two apart (2C: MaxMean, 3C: MeanMaxLast).
        var pooled = module.PooledFeatures == 2 * module.InChannels
            ? graph.Concat(new[] { graph.GlobalMax(features), graph.GlobalMean(features) })
            // As the module (and rnn1d.py) do, the last step of all channels, both directions' for a bidirectional LSTM.
            : module.PooledFeatures == 3 * module.InChannels
                ? graph.Concat(new[] { graph.GlobalMean(features), graph.GlobalMax(features), graph.LastStep(features) })
                : throw new InvalidOperationException($"ONNX export: head '{head}' pools {module.InChannels} channels into {module.PooledFeatures} features, neither 2C nor 3C.");
        var embedding = graph.Relu(graph.Linear(pooled, network.Get<Linear>($"{head}.hidden"), $"{head}.hidden", network.Get<BatchNorm1d>($"{head}.poolNorm")));
        var logits = graph.Linear(embedding, network.Get<Linear>($"{head}.classifier"), $"{head}.classifier", network.Get<BatchNorm1d>($"{head}.hiddenNorm"));
        return new(logits, embedding);
    }
}
