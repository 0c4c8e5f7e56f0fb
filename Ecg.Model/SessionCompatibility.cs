using Ecg.Data;

namespace Ecg.Model;

/// <summary>
/// The one check that data fits a trained session: same classes (in order), leads (by name, in order), record length
/// and sampling rate as config.json records, and for training the same training records. Every stage that puts data
/// through a session's network calls it, so they refuse the same mismatches with the same message.
/// </summary>
public static class SessionCompatibility
{
    /// <summary>Throws a <see cref="UserError"/> naming the session, the dataset and every field that differs.</summary>
    public static void Require(TrainingSession session, ProcessedDataset dataset, bool forTraining = false)
    {
        var m = session.Manifest;
        var problems = new List<string>();
        if (!dataset.ClassNames.SequenceEqual(m.ClassNames))
            problems.Add($"classes [{string.Join(",", dataset.ClassNames)}] vs the session's [{string.Join(",", m.ClassNames)}]");
        if (!SameLeads(dataset.LeadNames, m.LeadNames))
            problems.Add($"leads [{string.Join(",", dataset.LeadNames)}] vs the session's [{string.Join(",", m.LeadNames)}]");
        if (dataset.Samples != m.Samples)
            problems.Add($"{dataset.Samples} samples per record vs the session's {m.Samples}");
        if (Math.Abs(dataset.SamplingRate - m.SamplingRate) > 1e-6)
            problems.Add($"{dataset.SamplingRate} Hz vs the session's {m.SamplingRate} Hz");
        if (forTraining && problems.Count == 0 && session.SplitScheme.TrainIndices(dataset).Length != m.TrainRecords)
            problems.Add($"{session.SplitScheme.TrainIndices(dataset).Length} training records vs the session's {m.TrainRecords}");
        if (problems.Count > 0)
            throw new UserError($"The dataset does not fit session {session.Number} ({session.Folder}): {string.Join("; ", problems)}.");
    }

    /// <summary>The positions, in the record, of the session's leads (matched by name, case-insensitively); a
    /// <see cref="UserError"/> naming the record when one is missing or the rate or length differs.</summary>
    public static int[] RequireRecord(TrainingSession session, WfdbHeader header, string recordPath)
    {
        var m = session.Manifest;
        if (Math.Abs(header.SamplingFrequency - m.SamplingRate) > 1e-6)
            throw new UserError($"{recordPath}: sampled at {header.SamplingFrequency} Hz; session {session.Number} takes {m.SamplingRate} Hz.");
        if (header.SampleCount != m.Samples)
            throw new UserError($"{recordPath}: {header.SampleCount} samples per lead; session {session.Number} was trained on {m.Samples}.");
        var names = header.LeadNames.Select(n => n.Trim().ToUpperInvariant()).ToList();
        var positions = m.LeadNames.Select(l => names.IndexOf(l.Trim().ToUpperInvariant())).ToArray();
        var missing = m.LeadNames.Where((_, i) => positions[i] < 0).ToArray();
        if (missing.Length > 0)
            throw new UserError($"{recordPath}: no lead {string.Join(", ", missing)} (it has {string.Join(",", header.LeadNames)}); " +
                                $"session {session.Number} takes {string.Join(",", m.LeadNames)}.");
        return positions;
    }

    private static bool SameLeads(string[] a, string[] b) =>
        a.Length == b.Length && a.Zip(b).All(p => string.Equals(p.First.Trim(), p.Second.Trim(), StringComparison.OrdinalIgnoreCase));
}
