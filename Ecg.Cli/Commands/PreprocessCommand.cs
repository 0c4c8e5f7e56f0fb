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
        var options = new PreprocessingOptions(folder, settings.Output ?? settings.Layout.ProcessedDataset(settings.SamplingRate), settings.SamplingRate,
                                               ParseFolds(settings.Folds), 0, settings.SignalsOnDisk);
        var outcome = ConsoleProgress.Run($"Reading PTB-XL at {settings.SamplingRate} Hz", progress =>
            PreprocessingStage.Run(options, settings.Force, p => progress.Report(p.RecordsDone, p.Total, "records", p.EstimatedRemaining)));
        if (outcome.UpToDate)
        {
            AnsiConsole.WriteLine($"Up to date: {outcome.OutputPath} is newer than {folder}'s CSV files (--force rebuilds it).");
            return ExitCodes.Success;
        }
        var s = outcome.Result.Value.Summary;
        AnsiConsole.WriteLine(s.ToText().TrimEnd());
        AnsiConsole.WriteLine($"report: {outcome.ReportTextPath}");
        return settings.Strict && s.Failed > 0 ? ExitCodes.Failure : ExitCodes.Success;
    }

    private static int[] ParseFolds(string? text) =>
        string.IsNullOrWhiteSpace(text) ? Array.Empty<int>()
        : text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
              .Select(f => int.TryParse(f, out var n) && n is >= 1 and <= 10 ? n : throw new UserError($"--folds: '{f}' is not a fold number 1-10."))
              .ToArray();
}
