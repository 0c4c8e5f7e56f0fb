using System.ComponentModel;
using System.Globalization;
using Ecg.Data;
using Ecg.Model;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Ecg.Cli.Commands;

/// <summary>`ecg predict`: per-class probabilities and predicted superclasses for WFDB records, with a session's thresholds.</summary>
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
        [CommandOption("-w|--weights <WHICH>")] [Description("best, an epoch number, or an averaged epoch range such as 9-12 (ecg average).")]
        [DefaultValue("best")]
        public string Weights { get; init; } = "best";
        [CommandOption("--threshold <P>")] [Description("One threshold for every class instead of the session's tuned thresholds.")]
        public double? Threshold { get; init; }
        [CommandOption("-o|--output <CSV>")] [Description("Also write the predictions to this CSV file.")]
        public string? Output { get; init; }
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var session = Artifacts.OpenSession(settings.ArtifactsRoot, settings.Session);
        var manifest = session.Manifest;
        var records = FindRecords(settings.Path);
        var thresholds = settings.Threshold is { } fixedThreshold ? Enumerable.Repeat(fixedThreshold, manifest.ClassNames.Length).ToArray()
            : File.Exists(SessionReport.ThresholdsPath(session)) ? SessionReport.ReadThresholds(session)
            : Enumerable.Repeat(0.5, manifest.ClassNames.Length).ToArray();
        var thresholdSource = settings.Threshold is not null ? "given threshold"
            : File.Exists(SessionReport.ThresholdsPath(session)) ? "session thresholds tuned on validation" : "threshold 0.5 (the session has no thresholds.json)";

        // Every record must match the session's input: same leads (in order), sampling rate and length.
        int samples = manifest.Samples, leads = manifest.LeadNames.Length;
        var signals = new float[records.Count * samples * leads];
        var reader = new WfdbRecordReader();
        for (int r = 0; r < records.Count; r++)
        {
            var header = reader.ReadHeader(records[r]);
            if (Math.Abs(header.SamplingFrequency - manifest.SamplingRate) > 1e-6 || header.SignalCount != leads)
                throw new UserError($"{records[r]}: {header.SignalCount} leads at {header.SamplingFrequency} Hz; session {session.Number} takes {leads} leads at {manifest.SamplingRate} Hz.");
            if (!header.LeadNames.Select(n => n.ToUpperInvariant()).SequenceEqual(manifest.LeadNames.Select(n => n.ToUpperInvariant())))
                throw new UserError($"{records[r]}: leads {string.Join(",", header.LeadNames)} differ from the session's {string.Join(",", manifest.LeadNames)}.");
            var read = reader.ReadSignal(header, records[r], signals.AsSpan(r * samples * leads, samples * leads));
            if (read != samples)
                throw new UserError($"{records[r]}: {read} samples; session {session.Number} was trained on {samples}.");
        }
        using var predictor = Predictor.Load(session, settings.Weights);
        var probabilities = predictor.Predict(signals, records.Count, samples, leads);

        var classes = manifest.ClassNames;
        var table = new Table().AddColumn("record");
        foreach (var c in classes) table.AddColumn(new TableColumn(c).RightAligned());
        table.AddColumn("predicted");
        var csv = new System.Text.StringBuilder("record," + string.Join(",", classes.Select(c => "p_" + c)) + ",predicted\n");
        for (int r = 0; r < records.Count; r++)
        {
            var p = probabilities.AsSpan(r * classes.Length, classes.Length).ToArray();
            var predicted = string.Join(" ", classes.Where((_, c) => p[c] >= thresholds[c]));
            var name = System.IO.Path.GetFileName(records[r]);
            table.AddRow(new[] { name }.Concat(p.Select(v => v.ToString("F3", CultureInfo.InvariantCulture))).Append(predicted).ToArray());
            csv.Append(records[r]).Append(',').Append(string.Join(",", p.Select(v => v.ToString("R", CultureInfo.InvariantCulture))))
               .Append(',').Append(predicted).Append('\n');
        }
        AnsiConsole.Write(table);
        AnsiConsole.WriteLine($"session {session.Number} ({settings.Weights} weights), {thresholdSource}: " +
                              string.Join(", ", classes.Select((c, i) => $"{c} {thresholds[i].ToString("0.###", CultureInfo.InvariantCulture)}")));
        if (settings.Output is not null)
        {
            AtomicFile.WriteAllText(System.IO.Path.GetFullPath(settings.Output), csv.ToString());
            AnsiConsole.WriteLine($"written: {System.IO.Path.GetFullPath(settings.Output)}");
        }
        return ExitCodes.Success;
    }

    /// <summary>The record paths (without extension) named by a record path, a .hea file or a folder.</summary>
    private static List<string> FindRecords(string path)
    {
        var full = System.IO.Path.GetFullPath(path);
        if (Directory.Exists(full))
        {
            var found = Directory.GetFiles(full, "*.hea", SearchOption.AllDirectories).Order()
                .Select(h => h[..^4]).ToList();
            return found.Count > 0 ? found : throw new UserError($"No WFDB header (.hea) under {full}.");
        }
        var record = full.EndsWith(".hea", StringComparison.OrdinalIgnoreCase) || full.EndsWith(".dat", StringComparison.OrdinalIgnoreCase) ? full[..^4] : full;
        return File.Exists(record + ".hea") ? new List<string> { record } : throw new UserError($"No WFDB record at {path} (looked for {record}.hea).");
    }
}
