using System.ComponentModel;
using Ecg.Data;
using Ecg.Model;
using Ecg.Model.Metrics;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Ecg.Cli.Commands;

/// <summary>`ecg ensemble`: averages the probabilities of several sessions and evaluates the average like a session.</summary>
public sealed class EnsembleCommand : Command<EnsembleCommand.Settings>
{
    public sealed class Settings : DatasetSettings
    {
        [CommandOption("--sessions <LIST>")] [Description("Comma-separated training session numbers (at least two).")]
        public string Sessions { get; init; } = "";
        [CommandOption("--split <NAME>")] [Description("train, validation or test (default: test when the dataset has test records, else validation).")]
        public string? Split { get; init; }
        [CommandOption("-w|--weights <WHICH>")] [Description("Each member's weights: best, an epoch number, or an averaged epoch range such as 9-12 (ecg average).")]
        [DefaultValue("best")]
        public string Weights { get; init; } = "best";
        [CommandOption("--aggregation <HOW>")] [Description("How each member combines its evaluation windows: max, mean or whole (default: each session's own).")]
        public string? Aggregation { get; init; }
        [CommandOption("--bootstrap <N>")] [Description("Bootstrap resamples for the macro AUC interval (0: none).")]
        [DefaultValue(1000)]
        public int Bootstrap { get; init; } = 1000;
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var names = settings.Sessions.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (names.Length < 2) throw new UserError("--sessions needs at least two session numbers, e.g. --sessions 1,2,3.");
        var sessions = names.Select(n => Artifacts.OpenSession(settings.ArtifactsRoot, n)).ToArray();
        var dataset = settings.LoadDataset();
        var split = settings.Split ?? (sessions[0].SplitScheme.TestIndices(dataset).Length > 0 ? "test" : "validation");
        EvaluateCommand.RequireKnownAggregation(settings.Aggregation);
        Evaluation[] evaluate(string part) => sessions.Select(s => ConsoleProgress.Status($"Session {s.Number} on {part}",
            () => Evaluator.Evaluate(s, dataset, part, settings.Weights, settings.Aggregation))).ToArray();
        var evaluations = evaluate(split);
        if (evaluations[0].EcgIds.Length == 0) throw new UserError($"The {split} split of {settings.DatasetPath} has no records.");
        var ensemble = Combine(evaluations, settings.Sessions, split);
        foreach (var (s, e) in sessions.Zip(evaluations))
            AnsiConsole.WriteLine($"session {s.Number} ({s.Manifest.Config.Model}): macro AUC {e.MacroAuc:F4}");
        // The ensemble's own per-class thresholds, tuned for F1 on its validation probabilities as a session's are on
        // its own: averaging moves the probabilities, so no member's cut-offs fit the ensemble.
        var tuning = split == "validation" ? ensemble
            : sessions[0].SplitScheme.ValidationIndices(dataset).Length > 0 ? Combine(evaluate("validation"), settings.Sessions, "validation") : null;
        var thresholds = tuning is null ? null : new EvaluateCommand.ReportThresholds(
            Thresholds.TuneForF1(tuning.Probabilities, tuning.Labels, tuning.Classes).Thresholds,
            split == "validation" ? "tuned for this ensemble on these same validation records (optimistic)" : "tuned for this ensemble on validation");
        var windows = settings.Aggregation is { } a ? $", windows combined by {a}" : "";
        var weights = settings.Weights == "best" ? "" : $", weights {settings.Weights}";
        var text = "Ensemble of sessions " + string.Join(", ", sessions.Select(s => s.Number)) + $" (mean of probabilities{windows}{weights})\n"
                   + EvaluateCommand.Report(sessions[0], ensemble, settings.Bootstrap, thresholds);
        AnsiConsole.Write(new Text(text));
        var suffix = (settings.Weights == "best" ? "" : $"_weights_{settings.Weights}") + (settings.Aggregation is { } agg ? $"_{agg}" : "");
        var path = Path.Combine(settings.ArtifactsRoot, "ensembles", $"sessions_{string.Join("_", sessions.Select(s => s.Number))}_{split}{suffix}.txt");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        AtomicFile.WriteAllText(path, text);
        AnsiConsole.WriteLine($"written: {path}");
        return ExitCodes.Success;
    }

    /// <summary>The members' mean probabilities on one split, evaluated like a session's.</summary>
    private static Evaluation Combine(Evaluation[] evaluations, string sessions, string split)
    {
        var first = evaluations[0];
        if (evaluations.Any(e => !e.EcgIds.SequenceEqual(first.EcgIds)))
            throw new UserError($"Sessions {sessions} do not share the same {split} records (different split schemes or datasets).");
        var mean = new float[first.Probabilities.Length];
        foreach (var e in evaluations)
            for (int i = 0; i < mean.Length; i++) mean[i] += e.Probabilities[i] / evaluations.Length;
        return first with { Probabilities = mean, AucPerClass = RocAuc.PerClass(mean, first.Labels, first.Classes), MacroAuc = RocAuc.Macro(mean, first.Labels, first.Classes) };
    }
}
