/// Ecg.Model.Metrics.Fmax against the benchmark authors' sample-centric Fmax (see Fmax.cs).
///
/// Reference values were printed by fmax_reference.py (beside this file), which restates their NumPy formula
/// (eval_scores / eval_prrc_parallel of clinical_ts/eval_utils_cafa.py), run once with Debian's python3-numpy 1.24.2:
///     /usr/bin/python3 tests/Ecg.Model.Tests/fmax_reference.py
/// on the fixture generated identically here and there by the LCG below (scores k/100 as float32, so many sit on
/// or next to the thresholds i * 0.01 and the float32-versus-float64 comparison matters).
module Ecg.Model.Tests.FmaxTests

open System
open Expecto
open Ecg.Model.Metrics

let fixture (seed: uint64) (rows: int) (classes: int) =
    let mutable state = seed
    let next (bound: int) =
        state <- state * 6364136223846793005UL + 1442695040888963407UL
        int ((state >>> 33) % uint64 bound)
    let scores = Array.zeroCreate<float32> (rows * classes)
    let labels = Array.zeroCreate<byte> (rows * classes)
    for i in 0 .. rows - 1 do
        for j in 0 .. classes - 1 do
            let y = if next 1000 < 150 + 100 * j then 1 else 0
            let k = next 61 + 40 * y
            labels.[i * classes + j] <- byte y
            scores.[i * classes + j] <- float32 (float k / 100.0)
        if Array.sum labels.[i * classes .. i * classes + classes - 1] = 0uy then labels.[i * classes + next classes] <- 1uy
    scores, labels

let close (actual: float) (expected: float) (what: string) =
    Expect.floatClose { absolute = 1e-12; relative = 1e-12 } actual expected what

let expectResult (r: FmaxResult) (fmax, threshold, precision, recall, coverage) (what: string) =
    close r.Fmax fmax (what + ": Fmax")
    Expect.equal r.Threshold threshold (what + ": threshold")
    close r.Precision precision (what + ": precision")
    close r.Recall recall (what + ": recall")
    close r.Coverage coverage (what + ": coverage")

[<Tests>]
let tests =
    testList "Metrics.Fmax" [
        test "the benchmark's thresholds are i * 0.01, 101 of them (np.arange(0.00, 1.01, 0.01))" {
            let t = Fmax.BenchmarkThresholds()
            Expect.equal t.Length 101 "count"
            Expect.equal (t.[0], t.[7], t.[100]) (0.0, 7.0 * 0.01, 1.0) "values"
        }
        test "fixtures: Fmax, its threshold, precision, recall and coverage, and points of the curve equal NumPy's" {
            let scores, labels = fixture 5UL 80 6
            expectResult (Fmax.Compute(scores, labels, 6)) (0.8239954890266045, 0.5, 0.7873931623931625, 0.8641666666666665, 0.975) "fixture(5, 80, 6)"
            let curve = Fmax.Curve(scores, labels, 6, Fmax.BenchmarkThresholds())
            for i, p, r, f, c in [ 0, 0.38125, 1.0, 0.5520361990950226, 1.0
                                   37, 0.65125, 1.0, 0.7887963663890991, 1.0
                                   60, 0.9692307692307692, 0.5964583333333333, 0.7384681521817009, 0.8125
                                   100, 1.0, 0.010416666666666666, 0.020618556701030924, 0.025 ] do
                close curve.Precision.[i] p (sprintf "P at t[%d]" i)
                close curve.Recall.[i] r (sprintf "R at t[%d]" i)
                close curve.F.[i] f (sprintf "F at t[%d]" i)
                close curve.Coverage.[i] c (sprintf "coverage at t[%d]" i)
            let scores, labels = fixture 11UL 300 4
            expectResult (Fmax.Compute(scores, labels, 4)) (0.7362640985383262, 0.44, 0.6831501831501832, 0.7983333333333333, 0.91) "fixture(11, 300, 4)"
            let curve = Fmax.Curve(scores, labels, 4, Fmax.BenchmarkThresholds())
            close curve.Precision.[37] 0.6032295271049596 "P at t[37]"
            close curve.F.[60] 0.7083941149759782 "F at t[60]"
        }
        test "hand case: a score of 0.2f is predicted at t = 0.20 (float32 0.2 > 0.2), precision counts only predicting records" {
            let scores = [| 0.9f; 0.2f; 0.4f; 0.6f; 0.05f; 0.3f |]
            let labels = [| 1uy; 0uy; 1uy; 1uy; 0uy; 1uy |]
            expectResult (Fmax.Compute(scores, labels, 2)) (1.0, 0.21, 1.0, 1.0, 1.0) "hand"
            let curve = Fmax.Curve(scores, labels, 2, [| 0.2; 0.5 |])
            // t = 0.2: record 0 predicts both (precision 1/2), records 1 and 2 are right: P = (0.5 + 1 + 1) / 3.
            close curve.Precision.[0] (2.5 / 3.0) "P at 0.2"
            // t = 0.5: record 2 predicts nothing (left out of P), record 1 finds 1 of 2: R = (1 + 0.5 + 0) / 3.
            close curve.Precision.[1] 1.0 "P at 0.5"
            close curve.Recall.[1] 0.5 "R at 0.5"
            close curve.Coverage.[1] (2.0 / 3.0) "coverage at 0.5"
        }
        test "nothing predicted at any threshold: F is NaN everywhere and Fmax is 0, as NumPy's rule gives" {
            let scores = [| -0.9f; -0.2f; -0.4f; -0.6f; -0.05f; -0.3f |]
            let labels = [| 1uy; 0uy; 1uy; 1uy; 0uy; 1uy |]
            Expect.equal (Fmax.Compute(scores, labels, 2)) (FmaxResult(0.0, 0.0, 0.0, 0.0, 0.0)) "zeros"
            Expect.isTrue (Fmax.Curve(scores, labels, 2, Fmax.BenchmarkThresholds()).F |> Array.forall Double.IsNaN) "NaN curve"
        }
        test "bad input: a record without a true class, NaN scores, shapes, labels other than 0/1" {
            let expectArg (f: unit -> FmaxResult) (fragment: string) =
                let e = Expect.throwsC (fun () -> f () |> ignore) id
                Expect.isTrue (e :? ArgumentException) "ArgumentException"
                Expect.stringContains e.Message fragment fragment
            expectArg (fun () -> Fmax.Compute([| 0.5f; 0.5f; 0.5f; 0.5f |], [| 1uy; 0uy; 0uy; 0uy |], 2)) "labels[record 1] has no true class"
            expectArg (fun () -> Fmax.Compute([| nanf; 0.5f |], [| 1uy; 0uy |], 2)) "is NaN"
            expectArg (fun () -> Fmax.Compute([| 0.5f; 0.5f; 0.5f |], [| 1uy; 0uy |], 2)) "not a multiple"
            expectArg (fun () -> Fmax.Compute([| 0.5f; 0.5f |], [| 2uy; 0uy |], 2)) "only 0 or 1"
            expectArg (fun () -> Fmax.Compute([||], [||], 2)) "at least one record"
        }
    ]
