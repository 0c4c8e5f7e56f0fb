using Ecg.Data;

namespace Ecg.Model;

/// <summary>
/// A trained session's model ready for inference: applies the session's standardisation and evaluation windows
/// (combined as the session says, or as asked) and returns per-class probabilities.
/// </summary>
public sealed class Predictor : IDisposable
{
    private readonly SessionModel model;

    public TrainingSession Session => model.Session;
    public Standardisation Standardisation => model.Standardisation;
    public string[] ClassNames => Session.Manifest.ClassNames;
    public WeightsChoice Weights => model.Weights;
    public WindowAggregation Aggregation => model.Aggregation;

    private Predictor(SessionModel model) => this.model = model;

    /// <summary>
    /// Loads the session's <paramref name="weights"/>; <paramref name="aggregation"/> (null: the session's own) overrides
    /// how the evaluation windows combine, to compare ways on one model.
    /// </summary>
    public static Predictor Load(TrainingSession session, WeightsChoice weights, string? device = null, WindowAggregation? aggregation = null) =>
        new(SessionModel.Load(session, weights, device, aggregation));

    /// <summary>Loads weights given as text ("best", "7", "9-12").</summary>
    public static Predictor Load(TrainingSession session, string weights = "best", string? device = null) =>
        Load(session, WeightsChoice.Parse(weights), device);

    /// <summary>
    /// Probabilities (records * classes, row-major) for <paramref name="signals"/>, a float32 (records, samples, leads)
    /// row-major array in mV at the session's sampling rate.
    /// </summary>
    public float[] Predict(float[] signals, int records, int samples, int leads)
    {
        if (leads != Session.Manifest.LeadNames.Length)
            throw new ArgumentException($"Input has {leads} leads; the session's model takes {Session.Manifest.LeadNames.Length}.");
        if (signals.Length != (long)records * samples * leads)
            throw new ArgumentException($"Input has {signals.Length} values; {records} x {samples} x {leads} needs {(long)records * samples * leads}.");
        var m = Session.Manifest;
        // Signals alone, in the dataset shape the inference loop reads; no labels or metadata.
        var dataset = new ProcessedDataset
        {
            Signals = SignalStore.OfArray(signals, samples * leads), RecordCount = records, Samples = samples, Leads = leads, SamplingRate = m.SamplingRate,
            LeadNames = m.LeadNames, EcgIds = new int[records], ClassNames = m.ClassNames,
            Labels = new byte[records * m.ClassNames.Length], StratFolds = new int[records],
            PatientIds = new double[records], Age = new double[records], Sex = new double[records], Height = new double[records],
            Weight = new double[records], Site = new double[records], Device = new string[records],
        };
        return PredictRecords(dataset, Enumerable.Range(0, records).ToArray());
    }

    /// <summary>Probabilities for records of a dataset (indices into it).</summary>
    public float[] PredictRecords(ProcessedDataset dataset, int[] indices, CancellationToken cancel = default, Action<int, int>? batchDone = null)
    {
        var config = model.Config;
        var batches = new BatchBuilder(dataset, Standardisation, model.Device);
        var logits = InferenceLoop.Run(model.Network, batches, indices, config.BatchSize, ClassNames.Length,
            input => WindowedInference.Logits(model.Network, input, config.EvalWindow, config.EvalStride, model.Aggregation),
            model.ReloadWeights, batchDone, cancel);
        return ModelRunner.Sigmoid(logits);
    }

    public void Dispose() => model.Dispose();
}
