using System.Globalization;
using System.Text.RegularExpressions;
using Ecg.Data;

namespace Ecg.Model;

// The choices users make on the command line, parsed once at the edge into types. Each Parse gives a one-line
// UserError that lists the accepted values; each Names list is what --help shows.

/// <summary>A part of a dataset under a session's split scheme.</summary>
public enum DataSplit { Train, Validation, Test, All }

public static class DataSplits
{
    /// <summary>The names a stage accepts, in order.</summary>
    public static IReadOnlyList<string> Names { get; } = new[] { "train", "validation", "test", "all" };

    public static string Name(this DataSplit split) => Names[(int)split];

    /// <summary>"train", "validation", "test" or "all" (any case); <paramref name="option"/> names the option in the error.</summary>
    public static DataSplit Parse(string text, string option = "--split")
    {
        var index = Names.ToList().IndexOf((text ?? "").Trim().ToLowerInvariant());
        return index >= 0 ? (DataSplit)index
            : throw new UserError($"{option} '{text}': use one of {string.Join(", ", Names)}.");
    }

    /// <summary>The split scheme names a later stage's --split also takes (the session's own scheme).</summary>
    public static IReadOnlyList<string> SchemeNames { get; } = new[] { "benchmark", "select", "refit", "original" };

    /// <summary>
    /// A later stage's --split: a part ("train", "validation", "test", "all") or the name of the session's own split
    /// scheme, which means the stage's default part under it (null). A scheme name lets one option drive the whole
    /// chain (`./build.sh -t All -- --split select`: train under select, every later stage on its default part) and
    /// checks the session on the way; a scheme other than the session's is an error. <paramref name="sessionScheme"/>
    /// null checks the text alone (before the session is open).
    /// </summary>
    public static DataSplit? ParseForSession(string? text, SplitScheme? sessionScheme, string option = "--split")
    {
        if (text is null) return null;
        var name = text.Trim().ToLowerInvariant();
        if (SchemeNames.Contains(name))
        {
            // Sessions from before split schemes were recorded were trained under the benchmark split.
            var own = string.IsNullOrEmpty(sessionScheme?.Name) ? "benchmark" : sessionScheme.Name;
            if (sessionScheme is not null && !string.Equals(own, name, StringComparison.OrdinalIgnoreCase))
                throw new UserError($"{option} '{text}' names the {name} split scheme, but the session was trained under the " +
                                    $"{own} split: give one of {string.Join(", ", Names)} or {own}.");
            return null;
        }
        var index = Names.ToList().IndexOf(name);
        return index >= 0 ? (DataSplit)index
            : throw new UserError($"{option} '{text}': use one of {string.Join(", ", Names)}, or the session's split scheme " +
                                  $"({string.Join(", ", SchemeNames)}) for the stage's default part.");
    }

    /// <summary>Indices (dataset order) of the split's records under the scheme; "all" is every record.</summary>
    public static int[] IndicesOf(this SplitScheme scheme, ProcessedDataset dataset, DataSplit split) => split switch
    {
        DataSplit.Train => scheme.TrainIndices(dataset),
        DataSplit.Validation => scheme.ValidationIndices(dataset),
        DataSplit.Test => scheme.TestIndices(dataset),
        _ => Enumerable.Range(0, dataset.RecordCount).ToArray(),
    };

    /// <summary>The folds a split takes (all folds of the scheme for "all").</summary>
    public static int[] FoldsOf(this SplitScheme scheme, DataSplit split) => split switch
    {
        DataSplit.Train => scheme.TrainFolds,
        DataSplit.Validation => scheme.ValidationFolds,
        DataSplit.Test => scheme.TestFolds,
        _ => scheme.TrainFolds.Concat(scheme.ValidationFolds).Concat(scheme.TestFolds).Order().ToArray(),
    };

    /// <summary>
    /// Where a stage that reports a result looks by default (evaluate, ensemble, embed, feature space): the test
    /// records when the dataset has any under the scheme, else validation. Reports are what users read as the
    /// result, so they go to the held-out part when there is one.
    /// </summary>
    public static DataSplit DefaultForReport(SplitScheme scheme, ProcessedDataset dataset) =>
        scheme.TestIndices(dataset).Length > 0 ? DataSplit.Test : DataSplit.Validation;

