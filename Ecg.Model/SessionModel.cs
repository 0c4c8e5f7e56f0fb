using Ecg.Data;
using Ecg.Model.Architectures;
using TorchSharp;
using static TorchSharp.torch;

namespace Ecg.Model;

/// <summary>
/// A session's network with chosen weights, in eval mode on its device, with the session's standardisation and
/// evaluation windows: what <see cref="Predictor"/> and <see cref="EmbeddingExtractor"/> run through the one
/// <see cref="InferenceLoop"/>.
/// </summary>
internal sealed class SessionModel : IDisposable
{
    public TrainingSession Session { get; }
    public nn.Module<Tensor, Tensor> Network { get; }
    public Device Device { get; }
    public Standardisation Standardisation { get; }
    /// <summary>The session's config with the evaluation aggregation in force.</summary>
    public TrainingConfig Config { get; }
    public WeightsChoice Weights { get; }
    public WindowAggregation Aggregation { get; }
    public string WeightsPath { get; }

    private SessionModel(TrainingSession session, nn.Module<Tensor, Tensor> network, Device device, Standardisation standardisation,
                         TrainingConfig config, WeightsChoice weights, WindowAggregation aggregation, string weightsPath)
    {
        Session = session; Network = network; Device = device; Standardisation = standardisation;
        Config = config; Weights = weights; Aggregation = aggregation; WeightsPath = weightsPath;
    }

    /// <summary>
    /// Loads <paramref name="weights"/> of the session; <paramref name="aggregation"/> (null: the session's own)
    /// overrides how evaluation windows combine, <paramref name="device"/> (null: the session's) where it runs.
    /// </summary>
    public static SessionModel Load(TrainingSession session, WeightsChoice weights, string? device, WindowAggregation? aggregation)
    {
        var config = session.Manifest.Config;
        var resolvedAggregation = aggregation ?? session.Aggregation;
        config = config with { EvalAggregation = resolvedAggregation.Name() };
        var path = session.WeightsPath(weights);
        if (!File.Exists(path))
            throw new FileNotFoundException($"Session '{session.Folder}' has no weights file '{path}'" +
                (weights.Range is var (from, to) ? $": average those epochs first (ecg average --session {session.Number} --epochs {from}-{to})." : "."), path);
        var resolved = Devices.Resolve(device ?? config.Device);
        var network = ModelFactory.Create(config, session.Manifest.LeadNames.Length, session.Manifest.ClassNames.Length);
        try
        {
            network.to(resolved);
            Checkpoint.LoadWeights(network, session, path);
            network.eval();
            return new SessionModel(session, network, resolved, session.LoadStandardisation(), config, weights, resolvedAggregation, path);
        }
        catch
        {
            network.Dispose();
            throw;
        }
    }

    /// <summary>Reads the weights again from disk (the fault policy's second step).</summary>
    public void ReloadWeights() => Checkpoint.LoadWeights(Network, Session, WeightsPath);

    public void Dispose() => Network.Dispose();
}
