namespace Ecg.Analysis

open System
open System.Collections.Generic
open System.Threading.Tasks
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
/// negative sampling and linearly decaying learning rate (parallel over vertices, deterministic for a seed
/// whatever the number of threads: see `optimiseLayout`).
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

    let inline private clip v = if v > 4.0 then 4.0 elif v < -4.0 then -4.0 else v

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

    /// splitmix64's finaliser: the negative samples' random streams.
    let inline private mix (x: uint64) =
        let mutable z = x
        z <- (z ^^^ (z >>> 30)) * 0xBF58476D1CE4E5B9UL
        z <- (z ^^^ (z >>> 27)) * 0x94D049BB133111EBUL
        z ^^^ (z >>> 31)

    [<Literal>]
    let private Golden = 0x9E3779B97F4A7C15UL

    /// d^(2b) from the squared distance, in float32 (umap-learn keeps the layout in float32): one log, one exp.
    let inline private powB (bf: float32) (d2: float) = float (MathF.Exp(bf * MathF.Log(float32 d2)))

    /// The attractive gradient coefficient -2ab d^(2(b-1)) / (1 + a d^(2b)) of umap-learn's SGD.
    let inline private attraction (a: float) (b: float) (bf: float32) (d2: float) =
        if d2 > 0.0 then
            let p = powB bf d2
            -2.0 * a * b * (p / d2) / (a * p + 1.0)
        else 0.0

    /// The repulsive gradient coefficient 2 gamma b / ((0.001 + d^2) (1 + a d^(2b))).
    let inline private repulsion (a: float) (b: float) (bf: float32) (gamma: float) (d2: float) =
        if d2 > 0.0 then 2.0 * gamma * b / ((0.001 + d2) * (a * powB bf d2 + 1.0)) else 0.0

    /// The SGD's edges (CSR by head vertex), their sampling schedule and the layout.
    type private Sgd =
        { RowStart: int[]; Tail: int[]
          EpochsPerSample: float[]; EpochsPerNegative: float[]; NextSample: float[]; NextNegative: float[]
          /// (N, dim) row-major: the live layout, and its copy at the start of the epoch.
          Positions: float[]; Snapshot: float[]
          Dim: int; A: float; B: float; Gamma: float; Seed: uint64 }

    /// The random stream of vertex i's negative samples in an epoch.
    let inline private streamOf (s: Sgd) (epoch: int) (i: int) = mix (s.Seed + (uint64 (uint32 epoch) <<< 32 ||| uint64 (uint32 i)))

    /// Vertex i's samples in an epoch (any dimension): each of its edges due in the epoch pulls it towards the
    /// edge's tail, then pushes it away from as many random vertices as negative samples are due.
    let private moveVertex (s: Sgd) (i: int) (epoch: int) (alpha: float) =
        let dim, positions, snapshot = s.Dim, s.Positions, s.Snapshot
        let a, b, bf, gamma = s.A, s.B, float32 s.B, s.Gamma
        let n = positions.Length / dim
        let ep = float epoch
        let mutable state = streamOf s epoch i
        let o = i * dim
        for e in s.RowStart.[i] .. s.RowStart.[i + 1] - 1 do
            if s.NextSample.[e] <= ep then
                let t = s.Tail.[e] * dim
                let mutable d2 = 0.0
                for c in 0 .. dim - 1 do
                    let diff = positions.[o + c] - snapshot.[t + c]
                    d2 <- d2 + diff * diff
                let coeff = attraction a b bf d2
                for c in 0 .. dim - 1 do
                    let g = clip (coeff * (positions.[o + c] - snapshot.[t + c]))
                    positions.[o + c] <- positions.[o + c] + 2.0 * g * alpha
                s.NextSample.[e] <- s.NextSample.[e] + s.EpochsPerSample.[e]
                let negatives = int ((ep - s.NextNegative.[e]) / s.EpochsPerNegative.[e])
                for _ in 1 .. negatives do
                    state <- state + Golden
                    let k = int (((mix state >>> 32) * uint64 n) >>> 32)
                    // umap-learn skips a sample of the vertex itself (at distance 0).
                    if k <> i then
                        let t = k * dim
                        let mutable d2 = 0.0
                        for c in 0 .. dim - 1 do
                            let diff = positions.[o + c] - snapshot.[t + c]
                            d2 <- d2 + diff * diff
                        let coeff = repulsion a b bf gamma d2
                        for c in 0 .. dim - 1 do
                            // Coincident points are pushed apart by the maximal step.
                            let g = if coeff > 0.0 then clip (coeff * (positions.[o + c] - snapshot.[t + c])) else 4.0
                            positions.[o + c] <- positions.[o + c] + g * alpha
                s.NextNegative.[e] <- s.NextNegative.[e] + float negatives * s.EpochsPerNegative.[e]

    /// Vertices on one thread at a time in `moveVertices2`.
    [<Literal>]
    let private Lanes = 4

    /// `moveVertex` for the vertices first .. last - 1 of a 2-D layout, the same steps with the same results,
    /// but `Lanes` vertices advanced in turn, one step each: a vertex's steps form one long dependency chain
    /// (each starts from the position the previous one left), and interleaving independent vertices lets the
    /// processor overlap their chains.
    let private moveVertices2 (s: Sgd) (first: int) (last: int) (epoch: int) (alpha: float) =
        let rowStart, tail, positions, snapshot = s.RowStart, s.Tail, s.Positions, s.Snapshot
        let nextSample, nextNegative, epochsPerSample, epochsPerNegative = s.NextSample, s.NextNegative, s.EpochsPerSample, s.EpochsPerNegative
        let a, b, bf, gamma = s.A, s.B, float32 s.B, s.Gamma
        let n = uint64 (positions.Length / 2)
        let ep = float epoch
        // Per lane: its vertex (-2 waiting for one, -1 done), next edge to look at, negative samples still
        // due for the edge just sampled, the vertex's position and random state.
        let vertex = Array.create Lanes -2
        let edge = Array.zeroCreate<int> Lanes
        let pending = Array.zeroCreate<int> Lanes
        let xs = Array.zeroCreate<float> Lanes
        let ys = Array.zeroCreate<float> Lanes
        let states = Array.zeroCreate<uint64> Lanes
        let mutable next = first
        let mutable active = Lanes
        while active > 0 do
            for l in 0 .. Lanes - 1 do
                let v = vertex.[l]
                if v = -1 then ()
                elif pending.[l] > 0 then
                    let state = states.[l] + Golden
                    states.[l] <- state
                    let k = int (((mix state >>> 32) * n) >>> 32)
                    if k <> v then
                        let x, y = xs.[l], ys.[l]
                        let dx = x - snapshot.[2 * k]
                        let dy = y - snapshot.[2 * k + 1]
                        let coeff = repulsion a b bf gamma (dx * dx + dy * dy)
                        if coeff > 0.0 then
                            xs.[l] <- x + clip (coeff * dx) * alpha
                            ys.[l] <- y + clip (coeff * dy) * alpha
                        else
                            xs.[l] <- x + 4.0 * alpha
                            ys.[l] <- y + 4.0 * alpha
                    pending.[l] <- pending.[l] - 1
                else
                    let mutable e = edge.[l]
                    if v >= 0 then
                        while e < rowStart.[v + 1] && nextSample.[e] > ep do e <- e + 1
                    if v = -2 || e >= rowStart.[v + 1] then
                        // The vertex is done for this epoch: store it and take the next.
                        if v >= 0 then
                            positions.[2 * v] <- xs.[l]
                            positions.[2 * v + 1] <- ys.[l]
                        if next < last then
                            vertex.[l] <- next
                            edge.[l] <- rowStart.[next]
                            xs.[l] <- positions.[2 * next]
                            ys.[l] <- positions.[2 * next + 1]
                            states.[l] <- streamOf s epoch next
                            next <- next + 1
                        else
                            vertex.[l] <- -1
                            active <- active - 1
                    else
                        let x, y = xs.[l], ys.[l]
                        let t = 2 * tail.[e]
                        let dx = x - snapshot.[t]
                        let dy = y - snapshot.[t + 1]
                        let coeff = attraction a b bf (dx * dx + dy * dy)
                        xs.[l] <- x + 2.0 * clip (coeff * dx) * alpha
                        ys.[l] <- y + 2.0 * clip (coeff * dy) * alpha
                        nextSample.[e] <- nextSample.[e] + epochsPerSample.[e]
                        let negatives = int ((ep - nextNegative.[e]) / epochsPerNegative.[e])
                        nextNegative.[e] <- nextNegative.[e] + float negatives * epochsPerNegative.[e]
                        pending.[l] <- negatives
                        edge.[l] <- e + 1

    /// umap-learn's SGD (`optimize_layout_euclidean`): every edge is sampled once per `epochs_per_sample`
    /// epochs (max weight / weight), with `NegativeSampleRate` negative samples per sample, gradients clipped
    /// to +-4 and a learning rate decaying linearly to 0. `positions` are (N, dim) row-major, updated in place.
    /// Deterministic and parallel, where umap-learn's parallel path races: each epoch reads the other vertices
    /// from a snapshot taken at the start of the epoch and moves only the edge's head vertex (live), so a vertex
    /// depends on nothing another thread writes in the epoch, and the result is the same whatever the number
    /// of threads. umap-learn also moves the tail of each sampled edge; the graph is symmetric, so the tail gets
    /// that step when its own copy of the edge (same weight, same schedule) is sampled, and the head's attractive
    /// step is doubled to stand for the one it would have received from that copy. Negative samples come from
    /// a random stream per (vertex, epoch) seeded from `options.Seed`.
    let private optimiseLayout (graph: (int[] * float[])[]) (epochs: int) (a: float) (b: float)
                               (options: UmapOptions) (positions: float[]) =
        let n = graph.Length
        let dim = positions.Length / n
        let rowStart = Array.zeroCreate<int> (n + 1)
        for i in 0 .. n - 1 do rowStart.[i + 1] <- rowStart.[i] + (fst graph.[i]).Length
        let edgeCount = rowStart.[n]
        let tail = Array.zeroCreate<int> edgeCount
        let weights = Array.zeroCreate<float> edgeCount
        for i in 0 .. n - 1 do
            let cols, ws = graph.[i]
            Array.blit cols 0 tail rowStart.[i] cols.Length
            Array.blit ws 0 weights rowStart.[i] ws.Length
        if edgeCount > 0 then
            let edgeMax = Array.max weights
            let epochsPerSample = weights |> Array.map (fun w -> float epochs / (float epochs * w / edgeMax))
            let epochsPerNegative = epochsPerSample |> Array.map (fun e -> e / float options.NegativeSampleRate)
            let s =
                { RowStart = rowStart; Tail = tail; EpochsPerSample = epochsPerSample; EpochsPerNegative = epochsPerNegative
                  NextSample = Array.copy epochsPerSample; NextNegative = Array.copy epochsPerNegative
                  Positions = positions; Snapshot = Array.zeroCreate<float> positions.Length
                  Dim = dim; A = a; B = b; Gamma = options.RepulsionStrength; Seed = mix (uint64 (uint32 options.Seed) + Golden) }
            // Blocks of vertices for the threads; the result does not depend on their size.
            let blockSize = 256
            let blocks = (n + blockSize - 1) / blockSize
            for epoch in 0 .. epochs - 1 do
                let alpha = options.LearningRate * (1.0 - float epoch / float epochs)
                Array.blit positions 0 s.Snapshot 0 positions.Length
                Parallel.For(0, blocks, fun block ->
                    let first, last = block * blockSize, min n ((block + 1) * blockSize)
                    if dim = 2 then moveVertices2 s first last epoch alpha
                    else for i in first .. last - 1 do moveVertex s i epoch alpha) |> ignore

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
        let positions = Array.zeroCreate<float> (n * dim)
        for i in 0 .. n - 1 do Array.blit embedding.[i] 0 positions (i * dim) dim
        optimiseLayout graph epochs a b options positions
        let embedding = Array.init n (fun i -> Array.sub positions (i * dim) dim)
        { Embedding = embedding; A = a; B = b; Initialisation = "spectral"; GraphComponents = graphComponents
          ExactNeighbours = NearestNeighbours.UsesExactSearch(options.NeighbourSearch, n); Epochs = epochs }
