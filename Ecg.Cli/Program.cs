using System.Reflection;
using Ecg.Cli.Commands;
using Ecg.Model;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Ecg.Cli;

public static class Program
{
    /// <summary>The tool's version, from the assembly's informational version (set in Directory.Build.props).</summary>
    public static string Version =>
        typeof(Program).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0]
        ?? "unknown";

    public static int Main(string[] args)
    {
        if (Avx512Guard.RelaunchIfNeeded(args) is int exitCode) return exitCode;
        // Logs and pipes get whole lines: no wrapping at an imaginary 80-column terminal.
        if (Console.IsOutputRedirected) AnsiConsole.Profile.Width = 1000;
        TransientFaults.Log = line => AnsiConsole.WriteLine("warning: " + line);
        var app = new CommandApp();
        app.Configure(config =>
        {
            config.SetApplicationName("ecg");
            config.SetApplicationVersion(Version);
            config.ValidateExamples();
            config.UseStrictParsing(); // unknown options are errors, not silently ignored
            config.AddCommand<DownloadCommand>("download")
                .WithDescription("Download PTB-XL 1.0.3 from PhysioNet: resumable, every file verified against SHA256SUMS.txt.")
                .WithExample("download", "--data", "data/ptb-xl", "--rate", "100");
            config.AddCommand<PreprocessCommand>("preprocess")
                .WithDescription("Read PTB-XL (CSV metadata, WFDB signals, superclass labels) into one processed .npz, with a report of what was dropped or failed.")
                .WithExample("preprocess", "--data", "../shared/ptbxl-sample");
            config.AddCommand<TrainCommand>("train")
                .WithDescription("Train a model in a new numbered session (config, logs, weights per epoch, reports, charts), or resume one.\n" +
                                 Markup.Escape("Architectures (--model):\n" + Ecg.Model.Architectures.Architecture.HelpList))
                .WithExample("train", "--preset", "benchmark", "--epochs", "20")
                .WithExample("train", "--resume", "3");
            config.AddCommand<EvaluateCommand>("evaluate")
                .WithDescription("Evaluate a session's weights on a split: ROC AUC per class and macro with a bootstrap interval, classification reports.")
                .WithExample("evaluate", "--session", "3", "--split", "validation");
            config.AddCommand<ReportCommand>("report")
                .WithDescription("Write an HTML page per training session (config, data, metrics, curves, reports, evaluations, feature space, probes), relative links only.")
                .WithExample("report", "--session", "all");
            config.AddCommand<EnsembleCommand>("ensemble")
                .WithDescription("Average the probabilities of several sessions and evaluate the ensemble like a session (AUC with bootstrap interval, reports).")
                .WithExample("ensemble", "--sessions", "1,2,3", "--split", "validation");
            config.AddCommand<AverageCommand>("average")
                .WithDescription("Average a session's weights over its last epochs (checkpoint averaging, as in SWA), recompute BatchNorm statistics, evaluate the result.")
                .WithExample("average", "--session", "3", "--epochs", "9-12");
            config.AddCommand<EmbedCommand>("embed")
                .WithDescription("Save a session's 128-d penultimate-layer embeddings of a split (npz with ecg_ids and labels).")
                .WithExample("embed", "--session", "1", "--split", "validation");
            config.AddCommand<FeatureSpaceCommand>("feature-space")
                .WithDescription("K-Means on a session's embeddings, cluster-to-class and metadata evaluation (Hungarian), PCA/t-SNE/UMAP views as charts.")
                .WithExample("feature-space", "--session", "1");
            config.AddCommand<ProbeCommand>("probe")
                .WithDescription("Linear probes on frozen embeddings for age, sex, height and weight (and age regression): reports, logs, curves, weights.")
                .WithExample("probe", "--session", "1", "--targets", "age,sex");
            config.AddCommand<PredictCommand>("predict")
                .WithDescription("Probabilities per class and predicted superclasses for a WFDB record or a folder of records, with a session's tuned thresholds.")
                .WithExample("predict", "../shared/ptbxl-sample/records100/00000/00001_lr", "--session", "1");
            config.AddCommand<ExportCommand>("export")
                .WithDescription("Export a session's weights as an ONNX model (ONNX Runtime scores a record with the file alone) or as safetensors for PyTorch.")
                .WithExample("export", "--session", "1", "--format", "onnx");
            config.AddCommand<SynthCommand>("synth")
                .WithDescription("Write a synthetic PTB-XL-shaped folder (CSVs, WFDB records, checksums) whose signals carry learnable class patterns: a demo without PTB-XL.")
                .WithExample("synth", "data/synthetic", "--records", "2000");
            config.AddCommand<BenchCommand>("bench")
                .WithDescription("Measure this machine: WFDB reading and preprocessing (records/s, memory), training and inference (samples/s), projections (seconds).")
                .WithExample("bench", "--data", "../shared/ptbxl-sample", "--stages", "read,train");
            config.AddCommand<DoctorCommand>("doctor")
                .WithDescription("Check this machine: .NET, TorchSharp's native library, compute devices, CPU threads, the PTB-XL folder.")
                .WithExample("doctor", "--data", "../shared/ptbxl-sample");
            // Bad input gets a one-line reason and a non-zero exit code, not a stack trace.
            config.SetExceptionHandler((exception, _) =>
            {
                var message = exception switch
                {
                    CommandAppException when BadValue.Explain(exception, args) is { } explained => explained,
                    CommandAppException or UserError or CheckpointDamagedException => exception.Message,
                    _ => $"{exception.GetType().Name}: {exception.Message}",
                };
                AnsiConsole.MarkupLineInterpolated($"[red]error:[/] {message}");
                return exception is CommandAppException ? ExitCodes.BadUsage : ExitCodes.Failure;
            });
        });
        return app.Run(args);
    }
}

