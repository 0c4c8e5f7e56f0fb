using System.Globalization;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Ecg.Data;

namespace Ecg.Model;

/// <summary>What config.json records: the hyperparameters, the data, the split and the software versions.</summary>
public sealed record SessionManifest
{
    public required TrainingConfig Config { get; init; }
    /// <summary>Processed dataset file the run read, or null when the data came from memory.</summary>
    public string? DataFile { get; init; }
    public string? DataSha256 { get; init; }
    public required string Split { get; init; }
    public required int[] TrainFolds { get; init; }
    public required int[] ValidationFolds { get; init; }
    public required int[] TestFolds { get; init; }
    public required int TrainRecords { get; init; }
    public required int ValidationRecords { get; init; }
    public required int TestRecords { get; init; }
    public required string[] ClassNames { get; init; }
    public required string[] LeadNames { get; init; }
    public required int Samples { get; init; }
    public required double SamplingRate { get; init; }
    public required long Seed { get; init; }
    public required string ToolVersion { get; init; }
    public required string TorchSharpVersion { get; init; }
    public required string DotNetVersion { get; init; }
    public required DateTime CreatedUtc { get; init; }
    /// <summary>Where the initial weights came from, for a session started with --init-from (<see cref="FineTuning"/>); null otherwise.</summary>
    public InitializationRecord? InitializedFrom { get; init; }
}

/// <summary>Where training stands, rewritten (atomically) after every epoch; the commit point for resuming.</summary>
public sealed record SessionState
{
    public int LastCompletedEpoch { get; init; }
    /// <summary>Optimizer steps taken so far (drives the one-cycle schedule).</summary>
    public long GlobalStep { get; init; }
    public int BestEpoch { get; init; }
    public double BestScore { get; init; } = double.NegativeInfinity;
    public int EpochsWithoutImprovement { get; init; }
    public bool Finished { get; init; }
    public bool StoppedEarly { get; init; }
    /// <summary>File name under state/ holding the optimizer's moments after <see cref="LastCompletedEpoch"/>.</summary>
    public string? OptimizerStateFile { get; init; }
    public List<EpochMetrics> History { get; init; } = new();
    /// <summary>
    /// Size and SHA-256 of the weights and optimizer-state files of the completed epochs (and best.bin), by path
    /// relative to the session folder; verified on load (<see cref="Checkpoint"/>). Null in sessions written before
    /// checkpoints carried checksums, whose files load unverified; such a session resumed records its new epochs.
    /// </summary>
    public SortedDictionary<string, FileChecksum>? Checksums { get; init; }
    /// <summary>Every time the session went back to an earlier epoch (<see cref="Trainer.RollBack"/>), oldest first.</summary>
    public List<RollbackRecord>? Rollbacks { get; init; }
}

/// <summary>One return to an earlier epoch: from which, to which, why, and whether Adam's moments had to start afresh.</summary>
public sealed record RollbackRecord
{
    /// <summary>The last completed epoch before going back.</summary>
    public required int FromEpoch { get; init; }
    public required int ToEpoch { get; init; }
    /// <summary>True when epoch <see cref="ToEpoch"/> had no intact optimizer state: training continued with fresh moments.</summary>
    public required bool FreshOptimizer { get; init; }
    /// <summary>Files of the epochs given up (and of <see cref="ToEpoch"/>'s optimizer state) that failed verification.</summary>
    public required string[] DamagedFiles { get; init; }
    public required DateTime Utc { get; init; }
}

/// <summary>
/// One training run's folder, <c>&lt;artifacts&gt;/training_sessions/session_N/</c>: numbered, never overwritten.
/// Holds config.json, notes.txt, training_log.txt, metrics.csv, weights/epoch_NNN.bin and best.bin,
/// state/ (what resuming needs), standardisation.json, reports and charts.
/// </summary>
public sealed class TrainingSession
{
    public string Folder { get; }
    public int Number { get; }
    public SessionManifest Manifest { get; }
    /// <summary>Every file of the session folder (names owned by <see cref="SessionPaths"/>).</summary>
    public SessionPaths Paths { get; }

