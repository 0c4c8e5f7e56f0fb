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
        [CommandOption("--dataset <NPZ>")] [Description("Processed dataset to hold in memory while training is timed (peak memory with the data loaded).")]
        public string? DatasetFile { get; init; }
        [CommandOption("--stages <LIST>")] [Description("Comma-separated: read, preprocess, train, projections.")]
        [DefaultValue("read,preprocess,train,projections")]
        public string Stages { get; init; } = "read,preprocess,train,projections";
        [CommandOption("--batch-sizes <LIST>")] [Description("Batch sizes for training and inference.")]
        [DefaultValue("64,512")]
        public string BatchSizes { get; init; } = "64,512";
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
        var unknown = stages.Except(new[] { "read", "preprocess", "train", "projections" }).ToArray();
        if (unknown.Length > 0) throw new UserError($"--stages: unknown stage(s) {string.Join(", ", unknown)}.");
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
                Line("dataset held in memory", $"{held.RecordCount:N0} records, {held.Signals.LongLength * 4 / 1048576.0:F0} MiB of signals");
            }
            var batches = settings.BatchSizes.Split(',').Select(b => int.Parse(b, CultureInfo.InvariantCulture)).ToArray();
            TrainingBenchmark.Run(batches, new[] { 1000, 250 }, steps: 3, onFigure: f =>
                Line($"{f.Phase} cross-lead CNN, batch {f.BatchSize}, {f.Length} samples", $"{f.SamplesPerSecond:F0} samples/s, peak RSS {f.PeakResidentMegabytes:F0} MiB"));
            GC.KeepAlive(held);
        }

        if (stages.Contains("projections"))
            foreach (var size in settings.ProjectionSizes.Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)))
            {
                var t = ProjectionBenchmark.run(size, CrossLeadCnn.EmbeddingSize);
                Line($"projections of {size:N0} x 128 points",
                     $"K-Means {t.KMeansSeconds:F1} s, PCA {t.PcaSeconds:F1} s, t-SNE {t.TsneSeconds:F1} s (trustworthiness {t.TsneTrustworthiness:F3}), " +
                     $"UMAP {t.UmapSeconds:F1} s (trustworthiness {t.UmapTrustworthiness:F3})");
            }
        return ExitCodes.Success;
    }

    private static void Line(string what, string figure) => AnsiConsole.WriteLine($"{what,-48} {figure}  [{Cores}]");

    private static void TimePreprocessing(string folder, string cache)
    {
        var clock = Stopwatch.StartNew();
        var result = Preprocessing.Run(new PreprocessingOptions { PtbXlFolder = folder, OutputPath = "", SamplingRate = 100, Folds = Array.Empty<int>() });
        var seconds = clock.Elapsed.TotalSeconds;
        Line($"preprocess in memory, {cache}", $"{result.Summary.RecordsRead / seconds:F0} records/s ({result.Summary.RecordsKept:N0} kept in {seconds:F1} s), " +
             $"peak RSS {TrainingBenchmark.PeakResidentMegabytes():F0} MiB for {result.Dataset.Signals.LongLength * 4 / 1048576.0:F0} MiB of signals");
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