/// <summary>
/// Spectre.Console.Cli reports a value it cannot convert as "Failed to convert 'abc' to Nullable`1." with neither the
/// option nor the expected type. This finds the option that was given that value and says what it takes.
/// </summary>
internal static class BadValue
{
    private static readonly System.Text.RegularExpressions.Regex Pattern = new("^Failed to convert '(?<value>.*)' to ");

    public static string? Explain(Exception exception, string[] args)
    {
        var match = Pattern.Match(exception.Message);
        if (!match.Success) return null;
        var value = match.Groups["value"].Value;
        int at = Array.FindIndex(args, a => a == value || a.EndsWith("=" + value, StringComparison.Ordinal));
        if (at < 0) return null;
        var option = args[at].Contains('=') && args[at].StartsWith('-') ? args[at][..args[at].IndexOf('=')] : at > 0 ? args[at - 1] : null;
        if (option is null || !option.StartsWith('-')) return null;
        var type = OptionType(option.TrimStart('-'));
        var expected = type == typeof(int) || type == typeof(long) ? "a whole number"
            : type == typeof(double) || type == typeof(float) ? "a number (such as 0.001 or 1e-3)"
            : type is null ? "another value" : type.Name;
        return $"{option} '{value}': expected {expected}.";
    }

    /// <summary>The value type of the option with this long or short name in any command's settings, or null.</summary>
    private static Type? OptionType(string name) =>
        typeof(Program).Assembly.GetTypes()
            .Where(t => typeof(CommandSettings).IsAssignableFrom(t))
            .SelectMany(t => t.GetProperties())
            .Where(p => p.GetCustomAttributes(typeof(CommandOptionAttribute), true).Cast<CommandOptionAttribute>()
                         .Any(o => o.LongNames.Contains(name) || o.ShortNames.Contains(name)))
            .Select(p => Nullable.GetUnderlyingType(p.PropertyType) ?? p.PropertyType)
            .FirstOrDefault();
}

/// <summary>Exit codes scripts can rely on.</summary>
public static class ExitCodes
{
    public const int Success = 0;
    /// <summary>The work failed: bad data, missing files, a failed check.</summary>
    public const int Failure = 1;
    /// <summary>The command line was wrong: unknown command or option, bad value.</summary>
    public const int BadUsage = 2;
}
