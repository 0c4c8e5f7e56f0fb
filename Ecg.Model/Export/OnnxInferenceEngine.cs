using Ecg.Data;
using Microsoft.ML.OnnxRuntime;

namespace Ecg.Model.Export;

/// <summary>
/// Runs an exported model (<see cref="OnnxExport"/>) in ONNX Runtime with the contract of the torch path
/// (<see cref="Predictor"/>, <see cref="EmbeddingExtractor"/>): records in mV, (samples, leads) row-major;
/// standardisation inside the graph; windows of the exported length and stride over longer records, combined
/// by the max of logits or the mean of probabilities; probabilities = sigmoid(logits); embeddings = the mean
/// of the window embeddings. Everything it needs comes from the file's metadata.
/// </summary>
public sealed class OnnxInferenceEngine : IDisposable
{
    private readonly InferenceSession session;
    private readonly RunOptions runOptions = new();

    public string ModelPath { get; }
    public OnnxModelMetadata Metadata { get; }
    public string[] ClassNames => Metadata.ClassNames;
    public int Dimension => Metadata.EmbeddingSize;

    private OnnxInferenceEngine(string path, InferenceSession session, OnnxModelMetadata metadata)
    {
        ModelPath = path;
        this.session = session;
        Metadata = metadata;
    }

    /// <summary>
    /// Session options for CPU inference on a small machine: <paramref name="threads"/> intra-op threads (the
    /// convolutions), one inter-op thread and sequential execution (the graphs are chains, nothing runs beside),
    /// every graph optimisation (conv + activation fusion, constant folding).
    /// </summary>
    public static SessionOptions Options(int threads = 2)
    {
        if (threads < 1) throw new ArgumentOutOfRangeException(nameof(threads), threads, "ONNX Runtime needs at least one thread.");
        return new SessionOptions
        {
            IntraOpNumThreads = threads,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        };
    }

