module Ecg.Analysis.Tests.TsneGradientTests

open System.Diagnostics
open Expecto
open Ecg.Analysis
open Ecg.Analysis.Tests.TestData

/// The repulsive terms summed over all pairs: the O(N^2) definition the approximations estimate.
let exactRepulsion (xs: float[]) (ys: float[]) : RepulsiveForces =
    let n = xs.Length
    let fx = Array.zeroCreate<float> n
    let fy = Array.zeroCreate<float> n
    let mutable z = 0.0
    for i in 0 .. n - 1 do
        for j in 0 .. n - 1 do
            if i <> j then
                let dx = xs.[i] - xs.[j]
                let dy = ys.[i] - ys.[j]
                let q = 1.0 / (1.0 + dx * dx + dy * dy)
                z <- z + q
                fx.[i] <- fx.[i] + q * q * dx
                fy.[i] <- fy.[i] + q * q * dy
    { X = fx; Y = fy; Normaliser = z }

/// |F - F_exact| / |F_exact| over all points' force vectors, and the normaliser's relative error.
let relativeErrors (approx: RepulsiveForces) (exact: RepulsiveForces) =
    let mutable diff = 0.0
    let mutable norm = 0.0
    for i in 0 .. exact.X.Length - 1 do
        diff <- diff + (approx.X.[i] - exact.X.[i]) ** 2.0 + (approx.Y.[i] - exact.Y.[i]) ** 2.0
        norm <- norm + exact.X.[i] ** 2.0 + exact.Y.[i] ** 2.0
    sqrt (diff / norm), abs (approx.Normaliser - exact.Normaliser) / exact.Normaliser

/// `n` points in 2-D: `clusters` Gaussian clusters (spread 1) with centres spread `scale`, as t-SNE
/// embeddings look, from the test LCG.
let embedding (n: int) (clusters: int) (scale: float) (seed: uint64) =
    let points = blobs n 2 clusters scale 1.0 seed
    points |> Array.map (fun p -> p.[0]), points |> Array.map (fun p -> p.[1])

[<Tests>]
let tests =
    testList "t-SNE gradient" [
        test "Interpolated repulsive forces and Z agree with the exact sums" {
            // Spans from 1e-3 (the scaled PCA start: 50 boxes far narrower than the kernel) through ~15
            // (boxes 0.3 wide) to ~120 (boxes about 1 wide, as the grid grows with the span: openTSNE's working
            // regime, where quadratic interpolation over a unit box leaves errors of a few percent near
            // the closest pairs; Barnes-Hut at theta 0.5 is shown for scale).
            for (label, scale, clusters, shrink, forceTolerance, zTolerance) in
                    [ "start", 0.0, 1, 1e-4, 1e-6, 1e-6; "mid", 5.0, 5, 1.0, 5e-3, 1e-3; "wide", 40.0, 8, 1.0, 5e-2, 1e-2 ] do
                let xs, ys =
                    let x, y = embedding 300 clusters scale 7UL
                    Array.map ((*) shrink) x, Array.map ((*) shrink) y
                let exact = exactRepulsion xs ys
                let forceError, zError = relativeErrors (Tsne.interpolatedRepulsion xs ys) exact
                let bhForce, bhZ = relativeErrors (Tsne.barnesHutRepulsion 0.5 xs ys) exact
                printfn "repulsion %s (span %.3g): interpolation force error %.2e, Z error %.2e; Barnes-Hut(0.5) %.2e, %.2e"
                    label (Array.max xs - Array.min xs) forceError zError bhForce bhZ
                Expect.isLessThan forceError forceTolerance (sprintf "%s: force relative error" label)
                Expect.isLessThan zError zTolerance (sprintf "%s: Z relative error" label)
        }
        test "Barnes-Hut with theta 0 gives the exact sums (a check of the reference above)" {
            let xs, ys = embedding 200 3 3.0 9UL
            let exact = exactRepulsion xs ys
            let f, z = relativeErrors (Tsne.barnesHutRepulsion 0.0 xs ys) exact
            Expect.isLessThan f 1e-12 "Barnes-Hut theta 0 forces"
            Expect.isLessThan z 1e-12 "Barnes-Hut theta 0 Z"
        }
        test "Automatic uses interpolation from 10,000 rows on" {
            Expect.isFalse (Tsne.usesInterpolation TsneGradient.Automatic 9999) "9999"
            Expect.isTrue (Tsne.usesInterpolation TsneGradient.Automatic 10000) "10000"
            Expect.isTrue (Tsne.usesInterpolation TsneGradient.Interpolation 3) "forced"
            Expect.isFalse (Tsne.usesInterpolation TsneGradient.BarnesHut 100000) "Barnes-Hut"
        }
        test "t-SNE with interpolation keeps neighbourhoods as Barnes-Hut and scikit-learn do" {
            // The 400 x 20 five-blob fixture of the Projections tests; sklearn 1.2.1 (Barnes-Hut):
            // trustworthiness 0.9675 (reference_values.py).
            let x = ProjectionTests.data.Value
            let sw = Stopwatch.StartNew()
            let r = Tsne.fit { TsneOptions.Default with Gradient = TsneGradient.Interpolation } x
            let seconds = sw.Elapsed.TotalSeconds
            let bh = Tsne.fit { TsneOptions.Default with Gradient = TsneGradient.BarnesHut } x
            let t = Trustworthiness.compute 10 x r.Embedding
            let tb = Trustworthiness.compute 10 x bh.Embedding
            printfn "t-SNE 400x20: interpolation trustworthiness %.4f KL %.4f (%.1f s), Barnes-Hut %.4f KL %.4f, sklearn 0.9675"
                t r.KlDivergence seconds tb bh.KlDivergence
            Expect.equal r.Gradient TsneGradient.Interpolation "method used"
            Expect.equal bh.Gradient TsneGradient.BarnesHut "method used"
            Expect.isLessThan (abs (t - tb)) 0.01 "trustworthiness as Barnes-Hut's"
            Expect.isGreaterThanOrEqual t (0.9675227568270481 - 0.02) "trustworthiness as sklearn's"
            Expect.isLessThan (abs (r.KlDivergence - bh.KlDivergence)) (0.05 * bh.KlDivergence) "KL divergence within 5%"
        }
        test "t-SNE with interpolation is deterministic" {
            let x = blobs 300 10 4 1.5 1.0 12UL
            let fit () = Tsne.fit { TsneOptions.Default with Gradient = TsneGradient.Interpolation; Iterations = 400 } x
            let a = fit ()
            let b = fit ()
            Expect.equal a.Embedding b.Embedding "same embedding"
            Expect.equal a.KlDivergence b.KlDivergence "same KL"
        }
    ]
