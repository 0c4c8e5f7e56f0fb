module Ecg.Analysis.Tests.ProjectionTests

open System
open System.Diagnostics
open Expecto
open MathNet.Numerics.LinearAlgebra
open Ecg.Analysis
open Ecg.Analysis.Tests.TestData

/// 400 x 20, five overlapping blobs.
let data = lazy (blobs 400 20 5 1.5 1.0 16UL)

type SpectralReference = { Fixture: string; Row: int; Component: int; X: float; Y: float; MetaX: float; MetaY: float }

/// umap-learn 0.5.3's `spectral_layout` output captured inside `UMAP(random_state=42).fit` (reference_values.py).
let spectralReference = lazy (
    IO.File.ReadAllLines(IO.Path.Combine(AppContext.BaseDirectory, "umap_spectral_reference.csv"))
    |> Array.skip 1
    |> Array.map (fun line ->
        let f = line.Split ','
        let v (i: int) = Double.Parse(f.[i], Globalization.CultureInfo.InvariantCulture)
        { Fixture = f.[0]; Row = int f.[1]; Component = int f.[2]; X = v 3; Y = v 4; MetaX = v 5; MetaY = v 6 }))

/// Our layout matches umap-learn's component by component: the same component labels, and within each
/// component the same coordinates about the component's position up to what an eigensolver leaves free
/// (the sign of each eigenvector, a rotation within a near-degenerate pair, and hence the scale set by
/// the largest coordinate): the best similarity transform leaves under 2% relative residual.
let expectSameLayout (fixture: string) (options: UmapOptions) (x: float[][]) =
    let ours = Umap.initialLayout options x
    let reference = spectralReference.Value |> Array.filter (fun r -> r.Fixture = fixture)
    Expect.equal ours.Length reference.Length "rows"
    let labels, count = SpectralLayout.components (fst (Umap.prunedGraph options x))
    Expect.equal labels (reference |> Array.map (fun r -> r.Component)) "component labels"
    for c in 0 .. count - 1 do
        let rows = reference |> Array.filter (fun r -> r.Component = c)
        // Where umap-learn placed the component: +-unit vectors for 2 components, component_layout's
        // positions for six, the origin for a connected graph.
        let refMeta =
            if not (Double.IsNaN rows.[0].MetaX) then [| rows.[0].MetaX; rows.[0].MetaY |]
            elif count = 1 then [| 0.0; 0.0 |]
            else let k = (count + 1) / 2 in [| (if c % k = 0 then (if c < k then 1.0 else -1.0) else 0.0); (if c % k = 1 then (if c < k then 1.0 else -1.0) else 0.0) |]
        let ourMeta = if count > 4 then (SpectralLayout.componentLayout x labels count 2).[c] else refMeta
        if rows.Length >= 4 then
            let u = Matrix<float>.Build.Dense(rows.Length, 2, fun i a -> ours.[rows.[i].Row].[a] - ourMeta.[a])
            let v = Matrix<float>.Build.Dense(rows.Length, 2, fun i a -> (if a = 0 then rows.[i].X else rows.[i].Y) - refMeta.[a])
            // Orthogonal Procrustes with scale: R = W Z^T from the SVD of U^T V, scale = trace(S) / |U|^2.
            let svd = (u.TransposeThisAndMultiply v).Svd(true)
            let rotation = svd.U * svd.VT
            let scale = svd.S.Sum() / (u.FrobeniusNorm() ** 2.0)
            let residual = (u * rotation * scale - v).FrobeniusNorm() / v.FrobeniusNorm()
            // The plain per-axis sign fit: small unless the eigenvalues are nearly equal.
            let signs = Array.init 2 (fun a -> if u.Column(a).DotProduct(v.Column(a)) < 0.0 then -1.0 else 1.0)
            let signResidual = (Matrix<float>.Build.Dense(rows.Length, 2, fun i a -> signs.[a] * u.[i, a]) - v).FrobeniusNorm() / v.FrobeniusNorm()
            printfn "spectral %s component %d (%d points): residual %.2e, sign-only %.2e, scale %.4f" fixture c rows.Length residual signResidual scale
            Expect.isLessThan residual 0.02 (sprintf "%s component %d layout" fixture c)
            // On these fixtures the eigenvalues are well separated, so the eigenvectors agree up to sign alone.
            Expect.isLessThan signResidual 0.005 (sprintf "%s component %d layout up to signs" fixture c)
            Expect.floatClose { absolute = 0.0; relative = 0.05 } scale 1.0 (sprintf "%s component %d scale" fixture c)

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
        test "t-SNE from a PCA projection the caller has is the same fit; a projection of the wrong shape is refused" {
            let x = blobs 150 8 3 1.5 1.0 42UL
            let options = { TsneOptions.Default with Iterations = 300 }
            let pca = (Pca.fit 2 x).Projection
            Expect.equal (Tsne.fitFromPca options pca x).Embedding (Tsne.fit options x).Embedding "the same coordinates"
            Expect.throwsT<ArgumentException> (fun () -> Tsne.fitFromPca options pca.[1..] x |> ignore) "one row short"
            Expect.throwsT<ArgumentException> (fun () -> Tsne.fitFromPca options (x |> Array.map (fun r -> r.[..2])) x |> ignore) "three columns"
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
            printfn "UMAP 400x20: trustworthiness %.4f (umap-learn 0.9513), init %s over %d components, %.1f s" t r.Initialisation r.GraphComponents sw.Elapsed.TotalSeconds
            Expect.equal r.GraphComponents 2 "umap-learn's graph has 2 components"
            Expect.isGreaterThanOrEqual t (0.9513491547464239 - 0.02) "trustworthiness"
        }
        test "UMAP's spectral initialisation equals umap-learn's on a connected graph" {
            // One Gaussian blob: a connected 15-NN graph (umap-learn: 1 component).
            let x = blobs 300 5 1 1.0 1.0 21UL
            let options = { UmapOptions.Default with Epochs = 100 }
            expectSameLayout "connected" options x
            let r = Umap.fit options x
            Expect.equal (r.Initialisation, r.GraphComponents) ("spectral", 1) "initialisation"
        }
        test "UMAP lays out two graph components as umap-learn does (+-unit vectors)" {
            // The 400 x 20 five-blob fixture: umap-learn finds 2 components (160 and 240 points).
            expectSameLayout "two" UmapOptions.Default data.Value
        }
        test "UMAP lays out six graph components as umap-learn does (component_layout)" {
            let x = blobs 240 8 6 1.2 0.2 22UL
            let labels, count = SpectralLayout.components (fst (Umap.prunedGraph UmapOptions.Default x))
            Expect.equal count 6 "components"
            // Component positions: scikit-learn SpectralEmbedding of exp(-d^2) between centroids (umap-learn
            // computes the distances by the dot-product formula, hence agreement to 1e-5 rather than 1e-12).
            let meta = SpectralLayout.componentLayout x labels count 2
            let reference = spectralReference.Value |> Array.filter (fun r -> r.Fixture = "six")
            for r in reference do
                Expect.floatClose { absolute = 1e-9; relative = 1e-5 } meta.[r.Component].[0] r.MetaX (sprintf "component %d x" r.Component)
                Expect.floatClose { absolute = 1e-9; relative = 1e-5 } meta.[r.Component].[1] r.MetaY (sprintf "component %d y" r.Component)
            expectSameLayout "six" UmapOptions.Default x
        }
        test "UMAP gives identical embeddings for a seed, on one thread or several" {
            // NN-descent neighbours (2,000 rows) and the 2-D layout's interleaved path; then 3-D, the general path.
            let x = blobs 2000 16 8 1.5 1.0 37UL
            let options = { UmapOptions.Default with NeighbourSearch = NeighbourSearch.Approximate; Epochs = 100 }
            // The exclusive scheduler has a concurrency level of 1, so Parallel.For under it runs on one thread.
            let oneThread f =
                let pair = Threading.Tasks.ConcurrentExclusiveSchedulerPair()
                Threading.Tasks.Task.Factory.StartNew((fun () -> f ()), Threading.CancellationToken.None,
                                                       Threading.Tasks.TaskCreationOptions.None, pair.ExclusiveScheduler).Result
            let first = Umap.fit options x
            Expect.equal (Umap.fit options x).Embedding first.Embedding "two runs in parallel"
            Expect.equal (oneThread (fun () -> Umap.fit options x)).Embedding first.Embedding "one thread and several"
            Expect.notEqual (Umap.fit { options with Seed = 43 } x).Embedding first.Embedding "another seed"
            let options3 = { UmapOptions.Default with Components = 3; Epochs = 100 }
            let three = Umap.fit options3 data.Value
            Expect.isTrue (three.Embedding |> Array.forall (fun r -> r.Length = 3 && Array.forall Double.IsFinite r)) "3-D finite"
            Expect.equal (oneThread (fun () -> Umap.fit options3 data.Value)).Embedding three.Embedding "3-D, one thread and several"
        }
        test "UMAP smooth kNN distances hit log2(k)" {
            let d = [| [| 0.0; 1.0; 1.5; 2.0; 2.2; 3.0 |] |]
            let rho, sigma = Umap.smoothKnnDistances d
            let psum = d.[0].[1..] |> Array.sumBy (fun v -> exp (-(max 0.0 (v - rho.[0])) / sigma.[0]))
            Expect.equal rho.[0] 1.0 "rho is the nearest non-zero distance"
            Expect.floatClose { absolute = 1e-4; relative = 0.0 } psum (System.Math.Log2 6.0) "target"
        }
    ]
