using Ecg.Data;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using TorchSharp;
using TorchSharp.Modules;

namespace Ecg.Model;

/// <summary>Size and SHA-256 of a file, as recorded when it was written.</summary>
public sealed record FileChecksum
{
    public required string Sha256 { get; init; }
    public required long Bytes { get; init; }

    public static FileChecksum Of(string path)
    {
        using var stream = File.OpenRead(path);
        return new FileChecksum { Sha256 = Convert.ToHexStringLower(SHA256.HashData(stream)), Bytes = stream.Length };
    }
}

/// <summary>A checkpoint file that does not match its recorded checksum, or that torch cannot read.</summary>
public sealed class CheckpointDamagedException(string message, string filePath, int? epoch, Exception? inner = null)
    : IOException(message, inner)
{
    /// <summary>The damaged file (full path).</summary>
    public string FilePath { get; } = filePath;
    /// <summary>The epoch the file belongs to; null for an average of several epochs.</summary>
    public int? Epoch { get; } = epoch;
}

/// <summary>
/// Verified checkpoints. A training session records the size and SHA-256 of every weights and optimizer-state
/// file it writes in state.json (<see cref="SessionState.Checksums"/>), which is written last: the checksums
/// commit together with the epoch, so there is one commit point and no sidecar that can disagree with it.
/// Averaged weights (<see cref="WeightAveraging"/>), written outside training, carry a sidecar
/// <c>&lt;file&gt;.sha256</c> (sha256sum format) instead, so that averaging never rewrites a running session's state.
/// Every weights loader (Predictor, EmbeddingExtractor, Evaluator, WeightAveraging, resuming) goes through
/// <see cref="LoadWeights"/>: a damaged file is named with its epoch instead of surfacing as a torch exception.
/// Files of sessions written before checksums existed are loaded unverified (nothing to check them against);
/// if torch cannot read one, that is reported the same way.
/// </summary>
public static class Checkpoint
{
    private static readonly Regex EpochFile = new(@"^(?:optimizer_)?epoch_(\d+)\.bin$", RegexOptions.CultureInvariant);
    private static readonly Regex AverageFile = new(@"^average_(\d+)-(\d+)\.bin$", RegexOptions.CultureInvariant);

    /// <summary>How state.json names a file of the session: its path relative to the session folder, with '/'.</summary>
    public static string Key(TrainingSession session, string path) =>
        Path.GetRelativePath(session.Folder, Path.GetFullPath(path)).Replace(Path.DirectorySeparatorChar, '/');

    /// <summary>The sidecar checksum file of an averaged weights file.</summary>
    public static string SidecarPath(string path) => path + ".sha256";

    /// <summary>Writes <paramref name="path"/>'s checksum beside it (atomically), in the format `sha256sum -c` reads.</summary>
    public static void WriteSidecar(string path)
    {
        var checksum = FileChecksum.Of(path);
        AtomicFile.WriteAllText(SidecarPath(path), $"{checksum.Sha256}  {Path.GetFileName(path)}\n");
    }

    /// <summary>The epoch a weights or optimizer-state file belongs to (best.bin: the best epoch); null for an average or an unknown name.</summary>
    public static int? EpochOf(TrainingSession session, SessionState state, string path)
    {
        var name = Path.GetFileName(path);
        if (string.Equals(Path.GetFullPath(path), session.BestWeightsPath, StringComparison.Ordinal)) return state.BestEpoch;
        var m = EpochFile.Match(name);
        return m.Success ? int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : null;
    }

    /// <summary>"epoch 3", "best weights, epoch 3", "optimizer state after epoch 3" or "average of epochs 2-3": what a file holds, for messages.</summary>
    public static string Describe(TrainingSession session, SessionState state, string path)
    {
        var name = Path.GetFileName(path);
        if (string.Equals(Path.GetFullPath(path), session.BestWeightsPath, StringComparison.Ordinal)) return $"best weights, epoch {state.BestEpoch}";
        if (AverageFile.Match(name) is { Success: true } a)
            return $"average of epochs {int.Parse(a.Groups[1].Value, CultureInfo.InvariantCulture)}-{int.Parse(a.Groups[2].Value, CultureInfo.InvariantCulture)}";
        if (EpochFile.Match(name) is { Success: true } e)
            return (name.StartsWith("optimizer_", StringComparison.Ordinal) ? "optimizer state after epoch " : "epoch ") +
                   int.Parse(e.Groups[1].Value, CultureInfo.InvariantCulture).ToString(CultureInfo.InvariantCulture);
        return name;
    }

