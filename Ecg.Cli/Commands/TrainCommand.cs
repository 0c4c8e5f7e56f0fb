using System.ComponentModel;
using System.Globalization;
using Ecg.Data;
using Ecg.Model;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Ecg.Cli.Commands;

/// <summary>`ecg train`: a new training session from a preset and overrides, or `--resume N` of a stopped one.</summary>
public sealed class TrainCommand : Command<TrainCommand.Settings>
{

    public sealed class Settings : DatasetSettings
    {
        [CommandOption("-p|--preset <NAME>")]
        [Description("benchmark (PTB-XL benchmark recipe: 2.5 s crops, one-cycle, 50 epochs), cpu (the same in 12 epochs, windows combined by mean) or seed (the original notebooks: Adam 1e-4, batch 512, 100 epochs).")]
        [DefaultValue("benchmark")]
        public string Preset { get; init; } = "benchmark";

        [CommandOption("--task <NAME>")]
        [Description("Label task (the PTB-XL benchmark's): superdiagnostic (5 superclasses, the default), subdiagnostic, diagnostic, form, rhythm or all.")]
        [DefaultValue("superdiagnostic")]
        public string Task { get; init; } = "superdiagnostic";
        [CommandOption("--leads <LIST>")]
        [Description("Leads to train on, by name, e.g. II or I,II,V1 (default: all 12). Every later stage uses the session's leads.")]
        public string? Leads { get; init; }
        [CommandOption("--model <NAME>")] [Description("Architecture (default: the preset's); the list is in the description above.")]
        public string? Model { get; init; }
        [CommandOption("-e|--epochs <N>")] [Description("Epochs (default: the preset's).")]
        public int? Epochs { get; init; }
        [CommandOption("-b|--batch-size <N>")] [Description("Batch size (default: the preset's).")]
        public int? BatchSize { get; init; }
        [CommandOption("--lr <RATE>")] [Description("Learning rate (constant; turns one-cycle off).")]
        public double? LearningRate { get; init; }
        [CommandOption("--max-lr <RATE>")] [Description("One-cycle schedule with this peak learning rate.")]
        public double? MaxLearningRate { get; init; }
        [CommandOption("--cycles <N>")] [Description("Restart the one-cycle schedule: the epochs split into N equal cycles, each warming up again (N must divide the epochs).")]
        public int? Cycles { get; init; }
        [CommandOption("--optimizer <NAME>")] [Description("adam or adamw.")]
        public string? Optimizer { get; init; }
        [CommandOption("--weight-decay <W>")] [Description("Weight decay.")]
        public double? WeightDecay { get; init; }
        [CommandOption("--layer-settings <NAME>")] [Description("torch or keras (BatchNorm momentum/epsilon and initialisation of the original Keras model).")]
        public string? LayerSettings { get; init; }
        [CommandOption("--aggregation <HOW>")] [Description("How evaluation windows combine: max (the benchmark's), mean of probabilities, or whole (no windows).")]
        public string? Aggregation { get; init; }
        [CommandOption("--crop <SECONDS>")] [Description("Length of the random training crop and of the evaluation windows, in seconds (the benchmark's: 2.5); windows overlap by half. The record's length trains and evaluates on whole records.")]
        public double? Crop { get; init; }
        [CommandOption("--class-weights")] [Description("Weigh positives by negatives/positives per class (BCE pos_weight).")]
        public bool ClassWeights { get; init; }
        [CommandOption("--seed <N>")] [Description("Random seed (weights, shuffling, crops, dropout).")]
        public long? Seed { get; init; }
        [CommandOption("--device <NAME>")] [Description("auto (CUDA when available), cpu or cuda.")]
        public string? Device { get; init; }
        [CommandOption("--threads <N>")] [Description("CPU threads for torch (default: all cores).")]
        public int? Threads { get; init; }
        [CommandOption("--precision <NAME>")] [Description("float32, or bfloat16: forward and backward in bfloat16 with float32 master weights (1.6-3x faster on CPUs with AMX-BF16; with AVX512-BF16 alone only inception1d gains, 1.4x; evaluation stays float32).")]
        public string? Precision { get; init; }
        [CommandOption("--augment <SPEC>")] [Description("Training-crop augmentation: ecg (scale=0.1,noise=0.02,wander=0.1,mask=0.1), any of those key=value pairs, or none (default). Scale: one amplitude factor per record; noise: white noise up to that many mV; wander: 0.05-0.5 Hz baseline sinusoid up to that many mV per lead; mask: up to that fraction of the crop zeroed.")]
        public string? Augment { get; init; }
        [CommandOption("--objective <NAME>")] [Description("supervised (BCE on the task's labels, default) or contrastive: self-supervised pretraining on the signals alone (two augmented crops per record, NT-Xent on the embedding; use with --augment ecg), then fine-tune with --init-from.")]
        public string? Objective { get; init; }
        [CommandOption("--temperature <T>")] [Description("NT-Xent temperature of --objective contrastive (default 0.1).")]
        public double? Temperature { get; init; }
        [CommandOption("--patience <N>")] [Description("Stop after N epochs without a better validation macro AUC.")]
        public int? Patience { get; init; }
        [CommandOption("--split <NAME>")] [Description("benchmark (folds 1-8 train, 9 validation, 10 test), select (1-7 train, 8 validation for every choice, 9 test: for comparisons without fold 10), refit (1-8 train, no validation, 9 test: a recipe chosen under select, trained again with the training and choosing folds) or original (1-8 train, 9-10 test).")]
        [DefaultValue("benchmark")]
        public string Split { get; init; } = "benchmark";
        [CommandOption("--notes <TEXT>")] [Description("Free text saved as the session's notes.txt.")]
        public string? Notes { get; init; }
        [CommandOption("--resume <SESSION>")] [Description("Continue session N (or 'latest') from its last completed epoch.")]
        public string? Resume { get; init; }
        [CommandOption("--stop-after-epoch <N>")] [Description("Stop once epoch N is saved (resume later with --resume).")]
        public int? StopAfterEpoch { get; init; }
        [CommandOption("--from-epoch <E>")] [Description("With --resume: go back to the end of epoch E (0: the start) and train the later epochs again, e.g. after a damaged checkpoint (the error names the last intact epoch). Recorded in state.json.")]
        public int? FromEpoch { get; init; }
        [CommandOption("--init-from <SESSION[:WEIGHTS]>")] [Description("Fine-tune: start from session N's (or latest's) weights: best (default), an epoch number or an averaged range F-T. Every tensor is copied when task, classes and leads match; otherwise all but the classification head, and nothing whose shape differs (config.json lists what was reinitialised). The architecture is the source's.")]
        public string? InitFrom { get; init; }
        [CommandOption("--freeze-backbone <EPOCHS>")] [Description("With --init-from: for the first EPOCHS epochs only the head (and any reinitialised tensor) trains; the frozen BatchNorm layers keep their running statistics.")]
        public int? FreezeBackbone { get; init; }

