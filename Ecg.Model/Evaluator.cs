using Ecg.Data;
using Ecg.Model.Metrics;
using static TorchSharp.torch;

namespace Ecg.Model;

/// <summary>A session's model applied to some records: probabilities, labels and ROC AUC (NaN where undefined).</summary>
public sealed record Evaluation(
    string Split, int[] EcgIds, int Classes, string[] ClassNames, float[] Probabilities, byte[] Labels,
    double[] AucPerClass, double MacroAuc);

/// <summary>The Evaluate stage: a session's chosen weights on any split of a dataset.</summary>
public static class Evaluator
{
    /// <summary>
    /// Evaluates weights "best" (or an epoch number) on the split named "train", "validation" or "test";
    /// <paramref name="aggregation"/> overrides the session's window aggregation ("max", "mean" or "whole").
    /// </summary>
    public static Evaluation Evaluate(TrainingSession session, ProcessedDataset dataset, string split, string weights = "best", string? aggregation = null)
    {
        var scheme = session.SplitScheme;
        var indices = (split ?? "").Trim().ToLowerInvariant() switch
        {
            "train" => scheme.TrainIndices(dataset),
            "validation" => scheme.ValidationIndices(dataset),
            "test" => scheme.TestIndices(dataset),
            _ => throw new ArgumentException($"Unknown split '{split}': use train, validation or test."),
        };
        return Evaluate(session, dataset, indices, split!.Trim().ToLowerInvariant(), weights, aggregation: aggregation);
    }

    /// <summary>Evaluates the given records (indices into <paramref name="dataset"/>).</summary>
    public static Evaluation Evaluate(TrainingSession session, ProcessedDataset dataset, int[] indices, string splitName,
                                      string weights = "best", CancellationToken cancel = default, string? aggregation = null)
    {
        int classes = dataset.ClassNames.Length;
        if (!dataset.ClassNames.SequenceEqual(session.Manifest.ClassNames))
            throw new ArgumentException($"Dataset classes [{string.Join(",", dataset.ClassNames)}] differ from session '{session.Folder}' classes [{string.Join(",", session.Manifest.ClassNames)}].");
        var probabilities = Array.Empty<float>();
        if (indices.Length > 0)
        {
            using var predictor = Predictor.Load(session, weights, aggregation: aggregation);
            probabilities = predictor.PredictRecords(dataset, indices, cancel);
        }
        var labels = ModelRunner.LabelsOf(dataset, indices);
        var perClass = indices.Length > 0 ? RocAuc.PerClass(probabilities, labels, classes) : Enumerable.Repeat(double.NaN, classes).ToArray();
        var macro = indices.Length > 0 ? RocAuc.Macro(probabilities, labels, classes) : double.NaN;
        return new Evaluation(splitName, indices.Select(i => dataset.EcgIds[i]).ToArray(), classes, dataset.ClassNames,
                              probabilities, labels, perClass, macro);
    }
}
