using System.ComponentModel;
using Ecg.Analysis;
using Ecg.Model;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Ecg.Cli.Commands;

/// <summary>Options of the stages that analyse a training session's embeddings.</summary>
public class SessionAnalysisSettings : DatasetSettings
{
    [CommandOption("-s|--session <N>")] [Description("Training session number, or latest.")]
    [DefaultValue("latest")]
    public string Session { get; init; } = "latest";
    [CommandOption("-w|--weights <WHICH>")] [Description("best, an epoch number, or an averaged epoch range such as 9-12 (ecg average).")]
    [DefaultValue("best")]
    public string Weights { get; init; } = "best";

    /// <summary>The session's number, checked to exist (with the list of sessions when it does not).</summary>
    public int SessionNumber => Artifacts.OpenSession(ArtifactsRoot, Session).Number;
}

/// <summary>`ecg embed`: 128-d penultimate-layer embeddings of a split, saved as an npz NumPy opens.</summary>
public sealed class EmbedCommand : Command<EmbedCommand.Settings>
{
    public sealed class Settings : SessionAnalysisSettings
    {
        [CommandOption("--split <NAME>")] [Description("train, validation, test or all (default: test when present, else validation).")]
        public string? Split { get; init; }
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var number = settings.SessionNumber;
        var dataset = settings.LoadDataset();
        var session = Embeddings.OpenSession(settings.ArtifactsRoot, number);
        var split = settings.Split ?? Embeddings.DefaultSplit(session, dataset);
        var result = ConsoleProgress.Run($"Embedding the {split} split with session {number}", progress =>
            Embeddings.Run(settings.ArtifactsRoot, number, dataset, split, settings.Weights, null,
                (done, total) => progress.Report(done, total, "batches")));
        AnsiConsole.WriteLine($"{result.Set.EcgIds.Length:N0} embeddings of {result.Set.Dimension} values: {result.Path}");
        return ExitCodes.Success;
    }
}

/// <summary>`ecg feature-space`: K-Means, class and metadata cluster evaluation, PCA/t-SNE/UMAP views and charts.</summary>
public sealed class FeatureSpaceCommand : Command<FeatureSpaceCommand.Settings>
{
    public sealed class Settings : SessionAnalysisSettings
    {
        [CommandOption("--split <NAME>")] [Description("train, validation, test or all (default: test when present, else validation).")]
        public string? Split { get; init; }
        [CommandOption("-k|--clusters <K>")] [Description("K-Means clusters for the class evaluation.")]
        [DefaultValue(5)]
        public int Clusters { get; init; } = 5;
        [CommandOption("--seed <N>")] [Description("Seed of K-Means, t-SNE and UMAP.")]
        [DefaultValue(0)]
        public int Seed { get; init; }
        [CommandOption("--no-tsne")] [Description("Skip t-SNE.")]
        public bool NoTsne { get; init; }
        [CommandOption("--no-umap")] [Description("Skip UMAP.")]
        public bool NoUmap { get; init; }
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var number = settings.SessionNumber;
        var dataset = settings.LoadDataset();
        var options = new FeatureSpaceOptions
        {
            Device = null!,
            Split = settings.Split ?? "", Weights = settings.Weights, Clusters = settings.Clusters, Seed = settings.Seed,
            Tsne = !settings.NoTsne, Umap = !settings.NoUmap,
        };
        var result = ConsoleProgress.Run($"Feature space of session {number}", progress =>
            FeatureSpaceStage.Run(settings.ArtifactsRoot, number, dataset, options,
                p => progress.Report(p.Done, Math.Max(p.Total, 1), p.Step), cancellationToken));
        AnsiConsole.WriteLine(File.ReadAllText(result.SummaryTextPath).TrimEnd());
        AnsiConsole.WriteLine($"charts: {result.ChartsIndexPath}");
        return ExitCodes.Success;
    }
}

/// <summary>`ecg probe`: linear probes for age, sex, height and weight (and age regression) on frozen embeddings.</summary>
public sealed class ProbeCommand : Command<ProbeCommand.Settings>
{
    public sealed class Settings : SessionAnalysisSettings
    {
        [CommandOption("--targets <LIST>")] [Description("Comma-separated: age, sex, height, weight, age_regression (default: all).")]
        public string? Targets { get; init; }
        [CommandOption("-e|--epochs <N>")] [Description("Probe training epochs.")]
        [DefaultValue(100)]
        public int Epochs { get; init; } = 100;
        [CommandOption("--seed <N>")] [Description("Probe seed.")]
        [DefaultValue(0)]
        public int Seed { get; init; }
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var number = settings.SessionNumber;
        var targets = settings.Targets?.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        var unknown = targets?.Except(ProbeOptions.AllTargets).ToArray() ?? Array.Empty<string>();
        if (unknown.Length > 0)
            throw new UserError($"--targets: unknown target(s) {string.Join(", ", unknown)}; use {string.Join(", ", ProbeOptions.AllTargets)}.");
        var dataset = settings.LoadDataset();
        var defaults = ProbeTrainingOptions.Default;
        var options = new ProbeOptions
        {
            Weights = settings.Weights, Targets = targets!, Device = null!,
            Training = new ProbeTrainingOptions
            {
                Epochs = settings.Epochs, Seed = settings.Seed, BatchSize = defaults.BatchSize,
                LearningRate = defaults.LearningRate, WeightDecay = defaults.WeightDecay,
            },
        };
        var result = ConsoleProgress.Run($"Linear probes on session {number}", progress =>
            ProbeStage.Run(settings.ArtifactsRoot, number, dataset, options,
                p => progress.Report(p.Done, Math.Max(p.Total, 1), p.Step), cancellationToken));
        var s = result.Summary;
        var table = new Table().AddColumns("target", "records used (train/val/test)", "best epoch", "test accuracy", "test macro F1", "test MAE");
        foreach (var t in s.Targets)
            table.AddRow(t.Target, string.Join("/", t.Counts.Select(c => c.Used)), t.Skipped is { Length: > 0 } ? "skipped: " + t.Skipped : t.BestEpoch.ToString(),
                         Format(t.TestAccuracy), Format(t.TestMacroF1), double.IsNaN(t.TestMeanAbsoluteError) ? "" : $"{t.TestMeanAbsoluteError:F1}");
        AnsiConsole.Write(table);
        AnsiConsole.WriteLine($"probe session {s.ProbeSession}: {s.Folder}");
        return ExitCodes.Success;
    }

    private static string Format(double value) => double.IsNaN(value) ? "" : value.ToString("F3");
}
