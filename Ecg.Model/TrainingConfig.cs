using System.Text.Json;
using System.Text.Json.Serialization;

namespace Ecg.Model;

/// <summary>
/// Every hyperparameter of a training run, serialised as the session's config.json.
/// Enumerated choices are lower-case strings so the file reads like the CLI options.
/// </summary>
public sealed record TrainingConfig
{
    /// <summary>Name of the preset this config started from ("seed", "benchmark" or "custom").</summary>
    public string Preset { get; init; } = "seed";

    /// <summary>Architecture: the name of one of <see cref="Architectures.Architecture.All"/> (see <see cref="ResolveArchitecture"/>).</summary>
    public string Model { get; init; } = ModelFactory.CrossLeadCnn;

    /// <summary>
    /// The label task (the PTB-XL benchmark's): superdiagnostic (the 5 superclasses, the default and what sessions
    /// before tasks were trained on), subdiagnostic, diagnostic, form, rhythm or all. See Ecg.Data.LabelTask.
    /// </summary>
    public string Task { get; init; } = "superdiagnostic";

    /// <summary>The leads the network reads, by name, in this order (e.g. ["II"]); null reads every lead of the dataset.</summary>
    public string[]? Leads { get; init; }

    /// <summary>"torch" (torch's BatchNorm momentum and initialisation) or "keras" (the original Keras model's).</summary>
    public string LayerSettings { get; init; } = "torch";

    /// <summary>"adam" or "adamw" (decoupled weight decay).</summary>
    public string Optimizer { get; init; } = "adam";

    public double LearningRate { get; init; } = 1e-4;
    public double Beta1 { get; init; } = 0.9;
    public double Beta2 { get; init; } = 0.999;
    public double Epsilon { get; init; } = 1e-7;
    public double WeightDecay { get; init; } = 0.0;
    public int BatchSize { get; init; } = 512;
    public int Epochs { get; init; } = 100;

    /// <summary>
    /// Peak learning rate of a one-cycle schedule (then <see cref="LearningRate"/> is not used: the rate rises from
    /// max/25 to max over the first 30% of steps and anneals to max/25e4, as torch's OneCycleLR); null keeps
    /// <see cref="LearningRate"/> constant.
    /// </summary>
    public double? OneCycleMaxLearningRate { get; init; }

    /// <summary>
    /// Restarts of the one-cycle schedule: the epochs split into this many equal one-cycles, each warming up again
    /// (see <see cref="OneCycleSchedule.Cycles"/>); 1, the default, is one cycle over all epochs.
    /// </summary>
    public int OneCycleCycles { get; init; } = 1;

    /// <summary>Weigh positives by negatives/positives per class, counted on the training set (BCE pos_weight).</summary>
    public bool ClassWeights { get; init; }

    /// <summary>Length in samples of the random crop each training record is cut to; null trains on the full record.</summary>
    public int? CropLength { get; init; }

    /// <summary>Evaluation window length in samples; null evaluates the full record in one pass.</summary>
    public int? EvalWindow { get; init; }

    /// <summary>Step between evaluation windows in samples.</summary>
    public int? EvalStride { get; init; }

    /// <summary>How window outputs combine into one record's probabilities: "max" (the benchmark's), "mean" of probabilities, or "whole" (one pass over the whole record, no windows).</summary>
    public string EvalAggregation { get; init; } = "max";

    /// <summary>"none", or "global": one mean and standard deviation over all training samples and leads.</summary>
    public string Standardisation { get; init; } = "none";

    public long Seed { get; init; } = 42;

    /// <summary>"auto", "cpu" or "cuda" (see <see cref="Devices"/>).</summary>
    public string Device { get; init; } = "auto";

    /// <summary>Stop after this many epochs without a better validation macro AUC; null never stops early.</summary>
    public int? EarlyStoppingPatience { get; init; }

    /// <summary>
    /// "float32", or "bfloat16": forward and backward in bfloat16 with float32 master weights, BatchNorm statistics
    /// and optimizer (see <see cref="MixedPrecision"/>). Evaluation always runs in float32.
    /// </summary>
    public string Precision { get; init; } = TrainingPrecision.Float32;

    /// <summary>
    /// Training-crop augmentation (see <see cref="Augmentation"/>): "ecg", "scale=0.1,noise=0.02,wander=0.1,mask=0.1"
    /// or any part of it; null or "none" trains on the signals as they are.
    /// </summary>
    public string? Augment { get; init; }

