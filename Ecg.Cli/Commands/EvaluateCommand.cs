using System.ComponentModel;
using Ecg.Model;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Ecg.Cli.Commands;

/// <summary>`ecg evaluate`: a session's weights on a split, with ROC AUC (bootstrap interval) and classification reports.</summary>
public sealed class EvaluateCommand : Command<EvaluateCommand.Settings>
{
    public sealed class Settings : SessionWeightsSettings
    {
        [CommandOption("--split <NAME>")] [Description(SharedOptions.SplitHelp)]
        public string? Split { get; init; }
        [CommandOption("--aggregation <HOW>")] [Description(SharedOptions.AggregationHelp + " choose: the one with the best validation macro AUC (fold 8 under select), then the split evaluated once with it.")]
        public string? Aggregation { get; init; }
        [CommandOption("--engine <ENGINE>")] [Description(SharedOptions.EngineHelp)]
        [DefaultValue("torch")]
        public string Engine { get; init; } = "torch";
        [CommandOption("--bootstrap <N>")] [Description("Bootstrap resamples for the macro AUC interval (0: none).")]
        [DefaultValue(1000)]
        public int Bootstrap { get; init; } = 1000;

        /// <summary>`--aggregation choose`: picked on validation (EvaluationStage.RunChoosingAggregation).</summary>
        public bool ChoosesAggregation => string.Equals(Aggregation?.Trim(), "choose", StringComparison.OrdinalIgnoreCase);

        public override ValidationResult Validate()
        {
            var result = base.Validate();
            return result.Successful ? Check(() => { SharedOptions.CheckSplit(Split); if (!ChoosesAggregation) SharedOptions.Aggregation(Aggregation); SharedOptions.Engine(Engine); }) : result;
        }
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var session = settings.OpenSession(settings.Session);
        var dataset = settings.LoadDataset(session);
        var split = SharedOptions.Split(settings.Split, session.SplitScheme);
        var engine = SharedOptions.Engine(settings.Engine);
        var outcome = ConsoleProgress.Run($"Evaluating session {session.Number} ({settings.WeightsChoice} weights)", progress =>
            settings.ChoosesAggregation
                ? EvaluationStage.RunChoosingAggregation(session, dataset, split, settings.WeightsChoice, settings.Bootstrap,
                                                         p => progress.Report(p.Done, p.Total, p.Step), cancellationToken, engine).Outcome
                : EvaluationStage.Run(session, dataset, split, settings.WeightsChoice, SharedOptions.Aggregation(settings.Aggregation),
                                      settings.Bootstrap, p => progress.Report(p.Done, p.Total, p.Step), cancellationToken, engine));
        AnsiConsole.Write(new Text(outcome.Text));
        AnsiConsole.WriteLine($"written: {outcome.ReportPath}");
        return ExitCodes.Success;
    }
}
