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
      Seed: int
      /// Exact or approximate (NN-descent) neighbours; Automatic: exact below 4,096 rows, as umap-learn.
      NeighbourSearch: NeighbourSearch }
    static member Default =
        { Neighbours = 15; MinDist = 0.1; Spread = 1.0; Components = 2; Epochs = 0
          NegativeSampleRate = 5; LearningRate = 1.0; RepulsionStrength = 1.0; Seed = 42
          NeighbourSearch = NeighbourSearch.Automatic }

[<CLIMutable>]
type UmapResult =
    { /// (N, Components) coordinates.
      Embedding: float[][]
      /// Curve parameters of the low-dimensional similarity 1 / (1 + A d^(2B)).
      A: float
      B: float
      /// "spectral": normalised-Laplacian eigenvectors, per connected component when there are several.
      Initialisation: string
      /// Connected components of the fuzzy graph (after dropping edges too weak to be sampled).
      GraphComponents: int
      /// Whether the neighbours were found exactly (else by NN-descent).
      ExactNeighbours: bool
      Epochs: int }

/// UMAP following umap-learn 0.5: k nearest neighbours (exact below 4,096 rows, as umap-learn, else
/// NN-descent as pynndescent), smooth kNN distances (rho, sigma with log2(k) target), fuzzy union
/// of the membership graph, a/b fitted to the min_dist/spread curve by least squares, spectral
/// initialisation (component by component on a disconnected graph, `SpectralLayout`), and SGD with
/// negative sampling and linearly decaying learning rate (sequential, so deterministic for a seed).
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
    let fuzzyGraph (neighbours: int) (search: NeighbourSearch) (seed: int) (rows: float[][]) =
        let n = rows.Length
        let others, squared = NearestNeighbours.Find(rows, neighbours - 1, search, seed)
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

    let private defaultEpochs (n: int) = if n <= 10000 then 500 else 200

    let private validate (options: UmapOptions) (rows: float[][]) =
        FeatureMatrix.Validate(rows, "rows") |> ignore
        let n = rows.Length
        if options.Neighbours < 2 || options.Neighbours > n then
            invalidArg "options" (sprintf "Neighbours = %d must be between 2 and the number of rows %d" options.Neighbours n)
        if options.Components < 1 then invalidArg "options" (sprintf "Components = %d must be >= 1" options.Components)
        if options.Components >= n then invalidArg "options" (sprintf "Components = %d must be < the number of rows %d" options.Components n)
        if options.NegativeSampleRate < 0 then invalidArg "options" "NegativeSampleRate must be >= 0"

    /// The fuzzy graph (and the epoch count) without the edges too weak to be sampled in the epochs (weight < max / epochs,
    /// where umap-learn takes its default epoch count when 10 or fewer are asked for); umap-learn prunes
    /// before the spectral initialisation, so components are those of this graph.
    let prunedGraph (options: UmapOptions) (rows: float[][]) : (int[] * float[])[] * int =
        let n = rows.Length
        let epochs = if options.Epochs > 0 then options.Epochs else defaultEpochs n
        let graph = fuzzyGraph options.Neighbours options.NeighbourSearch options.Seed rows
        let maxWeight = graph |> Array.map (fun (_, w) -> if w.Length = 0 then 0.0 else Array.max w) |> Array.max
        let threshold = maxWeight / float (if epochs > 10 then epochs else defaultEpochs n)
        let pruned =
            graph |> Array.map (fun (cols, ws) ->
                let keep = Array.init cols.Length id |> Array.filter (fun t -> ws.[t] >= threshold)
                keep |> Array.map (fun t -> cols.[t]), keep |> Array.map (fun t -> ws.[t]))
        pruned, epochs

    /// The layout umap-learn's `spectral_layout(data, graph, Components, ...)` returns for these rows,
    /// before UMAP scales it and adds noise (for comparisons with umap-learn).
    let initialLayout (options: UmapOptions) (rows: float[][]) : float[][] =
        validate options rows
        let graph, _ = prunedGraph options rows
        SpectralLayout.layout rows graph options.Components (Random(options.Seed))

    /// Embeds the rows (N, D).
    let fit (options: UmapOptions) (rows: float[][]) : UmapResult =
        validate options rows
        let n = rows.Length
        let a, b = findAbParams options.Spread options.MinDist
        let graph, epochs = prunedGraph options rows
        let dim = options.Components
        let rng = Random(options.Seed)
        let gaussian () =
            let u1 = 1.0 - rng.NextDouble()
            let u2 = rng.NextDouble()
            sqrt (-2.0 * log u1) * cos (2.0 * Math.PI * u2)
        let _, graphComponents = SpectralLayout.components graph
        let initial = SpectralLayout.layout rows graph dim rng
        let maxAbs = initial |> Array.map (Array.map abs >> Array.max) |> Array.max
        let expansion = if maxAbs > 0.0 then 10.0 / maxAbs else 1.0
        let embedding = initial |> Array.map (Array.map (fun v -> v * expansion + 1e-4 * gaussian ()))
        // Rescale every coordinate to [0, 10] as umap-learn does before optimising.
        for c in 0 .. dim - 1 do
            let lo = embedding |> Array.minBy (fun r -> r.[c]) |> fun r -> r.[c]
            let hi = embedding |> Array.maxBy (fun r -> r.[c]) |> fun r -> r.[c]
            let range = if hi > lo then hi - lo else 1.0
            for r in embedding do r.[c] <- 10.0 * (r.[c] - lo) / range
        // Edge list (both directions).
        let edges =
            [| for i in 0 .. n - 1 do
                 let cols, ws = graph.[i]
                 for t in 0 .. cols.Length - 1 do yield struct (i, cols.[t], ws.[t]) |]
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
                    // d^(2b) through one exp and log; d^(2b - 2) follows by division.
                    let coeff =
                        if d2 > 0.0 then
                            let powB = exp (b * log d2)
                            -2.0 * a * b * (powB / d2) / (a * powB + 1.0)
                        else 0.0
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
                                if d2 > 0.0 then 2.0 * options.RepulsionStrength * b / ((0.001 + d2) * (a * exp (b * log d2) + 1.0)) else 0.0
                            for c in 0 .. dim - 1 do
                                // Coincident points are pushed apart by the maximal step.
                                let g = if coeff > 0.0 then clip (coeff * (current.[c] - other.[c])) else 4.0
                                current.[c] <- current.[c] + g * alpha
                    nextNegative.[e] <- nextNegative.[e] + float negatives * epochsPerNegative.[e]
        { Embedding = embedding; A = a; B = b; Initialisation = "spectral"; GraphComponents = graphComponents
          ExactNeighbours = NearestNeighbours.UsesExactSearch(options.NeighbourSearch, n); Epochs = epochs }
