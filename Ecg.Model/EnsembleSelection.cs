using Ecg.Model.Metrics;

namespace Ecg.Model;

/// <summary>
/// Which candidates an ensemble takes, and with what weights, chosen on validation scores alone: forward selection with
/// replacement (Caruana et al., "Ensemble selection from libraries of models", ICML 2004). Each round adds the candidate
/// (again, if it is already in) whose addition gives the mean of probabilities the highest validation macro AUC; the
/// ensemble kept is the one after the best round, and a member's weight is how often it was added. Adding with
/// replacement is what turns the selection into weights, and keeping the best round stops it where more members only
/// add noise.
/// </summary>
public static class EnsembleSelection
{
    /// <summary>
    /// The choice over <paramref name="validation"/> (one evaluation per candidate, the same records), in at most
    /// <paramref name="rounds"/> rounds. Ties go to the earlier candidate, and the earliest best round is kept, so the
    /// choice is deterministic. With <paramref name="minimumGain"/> a later round replaces the kept one only when it beats
    /// it by at least that much: 1e-4 keeps an ensemble of two where 20 more rounds add fifth-decimal gains.
    /// </summary>
    public static EnsembleChoice Greedy(IReadOnlyList<Evaluation> validation, int rounds, double minimumGain = 0)
    {
        if (validation.Count == 0) throw new ArgumentException("no candidates", nameof(validation));
        if (rounds < 1) throw new ArgumentOutOfRangeException(nameof(rounds), "at least one round");
        if (!(minimumGain >= 0)) throw new ArgumentOutOfRangeException(nameof(minimumGain), "a gain of 0 or more");
        var first = validation[0];
        var length = first.Probabilities.Length;
        var sum = new double[length];
        var counts = new int[validation.Count];
        var trace = new List<EnsembleRound>();
        var mean = new float[length];
        for (int round = 1; round <= rounds; round++)
        {
            int bestCandidate = -1;
            double bestAuc = double.NegativeInfinity;
            for (int c = 0; c < validation.Count; c++)
            {
                var p = validation[c].Probabilities;
                for (int i = 0; i < length; i++) mean[i] = (float)((sum[i] + p[i]) / round);
                var auc = RocAuc.Macro(mean, first.Labels, first.Classes);
                if (auc > bestAuc) (bestAuc, bestCandidate) = (auc, c);
            }
            counts[bestCandidate]++;
            var added = validation[bestCandidate].Probabilities;
            for (int i = 0; i < length; i++) sum[i] += added[i];
            trace.Add(new EnsembleRound(round, bestCandidate, bestAuc));
        }
        var best = trace[0];
        foreach (var r in trace.Skip(1))
            if (r.ValidationMacroAuc > best.ValidationMacroAuc + minimumGain) best = r;
        var kept = new int[validation.Count];
        foreach (var r in trace.Take(best.Round)) kept[r.Added]++;
        return new EnsembleChoice(kept, kept.Select(k => (double)k / best.Round).ToArray(), trace.ToArray(), best.Round);
    }
}

/// <summary>One round of the selection: the candidate added (its index) and the ensemble's validation macro AUC after it.</summary>
public sealed record EnsembleRound(int Round, int Added, double ValidationMacroAuc);

/// <summary>
/// The selection's result: per candidate (in candidate order) how often it was added up to the kept round, and its
/// weight (that count over the round); every round tried, and the round kept.
/// </summary>
public sealed record EnsembleChoice(int[] Counts, double[] Weights, EnsembleRound[] Rounds, int KeptRound)
{
    public double ValidationMacroAuc => Rounds[KeptRound - 1].ValidationMacroAuc;
}
