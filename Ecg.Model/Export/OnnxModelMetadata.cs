using System.Globalization;
using System.Text.Json;

namespace Ecg.Model.Export;

/// <summary>
/// What an exported ONNX file says about itself (its <c>metadata_props</c>), so the file alone can score a record:
/// the classes, the leads and sampling rate of the input, the window the graph takes and how windows combine,
/// and the standardisation (already inside the graph: its input is in mV). Strings only, as ONNX stores them;
/// lists are JSON arrays.
/// </summary>
public sealed record OnnxModelMetadata
{
    /// <summary>Architecture name as <see cref="ModelFactory"/> knows it.</summary>
    public required string Model { get; init; }
    public required string[] ClassNames { get; init; }
    public required string[] LeadNames { get; init; }
    public required double SamplingRate { get; init; }
    /// <summary>Samples per lead of the graph's input (the evaluation window, or the whole record).</summary>
    public required int WindowSamples { get; init; }
    /// <summary>Step between windows over a longer record; null when the graph takes whole records.</summary>
    public int? WindowStride { get; init; }
    /// <summary>"max" (of logits), "mean" (of probabilities), or "whole" (one pass, no windows).</summary>
    public required string Aggregation { get; init; }
    /// <summary>Record length the model was trained on, in samples.</summary>
    public required int RecordSamples { get; init; }
    public required int EmbeddingSize { get; init; }
    /// <summary>Applied inside the graph, before the first layer; recorded so a reader can see what the graph does.</summary>
    public required Standardisation Standardisation { get; init; }
    /// <summary>Records per batch the session evaluated with (a default for engines).</summary>
    public int BatchSize { get; init; } = 128;
    public string? Session { get; init; }
    public string? Weights { get; init; }
    public string? WeightsSha256 { get; init; }
    public string? ToolVersion { get; init; }
    /// <summary>How the graph was quantized (<see cref="OnnxQuantization"/>); null for the float graph.</summary>
    public string? Quantization { get; init; }

    // Key names in metadata_props; docs/export.md lists them.
    public const string ModelKey = "model", ClassNamesKey = "class_names", LeadNamesKey = "lead_names",
        SamplingRateKey = "sampling_rate_hz", WindowSamplesKey = "window_samples", WindowStrideKey = "window_stride",
        AggregationKey = "window_aggregation", RecordSamplesKey = "record_samples", EmbeddingSizeKey = "embedding_size",
        StandardisationKey = "standardisation", StandardisationInGraphKey = "standardisation_in_graph",
        InputUnitsKey = "input_units", InputLayoutKey = "input_layout", BatchSizeKey = "batch_size", SessionKey = "session",
        WeightsKey = "weights", WeightsSha256Key = "weights_sha256", ToolVersionKey = "tool_version", QuantizationKey = "quantization";

    /// <summary>The key/value pairs written into the model.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> ToProperties()
    {
        var properties = new List<KeyValuePair<string, string>>
        {
            new(ModelKey, Model),
            new(ClassNamesKey, JsonSerializer.Serialize(ClassNames)),
            new(LeadNamesKey, JsonSerializer.Serialize(LeadNames)),
            new(SamplingRateKey, SamplingRate.ToString("R", CultureInfo.InvariantCulture)),
            new(WindowSamplesKey, WindowSamples.ToString(CultureInfo.InvariantCulture)),
            new(WindowStrideKey, WindowStride?.ToString(CultureInfo.InvariantCulture) ?? ""),
            new(AggregationKey, Aggregation),
            new(RecordSamplesKey, RecordSamples.ToString(CultureInfo.InvariantCulture)),
            new(EmbeddingSizeKey, EmbeddingSize.ToString(CultureInfo.InvariantCulture)),
            new(StandardisationKey, JsonSerializer.Serialize(new { kind = Standardisation.Kind, mean = Standardisation.Mean, std = Standardisation.Std })),
            new(StandardisationInGraphKey, "true"),
            new(InputUnitsKey, "mV"),
            new(InputLayoutKey, "batch, leads, samples"),
            new(BatchSizeKey, BatchSize.ToString(CultureInfo.InvariantCulture)),
        };
        void optional(string key, string? value) { if (value is not null) properties.Add(new(key, value)); }
        optional(SessionKey, Session);
        optional(WeightsKey, Weights);
        optional(WeightsSha256Key, WeightsSha256);
        optional(ToolVersionKey, ToolVersion);
        optional(QuantizationKey, Quantization);
        return properties;
    }

    /// <summary>Reads the metadata back; <paramref name="source"/> (a file name) is named in errors.</summary>
    public static OnnxModelMetadata FromProperties(IReadOnlyDictionary<string, string> properties, string source)
    {
        string required(string key) =>
            properties.TryGetValue(key, out var value) && !string.IsNullOrWhiteSpace(value)
                ? value
                : throw new InvalidDataException($"'{source}': the ONNX metadata has no '{key}' (was it written by ecg export?).");
        T parse<T>(string key, Func<string, T> parser)
        {
            var text = required(key);
            try { return parser(text); }
            catch (Exception e) when (e is FormatException or OverflowException or JsonException)
            {
                throw new InvalidDataException($"'{source}': ONNX metadata '{key}' = '{text}' cannot be read: {e.Message}", e);
            }
        }
        int integer(string key) => parse(key, t => int.Parse(t, NumberStyles.Integer, CultureInfo.InvariantCulture));
        string[] names(string key) => parse(key, t => JsonSerializer.Deserialize<string[]>(t) ?? throw new FormatException("null"));

        if (properties.TryGetValue(StandardisationInGraphKey, out var inGraph) && inGraph != "true")
            throw new InvalidDataException($"'{source}': standardisation outside the graph ('{StandardisationInGraphKey}' = '{inGraph}') is not supported.");
        var standardisation = parse(StandardisationKey, t =>
        {
            using var doc = JsonDocument.Parse(t);
            var root = doc.RootElement;
            return new Standardisation(root.GetProperty("kind").GetString() ?? "none", root.GetProperty("mean").GetDouble(), root.GetProperty("std").GetDouble());
        });
        var aggregation = required(AggregationKey);
        if (!WindowAggregations.Names.Contains(aggregation))
            throw new InvalidDataException($"'{source}': ONNX metadata '{AggregationKey}' = '{aggregation}' (known: {string.Join(", ", WindowAggregations.Names)}).");
        properties.TryGetValue(WindowStrideKey, out var stride);
        return new OnnxModelMetadata
        {
            Model = required(ModelKey),
            ClassNames = names(ClassNamesKey),
            LeadNames = names(LeadNamesKey),
            SamplingRate = parse(SamplingRateKey, t => double.Parse(t, NumberStyles.Float, CultureInfo.InvariantCulture)),
            WindowSamples = integer(WindowSamplesKey),
            WindowStride = string.IsNullOrWhiteSpace(stride) ? null : integer(WindowStrideKey),
            Aggregation = aggregation,
            RecordSamples = integer(RecordSamplesKey),
            EmbeddingSize = integer(EmbeddingSizeKey),
            Standardisation = standardisation,
            BatchSize = properties.ContainsKey(BatchSizeKey) ? integer(BatchSizeKey) : 128,
            Session = properties.GetValueOrDefault(SessionKey),
            Weights = properties.GetValueOrDefault(WeightsKey),
            WeightsSha256 = properties.GetValueOrDefault(WeightsSha256Key),
            ToolVersion = properties.GetValueOrDefault(ToolVersionKey),
            Quantization = properties.GetValueOrDefault(QuantizationKey),
        };
    }
}
