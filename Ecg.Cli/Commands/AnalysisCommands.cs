using System.ComponentModel;
using Ecg.Analysis;
using Ecg.Model;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Ecg.Cli.Commands;

/// <summary>`ecg embed`: 128-d penultimate-layer embeddings of a split, saved as an npz NumPy opens.</summary>
public sealed class EmbedCommand : Command<EmbedCommand.Settings>
{
    public sealed class Settings : SessionWeightsSettings
    {
        [CommandOption("--split <NAME>")] [Description(SharedOptions.SplitHelp)]
        public string? Split { get; init; }
        [CommandOption("--engine <ENGINE>")] [Description(SharedOptions.EngineHelp)]
        [DefaultValue("torch")]
        public string Engine { get; init; } = "torch";
        [CommandOption("--aggregation <HOW>")] [Description("mean: a record's embedding is the mean over the session's evaluation windows (the default, what feature-space and probe use); whole: one pass over the whole record (fewer samples through the network; written to embeddings_<split>_whole.npz).")]
        [DefaultValue("mean")]
        public string Aggregation { get; init; } = "mean";

        public bool WholeRecord => Aggregation.Trim().ToLowerInvariant() == "whole";

        public override ValidationResult Validate()
        {
            var result = base.Validate();
            if (!result.Successful) return result;
            if (Aggregation.Trim().ToLowerInvariant() is not ("mean" or "whole"))
                return ValidationResult.Error($"--aggregation '{Aggregation}': use mean (over the evaluation windows) or whole (one pass over the record).");
            return Check(() => { SharedOptions.CheckSplit(Split); SharedOptions.Engine(Engine); });
        }
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var session = settings.OpenSession(settings.Session);
        var dataset = settings.LoadDataset(session);
        var result = ConsoleProgress.Run($"Embedding with session {session.Number}", progress =>
            EmbeddingStage.Run(settings.Layout, session, dataset, SharedOptions.Split(settings.Split, session.SplitScheme), settings.WeightsChoice, null,
                (done, total) => progress.Report(done, total, "batches"), cancellationToken, SharedOptions.Engine(settings.Engine), settings.WholeRecord));
        AnsiConsole.WriteLine($"{result.Set.EcgIds.Length:N0} embeddings of {result.Set.Dimension} values: {result.Path}");
        return ExitCodes.Success;
    }
}

/// <summary>`ecg feature-space`: K-Means, class and metadata cluster evaluation, PCA/t-SNE/UMAP views and charts.</summary>
public sealed class FeatureSpaceCommand : Command<FeatureSpaceCommand.Settings>
{
    public sealed class Settings : SessionWeightsSettings
    {
        [CommandOption("--split <NAME>")] [Description(SharedOptions.SplitHelp)]
        public string? Split { get; init; }
        [CommandOption("-k|--clusters <K>")] [Description("K-Means clusters for the class evaluation (default: the number of the session's classes).")]
        [DefaultValue(0)]
        public int Clusters { get; init; }
        [CommandOption("--seed <N>")] [Description("Seed of K-Means, t-SNE and UMAP.")]
        [DefaultValue(0)]
        public int Seed { get; init; }
        [CommandOption("--no-tsne")] [Description("Skip t-SNE.")]
        public bool NoTsne { get; init; }
        [CommandOption("--no-umap")] [Description("Skip UMAP.")]
        public bool NoUmap { get; init; }
        [CommandOption("--neighbours <HOW>")] [Description("Neighbour search of t-SNE and UMAP: auto (exact below 4,096 records, NN-descent above), exact or approximate.")]
        [DefaultValue("auto")]
        public string Neighbours { get; init; } = "auto";
        [CommandOption("--tsne-gradient <HOW>")] [Description("t-SNE's repulsive forces: auto (FFT interpolation from 10,000 records, Barnes-Hut below), barnes-hut or interpolation.")]
        [DefaultValue("auto")]
        public string TsneGradient { get; init; } = "auto";

        public override ValidationResult Validate()
        {
            var result = base.Validate();
            return result.Successful
                ? Check(() => { SharedOptions.CheckSplit(Split); ProjectionChoices.ParseNeighbourSearch(Neighbours); ProjectionChoices.ParseTsneGradient(TsneGradient); })
                : result;
        }
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var session = settings.OpenSession(settings.Session);
        // Signals only if the saved embeddings cannot be reused.
        var dataset = settings.LoadDataset(session, deferSignals: true);
        var options = new FeatureSpaceOptions
        {
            Device = null!,
            Split = SharedOptions.Split(settings.Split, session.SplitScheme), Weights = settings.WeightsChoice, Clusters = settings.Clusters, Seed = settings.Seed,
            Tsne = !settings.NoTsne, Umap = !settings.NoUmap,
            Neighbours = ProjectionChoices.ParseNeighbourSearch(settings.Neighbours), TsneGradient = ProjectionChoices.ParseTsneGradient(settings.TsneGradient),
        };
        var result = ConsoleProgress.Run($"Feature space of session {session.Number}", progress =>
            FeatureSpaceStage.Run(settings.Layout, session, dataset, options,
                p => progress.Report(p.Done, Math.Max(p.Total, 1), p.Step), cancellationToken));
        AnsiConsole.WriteLine(File.ReadAllText(result.SummaryTextPath).TrimEnd());
        AnsiConsole.WriteLine($"charts: {result.ChartsIndexPath}");
        return ExitCodes.Success;
    }
}

/// <summary>`ecg probe`: linear probes for age, sex, height and weight (and age regression) on frozen embeddings.</summary>
public sealed class ProbeCommand : Command<ProbeCommand.Settings>
{
    public sealed class Settings : SessionWeightsSettings
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
        var session = settings.OpenSession(settings.Session);
        var targets = settings.Targets?.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        var unknown = targets?.Except(ProbeOptions.AllTargets).ToArray() ?? Array.Empty<string>();
        if (unknown.Length > 0)
            throw new UserError($"--targets: unknown target(s) {string.Join(", ", unknown)}; use {string.Join(", ", ProbeOptions.AllTargets)}.");
        var dataset = settings.LoadDataset(session, deferSignals: true);
        var defaults = ProbeTrainingOptions.Default;
        var options = new ProbeOptions
        {
            Weights = settings.WeightsChoice, Targets = targets!, Device = null!,
            Training = new ProbeTrainingOptions
            {
                Epochs = settings.Epochs, Seed = settings.Seed, BatchSize = defaults.BatchSize,
                LearningRate = defaults.LearningRate, WeightDecay = defaults.WeightDecay,
            },
        };
        var result = ConsoleProgress.Run($"Linear probes on session {session.Number}", progress =>
            ProbeStage.Run(settings.Layout, session, dataset, options,
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
