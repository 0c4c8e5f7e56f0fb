using System.Numerics;

namespace Ecg.Model.Metrics;

/// <summary>
/// Python's <c>format(x, ".Nf")</c>: the exact binary value rounded half-to-even, so 0.625 prints
/// as "0.62" like scikit-learn's report (.NET's "F2" gives "0.63").
/// </summary>
internal static class PythonFixedFormat
{
    public static string Format(double value, int digits)
    {
        if (digits < 0) throw new ArgumentOutOfRangeException(nameof(digits), digits, "digits must be non-negative.");
        if (double.IsNaN(value)) return "nan";
        if (double.IsInfinity(value)) return value > 0 ? "inf" : "-inf";

        long bits = BitConverter.DoubleToInt64Bits(value);
        bool negative = bits < 0;
        int exponent = (int)((bits >> 52) & 0x7FF);
        long mantissa = bits & 0xF_FFFF_FFFF_FFFFL;
        if (exponent == 0) exponent = 1; else mantissa |= 1L << 52;
        exponent -= 1075; // |value| = mantissa * 2^exponent exactly

        BigInteger scaled = mantissa * BigInteger.Pow(10, digits);
        BigInteger units;
        if (exponent >= 0)
        {
            units = scaled << exponent;
        }
        else
        {
            BigInteger denominator = BigInteger.One << -exponent;
            units = BigInteger.DivRem(scaled, denominator, out BigInteger remainder);
            int half = (remainder * 2).CompareTo(denominator);
            if (half > 0 || (half == 0 && !units.IsEven)) units += 1;
        }

        string text = units.ToString(System.Globalization.CultureInfo.InvariantCulture).PadLeft(digits + 1, '0');
        if (digits > 0) text = text[..^digits] + "." + text[^digits..];
        return negative ? "-" + text : text;
    }
}