    private TrainingSession(string folder, int number, SessionManifest manifest)
    {
        Folder = folder;
        Number = number;
        Manifest = manifest;
        Paths = new SessionPaths(folder);
    }

    public string ConfigPath => Paths.Config;
    public string NotesPath => Paths.Notes;
    public string LogPath => Paths.TrainingLog;
    public string MetricsPath => Paths.Metrics;
    public string StandardisationPath => Paths.Standardisation;
    public string WeightsFolder => Paths.WeightsFolder;
    public string StateFolder => Paths.StateFolder;
    public string StatePath => Paths.State;
    public string BestWeightsPath => Paths.BestWeights;
    public string EpochWeightsPath(int epoch) => Paths.EpochWeights(epoch);

    /// <summary>How the session combines its evaluation windows (config.json's eval_aggregation).</summary>
    public WindowAggregation Aggregation => WindowAggregations.Parse(Manifest.Config.EvalAggregation, "eval_aggregation");

    /// <summary>
    /// Refuses to score records with a session whose classifier was never trained (contrastive pretraining): its
    /// probabilities would mean nothing. Its embeddings are meaningful; fine-tuning gives it a classifier.
    /// </summary>
    public void RequireClassifier(string what)
    {
        if (Manifest.Config.Objective == TrainingObjective.Contrastive)
            throw new Ecg.Data.UserError($"{what}: session {Number} ('{Folder}') is contrastive pretraining, so its classifier was never trained. " +
                                         $"Fine-tune it first (ecg train --init-from {Number} ...); its embeddings are there to study (ecg embed --session {Number}).");
    }

    /// <summary>The file of a weights choice: best.bin, epoch_NNN.bin or average_FFF-TTT.bin.</summary>
    public string WeightsPath(WeightsChoice choice) => choice.PathIn(Paths);

    /// <summary>The file of a weights choice given as text ("best", "7", "9-12"); see <see cref="WeightsChoice.Parse"/>.</summary>
    public string WeightsPath(string choice) => WeightsPath(WeightsChoice.Parse(choice));

    /// <summary>
    /// Creates the next free session_N under the layout's training_sessions/ (claimed race-free between processes,
    /// see <see cref="NumberedFolders.Claim"/>) and writes its notes and config.json (the file that makes it a session).
    /// </summary>
    public static TrainingSession Create(ArtifactLayout layout, SessionManifest manifest, string? notes)
    {
        var (number, folder) = layout.ClaimTrainingSession();
        var session = new TrainingSession(folder, number, manifest);
        AtomicFile.WriteAllText(session.NotesPath, notes ?? "");
        AtomicFile.WriteAllText(session.ConfigPath, JsonSerializer.Serialize(manifest, TrainingConfig.Json));
        return session;
    }

    /// <summary>Creates the next free session under an artifacts root.</summary>
    public static TrainingSession Create(string artifactsRoot, SessionManifest manifest, string? notes) =>
        Create(new ArtifactLayout(artifactsRoot), manifest, notes);

    /// <summary>Opens session "N" or "latest" of a layout; a <see cref="UserError"/> listing the sessions when there is no such one.</summary>
    public static TrainingSession Open(ArtifactLayout layout, string choice) =>
        Open(layout.TrainingSessionFolder(layout.ResolveTrainingSession(choice)));

    /// <summary>Opens an existing session folder (to resume, evaluate or predict).</summary>
    public static TrainingSession Open(string folder)
    {
        var full = Path.GetFullPath(folder);
        var config = new SessionPaths(full).Config;
        if (!File.Exists(config)) throw new FileNotFoundException($"'{full}' is not a training session: it has no config.json.", config);
        SessionManifest manifest;
        try
        {
            manifest = JsonSerializer.Deserialize<SessionManifest>(File.ReadAllText(config), TrainingConfig.Json)
                       ?? throw new InvalidDataException("empty");
        }
        catch (Exception e) when (e is JsonException or InvalidDataException)
        {
            throw new InvalidDataException($"'{config}' cannot be read as a session config: {e.Message}", e);
        }
        return new TrainingSession(full, NumberedFolders.NumberOf(full), manifest);
    }

