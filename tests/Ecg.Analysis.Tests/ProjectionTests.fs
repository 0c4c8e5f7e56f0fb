module Ecg.Analysis.Tests.ProjectionTests

open System.Diagnostics
open Expecto
open Ecg.Analysis
open Ecg.Analysis.Tests.TestData

/// 400 x 20, five overlapping blobs.
let data = lazy (blobs 400 20 5 1.5 1.0 16UL)

[<Tests>]
let tests =
    testList "Projections" [
        test "t-SNE keeps neighbourhoods at least as well as scikit-learn's (within 0.02)" {
            // sklearn 1.2.1: trustworthiness(X, TSNE(n_components=2, random_state=0).fit_transform(X), n_neighbors=10)
            // = 0.9675227568270481 (defaults init="pca", learning_rate="auto", perplexity 30, 1000 iterations).
            let sw = Stopwatch.StartNew()
            let r = Tsne.fit TsneOptions.Default data.Value
            let t = Trustworthiness.compute 10 data.Value r.Embedding
            printfn "t-SNE 400x20: trustworthiness %.4f (sklearn 0.9675), KL %.4f, %d iterations, %.1f s" t r.KlDivergence r.Iterations sw.Elapsed.TotalSeconds
            Expect.isGreaterThanOrEqual t (0.9675227568270481 - 0.02) "trustworthiness"
            Expect.isTrue (r.Embedding |> Array.forall (Array.forall System.Double.IsFinite)) "finite"
        }
        test "t-SNE conditional probabilities reach the perplexity" {
            let d = [| Array.init 90 (fun j -> float j * 0.1) |]
            let p = (Tsne.conditionalProbabilities 30.0 d).[0]
            let entropy = -(p |> Array.sumBy (fun v -> if v > 0.0 then v * log v else 0.0))
            Expect.floatClose { absolute = 1e-4; relative = 0.0 } entropy (log 30.0) "entropy"
            Expect.floatClose Accuracy.high (Array.sum p) 1.0 "sums to 1"
        }
        test "UMAP a and b equal umap-learn's find_ab_params(1.0, 0.1)" {
            // umap-learn 0.5.3: find_ab_params(1.0, 0.1) = (1.5769434601962196, 0.8950608779914887)
            let a, b = Umap.findAbParams 1.0 0.1
            Expect.floatClose { absolute = 1e-6; relative = 1e-6 } a 1.5769434601962196 "a"
            Expect.floatClose { absolute = 1e-6; relative = 1e-6 } b 0.8950608779914887 "b"
        }
        test "UMAP keeps neighbourhoods at least as well as umap-learn's (within 0.02)" {
            // umap-learn 0.5.3: trustworthiness(X, UMAP(random_state=42).fit_transform(X), n_neighbors=10) = 0.9513491547464239
            let sw = Stopwatch.StartNew()
            let r = Umap.fit UmapOptions.Default data.Value
            let t = Trustworthiness.compute 10 data.Value r.Embedding
            printfn "UMAP 400x20: trustworthiness %.4f (umap-learn 0.9513), init %s, %.1f s" t r.Initialisation sw.Elapsed.TotalSeconds
            Expect.isGreaterThanOrEqual t (0.9513491547464239 - 0.02) "trustworthiness"
        }
        test "UMAP uses the spectral initialisation on a connected neighbour graph" {
            // One Gaussian blob gives a connected 15-NN graph; the 400 x 20 five-blob fixture above does
            // not (it falls back to PCA initialisation).
            let x = blobs 300 5 1 1.0 1.0 21UL
            let r = Umap.fit { UmapOptions.Default with Epochs = 100 } x
            Expect.equal r.Initialisation "spectral" "initialisation"
            Expect.isGreaterThan (Trustworthiness.compute 10 x r.Embedding) 0.8 "trustworthiness"
        }
        test "UMAP smooth kNN distances hit log2(k)" {
            let d = [| [| 0.0; 1.0; 1.5; 2.0; 2.2; 3.0 |] |]
            let rho, sigma = Umap.smoothKnnDistances d
            let psum = d.[0].[1..] |> Array.sumBy (fun v -> exp (-(max 0.0 (v - rho.[0])) / sigma.[0]))
            Expect.equal rho.[0] 1.0 "rho is the nearest non-zero distance"
            Expect.floatClose { absolute = 1e-4; relative = 0.0 } psum (System.Math.Log2 6.0) "target"
        }
    ]
