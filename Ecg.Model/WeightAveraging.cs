using System.Globalization;
using System.Text.RegularExpressions;
using Ecg.Data;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Ecg.Model;

/// <summary>
/// Checkpoint averaging in the manner of stochastic weight averaging (Izmailov et al. 2018): the mean of the
/// weights a session saved at epochs From..To, with BatchNorm's running statistics then recomputed on the
/// training records (the averaged weights need their own statistics; averaging the saved ones is wrong).
/// The result is an ordinary weights file, weights/average_FFF-TTT.bin, that every stage reads as
/// weights "F-T".
/// </summary>
public static class WeightAveraging
{

    /// <summary>Parses "F-T" (epochs F to T, inclusive); null when <paramref name="text"/> is not a range.</summary>
    /// <summary>An epoch range "F-T" (as --weights and --epochs take it), or null when the text is not one.</summary>
    public static (int From, int To)? ParseRange(string text)
    {
        try { return WeightsChoice.Parse(text).Range; }
        catch (UserError) { return null; }
    }

    public static string FileName(int from, int to) => SessionPaths.AveragedWeightsName(from, to);

    /// <summary>The epochs a session's last <paramref name="count"/> completed epochs span.</summary>
    public static (int From, int To) LastEpochs(TrainingSession session, int count)
    {
        int last = session.LoadState().LastCompletedEpoch;
        if (last == 0) throw new ArgumentException($"Session '{session.Folder}' has no completed epoch to average.");
        if (count < 1) throw new ArgumentException($"Average the last {count} epochs: the count must be at least 1.");
        return (Math.Max(1, last - count + 1), last);
    }

    /// <summary>
    /// Averages the weights of epochs <paramref name="from"/>..<paramref name="to"/>, recomputes BatchNorm's
    /// statistics over one pass of the training records (random crops as in training, drawn from the session's
    /// seed) and writes the result atomically. Returns the file written.
    /// </summary>
    public static string Average(TrainingSession session, ProcessedDataset dataset, int from, int to,
                                 Action<int, int>? batchDone = null, CancellationToken cancel = default)
    {
        var state = session.LoadState();
        if (from < 1 || to < from)
            throw new ArgumentException($"Epoch range {from}-{to}: use F-T with 1 <= F <= T.");
        if (to > state.LastCompletedEpoch)
            throw new ArgumentException($"Epoch range {from}-{to}: session '{session.Folder}' has completed {state.LastCompletedEpoch} epochs.");
        var files = Enumerable.Range(from, to - from + 1).Select(session.EpochWeightsPath).ToArray();
        foreach (var file in files)
            if (!File.Exists(file)) throw new FileNotFoundException($"Session '{session.Folder}' has no weights for epoch range {from}-{to}: '{file}' is missing.", file);
        // Every file verified before any work, so a damaged epoch is named at once rather than after a pass.
        foreach (var file in files) Checkpoint.Verify(session, state, file);
        // The statistics come from the session's training records: the dataset must be the one it was trained on.
        SessionCompatibility.Require(session, dataset, forTraining: true);

        var config = session.Manifest.Config;
        Trainer.SetThreads(config.Threads);
        var device = Devices.Resolve(config.Device);
        using var model = ModelFactory.Create(config, dataset.Leads, dataset.ClassNames.Length);
        model.to(device);
        AverageParameters(model, files, file => Checkpoint.LoadWeights(model, session, state, file));

        var train = session.SplitScheme.TrainIndices(dataset);
        var batches = new BatchBuilder(dataset, session.LoadStandardisation(), device);
        // Epoch 0's seed: a stream no training epoch used, fixed by the session's seed, so the file is reproducible.
        long seed = Trainer.EpochSeed(config.Seed, 0);
        var random = new Random(unchecked((int)seed));
        manual_seed(seed);
        int batchSize = config.BatchSize, batchCount = (train.Length + batchSize - 1) / batchSize;
        RecalibrateBatchNorm(model, b =>
        {
            cancel.ThrowIfCancellationRequested();
            int offset = b * batchSize;
            return batches.Signals(train, offset, Math.Min(batchSize, train.Length - offset), config.CropLength, random);
        }, batchCount, batchDone);

        var path = Path.Combine(session.WeightsFolder, FileName(from, to));
        AtomicFile.Write(path, p => model.save(p));
        // The average is written outside training, so its checksum goes in a sidecar rather than the session's state.json.
        Checkpoint.WriteSidecar(path);
        return path;
    }

