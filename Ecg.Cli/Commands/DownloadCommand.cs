using System.ComponentModel;
using Ecg.Data;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Ecg.Cli.Commands;

/// <summary>`ecg download`: PTB-XL 1.0.3 from PhysioNet, resumable and verified against SHA256SUMS.txt.</summary>
public sealed class DownloadCommand : Command<DownloadCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandOption("-d|--data <FOLDER>")]
        [Description("Folder to download into (default: $PTBXL_DIR, else ./data/ptb-xl).")]
        public string? DataFolder { get; init; }

        [CommandOption("-r|--rate <HZ>")]
        [Description("Records to fetch: 100, 500, or 0 for both.")]
        [DefaultValue(100)]
        public int SamplingRate { get; init; } = 100;

        [CommandOption("--archive")]
        [Description("Fetch PhysioNet's whole zip (1.7 GB, both rates) instead of single files.")]
        public bool Archive { get; init; }

        [CommandOption("--base-url <URL>")]
        [Description("Where the files are (default: https://physionet.org/files/ptb-xl/1.0.3/).")]
        public string? BaseUrl { get; init; }

        [CommandOption("--parallel <N>")]
        [Description("Files downloaded at a time.")]
        [DefaultValue(4)]
        public int Parallel { get; init; } = 4;

        public override ValidationResult Validate() =>
            SamplingRate is not (0 or 100 or 500) ? ValidationResult.Error("--rate must be 100, 500 or 0 (both).")
            : Parallel < 1 ? ValidationResult.Error("--parallel must be at least 1.")
            : BaseUrl is not null && !Uri.TryCreate(BaseUrl, UriKind.Absolute, out _) ? ValidationResult.Error($"--base-url '{BaseUrl}' is not an absolute URL.")
            : ValidationResult.Success();
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var target = DataSource.TryResolve(settings.DataFolder ?? "") is { } folder ? folder.Value : Path.GetFullPath(Path.Combine("data", "ptb-xl"));
        var options = new DownloadOptions
        {
            TargetFolder = target,
            SamplingRate = settings.SamplingRate,
            Mode = settings.Archive ? DownloadMode.WholeArchive : DownloadMode.Files,
            MaxParallelDownloads = settings.Parallel,
        };
        if (settings.BaseUrl is not null) options.BaseUrl = new Uri(settings.BaseUrl.EndsWith('/') ? settings.BaseUrl : settings.BaseUrl + "/");
        var summary = ConsoleProgress.Run($"Downloading PTB-XL into {target}", progress =>
            PtbXlDownloader.Download(options, new Progress<DownloadProgress>(p =>
                progress.Report(p.FilesCompleted + p.FilesSkipped + p.FilesFailed, p.FilesTotal,
                    $"files, {p.BytesReceived / 1e6:F1} MB at {p.BytesPerSecond / 1e6:F2} MB/s",
                    p.EstimatedRemaining.HasValue ? p.EstimatedRemaining.Value : null)), cancellationToken));
        AnsiConsole.WriteLine(summary.ToString());
        foreach (var failure in summary.Failures)
            AnsiConsole.WriteLine($"  failed: {failure.Message}");
        if (!summary.Succeeded)
            throw new UserError($"{summary.Failures.Length} file(s) could not be downloaded and verified; rerun to resume.");
        AnsiConsole.WriteLine($"PTB-XL is in {target}: set {DataSource.EnvironmentVariable}={target} or pass --data {target}.");
        return ExitCodes.Success;
    }
}
