using System.Globalization;

namespace Ecg.Model;

/// <summary>
/// Random signal changes applied to training crops (in mV, before standardisation), each drawn per record from
/// the epoch's random stream, so a seeded run (and a resumed one) sees the same augmented batches.
/// <list type="bullet">
/// <item><c>scale</c> s: the whole record times a factor uniform in [1 - s, 1 + s]. One factor for all leads keeps
/// the limb leads' relations (III = II - I, the augmented leads) as they are.</item>
/// <item><c>noise</c> n: white Gaussian noise with a standard deviation uniform in [0, n] mV.</item>
/// <item><c>wander</c> w: baseline wander, a sinusoid of 0.05-0.5 Hz (one frequency per record) with each lead's own
/// amplitude uniform in [0, w] mV and its own phase: the respiration and electrode drift a recording picks up.</item>
/// <item><c>mask</c> m: one stretch of up to m of the crop's length set to 0 mV on every lead ("time-out").</item>
/// </list>
/// Written as <c>scale=0.1,noise=0.02,wander=0.1,mask=0.1</c>; <c>ecg</c> names those values; <c>none</c>, or a
/// config without the field, trains on the signals as they are (and draws nothing, so older sessions reproduce).
/// </summary>
public sealed record Augmentation(double Scale, double Noise, double Wander, double Mask)
{
    /// <summary>The values <c>ecg</c> stands for.</summary>
    public static Augmentation Ecg { get; } = new(0.1, 0.02, 0.1, 0.1);

    public static IReadOnlyList<string> Keys { get; } = new[] { "scale", "noise", "wander", "mask" };

    /// <summary>The spec as the config stores it (the four values, invariant culture).</summary>
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"scale={Scale},noise={Noise},wander={Wander},mask={Mask}");

    /// <summary>
    /// <c>none</c> (or empty) gives null; <c>ecg</c> the default set; otherwise comma-separated key=value pairs,
    /// unnamed keys 0. Throws naming the offending key or value.
    /// </summary>
    public static Augmentation? Parse(string? spec)
    {
        var text = (spec ?? "").Trim().ToLowerInvariant();
        if (text is "" or "none") return null;
        if (text == "ecg") return Ecg;
        var values = new Dictionary<string, double>();
        foreach (var part in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var pieces = part.Split('=', 2, StringSplitOptions.TrimEntries);
            if (pieces.Length != 2 || !Keys.Contains(pieces[0]))
                throw new ArgumentException($"augment '{spec}': '{part}' is not key=value with a key among {string.Join(", ", Keys)} (or use ecg or none).");
            if (!double.TryParse(pieces[1], NumberStyles.Float, CultureInfo.InvariantCulture, out var v) || !double.IsFinite(v) || v < 0)
                throw new ArgumentException($"augment '{spec}': {pieces[0]} must be a number >= 0, not '{pieces[1]}'.");
            if (!values.TryAdd(pieces[0], v))
                throw new ArgumentException($"augment '{spec}': {pieces[0]} is given twice.");
        }
        double get(string key) => values.GetValueOrDefault(key);
        if (get("scale") >= 1) throw new ArgumentException($"augment '{spec}': scale must be below 1 (a factor 1 - scale must stay positive).");
        if (get("mask") >= 1) throw new ArgumentException($"augment '{spec}': mask must be below 1 (a fraction of the crop).");
        var result = new Augmentation(get("scale"), get("noise"), get("wander"), get("mask"));
        return result.IsIdentity ? null : result;
    }

    /// <summary>True when every amount is 0.</summary>
    public bool IsIdentity => Scale == 0 && Noise == 0 && Wander == 0 && Mask == 0;

    /// <summary>Changes one record's crop in place: <paramref name="signal"/> is (length, leads) row-major, in mV.</summary>
    public void Apply(Span<float> signal, int length, int leads, double hertz, Random random)
    {
        if (signal.Length != length * leads) throw new ArgumentException($"Augmentation: {signal.Length} values for {length} x {leads}.");
        if (Scale > 0)
        {
            float factor = (float)(1 + Scale * (2 * random.NextDouble() - 1));
            foreach (ref var v in signal) v *= factor;
        }
        if (Noise > 0)
        {
            double sigma = Noise * random.NextDouble();
            for (int i = 0; i < signal.Length; i++) signal[i] += (float)(sigma * Gaussian(random));
        }
        if (Wander > 0)
        {
            double frequency = 0.05 + 0.45 * random.NextDouble();
            double step = 2 * Math.PI * frequency / hertz;
            for (int l = 0; l < leads; l++)
            {
                double amplitude = Wander * random.NextDouble(), phase = 2 * Math.PI * random.NextDouble();
                for (int t = 0; t < length; t++) signal[t * leads + l] += (float)(amplitude * Math.Sin(step * t + phase));
            }
        }
        if (Mask > 0)
        {
            int span = (int)(Mask * length * random.NextDouble());
            int start = random.Next(length - span + 1);
            signal.Slice(start * leads, span * leads).Clear();
        }
    }

    /// <summary>A standard normal draw (Box-Muller; .NET's Random has none).</summary>
    private static double Gaussian(Random random)
    {
        double u = 1.0 - random.NextDouble();   // (0, 1]: the logarithm stays finite
        return Math.Sqrt(-2.0 * Math.Log(u)) * Math.Cos(2 * Math.PI * random.NextDouble());
    }
}
