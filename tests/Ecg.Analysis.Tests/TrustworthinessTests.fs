module Ecg.Analysis.Tests.TrustworthinessTests

open Expecto
open Ecg.Analysis
open Ecg.Analysis.Tests.TestData

/// blobs(120, 10, 3, 2.0, 1.0, 14) and a noisy 2-D view of its first two columns (Lcg(15), noise 0.5).
let original () = blobs 120 10 3 2.0 1.0 14UL
let embedded (x: float[][]) =
    let rng = Lcg(15UL)
    x |> Array.map (fun r ->
        let a = r.[0] + 0.5 * rng.Gaussian()
        let b = r.[1] + 0.5 * rng.Gaussian()
        [| a; b |])

[<Tests>]
let tests =
    testList "Trustworthiness" [
        test "equals scikit-learn's for 5 and 10 neighbours" {
            // sklearn 1.2.1: sklearn.manifold.trustworthiness(X, E, n_neighbors=5 / 10) (reference_values.py)
            let x = original ()
            let e = embedded x
            Expect.floatClose Accuracy.veryHigh (Trustworthiness.compute 5 x e) 0.6724404761904762 "k = 5"
            Expect.floatClose Accuracy.veryHigh (Trustworthiness.compute 10 x e) 0.6875996810207337 "k = 10"
        }
        test "an embedding that is the data itself scores 1" {
            let x = original ()
            Expect.floatClose Accuracy.veryHigh (Trustworthiness.compute 5 x x) 1.0 "identity"
        }
        test "rejects k >= N / 2" {
            let x = original ()
            Expect.throwsT<System.ArgumentException> (fun () -> Trustworthiness.compute 60 x x |> ignore) "k"
        }
    ]
