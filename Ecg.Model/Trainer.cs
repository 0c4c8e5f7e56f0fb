using System.Diagnostics;
using Ecg.Data;
using Ecg.Model.Metrics;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Ecg.Model;

/// <summary>
/// The Train stage: trains a session's model on the training folds, validates after every epoch, keeps
/// every epoch's weights and the best by validation macro AUC, and writes the session's logs and reports.
/// Reproducible on CPU: epoch e draws its shuffling, crops and dropout from seeds derived from (seed, e)
/// alone, so a resumed run continues exactly as an uninterrupted one. Test folds are touched only by the
/// final report.
/// </summary>
public static class Trainer
{
    /// <summary>Creates a new session under <paramref name="artifactsRoot"/> and trains it.</summary>
    public static TrainingResult Start(string artifactsRoot, TrainingConfig config, ProcessedDataset dataset, SplitScheme split,
                                       string? dataFile = null, string? notes = null, TrainingOptions? options = null)
    {
        config.Validate();
        var session = TrainingSession.Create(artifactsRoot, TrainingSession.Describe(config, dataset, split, dataFile), notes);
        return Run(session, dataset, options);
    }

    /// <summary>Times a run goes back to its last completed epoch after a non-finite result that recomputing did not cure.</summary>
    public const int EpochRestarts = 3;

    /// <summary>
    /// Trains a session from its last completed epoch (epoch 0 for a new one) to the end. When a batch stays
    /// non-finite after its recomputes (a fault that corrupted the model in memory, see <see cref="TransientFaults"/>),
    /// the run resumes from the last checkpoint on disk, as a killed run would, at most <see cref="EpochRestarts"/>
    /// times; epochs draw their randomness from (seed, epoch), so the result is the same as without the fault.
    /// </summary>
    public static TrainingResult Run(TrainingSession session, ProcessedDataset dataset, TrainingOptions? options = null)
    {
        for (int restart = 0; ; restart++)
        {
            try
            {
                // From the second restart on, the optimizer's saved moments are suspect too (a fault inside a step
                // can corrupt them while the weights stay usable): start them afresh from the checkpoint's weights.
                return RunFromCheckpoint(session, dataset, options, freshOptimizer: restart >= 2);
            }
            catch (NonFiniteException e) when (restart < EpochRestarts)
            {
                TransientFaults.Log?.Invoke($"{e.Message} Resuming from the last completed epoch (restart {restart + 1} of {EpochRestarts}" +
                                            (restart + 1 >= 2 ? ", with fresh optimizer moments)." : ")."));
            }
        }
    }