    /// <summary>A manifest for training on <paramref name="dataset"/> with <paramref name="split"/>.</summary>
    public static SessionManifest Describe(TrainingConfig config, ProcessedDataset dataset, SplitScheme split, string? dataFile) =>
        new()
        {
            Config = config,
            DataFile = dataFile is null ? null : Path.GetFullPath(dataFile),
            DataSha256 = dataFile is null ? null : Sha256(dataFile),
            Split = split.Name,
            TrainFolds = split.TrainFolds,
            ValidationFolds = split.ValidationFolds,
            TestFolds = split.TestFolds,
            TrainRecords = split.TrainIndices(dataset).Length,
            ValidationRecords = split.ValidationIndices(dataset).Length,
            TestRecords = split.TestIndices(dataset).Length,
            ClassNames = dataset.ClassNames,
            LeadNames = dataset.LeadNames,
            Samples = dataset.Samples,
            SamplingRate = dataset.SamplingRate,
            Seed = config.Seed,
            ToolVersion = Version(typeof(TrainingSession).Assembly),
            TorchSharpVersion = Version(typeof(TorchSharp.torch).Assembly),
            DotNetVersion = RuntimeInformation.FrameworkDescription,
            CreatedUtc = DateTime.UtcNow,
        };

    private static string Version(Assembly assembly) =>
        assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0]
        ?? assembly.GetName().Version?.ToString() ?? "unknown";

    public static string Sha256(string file)
    {
        using var stream = File.OpenRead(file);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    /// <summary>The split the session was trained with (folds as recorded).</summary>
    public SplitScheme SplitScheme => new()
    {
        Name = Manifest.Split, TrainFolds = Manifest.TrainFolds,
        ValidationFolds = Manifest.ValidationFolds, TestFolds = Manifest.TestFolds,
    };

    public SessionState LoadState() =>
        File.Exists(StatePath)
            ? JsonSerializer.Deserialize<SessionState>(File.ReadAllText(StatePath), TrainingConfig.Json)
              ?? throw new InvalidDataException($"'{StatePath}' is empty.")
            : new SessionState();

    public void SaveState(SessionState state) =>
        AtomicFile.WriteAllText(StatePath, JsonSerializer.Serialize(state, TrainingConfig.Json));

    public Standardisation LoadStandardisation() =>
        File.Exists(StandardisationPath)
            ? JsonSerializer.Deserialize<Standardisation>(File.ReadAllText(StandardisationPath), TrainingConfig.Json)
              ?? throw new InvalidDataException($"'{StandardisationPath}' is empty.")
            : throw new FileNotFoundException($"Session '{Folder}' has no standardisation.json (training never started).");

    public void SaveStandardisation(Standardisation standardisation) =>
        AtomicFile.WriteAllText(StandardisationPath, JsonSerializer.Serialize(standardisation, TrainingConfig.Json));

    /// <summary>Rewrites metrics.csv and training_log.txt from the history, so a resumed run's files match a straight run's.</summary>
    public void WriteHistory(IReadOnlyList<EpochMetrics> history)
    {
        var classes = Manifest.ClassNames.Length;
        var csv = new StringBuilder().AppendLine(EpochMetrics.CsvHeader(Manifest.ClassNames));
        var log = new StringBuilder();
        foreach (var m in history)
        {
            csv.AppendLine(m.ToCsvRow(classes));
            log.AppendLine(m.ToLogLine(Manifest.Config.Epochs));
        }
        AtomicFile.WriteAllText(MetricsPath, csv.ToString());
        AtomicFile.WriteAllText(LogPath, log.ToString());
    }
}
