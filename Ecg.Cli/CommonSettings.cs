using System.ComponentModel;
using Ecg.Data;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Ecg.Cli;

/// <summary>Options every stage has: where artifacts go.</summary>
public class ArtifactsSettings : CommandSettings
{
    [CommandOption("-a|--artifacts <FOLDER>")]
    [Description("Artifacts root (default: $ECG_ARTIFACTS or ./artifacts).")]
    public string? ArtifactsFolder { get; init; }

    public string ArtifactsRoot => Artifacts.Root(ArtifactsFolder);
}

/// <summary>Options of stages that read a processed dataset.</summary>
public class DatasetSettings : ArtifactsSettings
{
    [CommandOption("--dataset <NPZ>")]
    [Description("Processed dataset file (default: <artifacts>/processed/ptbxl_<rate>hz.npz).")]
    public string? DatasetFile { get; init; }

    [CommandOption("-r|--rate <HZ>")]
    [Description("Sampling rate of the processed dataset: 100 or 500.")]
    [DefaultValue(100)]
    public int SamplingRate { get; init; } = 100;

    public string DatasetPath => Path.GetFullPath(DatasetFile ?? Artifacts.ProcessedDataset(ArtifactsRoot, SamplingRate));

    public override ValidationResult Validate() =>
        SamplingRate is 100 or 500 ? ValidationResult.Success() : ValidationResult.Error("--rate must be 100 or 500.");

    /// <summary>Reads the processed dataset, or says how to make it.</summary>
    public ProcessedDataset LoadDataset()
    {
        var path = DatasetPath;
        if (!File.Exists(path))
            throw new UserError($"No processed dataset at {path}: run `ecg preprocess --data <PTB-XL folder>` first, or pass --dataset.");
        return ConsoleProgress.Status($"Reading {Path.GetFileName(path)}", () => ProcessedDatasetFile.Read(path));
    }
}

/// <summary>Options of stages that read PTB-XL itself.</summary>
public class PtbXlSettings : ArtifactsSettings
{
    [CommandOption("-d|--data <FOLDER>")]
    [Description("PTB-XL folder (default: $PTBXL_DIR).")]
    public string? DataFolder { get; init; }

    /// <summary>The PTB-XL folder from --data or $PTBXL_DIR; an error that says how to give one when neither is set.</summary>
    public string RequireDataFolder() =>
        DataSource.TryResolve(DataFolder ?? "") is { } folder ? folder.Value
        : throw new UserError($"No PTB-XL folder: pass --data <folder> or set {DataSource.EnvironmentVariable} " +
                              "(`ecg download --data <folder>` fetches PTB-XL 1.0.3 from PhysioNet).");
}
