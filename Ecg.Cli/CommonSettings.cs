using System.ComponentModel;
using Ecg.Data;
using Ecg.Model;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Ecg.Cli;

/// <summary>Options every stage has: where artifacts go.</summary>
public class ArtifactsSettings : CommandSettings
{
    [CommandOption("-a|--artifacts <FOLDER>")]
    [Description("Artifacts root (default: $ECG_ARTIFACTS or ./artifacts).")]
    public string? ArtifactsFolder { get; init; }

    public ArtifactLayout Layout => ArtifactLayout.Resolve(ArtifactsFolder);
    public string ArtifactsRoot => Layout.Root;

    /// <summary>Training session "N" or "latest"; a one-line error listing the sessions when there is no such one.</summary>
    public TrainingSession OpenSession(string choice) => TrainingSession.Open(Layout, choice);

    /// <summary>Runs the parse of a choice in Validate, so a bad value is a usage error (exit 2) that lists the accepted ones.</summary>
    protected static ValidationResult Check(Action parse)
    {
        try { parse(); return ValidationResult.Success(); }
        catch (UserError e) { return ValidationResult.Error(e.Message); }
    }
}

/// <summary>Options of stages that read a processed dataset.</summary>
public class DatasetSettings : ArtifactsSettings
{
    [CommandOption("--dataset <NPZ>")]
    [Description("Processed dataset file (default: <artifacts>/processed/ptbxl_<rate>hz.npz).")]
    public string? DatasetFile { get; init; }

    [CommandOption("-r|--rate <HZ>")]
    [Description("Sampling rate of the processed dataset: 100 or 500 (default: the session's rate where a stage reads a session, else 100).")]
    public int? SamplingRate { get; init; }

    /// <summary>The dataset file of a stage that reads no session: --dataset, else the processed file at --rate (100 Hz unless given).</summary>
    public string DatasetPath => PathFor(SamplingRate ?? 100);

    /// <summary>The dataset file for a session: --dataset, else the processed file at --rate or, unless given, at the session's own rate.</summary>
    public string DatasetPathFor(TrainingSession session) => PathFor(SamplingRate ?? (int)Math.Round(session.Manifest.SamplingRate));

    private string PathFor(int rate) => Path.GetFullPath(DatasetFile ?? Layout.ProcessedDataset(rate));

    public override ValidationResult Validate() =>
        SamplingRate is null or 100 or 500 ? ValidationResult.Success() : ValidationResult.Error("--rate must be 100 or 500.");

    /// <summary>
    /// Reads the processed dataset, or says how to make it. With <paramref name="deferSignals"/> the signals are read
    /// only if a record is asked for (stages that may reuse saved embeddings; see ProcessedDatasetFile.Read).
    /// </summary>
    public ProcessedDataset LoadDataset(bool deferSignals = false) => Load(DatasetPath, deferSignals);

    /// <summary>
    /// The processed dataset as a session sees it: its task's records and labels, its leads (<see cref="TrainingData"/>),
    /// read at the session's sampling rate unless --rate or --dataset says otherwise.
    /// </summary>
    public ProcessedDataset LoadDataset(TrainingSession session, bool deferSignals = false) => TrainingData.For(Load(DatasetPathFor(session), deferSignals), session);

    private static ProcessedDataset Load(string path, bool deferSignals)
    {
        if (!File.Exists(path))
            throw new UserError($"No processed dataset at {path}: run `ecg preprocess --data <PTB-XL folder>` first, or pass --dataset.");
        return ConsoleProgress.Status($"Reading {Path.GetFileName(path)}", () => ProcessedDatasetFile.Read(path, deferSignals));
    }
}

/// <summary>Options of stages that run one session's weights on a dataset: --session, --weights.</summary>
public class SessionWeightsSettings : DatasetSettings
{
    [CommandOption("-s|--session <N>")] [Description("Training session number, or latest.")]
    [DefaultValue("latest")]
    public string Session { get; init; } = "latest";

    [CommandOption("-w|--weights <WHICH>")] [Description("Weights: " + WeightsChoice.Accepted + ".")]
    [DefaultValue("best")]
    public string Weights { get; init; } = "best";

    public WeightsChoice WeightsChoice => WeightsChoice.Parse(Weights);

    public override ValidationResult Validate()
    {
        var result = base.Validate();
        return result.Successful ? Check(() => _ = WeightsChoice) : result;
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

/// <summary>Parses the choices several commands share, for their Validate and Execute.</summary>
public static class SharedOptions
{
    public const string SplitHelp = "train, validation, test or all (default: test when the dataset has test records, else validation); " +
                                    "the session's split scheme (benchmark, select, refit, original) also means the default, after checking the session uses it.";
    public const string AggregationHelp = "How evaluation windows combine: max, mean (of probabilities) or whole (no windows: one pass over the record). Default: the session's.";

    public const string EngineHelp = "torch (TorchSharp, default), onnx (ONNX Runtime on the session's exported graph, exported to <session>/export/ when missing) or onnx-int8 (that graph quantized to int8, calibrated on 256 training records; scores records, not embeddings).";

    public static Ecg.Model.Export.InferenceEngine Engine(string text) => Ecg.Model.Export.ExportChoices.ParseEngine(text);

    /// <summary>--split checked alone, for Validate (the session is not open yet).</summary>
    public static void CheckSplit(string? text) => DataSplits.ParseForSession(text, null);

    /// <summary>--split for a session trained under <paramref name="scheme"/>: a part, or null for the stage's default.</summary>
    public static DataSplit? Split(string? text, SplitScheme scheme) => DataSplits.ParseForSession(text, scheme);
    public static WindowAggregation? Aggregation(string? text) => text is null ? null : WindowAggregations.Parse(text);
}
