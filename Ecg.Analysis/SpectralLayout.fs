namespace Ecg.Analysis

open System
open System.Collections.Generic
open System.Threading.Tasks
open MathNet.Numerics.LinearAlgebra

/// UMAP's spectral initialisation (umap-learn 0.5 `umap/spectral.py`): eigenvectors of the normalised
/// Laplacian of the fuzzy graph; a disconnected graph has each component laid out on its own and placed
/// by a layout of the components (`multi_component_layout` / `component_layout`).
/// A graph is given as rows of (column, weight), symmetric, without the diagonal.
module SpectralLayout =
    /// Eigenpairs with the largest eigenvalues of a symmetric operator of size n, by thick-restart
    /// Lanczos (Wu & Simon 2000) with full reorthogonalisation, from the start vector `start`.
    /// Stops when every wanted pair has residual ||A x - theta x|| <= tolerance, or after `maxRestarts`.
    /// Returns (eigenvalues descending, eigenvectors as columns of length n).
    let largestEigenpairs (apply: float[] -> float[] -> unit) (n: int) (count: int) (basis: int)
                          (tolerance: float) (maxRestarts: int) (start: float[]) : float[] * float[][] =
        if count < 1 || count >= n then invalidArg "count" (sprintf "count = %d eigenpairs needs 1 <= count < n = %d" count n)
        let m = min n (max basis (2 * count + 1))
        let keep = min (m - 1) (count + (m - count) / 2)
        let dot (a: float[]) (b: float[]) =
            let mutable s = 0.0
            for i in 0 .. n - 1 do s <- s + a.[i] * b.[i]
            s
        let normalise (v: float[]) =
            let s = sqrt (dot v v)
            for i in 0 .. n - 1 do v.[i] <- v.[i] / s
            s
        let v = Array.init (m + 1) (fun _ -> Array.zeroCreate<float> n)
        Array.blit start 0 v.[0] 0 n
        normalise v.[0] |> ignore
        let t = Array2D.zeroCreate<float> m m
        // Deterministic fallback directions for a Krylov space that closes early (an invariant subspace).
        let mutable fallback = 0
        let orthogonalise (w: float[]) (upto: int) (h: float[]) =
            for _ in 1 .. 2 do
                for i in 0 .. upto do
                    let c = dot v.[i] w
                    h.[i] <- h.[i] + c
                    let vi = v.[i]
                    for r in 0 .. n - 1 do w.[r] <- w.[r] - c * vi.[r]
        let mutable j0 = 0
        let mutable restart = 0
        let mutable result = None
        while result.IsNone do
            let mutable lastBeta = 0.0
            for j in j0 .. m - 1 do
                let w = v.[j + 1]
                apply v.[j] w
                let h = Array.zeroCreate<float> (j + 1)
                orthogonalise w j h
                for i in 0 .. j do
                    if i >= j0 || j = j0 then
                        t.[i, j] <- h.[i]
                        t.[j, i] <- h.[i]
                let mutable beta = sqrt (dot w w)
                if beta < 1e-12 then
                    // Invariant subspace: continue from a fresh direction orthogonal to the basis.
                    fallback <- fallback + 1
                    for r in 0 .. n - 1 do w.[r] <- cos (float fallback * 12.9898 + float r * 78.233)
                    orthogonalise w j (Array.zeroCreate<float> (j + 1))
                    normalise w |> ignore
                    beta <- 0.0
                else
                    for r in 0 .. n - 1 do w.[r] <- w.[r] / beta
                if j + 1 < m then
                    t.[j + 1, j] <- beta
                    t.[j, j + 1] <- beta
                lastBeta <- beta
            let evd = Matrix<float>.Build.DenseOfArray(t).Evd(Symmetricity.Symmetric)
            let values = evd.EigenValues.ToArray() |> Array.map (fun c -> c.Real)
            let order = Array.init m id |> Array.sortByDescending (fun c -> values.[c])
            let y = evd.EigenVectors
            let converged = order.[.. count - 1] |> Array.forall (fun c -> abs (lastBeta * y.[m - 1, c]) <= tolerance)
            let ritz (c: int) =
                let x = Array.zeroCreate<float> n
                for l in 0 .. m - 1 do
                    let coefficient = y.[l, c]
                    let vl = v.[l]
                    for r in 0 .. n - 1 do x.[r] <- x.[r] + coefficient * vl.[r]
                x
            if converged || restart >= maxRestarts then
                result <- Some (order.[.. count - 1] |> Array.map (fun c -> values.[c]), order.[.. count - 1] |> Array.map ritz)
            else
                // Keep the best `keep` Ritz vectors and the residual direction; T becomes diagonal there.
                let kept = order.[.. keep - 1] |> Array.map ritz
                let residual = v.[m]
                for i in 0 .. keep - 1 do v.[i] <- kept.[i]
                v.[keep] <- Array.copy residual
                for i in keep + 1 .. m do v.[i] <- Array.zeroCreate<float> n
                for a in 0 .. m - 1 do
                    for c in 0 .. m - 1 do t.[a, c] <- 0.0
                for i in 0 .. keep - 1 do t.[i, i] <- values.[order.[i]]
                j0 <- keep
                restart <- restart + 1
        result.Value

    /// Connected components: a label per vertex, numbered in order of their lowest vertex (as scipy's
    /// `connected_components` numbers them), and the number of components.
    let components (graph: (int[] * float[])[]) : int[] * int =
        let n = graph.Length
        let labels = Array.create n -1
        let queue = Queue<int>()
        let mutable count = 0
        for s in 0 .. n - 1 do
            if labels.[s] < 0 then
                labels.[s] <- count
                queue.Enqueue s
                while queue.Count > 0 do
                    let i = queue.Dequeue()
                    for j in fst graph.[i] do
                        if labels.[j] < 0 then
                            labels.[j] <- count
                            queue.Enqueue j
                count <- count + 1
        labels, count

    /// Eigenvectors 2 .. dim+1 of the normalised Laplacian I - D^-1/2 W D^-1/2 of a connected graph (the
    /// smallest eigenvalues), i.e. the largest of D^-1/2 W D^-1/2, from the start vector of ones with
    /// umap-learn's Krylov basis size max(2 dim + 3, sqrt N) (capped at 64 to bound the cost for large N).
    /// Signs are arbitrary, as they are from ARPACK.
    let connectedLayout (graph: (int[] * float[])[]) (dim: int) : float[][] =
        let n = graph.Length
        let scale = graph |> Array.map (fun (_, w) -> 1.0 / sqrt (Array.sum w))
        let apply (x: float[]) (y: float[]) =
            Parallel.For(0, n, fun i ->
                let cols, ws = graph.[i]
                let mutable s = 0.0
                for t in 0 .. cols.Length - 1 do s <- s + ws.[t] * scale.[cols.[t]] * x.[cols.[t]]
                y.[i] <- scale.[i] * s) |> ignore
        let basis = min 64 (max (2 * (dim + 1) + 1) (int (sqrt (float n))))
        let _, vectors = largestEigenpairs apply n (dim + 1) basis 1e-8 (if n <= 5000 then 2000 else 300) (Array.create n 1.0)
        Array.init n (fun i -> Array.init dim (fun c -> vectors.[c + 1].[i]))

    /// Positions for the components: scikit-learn's `SpectralEmbedding(dim, affinity="precomputed")` of
    /// the affinities exp(-d^2) between component centroids (d Euclidean), scaled by its largest value
    /// (umap-learn's `component_layout`).
    let componentLayout (rows: float[][]) (labels: int[]) (count: int) (dim: int) : float[][] =
        let d = rows.[0].Length
        let centroids = Array.init count (fun _ -> Array.zeroCreate<float> d)
        let sizes = Array.zeroCreate<int> count
        rows |> Array.iteri (fun i r ->
            let c = centroids.[labels.[i]]
            sizes.[labels.[i]] <- sizes.[labels.[i]] + 1
            for j in 0 .. d - 1 do c.[j] <- c.[j] + r.[j])
        centroids |> Array.iteri (fun c v -> for j in 0 .. d - 1 do v.[j] <- v.[j] / float sizes.[c])
        // scipy's normalised Laplacian ignores the diagonal; isolated vertices keep degree 1.
        let affinity = Array2D.init count count (fun a b -> if a = b then 0.0 else exp (-(FeatureMatrix.SquaredDistance(centroids.[a], centroids.[b]))))
        let sqrtDegree = Array.init count (fun a -> let s = Seq.sum (Seq.init count (fun b -> affinity.[a, b])) in if s = 0.0 then 1.0 else sqrt s)
        let laplacian =
            Matrix<float>.Build.Dense(count, count, fun a b ->
                if a = b then (if Seq.forall (fun c -> affinity.[a, c] = 0.0) (Seq.init count id) then 0.0 else 1.0)
                else -affinity.[a, b] / (sqrtDegree.[a] * sqrtDegree.[b]))
        let evd = laplacian.Evd(Symmetricity.Symmetric)
        let values = evd.EigenValues.ToArray() |> Array.map (fun c -> c.Real)
        let order = Array.init count id |> Array.sortBy (fun c -> values.[c])
        // Vectors 1 .. dim (the first, constant in D^1/2 terms, is dropped) divided by sqrt(degree), each
        // signed so its largest-magnitude entry is positive (`_deterministic_vector_sign_flip`).
        let vectors =
            order.[1 .. dim] |> Array.map (fun c ->
                let v = Array.init count (fun a -> evd.EigenVectors.[a, c] / sqrtDegree.[a])
                let big = v |> Array.maxBy abs
                if big < 0.0 then v |> Array.map (~-) else v)
        let layout = Array.init count (fun a -> Array.init dim (fun c -> vectors.[c].[a]))
        let top = layout |> Array.map Array.max |> Array.max
        layout |> Array.map (Array.map (fun x -> x / top))

    /// The spectral initialisation of umap-learn's `spectral_layout`: `connectedLayout` for a connected
    /// graph; otherwise each component's own layout scaled to half the distance to the nearest other
    /// component's position (uniform random in that box for components under 2 dim vertices), placed
    /// at positions from `componentLayout` (more than 2 dim components) or at +-unit vectors.
    let layout (rows: float[][]) (graph: (int[] * float[])[]) (dim: int) (rng: Random) : float[][] =
        let n = graph.Length
        let labels, count = components graph
        if count = 1 then connectedLayout graph dim
        else
            let meta =
                if count > 2 * dim then componentLayout rows labels count dim
                else
                    let k = (count + 1) / 2
                    Array.init count (fun c -> Array.init dim (fun a -> if a = c % k then (if c < k then 1.0 else -1.0) else 0.0))
            let result = Array.init n (fun _ -> Array.zeroCreate<float> dim)
            let members = Array.init count (fun _ -> List<int>())
            for i in 0 .. n - 1 do members.[labels.[i]].Add i
            for c in 0 .. count - 1 do
                let vertices = members.[c].ToArray()
                let dataRange =
                    meta |> Array.map (fun o -> sqrt (FeatureMatrix.SquaredDistance(meta.[c], o)))
                         |> Array.filter (fun x -> x > 0.0) |> Array.min |> fun x -> x / 2.0
                if vertices.Length < 2 * dim then
                    for i in vertices do
                        for a in 0 .. dim - 1 do result.[i].[a] <- meta.[c].[a] + dataRange * (2.0 * rng.NextDouble() - 1.0)
                else
                    let local = Dictionary<int, int>()
                    vertices |> Array.iteri (fun t i -> local.[i] <- t)
                    let sub = vertices |> Array.map (fun i -> let cols, ws = graph.[i] in cols |> Array.map (fun j -> local.[j]), ws)
                    let part = connectedLayout sub dim
                    let maxAbs = part |> Array.map (Array.map abs >> Array.max) |> Array.max
                    let expansion = if maxAbs > 0.0 then dataRange / maxAbs else 1.0
                    vertices |> Array.iteri (fun t i ->
                        for a in 0 .. dim - 1 do result.[i].[a] <- part.[t].[a] * expansion + meta.[c].[a])
            result
