/// Evaluation metrics agree with scikit-learn 1.2.1 on deterministic fixtures.
///
/// Reference values were computed once with Debian's python3-sklearn 1.2.1 (numpy 1.24.2) from the
/// same fixture generated in Python by this identical LCG:
///
///   MASK = (1 << 64) - 1
///   class Lcg:
///       def __init__(self, seed): self.s = seed & MASK
///       def next(self, bound):
///           self.s = (self.s * 6364136223846793005 + 1442695040888963407) & MASK
///           return (self.s >> 33) % bound
///   def fixture(seed=42, n=60):
///       c = 5; rng = Lcg(seed)
///       S = np.zeros((n, c), dtype=np.float32); Y = np.zeros((n, c), dtype=np.uint8)
///       prev = [400, 300, 0, 80, 350]
///       for i in range(n):
///           for j in range(c):
///               y = 1 if rng.next(1000) < prev[j] else 0
///               if j == 0:   k = rng.next(6) + 2 * y; s = k / 8.0
///               elif j == 1: k = rng.next(700) + 300 * y; s = k / 1000.0
///               elif j == 2: k = rng.next(9); s = k / 8.0
///               elif j == 3: k = rng.next(5) + y; s = k / 5.0
///               else:        rng.next(2); s = 0.25
///               Y[i, j] = y; S[i, j] = np.float32(s)
///       P = (S >= np.float32(0.5)).astype(np.uint8)
///       return S, Y, P
///
/// The 60 x 5 fixture (seed 42) has: heavy ties (class 0, 3, 4), a class without positive labels
/// (2), a class without positive predictions (4), 10 rows without labels, 3 without predictions.
module Ecg.Model.Tests.MetricsTests

open System
open System.Diagnostics
open Expecto
open Ecg.Model.Metrics

/// The fixture above, generated identically in F#.
type Fixture = { Scores: float32[]; Labels: byte[]; Predictions: byte[]; Rows: int; Classes: int }

let fixture (seed: uint64) (rows: int) : Fixture =
    let classes = 5
    let mutable state = seed
    let next (bound: int) =
        state <- state * 6364136223846793005UL + 1442695040888963407UL
        int ((state >>> 33) % uint64 bound)
    let prevalence = [| 400; 300; 0; 80; 350 |]
    let scores = Array.zeroCreate<float32> (rows * classes)
    let labels = Array.zeroCreate<byte> (rows * classes)
    for i in 0 .. rows - 1 do
        for j in 0 .. classes - 1 do
            let y = if next 1000 < prevalence.[j] then 1 else 0
            let s =
                match j with
                | 0 -> float (next 6 + 2 * y) / 8.0
                | 1 -> float (next 700 + 300 * y) / 1000.0
                | 2 -> float (next 9) / 8.0
                | 3 -> float (next 5 + y) / 5.0
                | _ -> next 2 |> ignore; 0.25
            labels.[i * classes + j] <- byte y
            scores.[i * classes + j] <- float32 s
    let predictions = scores |> Array.map (fun s -> if s >= 0.5f then 1uy else 0uy)
    { Scores = scores; Labels = labels; Predictions = predictions; Rows = rows; Classes = classes }

let small = fixture 42UL 60
let larger = fixture 7UL 300

let expectClose (actual: float) (expected: float) (what: string) =
    Expect.floatClose { absolute = 1e-12; relative = 1e-12 } actual expected what

let expectAllClose (actual: float[]) (expected: float[]) (what: string) =
    Expect.equal actual.Length expected.Length $"{what}: length"
    Array.iteri2 (fun i a e -> expectClose a e $"{what}[{i}]") actual expected

