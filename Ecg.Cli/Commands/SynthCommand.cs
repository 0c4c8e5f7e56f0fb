using System.ComponentModel;
using Ecg.Data;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Ecg.Cli.Commands;

/// <summary>`ecg synth`: a synthetic PTB-XL-shaped folder (CSVs, WFDB records, SHA256SUMS.txt), seeded and deterministic.</summary>
public sealed class SynthCommand : Command<SynthCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandArgument(0, "<FOLDER>")] [Description("Folder to write (must be empty unless --overwrite).")]
        public string Folder { get; init; } = "";
        [CommandOption("-n|--records <N>")] [Description("Number of records (PTB-XL has 21,799).")]
        [DefaultValue(21799)]
        public int Records { get; init; } = 21799;
        [CommandOption("--seed <N>")] [Description("Same seed and options give a byte-identical folder.")]
        [DefaultValue(1L)]
        public long Seed { get; init; } = 1;
        [CommandOption("-r|--rate <HZ>")] [Description("100, 500, or 0 for both (500 Hz takes five times the disk).")]
        [DefaultValue(100)]
        public int SamplingRate { get; init; } = 100;
        [CommandOption("--overwrite")] [Description("Replace the records of an existing folder.")]
        public bool Overwrite { get; init; }

        public override ValidationResult Validate() =>
            Records < 1 ? ValidationResult.Error("--records must be at least 1.")
            : SamplingRate is not (0 or 100 or 500) ? ValidationResult.Error("--rate must be 100, 500 or 0 (both).")
            : ValidationResult.Success();
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var options = new SyntheticPtbXlOptions
        {
            OutputFolder = Path.GetFullPath(settings.Folder),
            MaxDegreeOfParallelism = 0,
            RecordCount = settings.Records,
            Seed = settings.Seed,
            SamplingRates = settings.SamplingRate == 0 ? new[] { 100, 500 } : new[] { settings.SamplingRate },
            Overwrite = settings.Overwrite,
        };
        var result = ConsoleProgress.Run($"Writing {settings.Records:N0} synthetic records", progress =>
            SyntheticPtbXl.Generate(options, p =>
            {
                var rate = p.RecordsDone / Math.Max(p.Elapsed.TotalSeconds, 1e-3);
                progress.Report(p.RecordsDone, p.Total, "records",
                    p.RecordsDone > 0 ? TimeSpan.FromSeconds((p.Total - p.RecordsDone) / rate) : null);
            }));
        AnsiConsole.WriteLine($"{result.RecordCount:N0} records ({result.Files:N0} files, {result.Bytes / 1e6:F1} MB) in {result.Folder}, " +
                              $"{result.ElapsedSeconds:F1} s ({result.RecordsPerSecond:F0} records/s)");
        AnsiConsole.WriteLine("classes: " + string.Join(", ", result.ClassNames.Select((c, i) => $"{c} {result.ClassCounts[i]:N0}")));
        return ExitCodes.Success;
    }
}
