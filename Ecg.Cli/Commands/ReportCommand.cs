using System.ComponentModel;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Ecg.Cli.Commands;

/// <summary>`ecg report`: one self-contained HTML page per training session (training_sessions/session_N/report.html).</summary>
public sealed class ReportCommand : Command<ReportCommand.Settings>
{
    public sealed class Settings : ArtifactsSettings
    {
        [CommandOption("-s|--session <N>")] [Description("Training session number, latest, or all.")]
        [DefaultValue("latest")]
        public string Session { get; init; } = "latest";
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var layout = settings.Layout;
        foreach (var written in SessionPage.WriteEach(layout, settings.Session, cancellationToken))
            AnsiConsole.WriteLine($"written: {written}");
        return ExitCodes.Success;
    }
}
