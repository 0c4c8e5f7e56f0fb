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
        test "a sample of every point gives the exact value" {
            let x = original ()
            let e = embedded x
            Expect.floatClose Accuracy.veryHigh (Trustworthiness.sampled 5 120 3 x e) (Trustworthiness.compute 5 x e) "all points"
            Expect.floatClose Accuracy.veryHigh (Trustworthiness.estimate 5 x e) (Trustworthiness.compute 5 x e) "estimate below the limit"
        }
        test "a random sample of 400 of 2,000 points is within 0.01 of the exact value" {
            let x = blobs 2000 10 4 2.0 1.0 34UL
            let rng = Lcg(35UL)
            let e = x |> Array.map (fun r -> [| r.[0] + 0.3 * rng.Gaussian(); r.[1] + 0.3 * rng.Gaussian() |])
            let exact = Trustworthiness.compute 10 x e
            let estimates = [ for seed in 0 .. 2 -> Trustworthiness.sampled 10 400 seed x e ]
            printfn "trustworthiness 2000 points: exact %.4f, samples of 400: %A" exact estimates
            for t in estimates do Expect.isLessThan (abs (t - exact)) 0.01 "sampled"
            Expect.notEqual estimates.[0] estimates.[1] "different seeds draw different samples"
        }
        test "several embeddings at once: each the value it gets alone, on the same sample" {
            let x = blobs 6000 8 3 2.0 1.0 36UL
            let rng = Lcg(37UL)
            let near = x |> Array.map (fun r -> [| r.[0] + 0.3 * rng.Gaussian(); r.[1] + 0.3 * rng.Gaussian() |])
            let far = x |> Array.map (fun r -> [| r.[2] + 2.0 * rng.Gaussian(); r.[3] + 2.0 * rng.Gaussian() |])
            let both = Trustworthiness.estimateAll 5 x [| near; far |]
            Expect.equal both [| Trustworthiness.estimate 5 x near; Trustworthiness.estimate 5 x far |] "one pass, the same values (sampled above 5,000 rows)"
            Expect.isGreaterThan both.[0] both.[1] "the noisier view scores lower"
            let small = original ()
            let e = embedded small
            Expect.equal (Trustworthiness.estimateAll 5 small [| e; small |]) [| Trustworthiness.compute 5 small e; 1.0 |] "exact below the limit"
            Expect.throwsT<System.ArgumentException> (fun () -> Trustworthiness.estimateAll 5 small [| e; e.[1..] |] |> ignore) "one layout a row short"
            Expect.throwsT<System.ArgumentNullException> (fun () -> Trustworthiness.estimateAll 5 small [| e; null |] |> ignore) "a missing layout"
            Expect.throwsT<System.ArgumentNullException> (fun () -> Trustworthiness.estimateAll 5 small null |> ignore) "no layouts"
        }
        test "rejects k >= N / 2" {
            let x = original ()
            Expect.throwsT<System.ArgumentException> (fun () -> Trustworthiness.compute 60 x x |> ignore) "k"
        }
    ]
