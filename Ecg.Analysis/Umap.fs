namespace Ecg.Analysis

open System
open System.Collections.Generic
open MathNet.Numerics.LinearAlgebra

/// Settings of UMAP; `UmapOptions.Default` gives umap-learn 0.5's defaults with a fixed seed.
[<CLIMutable>]
type UmapOptions =
    { Neighbours: int
      MinDist: float
      Spread: float
      Components: int
      /// SGD epochs; 0 means umap-learn's default (500 up to 10,000 rows, else 200).
      Epochs: int
      NegativeSampleRate: int
      LearningRate: float
      RepulsionStrength: float
      Seed: int }
    static member Default =
        { Neighbours = 15; MinDist = 0.1; Spread = 1.0; Components = 2; Epochs = 0
          NegativeSampleRate = 5; LearningRate = 1.0; RepulsionStrength = 1.0; Seed = 42 }

[<CLIMutable>]
type UmapResult =
    { /// (N, Components) coordinates.
      Embedding: float[][]
      /// Curve parameters of the low-dimensional similarity 1 / (1 + A d^(2B)).
      A: float
      B: float
      /// "spectral" (normalised-Laplacian eigenvectors) or "pca" (used when the kNN graph is disconnected).
      Initialisation: string
      Epochs: int }

/// UMAP following umap-learn 0.5: exact k nearest neighbours (brute force; umap-learn also uses exact
/// neighbours below 4,096 rows), smooth kNN distances (rho, sigma with log2(k) target), fuzzy union
/// of the membership graph, a/b fitted to the min_dist/spread curve by least squares, spectral
/// initialisation, and SGD with negative sampling and linearly decaying learning rate.
module Umap =
    /// a, b of 1 / (1 + a x^(2b)) fitted by least squares (Levenberg-Marquardt) to the curve that is 1
    /// below min_dist and exp(-(x - min_dist) / spread) above, on 300 points in [0, 3 spread]
    /// (umap-learn's `find_ab_params`).
    let findAbParams (spread: float) (minDist: float) : float * float =
        if not (spread > 0.0) || not (minDist >= 0.0) then
            invalidArg "spread" (sprintf "spread = %g must be > 0 and min_dist = %g >= 0" spread minDist)
        let xs = Array.init 300 (fun i -> 3.0 * spread * float i / 299.0)
        let ys = xs |> Array.map (fun x -> if x < minDist then 1.0 else exp (-(x - minDist) / spread))
        let residuals (a: float) (b: float) =
            Array.map2 (fun x y -> 1.0 / (1.0 + a * x ** (2.0 * b)) - y) xs ys
        let cost a b = residuals a b |> Array.sumBy (fun r -> r * r)
        let mutable a = 1.0
        let mutable b = 1.0
        let mutable lambda = 1e-3
        let mutable iteration = 0
        let mutable fin = false
        while not fin && iteration < 1000 do
            let r = residuals a b
            // Jacobian of the model in (a, b).
            let mutable jaa = 0.0
            let mutable jab = 0.0
            let mutable jbb = 0.0
            let mutable ga = 0.0
            let mutable gb = 0.0
            for i in 0 .. xs.Length - 1 do
                let x = xs.[i]
                if x > 0.0 then
                    let p = x ** (2.0 * b)
                    let den = (1.0 + a * p) ** 2.0
                    let da = -p / den
                    let db = -a * p * 2.0 * log x / den
                    jaa <- jaa + da * da
                    jab <- jab + da * db
                    jbb <- jbb + db * db
                    ga <- ga + da * r.[i]
                    gb <- gb + db * r.[i]
            let current = cost a b
            let mutable accepted = false
            while not accepted && lambda < 1e12 do
                let m11 = jaa * (1.0 + lambda)
                let m22 = jbb * (1.0 + lambda)
                let det = m11 * m22 - jab * jab
                let stepA = -(m22 * ga - jab * gb) / det
                let stepB = -(m11 * gb - jab * ga) / det
                let trial = cost (a + stepA) (b + stepB)
                if trial <= current then
                    accepted <- true
                    a <- a + stepA
                    b <- b + stepB
                    lambda <- max (lambda / 10.0) 1e-12
                    if abs stepA < 1e-13 * (1.0 + abs a) && abs stepB < 1e-13 * (1.0 + abs b) then fin <- true
                else lambda <- lambda * 10.0
            if not accepted then fin <- true
            iteration <- iteration + 1
        a, b

    /// Per-row rho (distance to the nearest neighbour) and sigma such that
    /// sum_j exp(-(d_ij - rho_i) / sigma_i) = log2(k) (umap-learn's `smooth_knn_dist`, local_connectivity 1).
    /// `distances` are (N, k) Euclidean distances with the row itself first (distance 0).
    let smoothKnnDistances (distances: float[][]) : float[] * float[] =
        let k = distances.[0].Length
        let target = Math.Log2(float k)
        let meanAll = distances |> Array.averageBy Array.average
        let rho = Array.zeroCreate<float> distances.Length
        let sigma = Array.zeroCreate<float> distances.Length
        for i in 0 .. distances.Length - 1 do
            let d = distances.[i]
            let nonZero = d |> Array.filter (fun v -> v > 0.0)
            if nonZero.Length >= 1 then rho.[i] <- nonZero.[0]
            let mutable lo = 0.0
            let mutable hi = Double.PositiveInfinity
            let mutable mid = 1.0
            let mutable step = 0
            let mutable fin = false
            while not fin && step < 64 do
                let mutable psum = 0.0
                for j in 1 .. k - 1 do
                    let t = d.[j] - rho.[i]
                    psum <- psum + (if t > 0.0 then exp (-(t / mid)) else 1.0)
                if abs (psum - target) < 1e-5 then fin <- true
                else
                    if psum > target then
                        hi <- mid
                        mid <- (lo + hi) / 2.0
                    else
                        lo <- mid
                        mid <- if Double.IsPositiveInfinity hi then mid * 2.0 else (lo + hi) / 2.0
                    step <- step + 1
            let floor = 1e-3 * (if rho.[i] > 0.0 then Array.average d else meanAll)
            sigma.[i] <- max mid floor
        rho, sigma

    /// The fuzzy simplicial set: symmetric sparse weights W = A + A^T - A o A^T, rows of (column, weight).
    let private fuzzyGraph (neighbours: int) (rows: float[][]) =
        let n = rows.Length
        let others, squared = NearestNeighbours.Find(rows, neighbours - 1)
        let indices = Array.init n (fun i -> Array.append [| i |] others.[i])
        let distances = Array.init n (fun i -> Array.append [| 0.0 |] (squared.[i] |> Array.map sqrt))
        let rho, sigma = smoothKnnDistances distances
        let directed = Array.init n (fun _ -> Dictionary<int, float>())
        for i in 0 .. n - 1 do
            for t in 0 .. neighbours - 1 do
                let j = indices.[i].[t]
                if j <> i then
                    let d = distances.[i].[t] - rho.[i]
                    directed.[i].[j] <- if d <= 0.0 || sigma.[i] = 0.0 then 1.0 else exp (-(d / sigma.[i]))
        let weight i j = match directed.[i].TryGetValue j with | true, w -> w | _ -> 0.0
        let union = Array.init n (fun _ -> SortedDictionary<int, float>())
        for i in 0 .. n - 1 do
            for KeyValue(j, w) in directed.[i] do
                let wt = weight j i
                let v = w + wt - w * wt
                if v > 0.0 then
                    union.[i].[j] <- v
                    union.[j].[i] <- v
        union |> Array.map (fun r -> Seq.toArray r.Keys, Seq.toArray r.Values)

    let private isConnected (graph: (int[] * float[])[]) =
        let n = graph.Length
        let seen = Array.zeroCreate<bool> n
        let queue = Queue<int>()
        seen.[0] <- true
        queue.Enqueue 0
        let mutable reached = 1
        while queue.Count > 0 do
            let i = queue.Dequeue()
            for j in fst graph.[i] do
                if not seen.[j] then
                    seen.[j] <- true
                    reached <- reached + 1
                    queue.Enqueue j
        reached = n

    /// Eigenvectors 2 .. dim+1 of the normalised Laplacian I - D^-1/2 W D^-1/2 (smallest eigenvalues),
    /// by subspace iteration on (I + D^-1/2 W D^-1/2) / 2 with Rayleigh-Ritz (umap-learn uses eigsh).
    let private spectralLayout (graph: (int[] * float[])[]) (dim: int) =
        let n = graph.Length
        let scale = graph |> Array.map (fun (_, w) -> 1.0 / sqrt (Array.sum w))
        let block = min n (dim + 1 + 6)
        let apply (v: Matrix<float>) =
            let r = Matrix<float>.Build.Dense(n, v.ColumnCount)
            for c in 0 .. v.ColumnCount - 1 do
                for i in 0 .. n - 1 do
                    let cols, ws = graph.[i]
                    let mutable s = 0.0
                    for t in 0 .. cols.Length - 1 do s <- s + ws.[t] * scale.[cols.[t]] * v.[cols.[t], c]
                    r.[i, c] <- 0.5 * (v.[i, c] + scale.[i] * s)
            r
        // Deterministic start: smooth functions of the index (no random numbers needed).
        let mutable v = Matrix<float>.Build.Dense(n, block, fun i c -> cos (float (c + 1) * (float i + 0.5) * 0.7311) + 0.01 * float c).QR(Factorization.QRMethod.Thin).Q
        let mutable previous = Array.create block Double.NaN
        let mutable iteration = 0
        let mutable fin = false
        let mutable ritzVectors = v
        while not fin && iteration < 3000 do
            v <- (apply v).QR(Factorization.QRMethod.Thin).Q
            iteration <- iteration + 1
            if iteration % 10 = 0 then
                let h = v.TransposeThisAndMultiply(apply v)
                let evd = ((h + h.Transpose()) * 0.5).Evd(Symmetricity.Symmetric)
                let values = evd.EigenValues.ToArray() |> Array.map (fun c -> c.Real)
                let order = Array.init block id |> Array.sortByDescending (fun c -> values.[c])
                let sorted = order |> Array.map (fun c -> values.[c])
                ritzVectors <- Matrix<float>.Build.DenseOfColumnVectors(order |> Array.map (fun c -> v * evd.EigenVectors.Column(c)))
                if Array.forall2 (fun (a: float) b -> abs (a - b) < 1e-10) sorted.[.. dim] previous.[.. dim] then fin <- true
                previous <- sorted
        Array.init n (fun i -> Array.init dim (fun c -> ritzVectors.[i, c + 1]))

    /// Embeds the rows (N, D).
    let fit (options: UmapOptions) (rows: float[][]) : UmapResult =
        FeatureMatrix.Validate(rows, "rows") |> ignore
        let n = rows.Length
        if options.Neighbours < 2 || options.Neighbours > n then
            invalidArg "options" (sprintf "Neighbours = %d must be between 2 and the number of rows %d" options.Neighbours n)
        if options.Components < 1 then invalidArg "options" (sprintf "Components = %d must be >= 1" options.Components)
        if options.Components >= n then invalidArg "options" (sprintf "Components = %d must be < the number of rows %d" options.Components n)
        if options.NegativeSampleRate < 0 then invalidArg "options" "NegativeSampleRate must be >= 0"
        let a, b = findAbParams options.Spread options.MinDist
        let epochs = if options.Epochs > 0 then options.Epochs elif n <= 10000 then 500 else 200
        let graph = fuzzyGraph options.Neighbours rows
        let dim = options.Components
        let rng = Random(options.Seed)
        let gaussian () =
            let u1 = 1.0 - rng.NextDouble()
            let u2 = rng.NextDouble()
            sqrt (-2.0 * log u1) * cos (2.0 * Math.PI * u2)
        let connected = isConnected graph
        let initial =
            if connected then spectralLayout graph dim
            else (Pca.fit (min dim (min n rows.[0].Length)) rows).Projection |> Array.map (fun r -> Array.init dim (fun c -> if c < r.Length then r.[c] else 0.0))
        let maxAbs = initial |> Array.map (Array.map abs >> Array.max) |> Array.max
        let expansion = if maxAbs > 0.0 then 10.0 / maxAbs else 1.0
        let embedding = initial |> Array.map (Array.map (fun v -> v * expansion + 1e-4 * gaussian ()))
        // Rescale every coordinate to [0, 10] as umap-learn does before optimising.
        for c in 0 .. dim - 1 do
            let lo = embedding |> Array.minBy (fun r -> r.[c]) |> fun r -> r.[c]
            let hi = embedding |> Array.maxBy (fun r -> r.[c]) |> fun r -> r.[c]
            let range = if hi > lo then hi - lo else 1.0
            for r in embedding do r.[c] <- 10.0 * (r.[c] - lo) / range
        // Edge list (both directions), dropping edges too weak to be sampled in `epochs` epochs.
        let maxWeight = graph |> Array.map (fun (_, w) -> if w.Length = 0 then 0.0 else Array.max w) |> Array.max
        let edges =
            [| for i in 0 .. n - 1 do
                 let cols, ws = graph.[i]
                 for t in 0 .. cols.Length - 1 do
                     if ws.[t] >= maxWeight / float epochs then yield struct (i, cols.[t], ws.[t]) |]
        let head = edges |> Array.map (fun struct (i, _, _) -> i)
        let tail = edges |> Array.map (fun struct (_, j, _) -> j)
        let edgeMax = edges |> Array.map (fun struct (_, _, w) -> w) |> Array.max
        let epochsPerSample = edges |> Array.map (fun struct (_, _, w) -> float epochs / (float epochs * w / edgeMax))
        let epochsPerNegative = epochsPerSample |> Array.map (fun e -> e / float options.NegativeSampleRate)
        let nextSample = Array.copy epochsPerSample
        let nextNegative = Array.copy epochsPerNegative
        let clip v = if v > 4.0 then 4.0 elif v < -4.0 then -4.0 else v
        for epoch in 0 .. epochs - 1 do
            let alpha = options.LearningRate * (1.0 - float epoch / float epochs)
            let ep = float epoch
            for e in 0 .. edges.Length - 1 do
                if nextSample.[e] <= ep then
                    let current = embedding.[head.[e]]
                    let other = embedding.[tail.[e]]
                    let d2 = FeatureMatrix.SquaredDistance(current, other)
                    let coeff =
                        if d2 > 0.0 then -2.0 * a * b * (d2 ** (b - 1.0)) / (a * (d2 ** b) + 1.0) else 0.0
                    for c in 0 .. dim - 1 do
                        let g = clip (coeff * (current.[c] - other.[c]))
                        current.[c] <- current.[c] + g * alpha
                        other.[c] <- other.[c] - g * alpha
                    nextSample.[e] <- nextSample.[e] + epochsPerSample.[e]
                    let negatives = int ((ep - nextNegative.[e]) / epochsPerNegative.[e])
                    for _ in 1 .. negatives do
                        let k = rng.Next n
                        let other = embedding.[k]
                        let d2 = FeatureMatrix.SquaredDistance(current, other)
                        if d2 > 0.0 || k <> head.[e] then
                            let coeff =
                                if d2 > 0.0 then 2.0 * options.RepulsionStrength * b / ((0.001 + d2) * (a * (d2 ** b) + 1.0)) else 0.0
                            for c in 0 .. dim - 1 do
                                // Coincident points are pushed apart by the maximal step.
                                let g = if coeff > 0.0 then clip (coeff * (current.[c] - other.[c])) else 4.0
                                current.[c] <- current.[c] + g * alpha
                    nextNegative.[e] <- nextNegative.[e] + float negatives * epochsPerNegative.[e]
        { Embedding = embedding; A = a; B = b; Initialisation = (if connected then "spectral" else "pca"); Epochs = epochs }