    private static TrainingResult RunFromCheckpoint(TrainingSession session, ProcessedDataset dataset, TrainingOptions? options, bool freshOptimizer)
    {
        options ??= new TrainingOptions();
        var manifest = session.Manifest;
        var config = manifest.Config.Validate();
        CheckDatasetMatches(session, dataset);
        SetThreads(config.Threads);
        var device = Devices.Resolve(config.Device);

        var split = session.SplitScheme;
        int[] train = split.TrainIndices(dataset), validation = split.ValidationIndices(dataset);
        if (train.Length == 0) throw new ArgumentException($"Split '{split.Name}' leaves no training records in this dataset.");
        int classes = dataset.ClassNames.Length;

        var state = session.LoadState();
        Standardisation standardisation;
        if (state.LastCompletedEpoch == 0)
        {
            standardisation = Standardisation.Fit(config.Standardisation, dataset, train);
            session.SaveStandardisation(standardisation);
        }
        else standardisation = session.LoadStandardisation();

        manual_seed(config.Seed);
        using var model = ModelFactory.Create(config, dataset.Leads, classes);
        model.to(device);
        using var optimizer = CreateOptimizer(config, model);
        if (state.LastCompletedEpoch > 0)
        {
            model.load(session.EpochWeightsPath(state.LastCompletedEpoch));
            if (state.OptimizerStateFile is null) throw new InvalidDataException($"'{session.StatePath}' names no optimizer state to resume from.");
            if (!freshOptimizer) LoadOptimizerState(optimizer, Path.Combine(session.StateFolder, state.OptimizerStateFile));
        }

        var trainLabels = ModelRunner.LabelsOf(dataset, train);
        float[]? positiveWeight = config.ClassWeights ? PositiveWeights(trainLabels, classes) : null;
        using var positiveWeightTensor = positiveWeight is null ? null : tensor(positiveWeight).to(device);
        var validationLabels = ModelRunner.LabelsOf(dataset, validation);

        var batches = new BatchBuilder(dataset, standardisation, device);
        int batchSize = config.BatchSize, batchCount = (train.Length + batchSize - 1) / batchSize;
        var schedule = config.OneCycleMaxLearningRate is double max ? new OneCycleSchedule(max, (long)batchCount * config.Epochs) : null;

        var history = new List<EpochMetrics>(state.History);
        double firstRss = double.NaN, lastRss = double.NaN;
        bool stoppedEarly = state.StoppedEarly;
        for (int epoch = state.LastCompletedEpoch + 1; epoch <= config.Epochs && !stoppedEarly; epoch++)
        {
            var clock = Stopwatch.StartNew();
            // Everything random in the epoch comes from (seed, epoch): resuming needs no saved RNG state.
            long epochSeed = EpochSeed(config.Seed, epoch);
            manual_seed(epochSeed);
            var random = new Random(unchecked((int)epochSeed));
            var order = (int[])train.Clone();
            random.Shuffle(order);

            model.train();
            double lossSum = 0, lr = config.LearningRate;
            long step = state.GlobalStep;
            for (int b = 0; b < batchCount; b++)
            {
                options.Cancellation.ThrowIfCancellationRequested();
                using var scope = NewDisposeScope();
                int offset = b * batchSize, count = Math.Min(batchSize, order.Length - offset);
                if (schedule is not null)
                {
                    (lr, double beta1) = schedule.At(step);
                    SetLearningRate(optimizer, lr, beta1);
                }
                var input = batches.Signals(order, offset, count, config.CropLength, random);
                var target = batches.Labels(order, offset, count);
                // Loss and gradients are checked before the step, so a transient native fault (see TransientFaults)
                // is recomputed instead of reaching the weights. A recompute first puts back BatchNorm's running
                // statistics (a faulty forward pass in training mode updates them) and the generator state (same
                // dropout masks), so the run stays identical to one without the fault.
                var buffers = model.buffers().Where(t => t.is_floating_point()).ToArray();
                var saved = buffers.Select(t => t.detach().clone()).ToArray();
                var generator = get_rng_state();
                bool firstAttempt = true, finite = false;
                float batchLoss = float.NaN;
                var loss = TransientFaults.Run(() =>
                {
                    if (!firstAttempt)
                    {
                        set_rng_state(generator);
                        using (no_grad())
                            for (int k = 0; k < buffers.Length; k++) buffers[k].copy_(saved[k]);
                    }
                    firstAttempt = false;
                    optimizer.zero_grad();
                    var l = nn.functional.binary_cross_entropy_with_logits(model.forward(input), target, pos_weights: positiveWeightTensor);
                    l.backward();
                    return l;
                }, l =>
                {
                    batchLoss = l.item<float>();
                    finite = float.IsFinite(batchLoss) && GradientsFinite(model);
                    return finite;
                }, $"epoch {epoch}, batch {b + 1}");
                if (!finite)
                    throw new NonFiniteException(
                        $"Session '{session.Folder}': the loss ({batchLoss}) or its gradients stayed non-finite at epoch {epoch}, batch {b + 1} " +
                        $"(lr {lr:G3}) after {TransientFaults.Retries} recomputes; lower the learning rate.");
                optimizer.step();
                step++;
                lossSum += batchLoss * count;
                double rate = (offset + count) / Math.Max(clock.Elapsed.TotalSeconds, 1e-9);
                double remaining = (order.Length - offset - count + (double)(config.Epochs - epoch) * order.Length) / rate;
                options.Progress?.Invoke(new TrainingProgress("train", epoch, config.Epochs, b + 1, batchCount, rate, TimeSpan.FromSeconds(remaining)));
            }
            double trainSeconds = clock.Elapsed.TotalSeconds;

            var metrics = new EpochMetrics
            {
                Epoch = epoch,
                TrainLoss = lossSum / order.Length,
                LearningRate = lr,
                TrainSamplesPerSecond = order.Length / trainSeconds,
            };
            if (validation.Length > 0)
            {
                var logits = ModelRunner.Logits(model, batches, validation, classes, config,
                    (b, n) => options.Progress?.Invoke(new TrainingProgress("validate", epoch, config.Epochs, b, n, 0, TimeSpan.Zero)),
                    options.Cancellation);
                metrics = WithValidation(metrics, logits, validationLabels, positiveWeight, classes);
            }

            // Validation macro AUC picks the best epoch; without a validation set, the lowest training loss.
            double score = validation.Length > 0 ? metrics.ValidationMacroAuc : -metrics.TrainLoss;
            bool improved = !double.IsNaN(score) && score > state.BestScore;
            GC.Collect();
            metrics = metrics with { Seconds = clock.Elapsed.TotalSeconds, ResidentMegabytes = ResidentMegabytes() };
            history.Add(metrics);
            if (double.IsNaN(firstRss)) firstRss = metrics.ResidentMegabytes;
            lastRss = metrics.ResidentMegabytes;

            // Checkpoint: weights and optimizer first, state.json last (the commit point a resume trusts).
            AtomicFile.Write(session.EpochWeightsPath(epoch), path => model.save(path));
            if (improved) AtomicFile.Write(session.BestWeightsPath, path => File.Copy(session.EpochWeightsPath(epoch), path));
            var optimizerFile = $"optimizer_epoch_{epoch:D3}.bin";
            AtomicFile.Write(Path.Combine(session.StateFolder, optimizerFile), path => SaveOptimizerState(optimizer, path));
            int withoutImprovement = improved ? 0 : state.EpochsWithoutImprovement + 1;
            stoppedEarly = config.EarlyStoppingPatience is int patience && withoutImprovement >= patience && epoch < config.Epochs;
            var previousOptimizerFile = state.OptimizerStateFile;
            state = state with
            {
                LastCompletedEpoch = epoch,
                GlobalStep = step,
                BestEpoch = improved ? epoch : state.BestEpoch,
                BestScore = improved ? score : state.BestScore,
                EpochsWithoutImprovement = withoutImprovement,
                StoppedEarly = stoppedEarly,
                Finished = epoch == config.Epochs || stoppedEarly,
                OptimizerStateFile = optimizerFile,
                History = history,
            };
            session.SaveState(state);
            if (previousOptimizerFile is not null && previousOptimizerFile != optimizerFile)
                File.Delete(Path.Combine(session.StateFolder, previousOptimizerFile));
            session.WriteHistory(history);
            if (options.WriteReports) SessionCharts.WriteCurves(session, history);
            options.EpochCompleted?.Invoke(metrics);

            if (options.StopAfterEpoch is int stop && epoch >= stop && !state.Finished)
                return new TrainingResult(session, history, state.BestEpoch, false, false, firstRss, lastRss);
        }

        if (options.WriteReports && state.Finished) SessionReport.Write(session, dataset, options.Cancellation);
        return new TrainingResult(session, history, state.BestEpoch, state.Finished, state.StoppedEarly, firstRss, lastRss);
    }