    /// <summary>
    /// What training minimises (<see cref="TrainingObjective"/>): "supervised" (BCE on the task's labels) or "contrastive"
    /// (self-supervised pretraining on the signals, <see cref="ContrastivePretraining"/>; fine-tune it with init_from).
    /// </summary>
    public string Objective { get; init; } = TrainingObjective.Supervised;

    /// <summary>The NT-Xent temperature of contrastive pretraining.</summary>
    public double ContrastiveTemperature { get; init; } = 0.1;

    /// <summary>Threads torch may use on CPU; null uses every core.</summary>
    public int? Threads { get; init; }

    /// <summary>
    /// Fine-tuning: "SESSION[:WEIGHTS]" (e.g. "3", "latest:best", "3:9-12") whose weights the new session starts from
    /// (see <see cref="FineTuning"/>; what was copied is recorded in config.json's initialized_from); null starts fresh.
    /// </summary>
    public string? InitFrom { get; init; }

    /// <summary>With <see cref="InitFrom"/>: for the first this many epochs only the head (and any reinitialised tensor) trains.</summary>
    public int? FreezeBackboneEpochs { get; init; }

    /// <summary>
    /// The original notebooks' last session: Adam lr 1e-4, betas 0.9/0.999, eps 1e-7 (Keras's), batch 512,
    /// 100 epochs, whole 10 s records, no standardisation.
    /// </summary>
    public static TrainingConfig SeedPreset { get; } = new();

    /// <summary>
    /// The PTB-XL benchmark recipe: random 2.5 s crops, 2.5 s windows with 1.25 s stride aggregated by max
    /// at evaluation, one global standardisation fitted on training data, AdamW with weight decay 1e-2,
    /// one-cycle to lr 1e-2, batch 128, 50 epochs. Crop and window lengths are for 100 Hz; see <see cref="ForSamplingRate"/>.
    /// </summary>
    public static TrainingConfig BenchmarkPreset { get; } = new()
    {
        Preset = "benchmark",
        Optimizer = "adamw",
        LearningRate = 1e-2,
        Epsilon = 1e-8,
        WeightDecay = 1e-2,
        BatchSize = 128,
        Epochs = 50,
        OneCycleMaxLearningRate = 1e-2,
        CropLength = 250,
        EvalWindow = 250,
        EvalStride = 125,
        Standardisation = "global",
    };

    /// <summary>This config with another epoch count and thread count (for F# callers, which cannot write `with` on C# records).</summary>
    public TrainingConfig With(int epochs, int? threads) => this with { Epochs = epochs, Threads = threads };

    /// <summary>
    /// The benchmark recipe on a CPU budget: the one-cycle schedule compressed to 12 epochs, and evaluation windows
    /// combined by the mean of their probabilities. Both choices come from fold-9 runs on folds 1-8 (README,
    /// "Results"): 12 epochs already give 0.930-0.933 macro AUC, and the mean beat the max for every model tried.
    /// </summary>
    public static TrainingConfig CpuPreset { get; } = BenchmarkPreset with { Preset = "cpu", Epochs = 12, EvalAggregation = "mean" };

    /// <summary>The preset names <see cref="FromPreset"/> knows.</summary>
    public static IReadOnlyList<string> PresetNames { get; } = new[] { "seed", "benchmark", "cpu" };

    /// <summary>The named preset: "seed", "benchmark" or "cpu".</summary>
    public static TrainingConfig FromPreset(string name) =>
        (name ?? "").Trim().ToLowerInvariant() switch
        {
            "" or "seed" => SeedPreset,
            "benchmark" => BenchmarkPreset,
            "cpu" => CpuPreset,
            _ => throw new ArgumentException($"Unknown training preset '{name}': use seed, benchmark or cpu."),
        };

    /// <summary>Scales crop and window lengths given for 100 Hz to another sampling rate (e.g. 500 Hz: x5).</summary>
    public TrainingConfig ForSamplingRate(double hertz)
    {
        int? scale(int? samples) => samples is int s ? (int)Math.Round(s * hertz / 100.0) : null;
        return this with { CropLength = scale(CropLength), EvalWindow = scale(EvalWindow), EvalStride = scale(EvalStride) };
    }