    /// <summary>
    /// Where a stage whose result is a choice looks by default (checkpoint averaging: adopt the averaged weights or
    /// not): validation when there is one, so the choice never reads the test records; test only for schemes
    /// without validation (the original notebooks' split), where nothing else is held out.
    /// </summary>
    public static DataSplit DefaultForSelection(SplitScheme scheme, ProcessedDataset dataset) =>
        scheme.ValidationIndices(dataset).Length > 0 ? DataSplit.Validation : DataSplit.Test;
}

/// <summary>How a record's evaluation windows combine into one prediction.</summary>
public enum WindowAggregation
{
    /// <summary>Max of the windows' probabilities (the PTB-XL benchmark's).</summary>
    Max,
    /// <summary>Mean of the windows' probabilities.</summary>
    Mean,
    /// <summary>No windows: one pass over the whole record.</summary>
    Whole,
}

public static class WindowAggregations
{
    public static IReadOnlyList<string> Names { get; } = new[] { "max", "mean", "whole" };

    public static string Name(this WindowAggregation aggregation) => Names[(int)aggregation];

    public static WindowAggregation Parse(string text, string option = "--aggregation")
    {
        var index = Names.ToList().IndexOf((text ?? "").Trim().ToLowerInvariant());
        return index >= 0 ? (WindowAggregation)index
            : throw new UserError($"{option} '{text}': use one of {string.Join(", ", Names)}.");
    }
}

/// <summary>Which weights of a session: the best epoch's, one epoch's, or an average over an epoch range (ecg average).</summary>
public sealed record WeightsChoice
{
    /// <summary>The epoch, for one epoch's weights; null otherwise.</summary>
    public int? Epoch { get; private init; }
    /// <summary>The averaged range, for averaged weights; null otherwise.</summary>
    public (int From, int To)? Range { get; private init; }
    public bool IsBest => Epoch is null && Range is null;

    public static WeightsChoice Best { get; } = new();
    public static WeightsChoice OfEpoch(int epoch) =>
        epoch >= 1 ? new() { Epoch = epoch } : throw new UserError($"--weights {epoch}: epochs count from 1.");
    public static WeightsChoice Averaged(int from, int to) =>
        from >= 1 && to >= from ? new() { Range = (from, to) } : throw new UserError($"--weights {from}-{to}: give a range F-T with 1 <= F <= T.");

    /// <summary>What --help says --weights accepts.</summary>
    public const string Accepted = "best, an epoch number, or an averaged epoch range such as 9-12 (ecg average)";

    private static readonly Regex RangePattern = new(@"^\s*(\d+)\s*-\s*(\d+)\s*$", RegexOptions.Compiled);

    /// <summary>"best" (also empty), "7" or "9-12".</summary>
    public static WeightsChoice Parse(string? text, string option = "--weights")
    {
        var t = (text ?? "").Trim();
        if (t.Length == 0 || t.Equals("best", StringComparison.OrdinalIgnoreCase)) return Best;
        if (int.TryParse(t, NumberStyles.None, CultureInfo.InvariantCulture, out var epoch)) return OfEpoch(epoch);
        if (RangePattern.Match(t) is { Success: true } m
            && int.TryParse(m.Groups[1].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var from)
            && int.TryParse(m.Groups[2].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var to))
            return Averaged(from, to);
        throw new UserError($"{option} '{text}': use {Accepted}.");
    }

    /// <summary>The weights file in a session folder.</summary>
    public string PathIn(SessionPaths paths) =>
        Epoch is int e ? paths.EpochWeights(e) : Range is var (from, to) ? paths.AveragedWeights(from, to) : paths.BestWeights;

    /// <summary>The canonical text: "best", "7" or "9-12" (what file names and reports carry).</summary>
    public override string ToString() => Epoch is int e ? e.ToString(CultureInfo.InvariantCulture)
        : Range is var (from, to) ? $"{from}-{to}" : "best";
}
