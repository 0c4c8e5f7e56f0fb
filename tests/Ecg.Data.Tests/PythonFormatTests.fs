module Ecg.Data.Tests.PythonFormatTests

open System
open System.Globalization
open System.IO
open Expecto
open FsCheck
open FsCheck.FSharp
open Ecg.Data

/// Python 3.11's format(x, '.Nf') for 62 doubles (chosen ties and edge cases, and seeded random values) at
/// 0-4, 8 and 17 digits: reference/python_format.tsv, written by reference/python_format.py.
let private pythonReference =
    File.ReadAllLines(Path.Combine(__SOURCE_DIRECTORY__, "reference", "python_format.tsv"))
    |> Array.map (fun line ->
        match line.Split '\t' with
        | [| value; digits; expected |] -> Double.Parse(value, CultureInfo.InvariantCulture), int digits, expected
        | _ -> failwithf "bad reference line '%s'" line)

[<Tests>]
let tests =
    testList "PythonFormat" [
        test "Fixed equals Python's format(x, '.Nf') on every reference value" {
            Expect.isGreaterThan pythonReference.Length 400 "the reference file is read"
            for value, digits, expected in pythonReference do
                Expect.equal (PythonFormat.Fixed(value, digits)) expected (sprintf "format(%s, '.%df')" (value.ToString("R", CultureInfo.InvariantCulture)) digits)
        }

        test "ties round half to even on the exact binary value; nan and infinities as Python prints them" {
            Expect.equal (PythonFormat.Fixed(0.625, 2)) "0.62" "0.625 is exact: a tie, to even"
            Expect.equal (PythonFormat.Fixed(0.375, 2)) "0.38" "tie, to even"
            Expect.equal (PythonFormat.Fixed(2.675, 2)) "2.67" "2.675 is 2.67499999... in binary"
            Expect.equal (PythonFormat.Fixed(-0.004, 2)) "-0.00" "Python keeps the sign"
            Expect.equal (PythonFormat.Fixed(nan, 2)) "nan" "nan"
            Expect.equal (PythonFormat.Fixed(-infinity, 3)) "-inf" "-inf"
            Expect.throwsT<ArgumentOutOfRangeException> (fun () -> PythonFormat.Fixed(1.0, -1) |> ignore) "negative digits"
        }

        // k / 2^m is exact in binary and in decimal, so System.Decimal's own half-to-even rounding is an
        // independent oracle for it.
        testProperty "k / 2^m rounds like decimal's MidpointRounding.ToEven" <|
            Prop.forAll (Arb.fromGen (Gen.zip3 (Gen.choose (-2_000_000, 2_000_000)) (Gen.choose (0, 12)) (Gen.choose (0, 6)))) (fun (k, m, digits) ->
                let exact = decimal k / decimal (pown 2L m)
                let value = float k / float (pown 2L m)
                let expected = Math.Round(exact, digits, MidpointRounding.ToEven).ToString("F" + string digits, CultureInfo.InvariantCulture)
                let expected = if value < 0.0 && not (expected.StartsWith "-") then "-" + expected else expected
                PythonFormat.Fixed(value, digits) = expected)
    ]
