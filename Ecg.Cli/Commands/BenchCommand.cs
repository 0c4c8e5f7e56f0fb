using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using Ecg.Analysis;
using Ecg.Data;
using Ecg.Model;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Ecg.Cli.Commands;

/// <summary>
/// `ecg bench`: how fast each stage runs on this machine (not a test). Prints one line per figure, each saying
/// what it measured and on how many cores.
/// </summary>
public sealed class BenchCommand : Command<BenchCommand.Settings>
{
    public sealed class Settings : PtbXlSettings
    {
        [CommandOption("--dataset <NPZ>")] [Description("Processed dataset to load (or map, when its signals are on disk) while training is timed: peak memory with the data loaded.")]
        public string? DatasetFile { get; init; }
        [CommandOption("--stages <LIST>")] [Description("Comma-separated: read, preprocess, train, engines (TorchSharp against ONNX Runtime inference, alternating), projections, growth (not in the default: it trains).")]
        [DefaultValue("read,preprocess,train,projections")]
        public string Stages { get; init; } = "read,preprocess,train,projections";
        [CommandOption("--batch-sizes <LIST>")] [Description("Batch sizes for training and inference.")]
        [DefaultValue("64,512")]
        public string BatchSizes { get; init; } = "64,512";
        [CommandOption("--lengths <LIST>")] [Description("Input lengths in samples for training and inference (1000 = 10 s, 250 = a 2.5 s crop at 100 Hz).")]
        [DefaultValue("1000,250")]
        public string Lengths { get; init; } = "1000,250";
        [CommandOption("--models <LIST>")] [Description("Networks for the train stage (any --model name of `ecg train`).")]
        [DefaultValue(ModelFactory.CrossLeadCnn)]
        public string Models { get; init; } = ModelFactory.CrossLeadCnn;
        [CommandOption("--phases <LIST>")] [Description("train, inference or both, for the train stage.")]
        [DefaultValue("train,inference")]
        public string Phases { get; init; } = "train,inference";
        [CommandOption("--precisions <LIST>")] [Description("float32, bfloat16 or both, for the train stage (bfloat16 training keeps float32 master weights, as `ecg train --precision bfloat16`).")]
        [DefaultValue(TrainingPrecision.Float32)]
        public string Precisions { get; init; } = TrainingPrecision.Float32;
        [CommandOption("--rounds <N>")] [Description("Alternating rounds per engine for the engines stage (each round: --steps batches).")]
        [DefaultValue(3)]
        public int Rounds { get; init; } = 3;
        [CommandOption("--steps <N>")] [Description("Timed steps per figure of the train stage (after one warm-up step).")]
        [DefaultValue(3)]
        public int Steps { get; init; } = 3;
        [CommandOption("--threads <N>")] [Description("CPU threads for torch (default: all cores).")]
        public int? Threads { get; init; }
        [CommandOption("--growth-records <LIST>")] [Description("Record counts for the growth stage: the first N CSV rows of --data, each measured in a fresh process.")]
        [DefaultValue("1000,5000,all")]
        public string GrowthRecords { get; init; } = "1000,5000,all";
        [CommandOption("--growth-projection-limit <N>")] [Description("Largest point count for t-SNE and UMAP in the growth stage (on 2 cores they take about 4.5 and 0.6 minutes at 100,000 points, docs/scale.md).")]
        [DefaultValue(25000)]
        public int GrowthProjectionLimit { get; init; } = 25000;
        [CommandOption("--embeddings <NPZ>")] [Description("For the projections stage: time them on this embeddings file (`ecg embed`'s npz, all its rows) instead of Gaussian blobs.")]
        public string? Embeddings { get; init; }
        [CommandOption("--projection-sizes <LIST>")] [Description("Point counts (128-d) for K-Means, PCA, t-SNE and UMAP.")]
        [DefaultValue("2200")]
        public string ProjectionSizes { get; init; } = "2200";
        [CommandOption("--drop-caches")] [Description("Also time reading with a cold file cache (needs root: writes /proc/sys/vm/drop_caches).")]
        public bool DropCaches { get; init; }
    }