    /// <summary>Throws with the offending field's name when a value is out of range or unknown.</summary>
    public TrainingConfig Validate()
    {
        static void need(bool ok, string message) { if (!ok) throw new ArgumentException("Training config: " + message); }
        need(Architectures.Architecture.TryParse(Model, out _), Architectures.Architecture.UnknownNameMessage(Model));
        need(Ecg.Data.LabelTask.TryParse(Task, out _), $"task '{Task}' must be one of {Ecg.Data.LabelTask.Names}.");
        need(Leads is null || (Leads.Length > 0 && Leads.All(l => !string.IsNullOrWhiteSpace(l))
                               && Leads.Select(l => l.Trim().ToUpperInvariant()).Distinct().Count() == Leads.Length),
             "leads must name distinct leads (e.g. II, or I,II,V1).");
        need(LayerSettings is "torch" or "keras", $"layer_settings '{LayerSettings}' must be torch or keras.");
        need(Optimizer is "adam" or "adamw", $"optimizer '{Optimizer}' must be adam or adamw.");
        need(LearningRate > 0, "learning_rate must be positive.");
        need(Beta1 is >= 0 and < 1 && Beta2 is >= 0 and < 1, "betas must lie in [0, 1).");
        need(Epsilon > 0, "epsilon must be positive.");
        need(WeightDecay >= 0, "weight_decay must not be negative.");
        need(BatchSize > 0, "batch_size must be positive.");
        need(Epochs > 0, "epochs must be positive.");
        need(OneCycleMaxLearningRate is null or > 0, "one_cycle_max_learning_rate must be positive.");
        need(OneCycleCycles >= 1, "one_cycle_cycles must be at least 1.");
        need(OneCycleCycles == 1 || OneCycleMaxLearningRate is not null, "one_cycle_cycles needs a one-cycle schedule (one_cycle_max_learning_rate).");
        need(Epochs % OneCycleCycles == 0, $"epochs ({Epochs}) must split into one_cycle_cycles ({OneCycleCycles}) equal cycles.");
        need(CropLength is null or > 0, "crop_length must be positive.");
        need(EvalWindow is null or > 0, "eval_window must be positive.");
        need(EvalStride is null or > 0, "eval_stride must be positive.");
        need(EvalWindow is null || EvalStride is not null, "eval_window needs eval_stride.");
        need(WindowAggregations.Names.Contains(EvalAggregation), $"eval_aggregation '{EvalAggregation}' must be one of {string.Join(", ", WindowAggregations.Names)}.");
        need(Standardisation is "none" or "global", $"standardisation '{Standardisation}' must be none or global.");
        need(EarlyStoppingPatience is null or > 0, "early_stopping_patience must be positive.");
        need(Threads is null or > 0, "threads must be positive.");
        try { Augmentation.Parse(Augment); }
        catch (ArgumentException e) { need(false, e.Message); }
        need(TrainingObjective.Names.Contains(Objective), $"objective '{Objective}' must be one of {string.Join(", ", TrainingObjective.Names)}.");
        need(ContrastiveTemperature > 0, "contrastive_temperature must be positive.");
        need(Objective != TrainingObjective.Contrastive || BatchSize >= 2, "contrastive pretraining needs batch_size >= 2 (the other records of a batch are its negatives).");
        need(Objective != TrainingObjective.Contrastive || !ClassWeights, "class_weights weigh labels, which contrastive pretraining does not read.");
        need(TrainingPrecision.Names.Contains(Precision), $"precision '{Precision}' must be one of {string.Join(", ", TrainingPrecision.Names)}.");
        if (InitFrom is not null)
            try { FineTuning.Parse(InitFrom, "init_from"); }
            catch (Ecg.Data.UserError e) { need(false, e.Message); }
        need(FreezeBackboneEpochs is null or > 0, "freeze_backbone_epochs must be positive.");
        need(FreezeBackboneEpochs is null || InitFrom is not null, "freeze_backbone_epochs needs init_from (a backbone worth keeping).");
        Devices.Resolve(Device);
        return this;
    }

    /// <summary>The architecture <see cref="Model"/> names; an unknown name fails listing the accepted ones.</summary>
    public Architectures.Architecture ResolveArchitecture() => Architectures.Architecture.Parse(Model);

    public global::Ecg.Model.LayerSettings ResolveLayerSettings() =>
        LayerSettings == "keras" ? global::Ecg.Model.LayerSettings.Keras : global::Ecg.Model.LayerSettings.Torch;

    /// <summary>
    /// The solution's JSON options (Ecg.Data.JsonDefaults): snake_case, indented, and NaN/-Infinity as named
    /// literals, which a session without validation records needs (NaN metrics, a best score from -Infinity).
    /// </summary>
    internal static readonly JsonSerializerOptions Json = Ecg.Data.JsonDefaults.Options;

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public static TrainingConfig FromJson(string json) =>
        JsonSerializer.Deserialize<TrainingConfig>(json, Json) ?? throw new ArgumentException("Training config JSON is empty.");
}
