using Ecg.Data;
using Ecg.Model.Export;
using Ecg.Model.Metrics;

namespace Ecg.Model;

/// <summary>A session's model applied to some records: probabilities, labels and ROC AUC (NaN where undefined).</summary>
public sealed record Evaluation(
    string Split, int[] EcgIds, int Classes, string[] ClassNames, float[] Probabilities, byte[] Labels,
    double[] AucPerClass, double MacroAuc)
{
    /// <summary>The same records with other probabilities (an ensemble's mean), AUC recomputed.</summary>
    public Evaluation WithProbabilities(float[] probabilities) => this with
    {
        Probabilities = probabilities,
        AucPerClass = RocAuc.PerClass(probabilities, Labels, Classes),
        MacroAuc = RocAuc.Macro(probabilities, Labels, Classes),
    };
}

/// <summary>Progress of a library stage: a step's name and how far it is (done of total units).</summary>
public sealed record StageProgress(string Step, int Done, int Total);

/// <summary>A session's chosen weights on any split of a dataset: probabilities, labels, ROC AUC.</summary>
public static class Evaluator
{
    /// <summary>
    /// Evaluates <paramref name="weights"/> on a split under the session's split scheme; <paramref name="aggregation"/>
    /// (null: the session's own) says how the evaluation windows combine.
    /// </summary>
    public static Evaluation Evaluate(TrainingSession session, ProcessedDataset dataset, DataSplit split, WeightsChoice weights,
                                      WindowAggregation? aggregation = null, CancellationToken cancel = default, Action<int, int>? batchDone = null,
                                      InferenceEngine engine = InferenceEngine.Torch) =>
        Evaluate(session, dataset, session.SplitScheme.IndicesOf(dataset, split), split.Name(), weights, aggregation, cancel, batchDone, engine);

    /// <summary>Evaluates the given records (indices into <paramref name="dataset"/>), named <paramref name="splitName"/> in the result.</summary>
    public static Evaluation Evaluate(TrainingSession session, ProcessedDataset dataset, int[] indices, string splitName, WeightsChoice weights,
                                      WindowAggregation? aggregation = null, CancellationToken cancel = default, Action<int, int>? batchDone = null,
                                      InferenceEngine engine = InferenceEngine.Torch)
    {
        session.RequireClassifier("evaluate");
        SessionCompatibility.Require(session, dataset);
        int classes = dataset.ClassNames.Length;
        var probabilities = Array.Empty<float>();
        if (indices.Length > 0 && engine is InferenceEngine.Onnx or InferenceEngine.OnnxInt8)
        {
            using var onnx = ModelExport.LoadOnnx(session, weights, aggregation, engine == InferenceEngine.OnnxInt8, dataset);
            probabilities = onnx.PredictRecords(dataset, indices, null, batchDone, cancel);
        }
        else if (indices.Length > 0)
        {
            using var predictor = Predictor.Load(session, weights, aggregation: aggregation);
            probabilities = predictor.PredictRecords(dataset, indices, cancel, batchDone);
        }
        var labels = ModelRunner.LabelsOf(dataset, indices);
        var perClass = indices.Length > 0 ? RocAuc.PerClass(probabilities, labels, classes) : Enumerable.Repeat(double.NaN, classes).ToArray();
        var macro = indices.Length > 0 ? RocAuc.Macro(probabilities, labels, classes) : double.NaN;
        return new Evaluation(splitName, indices.Select(i => dataset.EcgIds[i]).ToArray(), classes, dataset.ClassNames,
                              probabilities, labels, perClass, macro);
    }
}