let column (values: 'T[]) (classes: int) (c: int) =
    Array.init (values.Length / classes) (fun r -> values.[r * classes + c])

[<Tests>]
let rocAucTests =
    testList "Metrics.RocAuc" [
        test "per-class AUC equals sklearn roc_auc_score, NaN where only one label value" {
            // roc_auc_score(Y[:, j], S[:, j].astype(np.float64)) for j in [0, 1, 3, 4]; j = 2 raises in sklearn.
            let perClass = RocAuc.PerClass(small.Scores, small.Labels, small.Classes)
            expectClose perClass.[0] 0.7251131221719457 "class 0"
            expectClose perClass.[1] 0.8391148325358851 "class 1"
            Expect.isTrue (Double.IsNaN perClass.[2]) "class 2 has no positives"
            expectClose perClass.[3] 0.5633423180592991 "class 3"
            expectClose perClass.[4] 0.5 "class 4 (constant score)"
        }

        test "macro AUC skips undefined classes and equals sklearn on the defined ones" {
            // roc_auc_score(Y[:, [0,1,3,4]], S[:, [0,1,3,4]].astype(np.float64), average='macro')
            expectClose (RocAuc.Macro(small.Scores, small.Labels, small.Classes)) 0.6568925681917825 "macro"
        }

        test "micro AUC equals sklearn" {
            // roc_auc_score(Y, S.astype(np.float64), average='micro')
            expectClose (RocAuc.Micro(small.Scores, small.Labels, small.Classes)) 0.6014156484962406 "micro (60 x 5)"
            // Same on fixture(7, 300).
            expectClose (RocAuc.Micro(larger.Scores, larger.Labels, larger.Classes)) 0.630847555941096 "micro (300 x 5)"
        }

        test "binary AUC on spans equals sklearn on the larger fixture" {
            // fixture(7, 300): roc_auc_score(Y2[:, j], S2[:, j].astype(np.float64)) for j in [0, 1, 3, 4]
            let expected = [| 0, 0.7918213866039954; 1, 0.8232127926421404; 3, 0.6467462393721386; 4, 0.5 |]
            for (c, e) in expected do
                let s = column larger.Scores larger.Classes c
                let y = column larger.Labels larger.Classes c
                expectClose (RocAuc.Binary(ReadOnlySpan s, ReadOnlySpan y)) e $"class {c}"
        }

        test "binary AUC is NaN with a single label value and rejects bad input" {
            Expect.isTrue (Double.IsNaN(RocAuc.Binary(ReadOnlySpan [| 0.1f; 0.2f |], ReadOnlySpan [| 1uy; 1uy |]))) "only positives"
            Expect.throwsT<ArgumentException> (fun () ->
                RocAuc.Binary(ReadOnlySpan [| 0.1f; nanf |], ReadOnlySpan [| 0uy; 1uy |]) |> ignore) "NaN score"
            Expect.throwsT<ArgumentException> (fun () ->
                RocAuc.Binary(ReadOnlySpan [| 0.1f; 0.3f |], ReadOnlySpan [| 0uy; 2uy |]) |> ignore) "label 2"
            Expect.throwsT<ArgumentException> (fun () ->
                RocAuc.PerClass([| 0.1f; 0.2f; 0.3f |], [| 0uy; 1uy; 0uy |], 2) |> ignore) "not N x C"
        }

        testProperty "AUC is invariant under a strictly increasing transform of the scores" <| fun (pairs: (byte * bool) list) ->
            let scores = pairs |> List.map (fun (k, _) -> float32 (int k % 65) / 64.0f) |> Array.ofList
            let labels = pairs |> List.map (fun (_, y) -> if y then 1uy else 0uy) |> Array.ofList
            let transformed = scores |> Array.map (fun s -> 2.0f * s + 1.0f) // exact for k/64
            let a = RocAuc.Binary(ReadOnlySpan scores, ReadOnlySpan labels)
            let b = RocAuc.Binary(ReadOnlySpan transformed, ReadOnlySpan labels)
            (Double.IsNaN a && Double.IsNaN b) || a = b

        testProperty "AUC(1 - s) = 1 - AUC(s)" <| fun (pairs: (byte * bool) list) ->
            let scores = pairs |> List.map (fun (k, _) -> float32 (int k % 65) / 64.0f) |> Array.ofList
            let labels = pairs |> List.map (fun (_, y) -> if y then 1uy else 0uy) |> Array.ofList
            let flipped = scores |> Array.map (fun s -> 1.0f - s) // exact for k/64
            let a = RocAuc.Binary(ReadOnlySpan scores, ReadOnlySpan labels)
            let b = RocAuc.Binary(ReadOnlySpan flipped, ReadOnlySpan labels)
            (Double.IsNaN a && Double.IsNaN b) || abs (a + b - 1.0) < 1e-12

        testProperty "AUC equals the Mann-Whitney pair count with ties as 1/2" <| fun (pairs: (byte * bool) list) ->
            let scores = pairs |> List.map (fun (k, _) -> float32 (int k % 9)) |> Array.ofList
            let labels = pairs |> List.map (fun (_, y) -> if y then 1uy else 0uy) |> Array.ofList
            let pos = [ for i in 0 .. scores.Length - 1 do if labels.[i] = 1uy then yield scores.[i] ]
            let neg = [ for i in 0 .. scores.Length - 1 do if labels.[i] = 0uy then yield scores.[i] ]
            let auc = RocAuc.Binary(ReadOnlySpan scores, ReadOnlySpan labels)
            if pos.IsEmpty || neg.IsEmpty then Double.IsNaN auc
            else
                let wins = List.sum [ for p in pos do for n in neg do yield (if p > n then 1.0 elif p = n then 0.5 else 0.0) ]
                abs (auc - wins / float (pos.Length * neg.Length)) < 1e-12

        test "bootstrap: point is the macro AUC, interval is ordered, and it is reproducible" {
            let run () = RocAuc.BootstrapMacro(larger.Scores, larger.Labels, larger.Classes, 200, 3, 0.90)
            let r = run ()
            expectClose r.Point (RocAuc.Macro(larger.Scores, larger.Labels, larger.Classes)) "point"
            Expect.isTrue (r.Lower <= r.Mean && r.Mean <= r.Upper) $"lower {r.Lower} <= mean {r.Mean} <= upper {r.Upper}"
            Expect.isTrue (r.Lower < r.Point && r.Point < r.Upper) "point inside the 90% interval"
            Expect.equal (run ()) r "same seed, same result"
            Expect.equal r.Iterations 200 "accepted resamples"
        }

        test "bootstrap equals resampling the records and recomputing macro AUC, with rejection of resamples lacking positives" {
            // fixture(42, 20): class 3 has a single positive in 20 records, so about a third of resamples miss it.
            let small = fixture 42UL 20
            let iterations = 300
            let r = RocAuc.BootstrapMacro(small.Scores, small.Labels, small.Classes, iterations, 11, 0.80)
            // Reference: the same draws from System.Random(11), resampled arrays, RocAuc.Macro.
            let random = Random 11
            let c = small.Classes
            let evaluated = [| 0; 1; 3; 4 |]
            let values = ResizeArray<float>()
            let mutable rejected = 0
            while values.Count < iterations do
                let records = Array.init small.Rows (fun _ -> random.Next small.Rows)
                let s = records |> Array.collect (fun r -> small.Scores.[r * c .. r * c + c - 1])
                let y = records |> Array.collect (fun r -> small.Labels.[r * c .. r * c + c - 1])
                let ok =
                    evaluated |> Array.forall (fun j ->
                        let positives = column y c j |> Array.sumBy int
                        positives > 0 && positives < small.Rows)
                if ok then
                    let perClass = RocAuc.PerClass(s, y, c)
                    values.Add((evaluated |> Array.sumBy (fun j -> perClass.[j])) / float evaluated.Length)
                else rejected <- rejected + 1
            let sorted = values.ToArray() |> Array.sort
            // numpy.percentile(values, [10, 90]) (linear interpolation)
            let quantile q =
                let pos = float (sorted.Length - 1) * q
                let lo = int (floor pos)
                let hi = min (lo + 1) (sorted.Length - 1)
                sorted.[lo] + (pos - float lo) * (sorted.[hi] - sorted.[lo])
            Expect.equal r.Rejected rejected "rejected resamples"
            Expect.isGreaterThan r.Rejected 0 "the rare class makes some resamples invalid"
            expectClose r.Mean (Array.average sorted) "mean"
            expectClose r.Lower (quantile 0.1) "lower"
            expectClose r.Upper (quantile 0.9) "upper"
        }

        test "per-class AUC on 20,000 x 5 is fast (measured, reported)" {
            let rows, classes = 20_000, 5
            let random = Random 5
            let labels = Array.init (rows * classes) (fun _ -> if random.NextDouble() < 0.2 then 1uy else 0uy)
            let scores = labels |> Array.map (fun y -> float32 (random.NextDouble() + 0.3 * float y))
            RocAuc.PerClass(scores, labels, classes) |> ignore // warm-up (JIT)
            let watch = Stopwatch.StartNew()
            let runs = 10
            for _ in 1 .. runs do RocAuc.PerClass(scores, labels, classes) |> ignore
            watch.Stop()
            let perCall = watch.Elapsed.TotalMilliseconds / float runs
            printfn $"RocAuc.PerClass 20000 x 5: {perCall:F2} ms per call (mean of {runs})"
            let auc = RocAuc.PerClass(scores, labels, classes)
            Expect.all auc (fun a -> a > 0.6 && a < 0.9) "separated classes give AUC well above 0.5"
        }
    ]
