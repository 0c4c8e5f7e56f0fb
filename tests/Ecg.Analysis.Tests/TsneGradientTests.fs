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
        test "The grid: 50 boxes across narrow spans, boxes of exactly 1 from 50 units on, at most 1000" {
            let check span boxes width =
                let struct (b, w) = InterpolatedRepulsion.grid span
                Expect.equal b boxes (sprintf "boxes for span %g" span)
                Expect.floatClose Accuracy.veryHigh w width (sprintf "width for span %g" span)
                Expect.isGreaterThanOrEqual (float b * w) (span * (1.0 - 1e-12)) (sprintf "the grid covers span %g" span)
            check 1e-4 50 2e-6
            check 10.0 50 0.2
            check 50.0 50 1.0
            check 116.3 117 1.0     // 117 = 3^2 13: FFT-friendly
            check 118.5 120 1.0     // 119 = 7 17 is not
            check 5000.0 1000 5.0
            check 0.0 50 1.0
        }
        test "Interpolated repulsion reuses the kernel's transform only while the grid is the same" {
            // One workspace across calls, as t-SNE's iterations use it, must give what a fresh one gives: for a shifted
            // copy (same grid, the cached transform) and for a narrower one (another grid, a new transform).
            let forces (workspace: InterpolatedRepulsion.Workspace) (xs: float[], ys: float[]) =
                let negX = Array.zeroCreate<float> xs.Length
                let negY = Array.zeroCreate<float> xs.Length
                let z = InterpolatedRepulsion.compute workspace xs ys negX negY
                negX, negY, z
            let wide = embedding 300 8 40.0 7UL
            let shifted = fst wide |> Array.map ((+) 2.5), snd wide |> Array.map ((+) 2.5)
            let narrow = fst wide |> Array.map ((*) 0.6), snd wide |> Array.map ((*) 0.6)
            let boxes (xs: float[], ys: float[]) =
                let struct (b, _) = InterpolatedRepulsion.grid (max (Array.max xs) (Array.max ys) - min (Array.min xs) (Array.min ys))
                b
            Expect.equal (boxes shifted) (boxes wide) "the shifted copy has the same grid"
            Expect.isGreaterThan (boxes wide) (boxes narrow) "the narrow copy a smaller one"
            Expect.isGreaterThan (boxes narrow) InterpolatedRepulsion.MinBoxes "boxes of width 1 for both"
            use kept = new InterpolatedRepulsion.Workspace()
            // Below 50 units the 50 boxes narrow with the span: same grid size, another spacing.
            let small = fst wide |> Array.map ((*) 0.15), snd wide |> Array.map ((*) 0.15)
            let smaller = fst wide |> Array.map ((*) 0.1), snd wide |> Array.map ((*) 0.1)
            for label, points in [ "wide", wide; "shifted", shifted; "narrow", narrow; "wide again", wide
                                   "small", small; "smaller", smaller ] do
                use fresh = new InterpolatedRepulsion.Workspace()
                Expect.equal (forces kept points) (forces fresh points) (sprintf "%s: the same forces and Z" label)
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
