using System.Globalization;
using System.Text;
using Ecg.Data;
using Ecg.Model.Export;

namespace Ecg.Model;

/// <summary>Probabilities and predicted classes of WFDB records, with the thresholds used and where they came from.</summary>
public sealed record PredictionResult(string[] Records, string[] ClassNames, float[] Probabilities, double[] Thresholds, string ThresholdSource,
                                      WeightsChoice Weights)
{
    public float Probability(int record, int c) => Probabilities[record * ClassNames.Length + c];

    /// <summary>The classes predicted for a record (probability &gt;= its class's threshold), space-separated.</summary>
    public string Predicted(int record) =>
        string.Join(" ", ClassNames.Where((_, c) => Probability(record, c) >= Thresholds[c]));

    /// <summary>record,p_&lt;class&gt;...,predicted: one row per record, probabilities in round-trip precision.</summary>
    public string ToCsv()
    {
        var csv = new StringBuilder("record," + string.Join(",", ClassNames.Select(c => "p_" + c)) + ",predicted\n");
        for (int r = 0; r < Records.Length; r++)
        {
            csv.Append(Records[r]);
            for (int c = 0; c < ClassNames.Length; c++) csv.Append(',').Append(Probability(r, c).ToString("R", CultureInfo.InvariantCulture));
            csv.Append(',').Append(Predicted(r)).Append('\n');
        }
        return csv.ToString();
    }
}

/// <summary>The Predict stage: a session's model on WFDB records that fit it (rate, length, its leads picked by name).</summary>
public static class Prediction
{
    /// <summary>
    /// Predicts the records named by <paramref name="path"/> (a record with or without .hea/.dat, or a folder searched
    /// recursively). Thresholds: <paramref name="threshold"/> for every class when given; else those saved for these
    /// weights and the session's aggregation (thresholds.json, or the ones `ecg evaluate --weights` tuned); else 0.5,
    /// and the source says why. <paramref name="output"/> (optional) receives the CSV.
    /// </summary>
    public static PredictionResult Run(TrainingSession session, string path, WeightsChoice weights, double? threshold, string? output = null,
                                       Action<StageProgress>? progress = null, InferenceEngine engine = InferenceEngine.Torch)
    {
        session.RequireClassifier("predict");
        var records = FindRecords(path);
        var (signals, samples, leads) = ReadRecords(session, records, progress);
        float[] probabilities;
        if (engine is InferenceEngine.Onnx or InferenceEngine.OnnxInt8)
        {
            using var onnx = ModelExport.LoadOnnx(session, weights, null, engine == InferenceEngine.OnnxInt8);
            probabilities = onnx.Predict(signals, records.Length, samples, leads);
        }
        else
        {
            using var predictor = Predictor.Load(session, weights);
            probabilities = predictor.Predict(signals, records.Length, samples, leads);
        }
        var classes = session.Manifest.ClassNames.Length;
        double[] thresholds;
        string source;
        if (threshold is double t)
        {
            thresholds = Enumerable.Repeat(t, classes).ToArray();
            source = "given threshold";
        }
        else if (DecisionThresholds.Find(session, weights, session.Aggregation) is { } saved)
        {
            thresholds = saved.Values;
            source = "session thresholds " + saved.Provenance.Describe();
        }
        else
        {
            thresholds = Enumerable.Repeat(DecisionThresholds.Default, classes).ToArray();
            source = weights.IsBest
                ? "threshold 0.5 (the session has no thresholds.json)"
                : $"threshold 0.5 (no thresholds were tuned for {weights} weights: `ecg evaluate --session {session.Number} --weights {weights}` tunes them)";
        }
        var result = new PredictionResult(records, session.Manifest.ClassNames, probabilities, thresholds, source, weights);
        if (output is not null) AtomicFile.WriteAllText(Path.GetFullPath(output), result.ToCsv());
        return result;
    }

    /// <summary>The record paths (without extension) named by a record path, a .hea or .dat file, or a folder.</summary>
    public static string[] FindRecords(string path)
    {
        var full = Path.GetFullPath(path);
        if (Directory.Exists(full))
        {
            var found = Directory.GetFiles(full, "*.hea", SearchOption.AllDirectories).Order(StringComparer.Ordinal).Select(h => h[..^4]).ToArray();
            return found.Length > 0 ? found : throw new UserError($"No WFDB header (.hea) under {full}.");
        }
        var record = full.EndsWith(".hea", StringComparison.OrdinalIgnoreCase) || full.EndsWith(".dat", StringComparison.OrdinalIgnoreCase) ? full[..^4] : full;
        return File.Exists(record + ".hea") ? new[] { record } : throw new UserError($"No WFDB record at {path} (looked for {record}.hea).");
    }

    /// <summary>
    /// The records' signals (records, samples, session leads) in mV: each record checked against the session
    /// (<see cref="SessionCompatibility.RequireRecord"/>) and its leads picked in the session's order.
    /// </summary>
    public static (float[] Signals, int Samples, int Leads) ReadRecords(TrainingSession session, IReadOnlyList<string> records, Action<StageProgress>? progress = null)
    {
        int samples = session.Manifest.Samples, leads = session.Manifest.LeadNames.Length;
        var signals = new float[(long)records.Count * samples * leads];
        var reader = new WfdbRecordReader();
        for (int r = 0; r < records.Count; r++)
        {
            var header = reader.ReadHeader(records[r]);
            var positions = SessionCompatibility.RequireRecord(session, header, records[r]);
            var all = new float[samples * header.SignalCount];
            var read = reader.ReadSignal(header, records[r], all);
            if (read != samples)
                throw new UserError($"{records[r]}: {read} samples read; session {session.Number} was trained on {samples}.");
            var destination = signals.AsSpan(r * samples * leads, samples * leads);
            for (int s = 0; s < samples; s++)
                for (int l = 0; l < leads; l++)
                    destination[s * leads + l] = all[s * header.SignalCount + positions[l]];
            progress?.Invoke(new StageProgress("reading records", r + 1, records.Count));
        }
        return (signals, samples, leads);
    }
}