    /// <summary>A fault can leave the loss finite and the gradients not: the step must not take those.</summary>
    private static bool GradientsFinite(nn.Module<Tensor, Tensor> model)
    {
        using var scope = NewDisposeScope();
        foreach (var p in model.parameters())
            if (p.grad is { } g && !g.isfinite().all().item<bool>()) return false;
        return true;
    }

    /// <summary>
    /// Sets torch's intra-op threads (default: all cores) only when it differs from the current count:
    /// changing it after parallel work has started is what libtorch warns against.
    /// </summary>
    internal static void SetThreads(int? threads)
    {
        int wanted = threads ?? Environment.ProcessorCount;
        if (get_num_threads() != wanted) set_num_threads(wanted);
    }

    /// <summary>Seed of one epoch's random streams: the epoch-th SplitMix64 output from the seed, so nearby seeds do not correlate.</summary>
    internal static long EpochSeed(long seed, int epoch) =>
        (long)(SplitMix64.Output(unchecked((ulong)seed), unchecked((ulong)epoch)) & 0x7FFF_FFFFUL);

    /// <summary>BCE pos_weight per class: negatives / positives in the training labels (1 where a class has no positives).</summary>
    public static float[] PositiveWeights(byte[] labels, int classes)
    {
        var positives = new long[classes];
        int rows = labels.Length / classes;
        for (int i = 0; i < labels.Length; i++) positives[i % classes] += labels[i];
        return positives.Select(p => p == 0 ? 1f : (float)((rows - p) / (double)p)).ToArray();
    }