    private static readonly string Cores = $"{Environment.ProcessorCount} cores";

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var stages = settings.Stages.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).ToHashSet();
        var unknown = stages.Except(new[] { "read", "preprocess", "train", "engines", "projections", "growth" }).ToArray();
        if (unknown.Length > 0) throw new UserError($"--stages: unknown stage(s) {string.Join(", ", unknown)}.");
        var models = Names(settings.Models, "--models", ModelFactory.Names);
        var phases = Names(settings.Phases, "--phases", new[] { "train", "inference" });
        var precisions = Names(settings.Precisions, "--precisions", TrainingPrecision.Names.ToArray());
        if (settings.Rounds < 1) throw new UserError("--rounds must be at least 1.");
        var lengths = Counts(settings.Lengths, "--lengths");
        var batches = Counts(settings.BatchSizes, "--batch-sizes");
        if (settings.Steps < 1) throw new UserError("--steps must be at least 1.");
        if (stages.Contains("growth")) return Growth(settings, stages);
        AnsiConsole.WriteLine($"ecg {Program.Version} benchmark on {Cores}, {Environment.OSVersion}, .NET {Environment.Version}");

        if (stages.Contains("read") || stages.Contains("preprocess"))
        {
            var folder = settings.RequireDataFolder();
            if (stages.Contains("read"))
            {
                var warm = WfdbBenchmark.Run(folder);
                Line("read WFDB (warm cache)", $"{warm.RecordsPerSecond:F0} records/s ({warm.MegabytesPerSecond:F0} MB/s, {warm.RecordsPerCpuSecond:F0} records per CPU-second), {warm.Records:N0} records of {folder}");
            }
            if (stages.Contains("preprocess"))
            {
                if (settings.DropCaches && DropFileCache()) TimePreprocessing(folder, "cold cache");
                TimePreprocessing(folder, "warm cache");
            }
        }

        if (stages.Contains("train"))
        {
            ProcessedDataset? held = null;
            if (settings.DatasetFile is { } file)
            {
                held = ProcessedDatasetFile.Read(file);
                Line(held.Signals.FilePath is null ? "dataset held in memory" : "dataset mapped from disk",
                     $"{held.RecordCount:N0} records, {held.Signals.Length * 4 / 1048576.0:F0} MiB of signals");
            }
            var warned = new HashSet<string>();
            foreach (var model in models)
            {
                // The same warning training gives (once per wording): the figures below may be libtorch's emulation, or hardware that helps only some models.
                if (precisions.Contains(TrainingPrecision.BFloat16) && MixedPrecision.SlowOnThisCpu(Devices.Resolve("cpu"), model) is { } slow && warned.Add(slow))
                    Line("bfloat16", slow);
                TrainingBenchmark.Run(batches, lengths, settings.Steps, settings.Threads, model: model, phases: phases, precisions: precisions, onFigure: f =>
                    Line($"{f.Phase} {f.Model} {f.Precision}, batch {f.BatchSize}, {f.Length} samples", $"{f.SamplesPerSecond:F1} samples/s, peak RSS {f.PeakResidentMegabytes:F0} MiB"));
            }
            GC.KeepAlive(held);
        }

        if (stages.Contains("engines"))
        {
            int threads = settings.Threads ?? Environment.ProcessorCount;
            foreach (var model in models)
                foreach (var window in lengths)
                    foreach (var batch in batches)
                        Ecg.Model.Export.InferenceSpeed.Compare(model, batch, window, settings.Steps, settings.Rounds, threads, oneDimensional: true, int8: true, roundDone: r =>
                            Line($"inference {r.Model} on {r.Engine}, round {r.Round}, batch {batch}, {window} samples", $"{r.WindowsPerSecond:F1} samples/s"));
        }

        if (stages.Contains("projections"))
        {
            void Projections(string what, ProjectionTimings t) =>
                Line($"projections of {what}",
                     $"K-Means {t.KMeansSeconds:F1} s, PCA {t.PcaSeconds:F1} s, t-SNE ({(t.TsneGradient == TsneGradient.Interpolation ? "interpolation" : "Barnes-Hut")}) {t.TsneSeconds:F1} s " +
                     $"(neighbours and P {t.TsneAffinitySeconds:F1} s, descent {t.TsneOptimisationSeconds:F1} s; trustworthiness {t.TsneTrustworthiness:F3}), " +
                     $"UMAP {t.UmapSeconds:F1} s (trustworthiness {t.UmapTrustworthiness:F3})");
            if (settings.Embeddings is { } file)
            {
                var set = ReadEmbeddings(file);
                Projections($"{set.Count:N0} x {set.Dimension} embeddings ({Path.GetFileName(file)})", ProjectionBenchmark.runOn(set.Rows()));
            }
            else
                foreach (var size in settings.ProjectionSizes.Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)))
                    Projections($"{size:N0} x 128 points", ProjectionBenchmark.run(size, CrossLeadCnn.EmbeddingSize));
        }
        return ExitCodes.Success;
    }

    /// <summary>An embeddings npz, or a user error naming it.</summary>
    private static EmbeddingSet ReadEmbeddings(string file)
    {
        if (!File.Exists(file)) throw new UserError($"--embeddings: no file {file}.");
        try { return EmbeddingFile.Read(file); }
        catch (Exception e) when (e is InvalidDataException or IOException) { throw new UserError($"--embeddings {file}: {e.Message}"); }
    }

    /// <summary>
    /// The growth stage. With one record count it measures that count here; with several it runs one child
    /// `ecg bench --stages growth` per count, so each count's peak memory is its own.
    /// </summary>
    private static int Growth(Settings settings, HashSet<string> stages)
    {
        if (stages.Count > 1) throw new UserError("--stages growth runs alone (it starts one process per record count).");
        var folder = settings.RequireDataFolder();
        var counts = Counts(settings.GrowthRecords, "--growth-records", allowAll: true);
        if (settings.GrowthProjectionLimit < 1) throw new UserError("--growth-projection-limit must be positive.");
        if (counts.Length > 1)
        {
            AnsiConsole.WriteLine($"ecg {Program.Version} growth study on {Cores}, {folder}: record counts {settings.GrowthRecords}, one process each");
            return GrowthStudy.RunEach(counts, n =>
            {
                var args = new List<string> { "bench", "--stages", "growth", "--data", folder,
                    "--growth-records", n == int.MaxValue ? "all" : n.ToString(CultureInfo.InvariantCulture),
                    "--growth-projection-limit", settings.GrowthProjectionLimit.ToString(CultureInfo.InvariantCulture) };
                if (settings.Threads is int t) args.AddRange(new[] { "--threads", t.ToString(CultureInfo.InvariantCulture) });
                return args.ToArray();
            });
        }
        var label = counts[0] == int.MaxValue ? "all rows" : $"{counts[0]:N0} rows";
        GrowthStudy.Measure(folder, counts[0], settings.GrowthProjectionLimit, settings.Threads, s =>
            Line($"growth {label}: {s.What}", s.Seconds > 0
                ? $"{s.Records:N0} in {s.Seconds:F1} s, {s.Rate}, peak RSS {s.PeakMegabytes:F0} MiB"
                : ""));   // a skipped step: its description says it all
        return ExitCodes.Success;
    }

    private static string[] Items(string text) => text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);

    /// <summary>A comma-separated list of known names; a UserError names the option and the unknown entry.</summary>
    private static string[] Names(string text, string option, IReadOnlyList<string> known)
    {
        var items = Items(text);
        var bad = items.FirstOrDefault(i => !known.Contains(i));
        if (bad is not null || items.Length == 0)
            throw new UserError($"{option}: '{bad ?? text}' is not one of {string.Join(", ", known)}.");
        return items;
    }

    /// <summary>A comma-separated list of positive integers ("all" = int.MaxValue where allowed).</summary>
    private static int[] Counts(string text, string option, bool allowAll = false)
    {
        var items = Items(text);
        if (items.Length == 0) throw new UserError($"{option}: give at least one number.");
        return items.Select(i => allowAll && i == "all" ? int.MaxValue
            : int.TryParse(i, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0 ? n
            : throw new UserError($"{option}: '{i}' is not a positive whole number{(allowAll ? " or all" : "")}.")).ToArray();
    }

    private static void Line(string what, string figure) => AnsiConsole.WriteLine($"{what,-48} {figure}  [{Cores}]");

    private static void TimePreprocessing(string folder, string cache)
    {
        var clock = Stopwatch.StartNew();
        var result = Preprocessing.Run(new PreprocessingOptions { PtbXlFolder = folder, OutputPath = "", SamplingRate = 100, Folds = Array.Empty<int>() });
        var seconds = clock.Elapsed.TotalSeconds;
        Line($"preprocess in memory, {cache}", $"{result.Summary.RecordsRead / seconds:F0} records/s ({result.Summary.RecordsKept:N0} kept in {seconds:F1} s), " +
             $"peak RSS {TrainingBenchmark.PeakResidentMegabytes():F0} MiB for {result.Dataset.Signals.Length * 4 / 1048576.0:F0} MiB of signals");
    }

    private static bool DropFileCache()
    {
        try
        {
            File.WriteAllText("/proc/sys/vm/drop_caches", "3");
            return true;
        }
        catch (Exception e)
        {
            Line("preprocess in memory, cold cache", $"skipped: cannot drop the file cache ({e.Message})");
            return false;
        }
    }
}
