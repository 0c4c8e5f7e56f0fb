using System.ComponentModel;
using System.Globalization;
using Ecg.Model;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Ecg.Cli.Commands;

/// <summary>`ecg predict`: per-class probabilities and predicted classes for WFDB records, with a session's thresholds.</summary>
public sealed class PredictCommand : Command<PredictCommand.Settings>
{
    public sealed class Settings : ArtifactsSettings
    {
        [CommandArgument(0, "<RECORD>")]
        [Description("A WFDB record (path with or without .hea) or a folder of records (searched recursively).")]
        public string Path { get; init; } = "";
        [CommandOption("-s|--session <N>")] [Description("Training session number, or latest.")]
        [DefaultValue("latest")]
        public string Session { get; init; } = "latest";
        [CommandOption("-w|--weights <WHICH>")] [Description("Weights: " + WeightsChoice.Accepted + ".")]
        [DefaultValue("best")]
        public string Weights { get; init; } = "best";
        [CommandOption("--threshold <P>")] [Description("One threshold for every class instead of the thresholds tuned for these weights.")]
        public double? Threshold { get; init; }
        [CommandOption("-o|--output <CSV>")] [Description("Also write the predictions to this CSV file.")]
        public string? Output { get; init; }
        [CommandOption("--engine <ENGINE>")] [Description(SharedOptions.EngineHelp)]
        [DefaultValue("torch")]
        public string Engine { get; init; } = "torch";

        public override ValidationResult Validate() => Check(() => { WeightsChoice.Parse(Weights); SharedOptions.Engine(Engine); });
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var session = settings.OpenSession(settings.Session);
        var result = Prediction.Run(session, settings.Path, WeightsChoice.Parse(settings.Weights), settings.Threshold, settings.Output,
                                    engine: SharedOptions.Engine(settings.Engine));
        var table = new Table().AddColumn("record");
        foreach (var c in result.ClassNames) table.AddColumn(new TableColumn(c).RightAligned());
        table.AddColumn("predicted");
        for (int r = 0; r < result.Records.Length; r++)
            table.AddRow(new[] { System.IO.Path.GetFileName(result.Records[r]) }
                .Concat(result.ClassNames.Select((_, c) => result.Probability(r, c).ToString("F3", CultureInfo.InvariantCulture)))
                .Append(result.Predicted(r)).ToArray());
        AnsiConsole.Write(table);
        AnsiConsole.WriteLine($"session {session.Number} ({result.Weights} weights), {result.ThresholdSource}: " +
                              string.Join(", ", result.ClassNames.Select((c, i) => $"{c} {result.Thresholds[i].ToString("0.###", CultureInfo.InvariantCulture)}")));
        if (settings.Output is not null) AnsiConsole.WriteLine($"written: {System.IO.Path.GetFullPath(settings.Output)}");
        return ExitCodes.Success;
    }
}