    /// <summary>The checksum recorded for a file: in state.json, or for an average in its sidecar; null when none was recorded.</summary>
    public static FileChecksum? Recorded(TrainingSession session, SessionState state, string path)
    {
        if (state.Checksums is { } checksums && checksums.TryGetValue(Key(session, path), out var recorded)) return recorded;
        var sidecar = SidecarPath(path);
        if (!AverageFile.IsMatch(Path.GetFileName(path)) || !File.Exists(sidecar)) return null;
        var fields = File.ReadAllText(sidecar).Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        if (fields.Length == 0 || fields[0].Length != 64)
            throw new CheckpointDamagedException($"'{sidecar}' is not a SHA-256 checksum file: cannot verify '{path}'.", sidecar, null);
        return new FileChecksum { Sha256 = fields[0].ToLowerInvariant(), Bytes = -1 };
    }

    /// <summary>
    /// Checks a session file against its recorded checksum. Returns true when verified, false when the file has no
    /// recorded checksum (a session written before checksums, or an average without a sidecar). Throws
    /// <see cref="CheckpointDamagedException"/> on a mismatch, <see cref="FileNotFoundException"/> when the file is
    /// missing, and <see cref="InvalidDataException"/> for an epoch after the session's last completed one (a run
    /// stopped before it committed that epoch wrote it: nothing vouches for it).
    /// </summary>
    public static bool Verify(TrainingSession session, SessionState state, string path)
    {
        var full = Path.GetFullPath(path);
        var what = Describe(session, state, full);
        if (!File.Exists(full)) throw new FileNotFoundException($"Session '{session.Folder}' has no file '{full}' ({what}).", full);
        var epoch = EpochOf(session, state, full);
        if (epoch > state.LastCompletedEpoch)
            throw new InvalidDataException(
                $"File '{full}' ({what}) is not part of session '{session.Folder}': its last completed epoch is {state.LastCompletedEpoch}. " +
                "A run stopped before committing that epoch (or a --from-epoch rollback) left it; resuming the session trains that epoch again.");
        var recorded = Recorded(session, state, full);
        if (recorded is null) return false;
        var actual = FileChecksum.Of(full);
        if (actual.Sha256 == recorded.Sha256) return true;
        var sizes = recorded.Bytes >= 0 && recorded.Bytes != actual.Bytes
            ? $"{actual.Bytes} bytes where {recorded.Bytes} were written" + (actual.Bytes < recorded.Bytes ? ", truncated" : "")
            : $"{actual.Bytes} bytes, SHA-256 {actual.Sha256[..12]}... where {recorded.Sha256[..12]}... was recorded";
        var bestHint = string.Equals(full, session.BestWeightsPath, StringComparison.Ordinal) && state.BestEpoch > 0
            ? $" best.bin is a copy of '{session.EpochWeightsPath(state.BestEpoch)}' (weights {state.BestEpoch}); a run stopped between " +
              "writing best.bin and committing its epoch also leaves it ahead of state.json, which resuming repairs."
            : "";
        throw new CheckpointDamagedException($"File '{full}' ({what}) is damaged: checksum mismatch ({sizes}).{bestHint}", full, epoch);
    }

    /// <summary>Verifies <paramref name="path"/> (see <see cref="Verify"/>), then loads it into <paramref name="model"/>.</summary>
    public static void LoadWeights(torch.nn.Module model, TrainingSession session, string path) =>
        LoadWeights(model, session, session.LoadState(), path);

    /// <inheritdoc cref="LoadWeights(torch.nn.Module, TrainingSession, string)"/>
    public static void LoadWeights(torch.nn.Module model, TrainingSession session, SessionState state, string path)
    {
        bool verified = Verify(session, state, path);
        Read(session, state, path, verified, () => model.load(Path.GetFullPath(path)), $"weights of model '{session.Manifest.Config.Model}'");
    }

    /// <summary>Verifies an optimizer-state file, then loads it into <paramref name="optimizer"/> (Adam or AdamW).</summary>
    public static void LoadOptimizer(torch.optim.Optimizer optimizer, TrainingSession session, SessionState state, string path)
    {
        bool verified = Verify(session, state, path);
        Read(session, state, path, verified, () =>
        {
            switch (optimizer)
            {
                case Adam adam: adam.load_state_dict(path); break;
                case AdamW adamW: adamW.load_state_dict(path); break;
                default: throw new NotSupportedException($"Loading {optimizer.GetType().Name} state is not supported.");
            }
        }, $"{optimizer.GetType().Name} state");
    }

