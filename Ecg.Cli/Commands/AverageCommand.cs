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
        [CommandOption("--split <NAME>")]
        [Description("Split to evaluate the averaged weights on: train, validation, test, all, or none (default: validation when the " +
                     "session has one, else test: adopting averaged weights is a choice, so it is not made on the test records); the session's " +
                     "split scheme (benchmark, select, refit, original) also means that default.")]
        public string? Split { get; init; }
        [CommandOption("--aggregation <HOW>")] [Description(SharedOptions.AggregationHelp)]
        public string? Aggregation { get; init; }
        [CommandOption("--bootstrap <N>")] [Description("Bootstrap resamples for the macro AUC interval (0: none).")]
        [DefaultValue(1000)]
        public int Bootstrap { get; init; } = 1000;

        public bool NoEvaluation => Split?.Trim().Equals("none", StringComparison.OrdinalIgnoreCase) == true;

        public override ValidationResult Validate()
        {
            var result = base.Validate();
            if (!result.Successful) return result;
            if (Epochs is { } text && WeightAveraging.ParseRange(text) is null) return ValidationResult.Error($"--epochs '{text}': give a range such as 9-12.");
            return Check(() => { if (!NoEvaluation) SharedOptions.CheckSplit(Split); SharedOptions.Aggregation(Aggregation); });
        }
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var session = settings.OpenSession(settings.Session);
        var (from, to) = settings.Epochs is { } text ? WeightAveraging.ParseRange(text)!.Value : WeightAveraging.LastEpochs(session, settings.Last);
        var dataset = settings.LoadDataset(session);
        DataSplit? split = settings.NoEvaluation ? null : SharedOptions.Split(settings.Split, session.SplitScheme) ?? DataSplits.DefaultForSelection(session.SplitScheme, dataset);
        var (path, evaluation) = ConsoleProgress.Run($"Averaging epochs {from}-{to} of session {session.Number}", progress =>
            WeightAveraging.AverageAndEvaluate(session, dataset, from, to, split, SharedOptions.Aggregation(settings.Aggregation), settings.Bootstrap,
                                               p => progress.Report(p.Done, p.Total, p.Step), cancellationToken));
        AnsiConsole.WriteLine($"written: {path} (use --weights {from}-{to} with evaluate, ensemble, embed and predict)");
        if (evaluation is not null)
        {
            AnsiConsole.Write(new Text(evaluation.Text));
            AnsiConsole.WriteLine($"written: {evaluation.ReportPath}");
        }
        return ExitCodes.Success;
    }
}