    internal static EpochMetrics WithValidation(EpochMetrics metrics, float[] logits, byte[] labels, float[]? positiveWeight, int classes)
    {
        var probabilities = ModelRunner.Sigmoid(logits);
        var predictions = Thresholds.Apply(probabilities, classes, 0.5);
        var perClass = RocAuc.PerClass(probabilities, labels, classes);
        return metrics with
        {
            ValidationLoss = ModelRunner.BceWithLogits(logits, labels, positiveWeight, classes),
            ValidationBinaryAccuracy = BinaryAccuracy.FromPredictions(labels, predictions, classes),
            ValidationPrecision = PrecisionRecallF1.MicroPrecision(labels, predictions, classes),
            ValidationRecall = PrecisionRecallF1.MicroRecall(labels, predictions, classes),
            ValidationAucPerClass = perClass,
            ValidationMacroAuc = RocAuc.Macro(probabilities, labels, classes),
        };
    }

    internal static optim.Optimizer CreateOptimizer(TrainingConfig config, nn.Module model)
    {
        double lr = config.OneCycleMaxLearningRate is double max ? max / 25 : config.LearningRate;
        return config.Optimizer == "adamw"
            ? optim.AdamW(model.parameters(), lr, config.Beta1, config.Beta2, config.Epsilon, config.WeightDecay)
            : optim.Adam(model.parameters(), lr, config.Beta1, config.Beta2, config.Epsilon, config.WeightDecay);
    }

    private static void SetLearningRate(optim.Optimizer optimizer, double lr, double beta1)
    {
        foreach (var group in optimizer.ParamGroups)
        {
            group.LearningRate = lr;
            switch ((group as ParamGroup)?.Options)
            {
                case Adam.Options adam: adam.beta1 = beta1; break;
                case AdamW.Options adamW: adamW.beta1 = beta1; break;
            }
        }
    }

    private static void SaveOptimizerState(optim.Optimizer optimizer, string path)
    {
        switch (optimizer)
        {
            case Adam adam: adam.save_state_dict(path); break;
            case AdamW adamW: adamW.save_state_dict(path); break;
            default: throw new NotSupportedException($"Saving {optimizer.GetType().Name} state is not supported.");
        }
    }

    private static void LoadOptimizerState(optim.Optimizer optimizer, string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"Optimizer state '{path}' is missing: the session cannot resume.", path);
        switch (optimizer)
        {
            case Adam adam: adam.load_state_dict(path); break;
            case AdamW adamW: adamW.load_state_dict(path); break;
            default: throw new NotSupportedException($"Loading {optimizer.GetType().Name} state is not supported.");
        }
    }

    internal static void CheckDatasetMatches(TrainingSession session, ProcessedDataset dataset)
    {
        var m = session.Manifest;
        void need(bool ok, string what) { if (!ok) throw new ArgumentException($"Dataset does not match session '{session.Folder}': {what}."); }
        need(dataset.ClassNames.SequenceEqual(m.ClassNames), $"classes [{string.Join(",", dataset.ClassNames)}] vs [{string.Join(",", m.ClassNames)}]");
        need(dataset.Samples == m.Samples, $"{dataset.Samples} samples per record vs {m.Samples}");
        need(dataset.Leads == m.LeadNames.Length, $"{dataset.Leads} leads vs {m.LeadNames.Length}");
        need(session.SplitScheme.TrainIndices(dataset).Length == m.TrainRecords, "training record count differs");
    }

    /// <summary>Resident set size of this process, MiB (Linux /proc; the working set elsewhere).</summary>
    public static double ResidentMegabytes()
    {
        using var process = Process.GetCurrentProcess();
        process.Refresh();
        return process.WorkingSet64 / (1024.0 * 1024.0);
    }
}
