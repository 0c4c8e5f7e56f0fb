using System.ComponentModel;
using Ecg.Data;
using Ecg.Model;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Ecg.Cli.Commands;

/// <summary>`ecg ensemble`: averages the probabilities of several sessions and evaluates the average like a session.</summary>
public sealed class EnsembleCommand : Command<EnsembleCommand.Settings>
{
    public sealed class Settings : DatasetSettings
    {
        [CommandOption("--sessions <LIST>")] [Description("Comma-separated training session numbers (at least two). For the plain mean a member may name its own weights, " +
                                                          "SESSION:WEIGHTS, e.g. 2:12,2:24,2:36: one session's snapshots at the ends of its --cycles; with --choose such snapshots are candidates.")]
        public string Sessions { get; init; } = "";
        [CommandOption("--split <NAME>")] [Description(SharedOptions.SplitHelp)]
        public string? Split { get; init; }
        [CommandOption("-w|--weights <WHICH>")] [Description("Each member's weights: " + WeightsChoice.Accepted + ".")]
        [DefaultValue("best")]
        public string Weights { get; init; } = "best";
        [CommandOption("--aggregation <HOW>")] [Description("How each member combines its evaluation windows: max, mean or whole (default: each session's own).")]
        public string? Aggregation { get; init; }
        [CommandOption("--bootstrap <N>")] [Description("Bootstrap resamples for the macro AUC interval (0: none).")]
        [DefaultValue(1000)]
        public int Bootstrap { get; init; } = 1000;

        [CommandOption("--choose")]
        [Description("Choose the members and their weights from --sessions on the validation split alone (forward selection with " +
                     "replacement, Caruana et al. 2004), then report the chosen weighted mean once on the test split. Writes the choice " +
                     "to ensembles/chosen_from_<sessions>_<split>.json.")]
        public bool Choose { get; init; }
        [CommandOption("--rounds <N>")] [Description("With --choose: selection rounds (each adds one member, again if already in); the best round is kept.")]
        [DefaultValue(25)]
        public int Rounds { get; init; } = 25;
        [CommandOption("--min-gain <G>")] [Description("With --choose: a later round replaces the kept one only when its validation macro AUC is higher by at least G (e.g. 1e-4: fewer members for fifth-decimal gains).")]
        [DefaultValue(0.0)]
        public double MinimumGain { get; init; }

        [CommandOption("--stack")]
        [Description("Stack --sessions: per class, a logistic regression on the members' logits fitted on the validation split alone, " +
                     "then reported once on the test split. Writes the stack to ensembles/stacked_<sessions>_<split>.json.")]
        public bool Stack { get; init; }

        [CommandOption("--apply-choice <FILE>")]
        [Description("Combine --sessions as an earlier --choose or --stack did (its ensembles/....json): one session per member, " +
                     "in the file's order, each trained with its member's recipe, e.g. the members retrained under --split refit.")]
        public string? ApplyChoice { get; init; }

        public string[] SessionList => Sessions.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);

        /// <summary>Whether a --sessions entry names its own weights (SESSION:WEIGHTS).</summary>
        public bool MembersNameWeights => SessionList.Any(entry => entry.Contains(':'));

