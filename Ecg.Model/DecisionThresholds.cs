using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Ecg.Data;
using Ecg.Model.Metrics;

namespace Ecg.Model;

/// <summary>
/// What a set of per-class thresholds was tuned for: the weights and window aggregation that made the
/// probabilities, and the records they were tuned on. Thresholds fit only those probabilities: the mean of a
/// record's window probabilities is never above their max, so max-tuned cut-offs are too high for mean scores.
/// </summary>
public sealed record ThresholdProvenance(string Weights, string Aggregation, string TunedOn, int Records, string? TunedFor = null)
{
    /// <summary>Whether probabilities from these weights and this aggregation are the ones the thresholds were tuned for.</summary>
    public bool Fits(WeightsChoice weights, WindowAggregation aggregation) =>
        Weights == weights.ToString() && Aggregation == aggregation.Name();

    /// <summary>A few words for reports: "tuned on validation (1,234 records) for best weights, windows combined by max".</summary>
    public string Describe() =>
        $"tuned{(TunedFor is null ? "" : " for " + TunedFor)} on {TunedOn} ({Records.ToString("N0", CultureInfo.InvariantCulture)} records) " +
        $"for {Weights} weights, windows combined by {Aggregation}";
}

/// <summary>Per-class decision thresholds (probability &gt;= threshold predicts the class) with their provenance.</summary>
public sealed record DecisionThresholds(string[] ClassNames, double[] Values, double[] TunedF1, double[] F1AtDefault, ThresholdProvenance Provenance)
{
    public const double Default = 0.5;

    /// <summary>
    /// thresholds.json: the thresholds of the session's own probabilities (best weights, its aggregation), written
    /// at the end of training. Thresholds tuned for other weights or aggregations go to
    /// evaluations/thresholds_&lt;weights&gt;_&lt;aggregation&gt;.json, written by the evaluation that tuned them.
    /// </summary>
    public static string PathFor(TrainingSession session, WeightsChoice weights, WindowAggregation aggregation) =>
        weights.IsBest && aggregation == session.Aggregation
            ? session.Paths.Thresholds
            : Path.Combine(session.Paths.EvaluationsFolder, $"thresholds_{weights}_{aggregation.Name()}.json");

    /// <summary>Tunes each class's threshold for F1 on the given probabilities (sklearn's F1, see <see cref="Thresholds.TuneForF1"/>).</summary>
    public static DecisionThresholds Tune(Evaluation tuning, WeightsChoice weights, WindowAggregation aggregation)
    {
        var tuned = Thresholds.TuneForF1(tuning.Probabilities, tuning.Labels, tuning.Classes);
        var atDefault = PrecisionRecallF1.PerClass(tuning.Labels, Thresholds.Apply(tuning.Probabilities, tuning.Classes, Default), tuning.Classes);
        return new DecisionThresholds(tuning.ClassNames, tuned.Thresholds, tuned.F1, atDefault.Select(p => p.F1).ToArray(),
            new ThresholdProvenance(weights.ToString(), aggregation.Name(), tuning.Split, tuning.EcgIds.Length));
    }

    /// <summary>Writes the thresholds where <see cref="PathFor"/> says (atomically).</summary>
    public void Save(TrainingSession session)
    {
        var document = new ThresholdFile(Provenance.TunedOn, Provenance.Records,
            "predict the class when probability >= threshold; Infinity means never", Default,
            ClassNames.Select((n, c) => new ClassThreshold(n, Values[c], TunedF1[c], F1AtDefault[c])).ToArray(),
            Provenance.Weights, Provenance.Aggregation);
        var path = PathFor(session, WeightsChoice.Parse(Provenance.Weights), WindowAggregations.Parse(Provenance.Aggregation));
        AtomicFile.WriteAllText(path, JsonSerializer.Serialize(document, FileOptions));
    }

    /// <summary>
    /// The saved thresholds tuned for exactly these weights and this aggregation, or null when none were. A
    /// thresholds.json written before provenance was recorded was tuned for the best weights with the session's
    /// own aggregation (the end-of-training report), and is read as such.
    /// </summary>
    public static DecisionThresholds? Find(TrainingSession session, WeightsChoice weights, WindowAggregation aggregation)
    {
        var path = PathFor(session, weights, aggregation);
        if (!File.Exists(path)) return null;
        ThresholdFile document;
        try
        {
            document = JsonSerializer.Deserialize<ThresholdFile>(File.ReadAllText(path), FileOptions) ?? throw new JsonException("empty file");
        }
        catch (JsonException e)
        {
            throw new UserError($"'{path}' cannot be read as thresholds: {e.Message}");
        }
        if (!document.Classes.Select(c => c.Name).SequenceEqual(session.Manifest.ClassNames))
            throw new UserError($"'{path}': classes [{string.Join(",", document.Classes.Select(c => c.Name))}] differ from the session's [{string.Join(",", session.Manifest.ClassNames)}].");
        var provenance = new ThresholdProvenance(document.Weights ?? "best", document.Aggregation ?? session.Aggregation.Name(),
                                                 document.TunedOn, document.ValidationRecords);
        if (!provenance.Fits(weights, aggregation)) return null;
        return new DecisionThresholds(document.Classes.Select(c => c.Name).ToArray(), document.Classes.Select(c => c.Threshold).ToArray(),
            document.Classes.Select(c => c.ValidationF1).ToArray(), document.Classes.Select(c => c.ValidationF1AtDefault).ToArray(), provenance);
    }

    /// <summary>"CD 0.31, HYP 0.22, ...".</summary>
    public string Listing() =>
        string.Join(", ", ClassNames.Select((c, i) => $"{c} {Values[i].ToString("0.####", CultureInfo.InvariantCulture)}"));

    // The file format: snake_case, as before provenance was added; weights and aggregation are new, optional fields.
    private sealed record ClassThreshold(string Name, double Threshold, double ValidationF1, double ValidationF1AtDefault);

    private sealed record ThresholdFile(string TunedOn, int ValidationRecords, string Rule, double DefaultThreshold, ClassThreshold[] Classes,
                                        string? Weights = null, string? Aggregation = null);

    // snake_case, NaN and Infinity as named literals (a class never predicted has threshold +Infinity).
    private static JsonSerializerOptions FileOptions => JsonDefaults.Options;
}
