using System.ComponentModel;
using Ecg.Model;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Ecg.Cli.Commands;

/// <summary>
/// `ecg average`: averages a session's weights over a range of epochs (checkpoint averaging, as in SWA),
/// recomputes BatchNorm statistics on the training records, and evaluates the result like `ecg evaluate`.
/// </summary>
public sealed class AverageCommand : Command<AverageCommand.Settings>
{
    public sealed class Settings : DatasetSettings
    {
        [CommandOption("-s|--session <N>")] [Description("Training session number, or latest.")]
        [DefaultValue("latest")]
        public string Session { get; init; } = "latest";
        [CommandOption("--epochs <F-T>")] [Description("Epochs to average, e.g. 9-12 (default: the last --last epochs).")]
        public string? Epochs { get; init; }
        [CommandOption("--last <N>")] [Description("Without --epochs: average the session's last N completed epochs.")]
        [DefaultValue(4)]
        public int Last { get; init; } = 4;
        [CommandOption("--split <NAME>")] [Description("Split to evaluate the averaged weights on: train, validation, test, or none (default: validation when the session has one, else test).")]
        public string? Split { get; init; }
        [CommandOption("--aggregation <HOW>")] [Description("How evaluation windows combine: max, mean or whole (default: the session's).")]
        public string? Aggregation { get; init; }
        [CommandOption("--bootstrap <N>")] [Description("Bootstrap resamples for the macro AUC interval (0: none).")]
        [DefaultValue(1000)]
        public int Bootstrap { get; init; } = 1000;
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var session = Artifacts.OpenSession(settings.ArtifactsRoot, settings.Session);
        EvaluateCommand.RequireKnownAggregation(settings.Aggregation);
        var (from, to) = settings.Epochs is { } text
            ? WeightAveraging.ParseRange(text) ?? throw new UserError($"--epochs '{text}': give a range such as 9-12.")
            : WeightAveraging.LastEpochs(session, settings.Last);
        var dataset = settings.LoadDataset();
        var path = ConsoleProgress.Run($"Averaging epochs {from}-{to} of session {session.Number}, BatchNorm statistics on the training records",
            progress => WeightAveraging.Average(session, dataset, from, to, (b, n) => progress.Report(b, n, "batches"), cancellationToken));
        AnsiConsole.WriteLine($"written: {path} (use --weights {from}-{to} with evaluate, ensemble, embed and predict)");

        var split = settings.Split ?? (session.SplitScheme.ValidationIndices(dataset).Length > 0 ? "validation" : "test");
        if (split != "none")
            EvaluateCommand.EvaluateAndSave(session, dataset, settings.DatasetPath, split, $"{from}-{to}", settings.Aggregation, settings.Bootstrap);
        return ExitCodes.Success;
    }
}