        public override ValidationResult Validate()
        {
            var result = base.Validate();
            if (!result.Successful) return result;
            if ((Choose ? 1 : 0) + (Stack ? 1 : 0) + (ApplyChoice is null ? 0 : 1) > 1)
                return ValidationResult.Error("--choose and --stack make a choice and --apply-choice applies one: give one of them.");
            if (SessionList.Length < 2) return ValidationResult.Error("--sessions needs at least two session numbers, e.g. --sessions 1,2,3.");
            if (MembersNameWeights && (Stack || ApplyChoice is not null))
                return ValidationResult.Error("--sessions SESSION:WEIGHTS members are for the plain mean and --choose; --stack and --apply-choice take session numbers " +
                                              "(a choice among snapshots carries each member's weights in its file).");
            if (MembersNameWeights && Weights != "best")
                return ValidationResult.Error("--weights with --sessions SESSION:WEIGHTS: give the weights in one place, per member or for all.");
            if (Rounds < 1) return ValidationResult.Error($"--rounds {Rounds}: give at least 1.");
            if (!(MinimumGain >= 0)) return ValidationResult.Error($"--min-gain {MinimumGain}: give 0 or more.");
            if ((Choose || Stack) && Split is not null && DataSplits.ParseForSession(Split, null) is { } part && part != DataSplit.Test)
                return ValidationResult.Error($"--split {Split} with --{(Choose ? "choose" : "stack")}: the choice is made on validation and reported on test; leave --split out.");
            return Check(() =>
            {
                SharedOptions.CheckSplit(Split); SharedOptions.Aggregation(Aggregation); WeightsChoice.Parse(Weights);
                foreach (var entry in SessionList) FineTuning.Parse(entry, "--sessions");
            });
        }
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        // Each entry is SESSION or SESSION:WEIGHTS; a bare session takes --weights (Validate keeps the two apart).
        var common = WeightsChoice.Parse(settings.Weights);
        var members = settings.SessionList.Select(entry => FineTuning.Parse(entry, "--sessions"))
            .Select(m => new EnsembleMember(settings.OpenSession(m.Session), settings.MembersNameWeights ? m.Weights : common)).ToArray();
        var sessions = members.Select(m => m.Session).ToArray();
        var dataset = settings.LoadDataset(sessions[0]);
        if (settings.Choose) return ExecuteChoice(settings, members, dataset, cancellationToken);
        if (settings.Stack) return ExecuteStack(settings, sessions, dataset, cancellationToken);
        var split = SharedOptions.Split(settings.Split, sessions[0].SplitScheme);
        var aggregation = SharedOptions.Aggregation(settings.Aggregation);
        var outcome = ConsoleProgress.Run($"Ensemble of sessions {string.Join(", ", members.Select(m => m.Label))}", progress =>
            settings.ApplyChoice is { } choice
                ? Ensemble.ApplyChoice(settings.Layout, choice, sessions, dataset, split, common, aggregation, settings.Bootstrap,
                                       p => progress.Report(p.Done, p.Total, p.Step), cancellationToken)
                : Ensemble.Run(settings.Layout, members, dataset, split, aggregation, settings.Bootstrap,
                               p => progress.Report(p.Done, p.Total, p.Step), cancellationToken));
        foreach (var (m, e) in members.Zip(outcome.Members))
            AnsiConsole.WriteLine($"session {m.Label} ({m.Session.Manifest.Config.Model}): macro AUC {e.MacroAuc:F4}");
        AnsiConsole.Write(new Text(outcome.Ensemble.Text));
        AnsiConsole.WriteLine($"written: {outcome.Ensemble.ReportPath}");
        return ExitCodes.Success;
    }

    private static int ExecuteChoice(Settings settings, EnsembleMember[] candidates, ProcessedDataset dataset, CancellationToken cancellationToken)
    {
        // --split may only name the session's scheme or test here (checked in Validate); this checks the scheme.
        SharedOptions.Split(settings.Split, candidates[0].Session.SplitScheme);
        var outcome = ConsoleProgress.Run($"Choosing an ensemble from sessions {string.Join(", ", candidates.Select(m => m.Label))}", progress =>
            Ensemble.Choose(settings.Layout, candidates, dataset, SharedOptions.Aggregation(settings.Aggregation),
                            settings.Rounds, settings.Bootstrap, p => progress.Report(p.Done, p.Total, p.Step), cancellationToken, settings.MinimumGain));
        AnsiConsole.Write(new Text(outcome.Ensemble.Text));
        AnsiConsole.WriteLine($"written: {outcome.Ensemble.ReportPath}");
        return ExitCodes.Success;
    }

    private static int ExecuteStack(Settings settings, TrainingSession[] members, ProcessedDataset dataset, CancellationToken cancellationToken)
    {
        // As with --choose, --split may only name the session's scheme or test (checked in Validate); this checks the scheme.
        SharedOptions.Split(settings.Split, members[0].SplitScheme);
        var outcome = ConsoleProgress.Run($"Stacking sessions {string.Join(", ", members.Select(s => s.Number))}", progress =>
            Ensemble.Stack(settings.Layout, members, dataset, WeightsChoice.Parse(settings.Weights), SharedOptions.Aggregation(settings.Aggregation),
                           settings.Bootstrap, p => progress.Report(p.Done, p.Total, p.Step), cancellationToken));
        AnsiConsole.Write(new Text(outcome.Text));
        AnsiConsole.WriteLine($"written: {outcome.ReportPath}");
        return ExitCodes.Success;
    }
}
