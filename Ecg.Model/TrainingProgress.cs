namespace Ecg.Model;

/// <summary>A progress tick for the CLI's bars: sent after every training batch and once per validation pass.</summary>
/// <param name="Phase">"train" or "validate".</param>
/// <param name="SamplesPerSecond">training records per second so far in this epoch.</param>
/// <param name="Eta">estimated time left for the whole run (remaining epochs at this epoch's pace).</param>
public sealed record TrainingProgress(
    string Phase, int Epoch, int Epochs, int Batch, int Batches, double SamplesPerSecond, TimeSpan Eta);

/// <summary>Hooks and limits for one <see cref="Trainer.Run"/> call.</summary>
public sealed class TrainingOptions
{
    public Action<TrainingProgress>? Progress { get; init; }
    public Action<EpochMetrics>? EpochCompleted { get; init; }
    /// <summary>Called once the session folder exists, before the first epoch (a new session, or a resumed one).</summary>
    public Action<TrainingSession>? SessionReady { get; init; }
    /// <summary>Stop (as if killed) once this epoch is saved; the session can be resumed later. Null runs to the end.</summary>
    public int? StopAfterEpoch { get; init; }
    /// <summary>Checked between batches; a cancelled run keeps its last completed epoch and can be resumed.</summary>
    public CancellationToken Cancellation { get; init; }
    /// <summary>Write the final reports and charts (skipped by benchmarks and some tests).</summary>
    public bool WriteReports { get; init; } = true;
    /// <summary>Lines the user should see: a checkpoint repaired on resume, optimizer moments started afresh.</summary>
    public Action<string>? Warning { get; init; }
}

/// <summary>What a run did: its history, best epoch, and resident memory after its first and last epoch in this process.</summary>
public sealed record TrainingResult(
    TrainingSession Session, IReadOnlyList<EpochMetrics> History, int BestEpoch, bool Finished, bool StoppedEarly,
    double FirstEpochResidentMegabytes, double LastEpochResidentMegabytes);
