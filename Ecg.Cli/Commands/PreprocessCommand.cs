using System.ComponentModel;
using Ecg.Data;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Ecg.Cli.Commands;

/// <summary>`ecg preprocess`: PTB-XL folder -> processed .npz (+ report of what was dropped or failed).</summary>
public sealed class PreprocessCommand : Command<PreprocessCommand.Settings>
{
    public sealed class Settings : PtbXlSettings
    {
        [CommandOption("-r|--rate <HZ>")]
        [Description("Sampling rate to read: 100 (records100) or 500 (records500).")]
        [DefaultValue(100)]
        public int SamplingRate { get; init; } = 100;

        [CommandOption("-o|--output <NPZ>")]
        [Description("Output file (default: <artifacts>/processed/ptbxl_<rate>hz.npz).")]
        public string? Output { get; init; }

        [CommandOption("--folds <LIST>")]
        [Description("Comma-separated strat_folds to keep (default: all).")]
        public string? Folds { get; init; }

        [CommandOption("--force")]
        [Description("Rebuild even when the output is newer than the PTB-XL CSV files.")]
        public bool Force { get; init; }

        [CommandOption("--signals-on-disk")]
        [Description("Write the signals to <output stem>_signals.npy beside the .npz as they are read, so memory does not grow " +
                     "with the record count; later stages memory-map that file. Chosen automatically when the signals " +
                     "would not fit one .NET array (about 179,000 records at 100 Hz, 35,800 at 500 Hz).")]
        public bool SignalsOnDisk { get; init; }

        [CommandOption("--strict")]
        [Description("Exit with code 1 when any record failed (default: report failures and go on).")]
        public bool Strict { get; init; }

        public override ValidationResult Validate() =>
            SamplingRate is 100 or 500 ? ValidationResult.Success() : ValidationResult.Error("--rate must be 100 or 500.");
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var folder = settings.RequireDataFolder();
        if (!DataSource.LooksLikePtbXl(folder))
            throw new UserError($"{folder} is not a PTB-XL folder: it lacks ptbxl_database.csv or scp_statements.csv.");
        var output = Path.GetFullPath(settings.Output ?? Artifacts.ProcessedDataset(settings.ArtifactsRoot, settings.SamplingRate));
        var folds = ParseFolds(settings.Folds);
        var (reportJson, reportText) = Preprocessing.ReportPaths(output).ToValueTuple();
        if (!settings.Force && IsUpToDate(output, reportText, folder, settings.SignalsOnDisk))
        {
            AnsiConsole.WriteLine($"Up to date: {output} is newer than {folder}'s CSV files (--force rebuilds it).");
            return ExitCodes.Success;
        }
        Directory.CreateDirectory(Path.GetDirectoryName(output)!);
        var options = new PreprocessingOptions { PtbXlFolder = folder, OutputPath = output, SamplingRate = settings.SamplingRate, Folds = folds,
                                               SignalsOnDisk = settings.SignalsOnDisk };
        var result = ConsoleProgress.Run($"Reading PTB-XL at {settings.SamplingRate} Hz", progress =>
            Preprocessing.Run(options, p => progress.Report(p.RecordsDone, p.Total, "records", p.EstimatedRemaining)));
        var s = result.Summary;
        AnsiConsole.WriteLine(s.ToText().TrimEnd());
        AnsiConsole.WriteLine($"report: {reportText}");
        if (s.RecordsKept == 0) throw new UserError($"No record of {folder} could be kept; see {reportText}.");
        return settings.Strict && s.Failed > 0 ? ExitCodes.Failure : ExitCodes.Success;
    }

    private static int[] ParseFolds(string? text) =>
        string.IsNullOrWhiteSpace(text) ? Array.Empty<int>()
        : text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
              .Select(f => int.TryParse(f, out var n) && n is >= 1 and <= 10 ? n : throw new UserError($"--folds: '{f}' is not a fold number 1-10."))
              .ToArray();

    /// <summary>
    /// The output and its report exist and are newer than both PTB-XL CSV files, the signals file it names
    /// exists, and its signals are on disk when that is asked for.
    /// </summary>
    private static bool IsUpToDate(string output, string report, string folder, bool signalsOnDisk)
    {
        if (!File.Exists(output) || !File.Exists(report)) return false;
        string? signals;
        try { signals = ProcessedDatasetFile.SignalsFileOf(output); }
        catch (Exception e) when (e is IOException or InvalidDataException) { return false; }
        if (signals is null ? signalsOnDisk : !File.Exists(signals)) return false;
        var built = File.GetLastWriteTimeUtc(output);
        return new[] { "ptbxl_database.csv", "scp_statements.csv" }
            .All(f => File.GetLastWriteTimeUtc(Path.Combine(folder, f)) < built);
    }
}
