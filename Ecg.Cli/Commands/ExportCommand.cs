using System.ComponentModel;
using Ecg.Model.Export;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Ecg.Cli.Commands;

/// <summary>`ecg export`: a session's weights as an ONNX model (scores a record on its own) or as safetensors for PyTorch.</summary>
public sealed class ExportCommand : Command<ExportCommand.Settings>
{
    public sealed class Settings : SessionWeightsSettings
    {
        [CommandOption("-f|--format <FORMAT>")]
        [Description("onnx (BatchNorm folded, dropout removed, standardisation, window and class names in the metadata), onnx-int8 (that graph with its convolutions quantized to int8, calibrated on 256 of the session's training records) or safetensors (PyTorch-style names; docs/export.md).")]
        [DefaultValue("onnx")]
        public string Format { get; init; } = "onnx";
        [CommandOption("-o|--output <FILE>")] [Description("Output file (default: <session>/export/model_<weights>.onnx, _int8.onnx or .safetensors).")]
        public string? Output { get; init; }

        public ExportFormat ExportFormat => ExportChoices.ParseFormat(Format);

        public override ValidationResult Validate()
        {
            var result = base.Validate();
            return result.Successful ? Check(() => _ = ExportFormat) : result;
        }
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var session = settings.OpenSession(settings.Session);
        var (path, summary) = ModelExport.Run(session, settings.WeightsChoice, settings.ExportFormat, settings.Output,
                                              () => settings.LoadDataset(session));
        AnsiConsole.WriteLine(summary);
        AnsiConsole.WriteLine($"written: {path}");
        return ExitCodes.Success;
    }
}
