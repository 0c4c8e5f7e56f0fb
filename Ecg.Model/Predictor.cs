using Ecg.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace Ecg.Model;

/// <summary>
/// A trained session's model ready for inference: applies the session's standardisation and evaluation
/// windowing (max over windows) and returns per-class probabilities.
/// </summary>
public sealed class Predictor : IDisposable
{
    private readonly nn.Module<Tensor, Tensor> model;
    private readonly Device device;
    private readonly string weightsPath;
    private readonly TrainingConfig config;

    public TrainingSession Session { get; }
    public Standardisation Standardisation { get; }
    public string[] ClassNames => Session.Manifest.ClassNames;

    private Predictor(TrainingSession session, nn.Module<Tensor, Tensor> model, Standardisation standardisation, Device device, string weightsPath,
                      TrainingConfig config)
    {
        this.weightsPath = weightsPath;
        this.config = config;
        Session = session;
        this.model = model;
        Standardisation = standardisation;
        this.device = device;
    }

    /// <summary>
    /// Loads the session's weights "best" (default) or those of an epoch number. <paramref name="aggregation"/>
    /// overrides how the session combines its evaluation windows ("max", "mean" or "whole"), to compare both on one model.
    /// </summary>
    public static Predictor Load(TrainingSession session, string weights = "best", string? device = null, string? aggregation = null)
    {
        var config = session.Manifest.Config;
        if (aggregation is not null) config = (config with { EvalAggregation = aggregation }).Validate();
        var path = session.WeightsPath(weights);
        if (!File.Exists(path))
            throw new FileNotFoundException($"Session '{session.Folder}' has no weights file '{path}'" +
                (WeightAveraging.ParseRange(weights) is not null ? $": average those epochs first (ecg average --session {session.Number} --epochs {weights.Trim()})." : "."), path);
        var resolved = Devices.Resolve(device ?? config.Device);
        var model = ModelFactory.Create(config, session.Manifest.LeadNames.Length, session.Manifest.ClassNames.Length);
        try
        {
            model.to(resolved);
            Checkpoint.LoadWeights(model, session, path);
            model.eval();
            return new Predictor(session, model, session.LoadStandardisation(), resolved, path, config);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

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
        var dataset = new ProcessedDataset
        {
            Signals = SignalStore.OfArray(signals, samples * leads), RecordCount = records, Samples = samples, Leads = leads, SamplingRate = Session.Manifest.SamplingRate,
            LeadNames = Session.Manifest.LeadNames, EcgIds = new int[records], ClassNames = Session.Manifest.ClassNames,
            Labels = new byte[records * Session.Manifest.ClassNames.Length], StratFolds = new int[records],
            PatientIds = new double[records], Age = new double[records], Sex = new double[records], Height = new double[records],
            Weight = new double[records], Site = new double[records], Device = new string[records],
        };
        return PredictRecords(dataset, Enumerable.Range(0, records).ToArray());
    }

    /// <summary>Probabilities for records of a dataset (indices into it).</summary>
    public float[] PredictRecords(ProcessedDataset dataset, int[] indices, CancellationToken cancel = default)
    {
        var batches = new BatchBuilder(dataset, Standardisation, device);
        float[] logits;
        try
        {
            logits = ModelRunner.Logits(model, batches, indices, ClassNames.Length, config, cancel: cancel);
        }
        catch (NonFiniteException e)
        {
            // The weights in memory may be corrupted (see TransientFaults): read them again from disk once.
            TransientFaults.Log?.Invoke($"{e.Message} Reloading {weightsPath} and predicting again.");
            Checkpoint.LoadWeights(model, Session, weightsPath);
            logits = ModelRunner.Logits(model, batches, indices, ClassNames.Length, config, cancel: cancel);
        }
        return ModelRunner.Sigmoid(logits);
    }

    public void Dispose() => model.Dispose();
}
