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
                                       string? dataFile = null, string? notes = null, TrainingOptions? options = null) =>
        Start(new ArtifactLayout(artifactsRoot), config, dataset, split, dataFile, notes, options);

    /// <summary>
    /// The Train stage: creates the next session of the layout for <paramref name="config"/> and trains it
    /// (<see cref="TrainingOptions.SessionReady"/> hears of the session before the first epoch).
    /// </summary>
    public static TrainingResult Start(ArtifactLayout layout, TrainingConfig config, ProcessedDataset dataset, SplitScheme split,
                                       string? dataFile = null, string? notes = null, TrainingOptions? options = null)
    {
        config.Validate();
        var manifest = TrainingSession.Describe(config, dataset, split, dataFile);
        if (config.InitFrom is not null) manifest = manifest with { InitializedFrom = PlanInitialisation(layout, config, dataset) };
        var session = TrainingSession.Create(layout, manifest, notes);
        options?.SessionReady?.Invoke(session);
        return Run(session, dataset, options);
    }

    /// <summary>
    /// What --init-from copies, worked out (and the source weights verified) before the session folder exists, so that
    /// config.json records it from the start; the run applies it again to its model (<see cref="FineTuning.Reapply"/>).
    /// </summary>
    private static InitializationRecord PlanInitialisation(ArtifactLayout layout, TrainingConfig config, ProcessedDataset dataset)
    {
        var (source, weights) = FineTuning.OpenSource(layout, config.InitFrom!);
        using var model = ModelFactory.Create(config, dataset.Leads, dataset.ClassNames.Length);
        return FineTuning.Initialise(model, config, dataset.ClassNames, dataset.LeadNames, source, weights);
    }

    /// <summary>The Train stage's `--resume`: continues a stopped session from its last completed epoch.</summary>
    public static TrainingResult Resume(TrainingSession session, ProcessedDataset dataset, TrainingOptions? options = null)
    {
        options?.SessionReady?.Invoke(session);
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
            catch (Exception e) when (restart < EpochRestarts && e is NonFiniteException or System.Runtime.InteropServices.ExternalException)
            {
                // libtorch's own errors here are the same kind of fault: a step that ran many times before fails on a
                // value it never produced (seen once: a Scalar with no valid tag inside AdamW's addcmul_). A real bug
                // fails again on every restart and is reported after the last.
                var what = e is NonFiniteException ? e.Message : $"libtorch failed during training: {e.Message.Split('\n')[0].Trim()}.";
                TransientFaults.Log?.Invoke($"{what} Resuming from the last completed epoch (restart {restart + 1} of {EpochRestarts}" +
                                            (restart + 1 >= 2 ? ", with fresh optimizer moments)." : ")."));
            }
        }
    }

    private static TrainingResult RunFromCheckpoint(TrainingSession session, ProcessedDataset dataset, TrainingOptions? options, bool freshOptimizer)
    {
        options ??= new TrainingOptions();
        var manifest = session.Manifest;
        var config = manifest.Config.Validate();
        SessionCompatibility.Require(session, dataset, forTraining: true);
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
        if (state.LastCompletedEpoch == 0 && manifest.InitializedFrom is { } initialisation) FineTuning.Reapply(model, manifest, initialisation);
        var trainableWhileFrozen = config.FreezeBackboneEpochs is null ? null
            : FineTuning.TrainableWhileFrozen(manifest.InitializedFrom
                ?? throw new InvalidDataException($"'{session.ConfigPath}' freezes the backbone but records no initialized_from weights."));
        model.to(device);
        using var mixed = MixedPrecision.For(config, dataset.Leads, classes, model, device);
        if (mixed is not null && MixedPrecision.SlowOnThisCpu(device, config.Model) is { } slow) options.Warning?.Invoke(slow);
        using var optimizer = CreateOptimizer(config, model);
        if (state.LastCompletedEpoch > 0) LoadCheckpoint(session, state, model, optimizer, freshOptimizer, options);

        var trainLabels = ModelRunner.LabelsOf(dataset, train);
        float[]? positiveWeight = config.ClassWeights ? PositiveWeights(trainLabels, classes) : null;
        using var positiveWeightTensor = positiveWeight is null ? null : tensor(positiveWeight).to(device);
        var validationLabels = ModelRunner.LabelsOf(dataset, validation);

        var batches = new BatchBuilder(dataset, standardisation, device);
        var augmentation = Augmentation.Parse(config.Augment);
        bool contrastive = config.Objective == TrainingObjective.Contrastive;
        int batchSize = config.BatchSize, batchCount = (train.Length + batchSize - 1) / batchSize;
        var schedule = config.OneCycleMaxLearningRate is double max ? new OneCycleSchedule(max, (long)batchCount * config.Epochs, Cycles: config.OneCycleCycles) : null;

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
            // Frozen or not depends on the epoch alone, so a resumed run matches an uninterrupted one.
            if (trainableWhileFrozen is not null) FineTuning.SetFrozen(model, trainableWhileFrozen, epoch <= config.FreezeBackboneEpochs);
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
                var input = contrastive
                    ? ContrastivePretraining.Views(batches, order, offset, count, config.CropLength, random, augmentation)
                    : batches.Signals(order, offset, count, config.CropLength, random, augmentation);
                var target = contrastive ? null : batches.Labels(order, offset, count);
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
                    return contrastive
                        ? MixedPrecision.Backward(mixed, model, input, embeddings => ContrastivePretraining.NtXent(embeddings, config.ContrastiveTemperature),
                                                  ContrastivePretraining.Embed)
                        : MixedPrecision.Backward(mixed, model, input,
                            logits => nn.functional.binary_cross_entropy_with_logits(logits, target!, pos_weights: positiveWeightTensor));
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
            if (validation.Length > 0 && contrastive)
                metrics = metrics with
                {
                    ValidationLoss = ContrastivePretraining.ValidationLoss(model, batches, validation, config, augmentation,
                        (b, n) => options.Progress?.Invoke(new TrainingProgress("validate", epoch, config.Epochs, b, n, 0, TimeSpan.Zero)),
                        options.Cancellation),
                };
            else if (validation.Length > 0)
            {
                var logits = ModelRunner.Logits(model, batches, validation, classes, config,
                    (b, n) => options.Progress?.Invoke(new TrainingProgress("validate", epoch, config.Epochs, b, n, 0, TimeSpan.Zero)),
                    options.Cancellation);
                metrics = WithValidation(metrics, logits, validationLabels, positiveWeight, classes);
            }

            double score = EpochScore(metrics, validation.Length > 0, contrastive);
            bool improved = !double.IsNaN(score) && score > state.BestScore;
            GC.Collect();
            metrics = metrics with { Seconds = clock.Elapsed.TotalSeconds, ResidentMegabytes = ResidentMegabytes() };
            history.Add(metrics);
            if (double.IsNaN(firstRss)) firstRss = metrics.ResidentMegabytes;
            lastRss = metrics.ResidentMegabytes;

            // Checkpoint: weights and optimizer first, state.json last (the commit point a resume trusts), with the
            // checksum of every file written, so the files commit together with the epoch and are verified on load.
            var checksums = new SortedDictionary<string, FileChecksum>(state.Checksums ?? new(), StringComparer.Ordinal);
            AtomicFile.Write(session.EpochWeightsPath(epoch), path => model.save(path));
            Checkpoint.Record(checksums, session, session.EpochWeightsPath(epoch));
            if (improved)
            {
                AtomicFile.Write(session.BestWeightsPath, path => File.Copy(session.EpochWeightsPath(epoch), path));
                Checkpoint.Record(checksums, session, session.BestWeightsPath);
            }
            var optimizerFile = SessionPaths.OptimizerStateName(epoch);
            AtomicFile.Write(session.Paths.OptimizerState(epoch), path => SaveOptimizerState(optimizer, path));
            Checkpoint.Record(checksums, session, session.Paths.OptimizerState(epoch));
            // The previous epoch's optimizer state is kept too, so going back one epoch (--from-epoch) is exact;
            // the one before it goes once the new state.json no longer names it.
            var expiredOptimizerFile = epoch > 2 ? session.Paths.OptimizerState(epoch - 2) : null;
            if (expiredOptimizerFile is not null) checksums.Remove(Checkpoint.Key(session, expiredOptimizerFile));
            int withoutImprovement = improved ? 0 : state.EpochsWithoutImprovement + 1;
            stoppedEarly = config.EarlyStoppingPatience is int patience && withoutImprovement >= patience && epoch < config.Epochs;
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
                Checksums = checksums,
            };
            session.SaveState(state);
            if (expiredOptimizerFile is not null) File.Delete(expiredOptimizerFile);
            session.WriteHistory(history);
            if (options.WriteReports) SessionCharts.WriteCurves(session, history);
            options.EpochCompleted?.Invoke(metrics);

            if (options.StopAfterEpoch is int stop && epoch >= stop && !state.Finished)
                return new TrainingResult(session, history, state.BestEpoch, false, false, firstRss, lastRss);
        }

        // A pretrained network has no trained classifier: its report is its loss curves; the fine-tuned session reports.
        if (options.WriteReports && state.Finished && !contrastive) TrainingReport.Write(session, dataset, options.Cancellation);
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

    /// <summary>
    /// Validation macro AUC picks the best epoch (contrastive pretraining: the lowest validation loss); without a
    /// validation set, the lowest training loss.
    /// </summary>
    internal static double EpochScore(EpochMetrics metrics, bool hasValidation, bool contrastive) =>
        !hasValidation ? -metrics.TrainLoss : contrastive ? -metrics.ValidationLoss : metrics.ValidationMacroAuc;

    /// <summary>
    /// Loads the last completed epoch's weights and optimizer state, both verified against state.json. A damaged or
    /// missing file stops the resume with an error that names it, its epoch, and how to go back to an intact epoch
    /// (<see cref="RollBack"/>); nothing is retrained or deleted without the user asking.
    /// </summary>
    private static void LoadCheckpoint(TrainingSession session, SessionState state, nn.Module model, optim.Optimizer optimizer,
                                       bool freshOptimizer, TrainingOptions options)
    {
        int last = state.LastCompletedEpoch;
        var weights = session.EpochWeightsPath(last);
        try
        {
            Checkpoint.LoadWeights(model, session, state, weights);
            // A rollback that found no intact optimizer state for its epoch says so; any other state must name one.
            bool resetByRollback = state.OptimizerStateFile is null && state.Rollbacks?.LastOrDefault() is { FreshOptimizer: true } r && r.ToEpoch == last;
            if (state.OptimizerStateFile is null && !resetByRollback)
                throw new InvalidDataException($"'{session.StatePath}' names no optimizer state to resume from.");
            if (resetByRollback && !freshOptimizer)
                options.Warning?.Invoke($"Session '{session.Folder}': epoch {last} has no intact optimizer state; Adam's moments start afresh from its weights.");
            if (!freshOptimizer && !resetByRollback)
                Checkpoint.LoadOptimizer(optimizer, session, state, Path.Combine(session.StateFolder, state.OptimizerStateFile!));
        }
        catch (Exception e) when (e is CheckpointDamagedException or FileNotFoundException)
        {
            var file = e is CheckpointDamagedException d ? d.FilePath : ((FileNotFoundException)e).FileName ?? weights;
            throw new CheckpointDamagedException(
                $"Session '{session.Folder}' cannot resume from epoch {last}: {e.Message}{Checkpoint.ResumeHint(session, state, last)}", file, last, e);
        }
        RepairBestWeights(session, state, options);
    }

    /// <summary>
    /// best.bin is a copy of the best epoch's file: when it is missing or does not match its checksum (damaged, or left
    /// ahead of state.json by a run stopped between writing it and committing its epoch), it is copied again from that
    /// epoch's verified file.
    /// </summary>
    private static void RepairBestWeights(TrainingSession session, SessionState state, TrainingOptions options)
    {
        if (state.BestEpoch <= 0 || Checkpoint.Status(session, state, session.BestWeightsPath) is not null) return;
        var source = session.EpochWeightsPath(state.BestEpoch);
        if (Checkpoint.Status(session, state, source) != true) return; // nothing verified to copy: the loaders report best.bin as it is
        AtomicFile.Write(session.BestWeightsPath, path => File.Copy(source, path));
        if (state.Checksums is { } checksums && checksums.TryGetValue(Checkpoint.Key(session, source), out var recorded)
            && FileChecksum.Of(session.BestWeightsPath) != recorded)
            throw new IOException($"Copying '{source}' to '{session.BestWeightsPath}' did not reproduce its checksum.");
        options.Warning?.Invoke($"Session '{session.Folder}': best.bin did not match epoch {state.BestEpoch}'s checksum; copied it again from '{source}'.");
    }

    /// <summary>
    /// Goes back to the end of epoch <paramref name="epoch"/> (0: the start) so that the next <see cref="Run"/> trains
    /// the later epochs again: for a checkpoint that was found damaged, or to redo epochs. Consistent with a run that
    /// stopped after that epoch: state.json's history, best epoch, early-stopping count, step count and checksums are
    /// truncated to it, best.bin is the best of the epochs kept, and metrics.csv and training_log.txt are rewritten.
    /// The optimizer state of that epoch is used when it is intact (the last two are kept: going back one epoch
    /// continues exactly as the first time); otherwise Adam's moments start afresh, which the record says. Files of
    /// later epochs are left for the retrained epochs to replace (loaders refuse them meanwhile: they are past the
    /// last completed epoch). The rollback is recorded in state.json. Returns null when there is nothing to do.
    /// </summary>
    public static RollbackRecord? RollBack(TrainingSession session, int epoch)
    {
        var state = session.LoadState();
        int last = state.LastCompletedEpoch;
        if (epoch < 0 || epoch > last)
            throw new ArgumentException($"Cannot go back to epoch {epoch}: session '{session.Folder}' has completed {last} epoch(s) (0 goes back to the start).");
        var optimizerPath = session.Paths.OptimizerState(epoch);
        if (epoch > 0)
        {
            try { Checkpoint.Verify(session, state, session.EpochWeightsPath(epoch)); }
            catch (Exception e) when (e is CheckpointDamagedException or FileNotFoundException)
            {
                throw new CheckpointDamagedException($"Session '{session.Folder}' cannot go back to epoch {epoch}: {e.Message}{Checkpoint.ResumeHint(session, state, epoch)}",
                                                     session.EpochWeightsPath(epoch), epoch, e);
            }
        }
        bool freshOptimizer = epoch > 0 && Checkpoint.Status(session, state, optimizerPath) is null;
        if (epoch == last && !freshOptimizer) return null;

        // What the epochs given up held that did not verify, for the record.
        var givenUp = Enumerable.Range(epoch + 1, last - epoch)
            .SelectMany(k => new[] { session.EpochWeightsPath(k), session.Paths.OptimizerState(k) }).ToArray();
        var damaged = givenUp.Append(optimizerPath).Where(f => File.Exists(f) && Checkpoint.Status(session, state, f) is null)
                             .Select(f => Checkpoint.Key(session, f)).Distinct().ToArray();

        // Best epoch and early-stopping count, recomputed over the epochs kept with the rule the epoch loop uses.
        var history = state.History.Where(m => m.Epoch <= epoch).OrderBy(m => m.Epoch).ToList();
        if (history.Count != epoch)
            throw new InvalidDataException($"'{session.StatePath}' has {state.History.Count} history entries for {last} epochs: cannot go back to epoch {epoch} consistently.");
        bool hasValidation = session.Manifest.ValidationRecords > 0;
        double bestScore = double.NegativeInfinity;
        int bestEpoch = 0, withoutImprovement = 0;
        foreach (var m in history)
        {
            double score = EpochScore(m, hasValidation, session.Manifest.Config.Objective == TrainingObjective.Contrastive);
            if (!double.IsNaN(score) && score > bestScore) { bestScore = score; bestEpoch = m.Epoch; withoutImprovement = 0; }
            else withoutImprovement++;
        }
        var config = session.Manifest.Config;
        bool stoppedEarly = config.EarlyStoppingPatience is int patience && withoutImprovement >= patience && epoch < config.Epochs;

        SortedDictionary<string, FileChecksum>? checksums = state.Checksums is null ? null : new(state.Checksums, StringComparer.Ordinal);
        foreach (var file in givenUp) checksums?.Remove(Checkpoint.Key(session, file));
        if (freshOptimizer) checksums?.Remove(Checkpoint.Key(session, optimizerPath));

        // best.bin: kept when it already holds the best epoch kept and verifies, else copied from that epoch's file.
        var best = session.BestWeightsPath;
        bool keepBest = bestEpoch > 0 && bestEpoch == state.BestEpoch && Checkpoint.Status(session, state, best) is not null;
        if (bestEpoch > 0 && !keepBest)
        {
            var source = session.EpochWeightsPath(bestEpoch);
            try { Checkpoint.Verify(session, state, source); }
            catch (Exception e) when (e is CheckpointDamagedException or FileNotFoundException)
            {
                throw new CheckpointDamagedException($"Session '{session.Folder}' cannot go back to epoch {epoch}: the best epoch up to it is {bestEpoch}, " +
                                                     $"and best.bin cannot be made from it: {e.Message}", source, bestEpoch, e);
            }
            AtomicFile.Write(best, path => File.Copy(source, path));
            if (checksums is not null) Checkpoint.Record(checksums, session, best);
        }
        if (bestEpoch == 0 && File.Exists(best))
        {
            checksums?.Remove(Checkpoint.Key(session, best));
            File.Delete(best); // a copy of an epoch given up, which no epoch kept improves on
        }

        var record = new RollbackRecord
        {
            FromEpoch = last, ToEpoch = epoch, FreshOptimizer = freshOptimizer, DamagedFiles = damaged, Utc = DateTime.UtcNow,
        };
        long stepsPerEpoch = (session.Manifest.TrainRecords + config.BatchSize - 1) / config.BatchSize;
        session.SaveState(new SessionState
        {
            LastCompletedEpoch = epoch,
            GlobalStep = epoch * stepsPerEpoch,
            BestEpoch = bestEpoch,
            BestScore = bestScore,
            EpochsWithoutImprovement = withoutImprovement,
            StoppedEarly = stoppedEarly,
            Finished = stoppedEarly || epoch == config.Epochs,
            OptimizerStateFile = epoch == 0 || freshOptimizer ? null : SessionPaths.OptimizerStateName(epoch),
            History = history,
            Checksums = checksums,
            Rollbacks = [.. state.Rollbacks ?? [], record],
        });
        session.WriteHistory(history);
        return record;
    }

    /// <summary>Resident set size of this process, MiB (Linux /proc; the working set elsewhere).</summary>
    public static double ResidentMegabytes()
    {
        using var process = Process.GetCurrentProcess();
        process.Refresh();
        return process.WorkingSet64 / (1024.0 * 1024.0);
    }
}