        public string[]? LeadList => Leads?.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);

        public override ValidationResult Validate()
        {
            var result = base.Validate();
            if (!result.Successful) return result;
            if (FromEpoch is not null && Resume is null) return ValidationResult.Error("--from-epoch goes back in a session being resumed: use it with --resume N.");
            if (InitFrom is not null && Resume is not null) return ValidationResult.Error("--init-from starts a new session; a resumed session keeps its own weights: drop one of --init-from and --resume.");
            if (FreezeBackbone is not null && InitFrom is null) return ValidationResult.Error("--freeze-backbone keeps a pretrained backbone: use it with --init-from SESSION.");
            if (Temperature is not null && Objective != TrainingObjective.Contrastive) return ValidationResult.Error("--temperature is the NT-Xent temperature of contrastive pretraining: use it with --objective contrastive.");
            if (Crop is <= 0 or double.NaN) return ValidationResult.Error("--crop: give a positive length in seconds, e.g. 5.");
            if (FreezeBackbone is <= 0) return ValidationResult.Error("--freeze-backbone: give a positive number of epochs.");
            return CheckChoices(this);
        }
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var resume = settings.Resume is null ? null : settings.OpenSession(settings.Resume);
        // The session's records, labels and leads: its task and leads applied to the file's dataset (a resumed
        // session's file at its own rate unless --rate or --dataset says otherwise).
        TrainingConfig? config = null;
        ProcessedDataset dataset;
        if (resume is not null) dataset = settings.LoadDataset(resume);
        else
        {
            var file = settings.LoadDataset();
            config = BuildConfig(settings, file);
            dataset = TrainingData.For(file, config);
        }
        if (resume is not null && settings.FromEpoch is int from && RollBack(resume, from) is { } rollback)
            AnsiConsole.WriteLine($"Went back from epoch {rollback.FromEpoch} to epoch {rollback.ToEpoch}" +
                                  (rollback.DamagedFiles.Length > 0 ? $" (damaged: {string.Join(", ", rollback.DamagedFiles)})" : "") +
                                  (rollback.FreshOptimizer ? "; no intact optimizer state for it: Adam's moments start afresh" : "") + ".");
        var result = ConsoleProgress.Run("Training", progress =>
        {
            int epochs = 0;
            var run = new TrainingOptions
            {
                StopAfterEpoch = settings.StopAfterEpoch,
                Cancellation = cancellationToken,
                Warning = line => AnsiConsole.WriteLine("warning: " + line),
                SessionReady = session =>
                {
                    epochs = session.Manifest.Config.Epochs;
                    var m = session.Manifest;
                    AnsiConsole.WriteLine(resume is not null ? $"Resuming {session.Folder}" : $"Session {session.Number}: {session.Folder}");
                    if (resume is null)
                        AnsiConsole.WriteLine($"{m.Config.Preset} preset, {m.Config.Model}, {m.Config.Epochs} epochs, batch {m.Config.BatchSize}; " +
                                              $"{m.TrainRecords} train / {m.ValidationRecords} validation / {m.TestRecords} test records; " +
                                              $"{m.Config.Task} task, {m.ClassNames.Length} classes; leads {string.Join(",", m.LeadNames)}");
                    if (resume is null && m.InitializedFrom is { } init)
                        AnsiConsole.WriteLine($"Initialised from session {init.SourceNumber} ({init.WeightsDescription}, {init.WeightsFile}, SHA-256 {init.WeightsSha256[..12]}...): " +
                                              $"{init.CopiedTensors} tensors copied, " + (init.ReinitialisedTensors.Length == 0 ? "none reinitialised"
                                                  : $"reinitialised: {string.Join(", ", init.ReinitialisedTensors)}") +
                                              (m.Config.FreezeBackboneEpochs is int frozen ? $"; backbone frozen for {frozen} epoch(s)" : ""));
                },
                Progress = p =>
                {
                    if (p.Phase != "train") return; // validation passes are short; the epoch line follows them
                    progress.Report((p.Epoch - 1) * (double)p.Batches + p.Batch, p.Epochs * (double)p.Batches,
                    $"epoch {p.Epoch}/{p.Epochs} {p.Phase} batch {p.Batch}/{p.Batches}, {p.SamplesPerSecond:F0} samples/s", p.Eta);
                },
                EpochCompleted = m => AnsiConsole.WriteLine(
                    $"epoch {m.Epoch,3}/{epochs}: train loss {m.TrainLoss:F4}, " +
                    // A refit session has no validation fold: say so rather than print NaN.
                    (double.IsNaN(m.ValidationLoss) ? "no validation fold, " : $"validation loss {m.ValidationLoss:F4}, ") +
                    (double.IsNaN(m.ValidationMacroAuc) ? "" : $"macro AUC {m.ValidationMacroAuc:F4}, ") + $"{m.Seconds:F1} s, {m.TrainSamplesPerSecond:F0} samples/s, RSS {m.ResidentMegabytes:F0} MB"),
            };
            return resume is not null
                ? Trainer.Resume(resume, dataset, run)
                : Trainer.Start(settings.Layout, config!, dataset, SplitScheme.Parse(settings.Split), settings.DatasetPath, settings.Notes, run);
        });
        PrintSummary(result);
        return ExitCodes.Success;
    }

    private static RollbackRecord? RollBack(TrainingSession session, int epoch)
    {
        try { return Trainer.RollBack(session, epoch); }
        catch (ArgumentException e) { throw new UserError(e.Message); }
    }

    private static TrainingConfig BuildConfig(Settings s, ProcessedDataset dataset)
    {
        var preset = TrainingConfig.FromPreset(s.Preset);
        // Fine-tuning keeps the source's architecture unless --model names one (a different one is refused on start).
        var sourceModel = s.InitFrom is null ? null : FineTuning.OpenSource(s.Layout, s.InitFrom).Session.Manifest.Config.Model;
        var config = preset.ForSamplingRate(dataset.SamplingRate) with
        {
            Model = s.Model ?? sourceModel ?? preset.Model,
            Epochs = s.Epochs ?? preset.Epochs,
            BatchSize = s.BatchSize ?? preset.BatchSize,
            LearningRate = s.LearningRate ?? s.MaxLearningRate ?? preset.LearningRate,
            OneCycleMaxLearningRate = s.MaxLearningRate ?? (s.LearningRate is null ? preset.OneCycleMaxLearningRate : null),
            OneCycleCycles = s.Cycles ?? preset.OneCycleCycles,
            Optimizer = s.Optimizer ?? preset.Optimizer,
            WeightDecay = s.WeightDecay ?? preset.WeightDecay,
            LayerSettings = s.LayerSettings ?? preset.LayerSettings,
            ClassWeights = s.ClassWeights || preset.ClassWeights,
            Seed = s.Seed ?? preset.Seed,
            Device = s.Device ?? preset.Device,
            Threads = s.Threads ?? preset.Threads,
            Precision = s.Precision ?? preset.Precision,
            Augment = s.Augment is null ? preset.Augment : CanonicalAugmentation(s.Augment),
            Objective = s.Objective ?? preset.Objective,
            ContrastiveTemperature = s.Temperature ?? preset.ContrastiveTemperature,
            EarlyStoppingPatience = s.Patience ?? preset.EarlyStoppingPatience,
            EvalAggregation = s.Aggregation ?? preset.EvalAggregation,
            Task = LabelTask.Parse(s.Task).Name,
            Leads = s.LeadList,
        };
        if (s.Crop is double seconds) config = WithCrop(config, seconds, dataset, s.DatasetPath);
        if (!config.Equals(preset.ForSamplingRate(dataset.SamplingRate))) config = config with { Preset = config.Preset + " (modified)" };
        // Set after the preset comparison: where the weights start is not a change to the recipe.
        config = config with { InitFrom = s.InitFrom, FreezeBackboneEpochs = s.FreezeBackbone };
        try { return config.Validate(); }
        catch (ArgumentException e) { throw new UserError(e.Message); }
    }

    /// <summary>Training crops and evaluation windows of <paramref name="seconds"/>, windows at half that stride.</summary>
    private static TrainingConfig WithCrop(TrainingConfig config, double seconds, ProcessedDataset dataset, string path)
    {
        int samples = (int)Math.Round(seconds * dataset.SamplingRate);
        if (samples < 2 || samples > dataset.Samples)
            throw new UserError($"--crop {seconds.ToString(CultureInfo.InvariantCulture)}: the records of {path} are " +
                                $"{(dataset.Samples / (double)dataset.SamplingRate).ToString(CultureInfo.InvariantCulture)} s long; give a crop between " +
                                $"{(2.0 / dataset.SamplingRate).ToString(CultureInfo.InvariantCulture)} s and that.");
        return config with { CropLength = samples, EvalWindow = samples, EvalStride = Math.Max(1, samples / 2) };
    }

    /// <summary>The spec as the config stores it (all four amounts; null for none), or the parse error as a user error.</summary>
    private static string? CanonicalAugmentation(string spec)
    {
        try { return Augmentation.Parse(spec)?.ToString(); }
        catch (ArgumentException e) { throw new UserError("--" + e.Message); }
    }

    /// <summary>Choices checked before any work: the split scheme and the architecture.</summary>
    private static ValidationResult CheckChoices(Settings s)
    {
        try { SplitScheme.Parse(s.Split); }
        catch (ArgumentException e) { return ValidationResult.Error("--split: " + e.Message); }
        if (!LabelTask.TryParse(s.Task, out _)) return ValidationResult.Error($"--task '{s.Task}': use one of {LabelTask.Names}.");
        if (s.LeadList is { Length: 0 }) return ValidationResult.Error("--leads: name at least one lead, e.g. II or I,II,V1.");
        if (s.Resume is not null && (s.Leads is not null || s.Task != "superdiagnostic"))
            return ValidationResult.Error("--task and --leads choose a new session's data; a resumed session keeps its own.");
        return ValidationResult.Success();
    }

    private static void PrintSummary(TrainingResult result)
    {
        var session = result.Session;
        var state = result.Finished ? (result.StoppedEarly ? "stopped early" : "finished") : "stopped";
        AnsiConsole.WriteLine($"Session {session.Number} {state} after {result.History.Count} epoch(s): {session.Folder}");
        if (result.History.Count == 0) return;
        var best = result.History.FirstOrDefault(m => m.Epoch == result.BestEpoch) ?? result.History[^1];
        if (session.Manifest.Config.Objective == TrainingObjective.Contrastive)
            AnsiConsole.WriteLine($"best epoch {result.BestEpoch}: validation contrastive loss {best.ValidationLoss:F4}; fine-tune with: ecg train --init-from {session.Number} ...");
        else if (double.IsNaN(best.ValidationLoss))
            // No validation fold (--split refit): the best epoch is the lowest training loss.
            AnsiConsole.WriteLine($"best epoch {result.BestEpoch}: training loss {best.TrainLoss:F4}, the lowest (no validation fold); test it with: ecg evaluate --session {session.Number}");
        else
        {
            var perClass = string.Join(", ", session.Manifest.ClassNames.Select((c, i) =>
                $"{c} {(i < best.ValidationAucPerClass.Length ? best.ValidationAucPerClass[i].ToString("F3", CultureInfo.InvariantCulture) : "-")}"));
            AnsiConsole.WriteLine($"best epoch {result.BestEpoch}: validation macro AUC {best.ValidationMacroAuc:F4} ({perClass})");
        }
        AnsiConsole.WriteLine($"{result.History.Average(m => m.Seconds):F1} s per epoch; RSS {result.FirstEpochResidentMegabytes:F0} MB after the first epoch, " +
                              $"{result.LastEpochResidentMegabytes:F0} MB after the last");
        if (!result.Finished)
            AnsiConsole.WriteLine($"Resume with: ecg train --resume {session.Number}");
    }
}