    /// <summary>
    /// Sets the model's parameters to the element-wise mean of those in the weights files (accumulated in float64);
    /// <paramref name="load"/> reads one file into the model (default: unverified <c>model.load</c>).
    /// </summary>
    public static void AverageParameters(nn.Module<Tensor, Tensor> model, IReadOnlyList<string> files, Action<string>? load = null)
    {
        load ??= file => model.load(file);
        using var scope = NewDisposeScope();
        var parameters = model.named_parameters().ToArray();
        var sums = parameters.Select(p => zeros_like(p.parameter, dtype: ScalarType.Float64)).ToArray();
        foreach (var file in files)
        {
            load(file);
            using (no_grad())
                for (int k = 0; k < parameters.Length; k++) sums[k].add_(parameters[k].parameter.to_type(ScalarType.Float64));
        }
        using (no_grad())
            for (int k = 0; k < parameters.Length; k++) parameters[k].parameter.copy_(sums[k].div_(files.Count));
    }

    /// <summary>
    /// Recomputes every BatchNorm layer's running mean and variance as the plain average of their per-batch values
    /// over <paramref name="batchCount"/> batches in training mode (what torch.optim.swa_utils.update_bn does with
    /// momentum None). Done by hand, with momentum 1 so each forward pass leaves exactly that batch's statistics,
    /// because TorchSharp versions differ in how they spell a cumulative average.
    /// </summary>
    public static void RecalibrateBatchNorm(nn.Module<Tensor, Tensor> model, Func<int, Tensor> batch, int batchCount, Action<int, int>? batchDone = null)
    {
        var norms = model.modules().OfType<NormBase>().Where(n => n.running_mean is not null && n.running_var is not null).ToArray();
        if (norms.Length == 0 || batchCount == 0) return;
        var momenta = norms.Select(n => n.momentum).ToArray();
        var meanSums = norms.Select(n => zeros_like(n.running_mean!, dtype: ScalarType.Float64)).ToArray();
        var varSums = norms.Select(n => zeros_like(n.running_var!, dtype: ScalarType.Float64)).ToArray();
        try
        {
            foreach (var n in norms) n.momentum = 1.0;
            model.train();
            using var noGrad = no_grad();
            for (int b = 0; b < batchCount; b++)
            {
                using var scope = NewDisposeScope();
                model.forward(batch(b));
                for (int k = 0; k < norms.Length; k++)
                {
                    meanSums[k].add_(norms[k].running_mean!.to_type(ScalarType.Float64));
                    varSums[k].add_(norms[k].running_var!.to_type(ScalarType.Float64));
                }
                batchDone?.Invoke(b + 1, batchCount);
            }
            for (int k = 0; k < norms.Length; k++)
            {
                norms[k].running_mean!.copy_(meanSums[k].div_(batchCount));
                norms[k].running_var!.copy_(varSums[k].div_(batchCount));
                norms[k].num_batches_tracked?.fill_(batchCount);
            }
        }
        finally
        {
            for (int k = 0; k < norms.Length; k++) norms[k].momentum = momenta[k];
            foreach (var t in meanSums.Concat(varSums)) t.Dispose();
            model.eval();
        }
    }

    /// <summary>
    /// The `ecg average` stage: averages epochs <paramref name="from"/>..<paramref name="to"/> (see <see cref="Average"/>),
    /// then, unless <paramref name="split"/> is null, evaluates the averaged weights like `ecg evaluate` (thresholds
    /// tuned for them on validation). Returns the weights file and the evaluation.
    /// </summary>
    public static (string WeightsPath, EvaluationOutcome? Evaluation) AverageAndEvaluate(
        TrainingSession session, ProcessedDataset dataset, int from, int to, DataSplit? split, WindowAggregation? aggregation, int bootstrap,
        Action<StageProgress>? progress = null, CancellationToken cancel = default)
    {
        var step = $"averaging epochs {from}-{to} of session {session.Number}, BatchNorm statistics on the training records";
        var path = Average(session, dataset, from, to, (b, n) => progress?.Invoke(new StageProgress(step, b, n)), cancel);
        var evaluation = split is DataSplit s
            ? EvaluationStage.Run(session, dataset, s, WeightsChoice.Averaged(from, to), aggregation, bootstrap, progress, cancel)
            : null;
        return (path, evaluation);
    }
}
