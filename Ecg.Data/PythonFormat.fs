namespace Ecg.Data

open System
open System.Globalization
open System.Numerics

/// Numbers printed the way Python prints them, so reports compare line by line with scikit-learn's.
[<AbstractClass; Sealed>]
type PythonFormat private () =

    /// Python's `format(value, ".{digits}f")`: the exact binary value rounded half to even, so 0.625 prints
    /// as "0.62" like scikit-learn's classification_report (.NET's "F2" gives "0.63"); "nan", "inf", "-inf";
    /// a negative value that rounds to zero keeps its sign ("-0.00"), as in Python.
    static member Fixed(value: float, digits: int) : string =
        if digits < 0 then raise (ArgumentOutOfRangeException("digits", digits, "digits must be non-negative."))
        if Double.IsNaN value then "nan"
        elif Double.IsInfinity value then (if value > 0.0 then "inf" else "-inf")
        else
            let bits = BitConverter.DoubleToInt64Bits value
            let negative = bits < 0L
            let exponent = int ((bits >>> 52) &&& 0x7FFL)
            let fraction = bits &&& 0xFFFFFFFFFFFFFL
            // |value| = mantissa * 2^power exactly.
            let mantissa, power = if exponent = 0 then fraction, -1074 else (fraction ||| (1L <<< 52)), exponent - 1075
            let scaled = BigInteger mantissa * BigInteger.Pow(BigInteger 10, digits)
            let units =
                if power >= 0 then scaled <<< power
                else
                    let denominator = BigInteger.One <<< -power
                    let mutable remainder = BigInteger.Zero
                    let quotient = BigInteger.DivRem(scaled, denominator, &remainder)
                    let half = (remainder * BigInteger 2).CompareTo denominator
                    if half > 0 || (half = 0 && not quotient.IsEven) then quotient + BigInteger.One else quotient
            let text = units.ToString(CultureInfo.InvariantCulture).PadLeft(digits + 1, '0')
            let body = if digits = 0 then text else text.Substring(0, text.Length - digits) + "." + text.Substring(text.Length - digits)
            if negative then "-" + body else body