    /// <summary>Opens an exported .onnx file; <paramref name="threads"/> as in <see cref="Options"/>.</summary>
    public static OnnxInferenceEngine Load(string onnxPath, int threads = 2)
    {
        var full = Path.GetFullPath(onnxPath);
        if (!File.Exists(full)) throw new FileNotFoundException($"No ONNX model at '{full}'.", full);
        using var options = Options(threads);
        InferenceSession session;
        try
        {
            session = new InferenceSession(full, options);
        }
        catch (OnnxRuntimeException e)
        {
            throw new InvalidDataException($"'{full}' cannot be loaded by ONNX Runtime: {e.Message}", e);
        }
        try
        {
            var metadata = OnnxModelMetadata.FromProperties(session.ModelMetadata.CustomMetadataMap, full);
            foreach (var name in new[] { OnnxExport.LogitsName, OnnxExport.EmbeddingName })
                if (!session.OutputMetadata.ContainsKey(name))
                    throw new InvalidDataException($"'{full}' has no output '{name}' (outputs: {string.Join(", ", session.OutputMetadata.Keys)}).");
            if (!session.InputMetadata.TryGetValue(OnnxExport.InputName, out var input))
                throw new InvalidDataException($"'{full}' has no input '{OnnxExport.InputName}' (inputs: {string.Join(", ", session.InputMetadata.Keys)}).");
            var dims = input.Dimensions;
            if (dims.Length != 3 || dims[1] != metadata.LeadNames.Length || dims[2] != metadata.WindowSamples)
                throw new InvalidDataException($"'{full}': input '{OnnxExport.InputName}' has shape ({string.Join(", ", dims)}), the metadata says " +
                                               $"(batch, {metadata.LeadNames.Length}, {metadata.WindowSamples}).");
            return new OnnxInferenceEngine(full, session, metadata);
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Probabilities (records * classes, row-major) for <paramref name="signals"/>, a float32 (records, samples, leads)
    /// row-major array in mV at the model's sampling rate.
    /// </summary>
    public float[] Predict(float[] signals, int records, int samples, int leads) =>
        PredictRecords(DatasetOf(signals, records, samples, leads), Enumerable.Range(0, records).ToArray());

    /// <summary>Probabilities for records of a dataset (indices into it), <paramref name="batchSize"/> records per run (default: the session's).</summary>
    public float[] PredictRecords(ProcessedDataset dataset, int[] indices, int? batchSize = null, Action<int, int>? batchDone = null,
                                  CancellationToken cancel = default) =>
        Run(dataset, indices, batchSize, batchDone, cancel, embeddings: false);

    /// <summary>Embeddings (indices.Length * <see cref="Dimension"/>, row-major), the mean over the windows.</summary>
    public float[] EmbedRecords(ProcessedDataset dataset, int[] indices, int? batchSize = null, Action<int, int>? batchDone = null,
                                CancellationToken cancel = default) =>
        Run(dataset, indices, batchSize, batchDone, cancel, embeddings: true);

    /// <summary>
    /// One run of the graph on <paramref name="windows"/>: (count, leads, window) row-major in mV. Returns the logits
    /// (count * classes) and the embeddings (count * embedding size). For timing and for callers that cut windows themselves.
    /// </summary>
    public (float[] Logits, float[] Embeddings) RunWindows(float[] windows, int count) => RunWindows(windows.AsMemory(), count);

    /// <summary><see cref="RunWindows(float[], int)"/> on a slice of a larger buffer.</summary>
    public (float[] Logits, float[] Embeddings) RunWindows(Memory<float> windows, int count)
    {
        int leads = Metadata.LeadNames.Length, window = Metadata.WindowSamples;
        if (windows.Length != (long)count * leads * window)
            throw new ArgumentException($"{count} windows of {leads} x {window} need {(long)count * leads * window} values, got {windows.Length}.");
        using var input = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, windows, new long[] { count, leads, window });
        using var outputs = session.Run(runOptions, new[] { OnnxExport.InputName }, new[] { input }, new[] { OnnxExport.LogitsName, OnnxExport.EmbeddingName });
        return (outputs[0].GetTensorDataAsSpan<float>().ToArray(), outputs[1].GetTensorDataAsSpan<float>().ToArray());
    }

    private float[] Run(ProcessedDataset dataset, int[] indices, int? batchSize, Action<int, int>? batchDone, CancellationToken cancel, bool embeddings)
    {
        var m = Metadata;
        if (dataset.Leads != m.LeadNames.Length)
            throw new ArgumentException($"Dataset has {dataset.Leads} leads; the ONNX model '{ModelPath}' takes {m.LeadNames.Length}.");
        if (dataset.SamplingRate != m.SamplingRate)
            throw new ArgumentException($"Dataset is sampled at {dataset.SamplingRate} Hz; the ONNX model '{ModelPath}' at {m.SamplingRate} Hz.");
        int samples = dataset.Samples, leads = dataset.Leads, window = m.WindowSamples;
        var starts = WindowStarts(samples);
        int batch = batchSize ?? m.BatchSize;
        if (batch < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batch, "batch size must be positive");
        int width = embeddings ? m.EmbeddingSize : m.ClassNames.Length;
        int classes = m.ClassNames.Length, windowCount = starts.Length;
        var result = new float[indices.Length * width];
        var staging = Array.Empty<float>();
        int batchCount = (indices.Length + batch - 1) / batch;
        for (int b = 0; b < batchCount; b++)
        {
            cancel.ThrowIfCancellationRequested();
            int offset = b * batch, count = Math.Min(batch, indices.Length - offset);
            int inputs = windowCount * count, windowValues = leads * window;
            if (staging.Length != inputs * windowValues) staging = new float[inputs * windowValues];
            CutWindows(dataset, indices, offset, count, starts, window, staging);
            // The graph runs on at most `batch` windows at a time: the records' 7 windows in one run would hold 7x the
            // activations (ONNX Runtime's arena keeps its peak), for no gain in speed.
            var logits = new float[inputs * classes];
            var embedded = new float[inputs * m.EmbeddingSize];
            for (int first = 0; first < inputs; first += batch)
            {
                int run = Math.Min(batch, inputs - first);
                var (l, e) = RunWindows(staging.AsMemory(first * windowValues, run * windowValues), run);
                l.CopyTo(logits, first * classes);
                e.CopyTo(embedded, first * m.EmbeddingSize);
            }
            var span = result.AsSpan(offset * width, count * width);
            if (embeddings) MeanOverWindows(embedded, windowCount, count, width, span);
            else Probabilities(logits, windowCount, count, classes, m.Aggregation, span);
            batchDone?.Invoke(b + 1, batchCount);
        }
        return result;
    }

    /// <summary>Where the graph's windows start in a record of <paramref name="samples"/> samples (one window when it is the graph's length).</summary>
    internal long[] WindowStarts(int samples)
    {
        var m = Metadata;
        int window = m.WindowSamples;
        if (samples == window) return new[] { 0L };
        if (samples > window && m.Aggregation != "whole" && m.WindowStride is int stride)
            return WindowedInference.WindowStarts(samples, window, stride);
        throw new ArgumentException($"Records have {samples} samples; the ONNX model '{ModelPath}' takes exactly {window}" +
                                    (m.Aggregation == "whole" ? " (it was exported for whole records)." : " or longer records cut into its windows."));
    }

    /// <summary>
    /// The graph's input for records indices[offset..offset+count): window-major, as WindowedInference stacks them (input
    /// w * count + k is window w of record k), each transposed from (samples, leads) to (leads, window), in mV.
    /// </summary>
    internal static void CutWindows(ProcessedDataset dataset, int[] indices, int offset, int count, long[] starts, int window, Span<float> staging)
    {
        int leads = dataset.Leads, windowValues = leads * window;
        for (int k = 0; k < count; k++)
        {
            var signal = dataset.Signal(indices[offset + k]).Span;
            for (int w = 0; w < starts.Length; w++)
            {
                var target = staging.Slice((w * count + k) * windowValues, windowValues);
                int start = (int)starts[w];
                for (int t = 0; t < window; t++)
                    for (int l = 0; l < leads; l++)
                        target[l * window + t] = signal[(start + t) * leads + l];
            }
        }
    }

    private static void MeanOverWindows(float[] values, int windows, int count, int width, Span<float> result)
    {
        for (int k = 0; k < count; k++)
            for (int j = 0; j < width; j++)
            {
                float sum = 0;
                for (int w = 0; w < windows; w++) sum += values[(w * count + k) * width + j];
                result[k * width + j] = sum / windows;
            }
    }

    /// <summary>sigmoid(max of logits) for "max", else the mean of the windows' probabilities (clamped as the torch path clamps).</summary>
    private static void Probabilities(float[] logits, int windows, int count, int classes, string aggregation, Span<float> result)
    {
        for (int k = 0; k < count; k++)
            for (int c = 0; c < classes; c++)
            {
                if (aggregation == "mean" && windows > 1)
                {
                    double sum = 0;
                    for (int w = 0; w < windows; w++) sum += Sigmoid(logits[(w * count + k) * classes + c]);
                    result[k * classes + c] = (float)Math.Clamp(sum / windows, 1e-7, 1 - 1e-7);
                }
                else
                {
                    float max = float.NegativeInfinity;
                    for (int w = 0; w < windows; w++) max = Math.Max(max, logits[(w * count + k) * classes + c]);
                    result[k * classes + c] = (float)Sigmoid(max);
                }
            }
    }

    private static double Sigmoid(float z) => 1.0 / (1.0 + Math.Exp(-z));

    private ProcessedDataset DatasetOf(float[] signals, int records, int samples, int leads)
    {
        if (leads != Metadata.LeadNames.Length)
            throw new ArgumentException($"Input has {leads} leads; the ONNX model '{ModelPath}' takes {Metadata.LeadNames.Length}.");
        if (signals.Length != (long)records * samples * leads)
            throw new ArgumentException($"Input has {signals.Length} values; {records} x {samples} x {leads} needs {(long)records * samples * leads}.");
        return new ProcessedDataset
        {
            Signals = SignalStore.OfArray(signals, samples * leads), RecordCount = records, Samples = samples, Leads = leads, SamplingRate = Metadata.SamplingRate,
            LeadNames = Metadata.LeadNames, EcgIds = new int[records], ClassNames = Metadata.ClassNames,
            Labels = new byte[records * Metadata.ClassNames.Length], StratFolds = new int[records],
            PatientIds = new double[records], Age = new double[records], Sex = new double[records], Height = new double[records],
            Weight = new double[records], Site = new double[records], Device = new string[records],
        };
    }

    public void Dispose()
    {
        runOptions.Dispose();
        session.Dispose();
    }
}
