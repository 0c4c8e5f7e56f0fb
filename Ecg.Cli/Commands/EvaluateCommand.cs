using System.ComponentModel;
using System.Globalization;
using System.Text;
using Ecg.Data;
using Ecg.Model;
using Ecg.Model.Metrics;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Ecg.Cli.Commands;

/// <summary>`ecg evaluate`: a session's weights on a split, with ROC AUC (bootstrap interval) and classification reports.</summary>
public sealed class EvaluateCommand : Command<EvaluateCommand.Settings>
{
    public sealed class Settings : DatasetSettings
    {
        [CommandOption("-s|--session <N>")] [Description("Training session number, or latest.")]
        [DefaultValue("latest")]
        public string Session { get; init; } = "latest";
        [CommandOption("--split <NAME>")] [Description("train, validation or test (default: test when the dataset has test records, else validation).")]
        public string? Split { get; init; }
        [CommandOption("-w|--weights <WHICH>")] [Description("best, an epoch number, or an averaged epoch range such as 9-12 (ecg average).")]
        [DefaultValue("best")]
        public string Weights { get; init; } = "best";
        [CommandOption("--aggregation <HOW>")] [Description("How evaluation windows combine: max, mean (of probabilities) or whole (no windows: one pass over the record). Default: the session's, max.")]
        public string? Aggregation { get; init; }
        [CommandOption("--bootstrap <N>")] [Description("Bootstrap resamples for the macro AUC interval (0: none).")]
        [DefaultValue(1000)]
        public int Bootstrap { get; init; } = 1000;
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var session = Artifacts.OpenSession(settings.ArtifactsRoot, settings.Session);
        var dataset = settings.LoadDataset();
        var split = settings.Split ?? (session.SplitScheme.TestIndices(dataset).Length > 0 ? "test" : "validation");
        RequireKnownAggregation(settings.Aggregation);
        EvaluateAndSave(session, dataset, settings.DatasetPath, split, settings.Weights, settings.Aggregation, settings.Bootstrap);
        return ExitCodes.Success;
    }

    /// <summary>Refuses an --aggregation that <see cref="WindowedInference"/> does not know; null (the session's own) passes.</summary>
    public static void RequireKnownAggregation(string? how)
    {
        if (how is not null && !WindowedInference.Aggregations.Contains(how))
            throw new UserError($"--aggregation '{how}': use one of {string.Join(", ", WindowedInference.Aggregations)}.");
    }

    /// <summary>
    /// Evaluates a session's weights on a split, prints the report and saves it as
    /// evaluations/&lt;split&gt;_&lt;weights&gt;[_&lt;aggregation&gt;].txt (the aggregation only when it is not the session's own).
    /// </summary>
    public static void EvaluateAndSave(TrainingSession session, ProcessedDataset dataset, string datasetPath, string split, string weights,
                                       string? aggregation, int bootstrap)
    {
        var evaluation = ConsoleProgress.Status($"Evaluating session {session.Number} ({weights} weights) on {split}",
            () => Evaluator.Evaluate(session, dataset, split, weights, aggregation));
        if (evaluation.EcgIds.Length == 0)
            throw new UserError($"The {split} split of {datasetPath} has no records (folds {string.Join(",", FoldsOf(session, split))}).");
        var text = Report(session, evaluation, bootstrap, SessionThresholds(session));
        AnsiConsole.Write(new Text(text));
        var suffix = aggregation is { } a && a != session.Manifest.Config.EvalAggregation ? $"_{a}" : "";
        var path = Path.Combine(session.Folder, "evaluations", $"{split}_{weights}{suffix}.txt");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        AtomicFile.WriteAllText(path, text);
        AnsiConsole.WriteLine($"written: {path}");
    }

    /// <summary>Per-class decision thresholds for a report, and a few words on where they were tuned.</summary>
    public sealed record ReportThresholds(double[] Values, string Source);

    /// <summary>The session's thresholds.json (tuned on its validation records); null when it has none.</summary>
    public static ReportThresholds? SessionThresholds(TrainingSession session) =>
        File.Exists(SessionReport.ThresholdsPath(session)) ? new(SessionReport.ReadThresholds(session), "tuned on validation") : null;

    private static int[] FoldsOf(TrainingSession session, string split) => split switch
    {
        "train" => session.Manifest.TrainFolds,
        "validation" => session.Manifest.ValidationFolds,
        _ => session.Manifest.TestFolds,
    };

    /// <summary>
    /// AUC per class and macro (with a bootstrap interval), then classification reports at 0.5 and, when
    /// <paramref name="thresholds"/> are given, at those per-class thresholds.
    /// </summary>
    public static string Report(TrainingSession session, Evaluation e, int bootstrap, ReportThresholds? thresholds)
    {
        var s = new StringBuilder();
        s.AppendLine(CultureInfo.InvariantCulture, $"Session {session.Number}, {e.Split} split, {e.EcgIds.Length} records");
        s.AppendLine("ROC AUC per class:");
        for (int c = 0; c < e.Classes; c++)
            s.AppendLine(CultureInfo.InvariantCulture, $"  {e.ClassNames[c],-6} {e.AucPerClass[c]:F4}");
        s.Append(CultureInfo.InvariantCulture, $"  macro  {e.MacroAuc:F4}");
        if (bootstrap > 0)
        {
            var ci = RocAuc.BootstrapMacro(e.Probabilities, e.Labels, e.Classes, bootstrap, 0, 0.90);
            s.Append(CultureInfo.InvariantCulture, $"  (90% bootstrap interval {ci.Lower:F4}-{ci.Upper:F4}, {bootstrap} resamples)");
        }
        s.AppendLine().AppendLine();
        s.AppendLine("Classification report at threshold 0.5:");
        s.AppendLine(ClassificationReport.Compute(e.Labels, Thresholds.Apply(e.Probabilities, e.Classes, 0.5), e.ClassNames).ToText());
        if (thresholds is { Values: var tuned, Source: var source })
        {
            s.AppendLine($"Classification report at the per-class thresholds {source} (" +
                         string.Join(", ", e.ClassNames.Select((c, i) => $"{c} {tuned[i].ToString("0.####", CultureInfo.InvariantCulture)}")) + "):");
            s.AppendLine(ClassificationReport.Compute(e.Labels, Thresholds.Apply(e.Probabilities, e.Classes, tuned), e.ClassNames).ToText());
        }
        return s.ToString();
    }
}