    /// <summary>Torch's own errors on a file it cannot read, turned into one that names the file and what it holds.</summary>
    private static void Read(TrainingSession session, SessionState state, string path, bool verified, Action read, string kind)
    {
        try
        {
            read();
        }
        catch (Exception e) when (e is not (OperationCanceledException or NotSupportedException))
        {
            var full = Path.GetFullPath(path);
            var why = verified
                ? "it matches its recorded checksum, so the file is as written but does not fit this session's model"
                : "no checksum was recorded for it, as in sessions written before checkpoints carried checksums, so it is probably damaged";
            throw new CheckpointDamagedException(
                $"File '{full}' ({Describe(session, state, full)}) cannot be read as {kind}: {e.GetType().Name}: {e.Message} ({why}).",
                full, EpochOf(session, state, full), e);
        }
    }

    /// <summary>What can be resumed from one epoch: its weights verified (or unverifiable), and whether its optimizer state is intact too.</summary>
    public sealed record IntactEpoch(int Epoch, bool WeightsVerified, bool OptimizerIntact);

    /// <summary>
    /// The latest epoch before <paramref name="before"/> whose weights are intact (verified, or present without a
    /// recorded checksum), with whether its optimizer state is intact too; null when there is none.
    /// </summary>
    public static IntactEpoch? LastIntactEpoch(TrainingSession session, SessionState state, int before)
    {
        for (int epoch = Math.Min(before, state.LastCompletedEpoch + 1) - 1; epoch >= 1; epoch--)
        {
            if (Status(session, state, session.EpochWeightsPath(epoch)) is not bool weightsVerified) continue;
            var optimizer = session.Paths.OptimizerState(epoch);
            return new IntactEpoch(epoch, weightsVerified, Status(session, state, optimizer) is not null);
        }
        return null;
    }

    /// <summary>True verified, false present but unverifiable, null missing or damaged.</summary>
    internal static bool? Status(TrainingSession session, SessionState state, string path)
    {
        try { return Verify(session, state, path); }
        catch (Exception e) when (e is CheckpointDamagedException or InvalidDataException or FileNotFoundException) { return null; }
    }

    /// <summary>Records the checksum of a file just written into <paramref name="checksums"/>.</summary>
    internal static void Record(SortedDictionary<string, FileChecksum> checksums, TrainingSession session, string path) =>
        checksums[Key(session, path)] = FileChecksum.Of(path);

    /// <summary>How to go back after a damaged checkpoint at <paramref name="epoch"/>, for the error message.</summary>
    internal static string ResumeHint(TrainingSession session, SessionState state, int epoch)
    {
        var text = new StringBuilder();
        var command = $"ecg train --resume {session.Number}";
        var weights = Status(session, state, session.EpochWeightsPath(epoch));
        if (weights is not null && epoch == state.LastCompletedEpoch)
            text.Append($" Epoch {epoch}'s weights are " + (weights == true ? "intact" : "present (no checksum recorded, so unverified)") +
                        $": `{command} --from-epoch {epoch}` continues from them with fresh optimizer moments " +
                        "(the rest of the run then differs slightly from an uninterrupted one).");
        if (LastIntactEpoch(session, state, epoch) is { } intact)
            text.Append($" The last intact epoch before it is {intact.Epoch}" +
                        (intact.WeightsVerified ? "" : " (its weights carry no checksum, so they are present but unverified)") +
                        $": `{command} --from-epoch {intact.Epoch}` goes back to it and trains " +
                        (intact.Epoch + 1 == state.LastCompletedEpoch ? $"epoch {state.LastCompletedEpoch}" : $"epochs {intact.Epoch + 1}-{state.LastCompletedEpoch}") + " again" +
                        (intact.OptimizerIntact ? ", exactly as the first time." : ", with fresh optimizer moments (its optimizer state is not kept)."));
        else if (weights is null)
            text.Append($" No earlier epoch is intact: `{command} --from-epoch 0` trains the session again from the start.");
        text.Append(" Files of the epochs trained again are replaced; nothing else is deleted.");
        return text.ToString();
    }
}
