using Ecg.Model;

namespace Ecg.Cli;

/// <summary>Where every stage reads and writes: one artifacts root (default ./artifacts, or $ECG_ARTIFACTS).</summary>
public static class Artifacts
{
    public const string EnvironmentVariable = "ECG_ARTIFACTS";

    public static string Root(string? given) =>
        Path.GetFullPath(!string.IsNullOrWhiteSpace(given) ? given
            : Environment.GetEnvironmentVariable(EnvironmentVariable) is { Length: > 0 } fromEnvironment ? fromEnvironment
            : "artifacts");

    /// <summary>The processed dataset the preprocess stage writes for a sampling rate.</summary>
    public static string ProcessedDataset(string root, int samplingRate) =>
        Path.Combine(root, "processed", $"ptbxl_{samplingRate}hz.npz");

    /// <summary>Session numbers present under training_sessions/, ascending.</summary>
    public static int[] SessionNumbers(string root)
    {
        var folder = TrainingSession.SessionsRoot(root);
        if (!Directory.Exists(folder)) return Array.Empty<int>();
        return Directory.GetDirectories(folder, TrainingSession.FolderPrefix + "*")
            .Select(d => int.TryParse(Path.GetFileName(d)[TrainingSession.FolderPrefix.Length..], out var n) ? n : -1)
            .Where(n => n > 0 && File.Exists(Path.Combine(folder, TrainingSession.FolderPrefix + n, "config.json")))
            .Order().ToArray();
    }

    /// <summary>Opens session N, or the newest one for "latest" (the default); a clear error when there is none.</summary>
    public static TrainingSession OpenSession(string root, string? choice)
    {
        var numbers = SessionNumbers(root);
        var known = numbers.Length == 0 ? "there are none yet (run `ecg train`)" : "existing: " + string.Join(", ", numbers);
        int number;
        if (string.IsNullOrWhiteSpace(choice) || choice.Equals("latest", StringComparison.OrdinalIgnoreCase))
        {
            if (numbers.Length == 0) throw new UserError($"No training session in {TrainingSession.SessionsRoot(root)}: {known}.");
            number = numbers[^1];
        }
        else if (!int.TryParse(choice, out number) || !numbers.Contains(number))
            throw new UserError($"Training session '{choice}' not found in {TrainingSession.SessionsRoot(root)}: {known}.");
        return TrainingSession.Open(Path.Combine(TrainingSession.SessionsRoot(root), TrainingSession.FolderPrefix + number));
    }
}

/// <summary>A problem with the user's input (missing folder, unknown session): reported as one line, exit code 1.</summary>
public sealed class UserError(string message) : Exception(message);
