namespace Ecg.Model;

/// <summary>
/// torch's OneCycleLR (cosine annealing, pct_start 0.3, div_factor 25, final_div_factor 1e4, beta1 cycled
/// 0.95 -> 0.85 -> 0.95) as a pure function of the step, so a resumed run needs only the step count.
/// With <see cref="Cycles"/> above 1 the steps split into that many equal one-cycles, each warming up again from
/// max/25 (a restarted schedule, as in snapshot ensembles): <see cref="TotalSteps"/> must divide evenly.
/// </summary>
public sealed record OneCycleSchedule(double MaxLearningRate, long TotalSteps,
    double PctStart = 0.3, double DivFactor = 25.0, double FinalDivFactor = 1e4,
    double BaseMomentum = 0.85, double MaxMomentum = 0.95, int Cycles = 1)
{
    private static double Cosine(double start, double end, double pct) => end + (start - end) / 2.0 * (Math.Cos(Math.PI * pct) + 1);

    /// <summary>Learning rate and beta1 for the optimizer step with this zero-based index.</summary>
    public (double LearningRate, double Beta1) At(long step)
    {
        if (Cycles < 1 || TotalSteps % Cycles != 0)
            throw new ArgumentException($"OneCycleSchedule: {TotalSteps} steps do not split into {Cycles} equal cycles.");
        long cycleSteps = TotalSteps / Cycles;
        step = Math.Min(step, TotalSteps - 1) % cycleSteps;
        double initial = MaxLearningRate / DivFactor, final = initial / FinalDivFactor;
        // As torch: phase ends at step pct*total - 1 and total - 1 (of the cycle).
        double warmEnd = PctStart * cycleSteps - 1, end = cycleSteps - 1;
        if (step <= warmEnd)
        {
            double pct = warmEnd <= 0 ? 1 : step / warmEnd;
            return (Cosine(initial, MaxLearningRate, pct), Cosine(MaxMomentum, BaseMomentum, pct));
        }
        double pct2 = end - warmEnd <= 0 ? 1 : (step - warmEnd) / (end - warmEnd);
        return (Cosine(MaxLearningRate, final, pct2), Cosine(BaseMomentum, MaxMomentum, pct2));
    }
}
