using System.ComponentModel;
using System.Runtime.InteropServices;
using Ecg.Data;
using Ecg.Model;
using Spectre.Console;
using Spectre.Console.Cli;
using static TorchSharp.torch;

namespace Ecg.Cli.Commands;

/// <summary>`ecg doctor`: checks that everything the pipeline needs works on this machine.</summary>
public sealed class DoctorCommand : Command<DoctorCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandOption("-d|--data <FOLDER>")]
        [Description("PTB-XL folder to check (default: $PTBXL_DIR).")]
        public string? Data { get; init; }
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var table = new Table().AddColumns("check", "result");
        var failed = false;
        void Row(string check, bool ok, string detail)
        {
            failed |= !ok;
            table.AddRow(Markup.Escape(check), (ok ? "[green]ok[/] " : "[red]FAILED[/] ") + Markup.Escape(detail));
        }

        Row("ecg", true, Program.Version);
        Row(".NET", true, $"{RuntimeInformation.FrameworkDescription} on {RuntimeInformation.RuntimeIdentifier}, {Environment.ProcessorCount} cores");
        try
        {
            using var scope = NewDisposeScope();
            var x = randn(4, 12, 100, requires_grad: true);
            x.sum().backward();
            Row("TorchSharp", true, $"{TorchSharp.torch.__version__}, tensors and gradients work, {get_num_threads()} threads");
        }
        catch (Exception e)
        {
            Row("TorchSharp", false, e.Message);
        }
        try
        {
            var device = Devices.Resolve("auto");
            Row("device (auto)", true, device.type == TorchSharp.DeviceType.CUDA ? $"CUDA ({cuda.device_count()} devices)" : "CPU (no CUDA runtime)");
        }
        catch (Exception e)
        {
            Row("device (auto)", false, e.Message);
        }
        var folder = DataSource.TryResolve(settings.Data ?? "");
        if (folder is null)
            Row("PTB-XL folder", false, $"none given: pass --data or set {DataSource.EnvironmentVariable}");
        else
            Row("PTB-XL folder", DataSource.LooksLikePtbXl(folder.Value),
                DataSource.LooksLikePtbXl(folder.Value) ? folder.Value : $"{folder.Value} has no ptbxl_database.csv and scp_statements.csv");
        AnsiConsole.Write(table);
        return failed ? ExitCodes.Failure : ExitCodes.Success;
    }
}
