using System.ComponentModel;
using Ecg.Cli.Report;
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
        var root = settings.ArtifactsRoot;
        var choices = settings.Session.Trim().Equals("all", StringComparison.OrdinalIgnoreCase)
            ? Artifacts.SessionNumbers(root).Select(n => n.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray()
            : new[] { settings.Session };
        if (choices.Length == 0) Artifacts.OpenSession(root, "latest"); // throws: no session yet
        foreach (var choice in choices)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var session = Artifacts.OpenSession(root, choice);
            AnsiConsole.WriteLine($"written: {SessionReportPage.Write(root, session)}");
        }
        return ExitCodes.Success;
    }
}
