namespace Ecg.Model;

/// <summary>
/// torch's OneCycleLR (cosine annealing, pct_start 0.3, div_factor 25, final_div_factor 1e4, beta1 cycled
/// 0.95 -> 0.85 -> 0.95) as a pure function of the step, so a resumed run needs only the step count.
/// </summary>
public sealed record OneCycleSchedule(double MaxLearningRate, long TotalSteps,
    double PctStart = 0.3, double DivFactor = 25.0, double FinalDivFactor = 1e4,
    double BaseMomentum = 0.85, double MaxMomentum = 0.95)
{
    private static double Cosine(double start, double end, double pct) => end + (start - end) / 2.0 * (Math.Cos(Math.PI * pct) + 1);

    /// <summary>Learning rate and beta1 for the optimizer step with this zero-based index.</summary>
    public (double LearningRate, double Beta1) At(long step)
    {
        double initial = MaxLearningRate / DivFactor, final = initial / FinalDivFactor;
        // As torch: phase ends at step pct*total - 1 and total - 1.
        double warmEnd = PctStart * TotalSteps - 1, end = TotalSteps - 1;
        step = Math.Min(step, TotalSteps - 1);
        if (step <= warmEnd)
        {
            double pct = warmEnd <= 0 ? 1 : step / warmEnd;
            return (Cosine(initial, MaxLearningRate, pct), Cosine(MaxMomentum, BaseMomentum, pct));
        }
        double pct2 = end - warmEnd <= 0 ? 1 : (step - warmEnd) / (end - warmEnd);
        return (Cosine(MaxLearningRate, final, pct2), Cosine(BaseMomentum, MaxMomentum, pct2));
    }
}
