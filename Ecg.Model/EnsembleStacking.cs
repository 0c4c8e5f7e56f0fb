using Ecg.Data;

namespace Ecg.Model;

/// <summary>
/// Stacking (Wolpert 1992): for each class, a logistic regression from the members' logits for that class to its label,
/// fitted on the validation records, replaces the weighted mean of probabilities. A class gets its own member weights,
/// and a member that is overconfident can be scaled down. Only the class's own logits are inputs (one coefficient per
/// member and an intercept per class): a stack over every member's every class would fit many times more numbers on
/// the same fold.
/// </summary>
public static class EnsembleStacking
{
    /// <summary>scikit-learn's default inverse regularisation strength; ample for a few thousand validation records.</summary>
    public const double DefaultC = 1.0;

    /// <summary>The stack fitted on <paramref name="validation"/> (one evaluation per member, the same records).</summary>
    public static StackedCombination Fit(IReadOnlyList<Evaluation> validation, double c = DefaultC)
    {
        var first = validation[0];
        var rows = first.EcgIds.Length;
        var models = new LogisticModel[first.Classes];
        for (int k = 0; k < first.Classes; k++)
        {
            var labels = Enumerable.Range(0, rows).Select(r => first.Labels[r * first.Classes + k] == 1).ToArray();
            if (labels.All(v => v) || labels.All(v => !v))
                throw new UserError($"Class {first.ClassNames[k]} has {(labels[0] ? "no negative" : "no positive")} record among the {rows} {first.Split} " +
                                    "records: a stack cannot be fitted for it.");
            models[k] = LogisticRegression.Fit(Features(validation, k), labels, c);
        }
        return new StackedCombination(models.Select(m => m.Coefficients).ToArray(), models.Select(m => m.Intercept).ToArray(), c);
    }

    /// <summary>The stacked probabilities of <paramref name="members"/> (in the order the stack was fitted on).</summary>
    public static Evaluation Apply(StackedCombination stack, IReadOnlyList<Evaluation> members)
    {
        var first = members[0];
        if (stack.Coefficients.Length != first.Classes || stack.Coefficients.Any(c => c.Length != members.Count))
            throw new UserError($"The stack was fitted for {stack.Coefficients.Length} classes and {stack.Coefficients.FirstOrDefault()?.Length ?? 0} " +
                                $"members; these are {first.Classes} classes and {members.Count} members.");
        var rows = first.EcgIds.Length;
        var stacked = new float[rows * first.Classes];
        for (int k = 0; k < first.Classes; k++)
        {
            var model = new LogisticModel(stack.Coefficients[k], stack.Intercepts[k]);
            var features = Features(members, k);
            for (int r = 0; r < rows; r++) stacked[r * first.Classes + k] = (float)model.Probability(features[r]);
        }
        return first.WithProbabilities(stacked);
    }

    /// <summary>Per record, each member's logit for class <paramref name="k"/>; probabilities of 0 or 1 clipped to 1e-7 from the edge.</summary>
    private static double[][] Features(IReadOnlyList<Evaluation> members, int k)
    {
        var first = members[0];
        return Enumerable.Range(0, first.EcgIds.Length).Select(r => members.Select(m =>
        {
            var p = Math.Clamp((double)m.Probabilities[r * first.Classes + k], 1e-7, 1 - 1e-7);
            return Math.Log(p / (1 - p));
        }).ToArray()).ToArray();
    }
}

/// <summary>A fitted stack: per class, one coefficient per member (on its logit) and an intercept; C as fitted.</summary>
public sealed record StackedCombination(double[][] Coefficients, double[] Intercepts, double C);
