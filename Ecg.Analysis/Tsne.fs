namespace Ecg.Analysis

open System
open System.Diagnostics
open System.Threading.Tasks
open TorchSharp

/// How t-SNE sums the repulsive forces.
type TsneGradient =
    /// Interpolation from `Tsne.InterpolationLimit` rows (10,000) on, Barnes-Hut below.
    | Automatic = 0
    /// Barnes-Hut quadtree (scikit-learn's `method="barnes_hut"`, accuracy `Theta`): O(N log N) per iteration.
    | BarnesHut = 1
    /// Polynomial interpolation on a grid with FFT convolution (FIt-SNE; openTSNE's
    /// `negative_gradient_method="fft"`): O(N + B^2 log B) per iteration for B boxes per axis.
    | Interpolation = 2

/// Settings of t-SNE; `TsneOptions.Default` gives scikit-learn 1.2's defaults.
[<CLIMutable>]
type TsneOptions =
    { Perplexity: float
      EarlyExaggeration: float
      /// Iterations with exaggerated P and momentum 0.5 (scikit-learn: 250).
      ExaggerationIterations: int
      /// Total iterations, exaggeration included (scikit-learn 1.2 `n_iter`: 1000).
      Iterations: int
      /// Step size; <= 0 or NaN means "auto": max(N / EarlyExaggeration / 4, 50).
      LearningRate: float
      /// Barnes-Hut accuracy: a cell is summarised when width / distance < Theta (scikit-learn `angle`).
      Theta: float
      /// Exact or approximate (NN-descent) neighbours; Automatic: exact below 4,096 rows.
      NeighbourSearch: NeighbourSearch
      /// Seed of the approximate neighbour search (the optimisation itself uses no random numbers).
      Seed: int
      /// Barnes-Hut or interpolated repulsive forces; Automatic: interpolation from 10,000 rows on.
      Gradient: TsneGradient }
    static member Default =
        { Perplexity = 30.0; EarlyExaggeration = 12.0; ExaggerationIterations = 250; Iterations = 1000
          LearningRate = Double.NaN; Theta = 0.5; NeighbourSearch = NeighbourSearch.Automatic; Seed = 0
          Gradient = TsneGradient.Automatic }

[<CLIMutable>]
type TsneResult =
    { /// (N, 2) coordinates.
      Embedding: float[][]
      /// Kullback-Leibler divergence of P from Q at the last check.
      KlDivergence: float
      Iterations: int
      /// Whether the neighbours were found exactly (else by NN-descent).
      ExactNeighbours: bool
      /// How the repulsive forces were summed (BarnesHut or Interpolation, never Automatic).
      Gradient: TsneGradient
      /// Seconds for the neighbours and P.
      AffinitySeconds: float
      /// Seconds for the gradient descent.
      OptimisationSeconds: float }

/// The repulsive terms of the t-SNE gradient for every point: X.[i] = sum_j q_ij^2 (x_i - x_j) (Y likewise),
/// q_ij = 1 / (1 + |y_i - y_j|^2), and the normaliser Z = sum over pairs i <> j of q_ij.
[<CLIMutable>]
type RepulsiveForces = { X: float[]; Y: float[]; Normaliser: float }

/// t-SNE to two dimensions, following scikit-learn 1.2's `TSNE(method="barnes_hut",
/// init="pca", learning_rate="auto")`: P from the 3 * perplexity nearest neighbours (exact, or by
/// NN-descent for large N as openTSNE does with approximate neighbours) with a binary
/// search for each point's precision, symmetrised and normalised; PCA initialisation scaled so
/// the first coordinate has standard deviation 1e-4; early exaggeration with momentum 0.5, then
/// momentum 0.8; delta-bar-delta gains (+0.2 / x0.8, floor 0.01); convergence checked every 50
/// iterations (gradient norm <= 1e-7, or no KL improvement for 250 / 300 iterations).
/// The repulsive forces come from a Barnes-Hut quadtree walk, O(N log N) per iteration, or, for large N,
/// from FIt-SNE's grid interpolation (`InterpolatedRepulsion`, as openTSNE's `negative_gradient_method="fft"`).
/// Deterministic: the optimisation uses no random numbers, and parallel loops only write their own entries.
module Tsne =
    /// From this many rows on `TsneGradient.Automatic` interpolates; below, the scikit-learn comparisons
    /// of Barnes-Hut hold (and Barnes-Hut is as fast there).
    [<Literal>]
    let InterpolationLimit = 10000

    /// Whether `gradient` means interpolation for `rows` rows.
    let usesInterpolation (gradient: TsneGradient) (rows: int) =
        match gradient with
        | TsneGradient.BarnesHut -> false
        | TsneGradient.Interpolation -> true
        | TsneGradient.Automatic -> rows >= InterpolationLimit
        | other -> invalidArg "gradient" (sprintf "unknown t-SNE gradient method %A" other)

    let private checkCoordinates (xs: float[]) (ys: float[]) =
        if xs.Length <> ys.Length then invalidArg "ys" (sprintf "%d x coordinates but %d y coordinates" xs.Length ys.Length)
        if xs.Length < 2 then invalidArg "xs" (sprintf "repulsive forces need at least 2 points, got %d" xs.Length)
        for i in 0 .. xs.Length - 1 do
            if not (Double.IsFinite xs.[i] && Double.IsFinite ys.[i]) then
                invalidArg "xs" (sprintf "point %d has a non-finite coordinate (%g, %g)" i xs.[i] ys.[i])

    /// Repulsive forces by FIt-SNE's interpolation (openTSNE's defaults: 3 nodes per box and axis, boxes
    /// 1 unit wide, at least 50 per axis).
    let interpolatedRepulsion (xs: float[]) (ys: float[]) : RepulsiveForces =
        checkCoordinates xs ys
        let negX = Array.zeroCreate<float> xs.Length
        let negY = Array.zeroCreate<float> xs.Length
        use workspace = new InterpolatedRepulsion.Workspace()
        let z = InterpolatedRepulsion.compute workspace xs ys negX negY
        { X = negX; Y = negY; Normaliser = z }

    /// Repulsive forces by the Barnes-Hut quadtree with accuracy `theta` (0: exact).
    let barnesHutRepulsion (theta: float) (xs: float[]) (ys: float[]) : RepulsiveForces =
        checkCoordinates xs ys
        let tree = QuadTree(xs, ys)
        let stack = Array.zeroCreate<int> 1024
        let negX = Array.zeroCreate<float> xs.Length
        let negY = Array.zeroCreate<float> xs.Length
        let parts = Array.zeroCreate<float> xs.Length
        for i in 0 .. xs.Length - 1 do
            let struct (q, fx, fy) = tree.Repulsion(xs.[i], ys.[i], theta, stack)
            parts.[i] <- q
            negX.[i] <- fx
            negY.[i] <- fy
        { X = negX; Y = negY; Normaliser = Array.sum parts }

    /// Conditional probabilities p(j|i) over each row's neighbours, matching the row's perplexity
    /// (scikit-learn's `_binary_search_perplexity`: 100 steps, entropy tolerance 1e-5).
    let conditionalProbabilities (perplexity: float) (squaredDistances: float[][]) : float[][] =
        let desiredEntropy = log perplexity
        squaredDistances |> Array.Parallel.map (fun d ->
            let p = Array.zeroCreate<float> d.Length
            let mutable beta = 1.0
            let mutable betaMin = Double.NegativeInfinity
            let mutable betaMax = Double.PositiveInfinity
            let mutable step = 0
            let mutable fin = false
            while not fin && step < 100 do
                let mutable sumP = 0.0
                for j in 0 .. d.Length - 1 do
                    p.[j] <- exp (-d.[j] * beta)
                    sumP <- sumP + p.[j]
                if sumP = 0.0 then sumP <- 1e-8
                let mutable sumDP = 0.0
                for j in 0 .. d.Length - 1 do
                    p.[j] <- p.[j] / sumP
                    sumDP <- sumDP + d.[j] * p.[j]
                let entropyDiff = log sumP + beta * sumDP - desiredEntropy
                if abs entropyDiff <= 1e-5 then fin <- true
                elif entropyDiff > 0.0 then
                    betaMin <- beta
                    beta <- if Double.IsPositiveInfinity betaMax then beta * 2.0 else (beta + betaMax) / 2.0
                else
                    betaMax <- beta
                    beta <- if Double.IsNegativeInfinity betaMin then beta / 2.0 else (beta + betaMin) / 2.0
                step <- step + 1
            p)

    /// Sparse symmetric joint probabilities P = (P_cond + P_cond^T) / sum, as rows of (column, value).
    let private jointProbabilities (options: TsneOptions) (rows: float[][]) =
        let n = rows.Length
        let k = min (n - 1) (int (3.0 * options.Perplexity + 1.0))
        let indices, distances = NearestNeighbours.Find(rows, k, options.NeighbourSearch, options.Seed)
        let conditional = conditionalProbabilities options.Perplexity distances
        // Each row's entries: its own neighbours plus the rows that have it as a neighbour, merged by column
        // (at most two terms per entry, so the sums do not depend on the order).
        let counts = Array.create n k
        for i in 0 .. n - 1 do
            for j in indices.[i] do counts.[j] <- counts.[j] + 1
        let cols = counts |> Array.map Array.zeroCreate<int>
        let vals = counts |> Array.map Array.zeroCreate<float>
        let fill = Array.zeroCreate<int> n
        let add i j v =
            cols.[i].[fill.[i]] <- j
            vals.[i].[fill.[i]] <- v
            fill.[i] <- fill.[i] + 1
        for i in 0 .. n - 1 do
            for t in 0 .. k - 1 do
                add i indices.[i].[t] conditional.[i].[t]
                add indices.[i].[t] i conditional.[i].[t]
        let merged = Array.Parallel.init n (fun i ->
            let c = cols.[i]
            let v = vals.[i]
            Array.Sort(c, v)
            let mc = Collections.Generic.List<int>(c.Length)
            let mv = Collections.Generic.List<float>(c.Length)
            for t in 0 .. c.Length - 1 do
                if mc.Count > 0 && mc.[mc.Count - 1] = c.[t] then mv.[mv.Count - 1] <- mv.[mv.Count - 1] + v.[t]
                else
                    mc.Add c.[t]
                    mv.Add v.[t]
            mc.ToArray(), mv.ToArray())
        let total = merged |> Array.sumBy (fun (_, v) -> Array.sum v)
        let scale = 1.0 / max total Double.Epsilon
        merged |> Array.map fst, merged |> Array.map (fun (_, v) -> v |> Array.map (fun x -> x * scale))

    /// Embeds the rows (N, D) in two dimensions, starting from `pcaProjection`, the rows' 2-D PCA projection
    /// (`Pca.fit 2 rows`), for a caller that has it already.
    let fitFromPca (options: TsneOptions) (pcaProjection: float[][]) (rows: float[][]) : TsneResult =
        FeatureMatrix.Validate(rows, "rows") |> ignore
        let n = rows.Length
        if isNull pcaProjection || pcaProjection.Length <> n || pcaProjection |> Array.exists (fun r -> isNull r || r.Length <> 2) then
            invalidArg "pcaProjection" (sprintf "the PCA projection must hold %d rows of 2 coordinates" n)
        if n < 3 then invalidArg "rows" (sprintf "t-SNE needs at least 3 rows, got %d" n)
        if not (options.Perplexity > 0.0 && options.Perplexity < float n) then
            invalidArg "options" (sprintf "Perplexity = %g must be > 0 and < the number of rows %d" options.Perplexity n)
        if options.Iterations < options.ExaggerationIterations || options.ExaggerationIterations < 0 then
            invalidArg "options" (sprintf "Iterations = %d must be >= ExaggerationIterations = %d >= 0" options.Iterations options.ExaggerationIterations)
        if not (options.Theta >= 0.0) then invalidArg "options" (sprintf "Theta = %g must be >= 0" options.Theta)
        let interpolate = usesInterpolation options.Gradient n
        let learningRate =
            if Double.IsNaN options.LearningRate || options.LearningRate <= 0.0 then
                max (float n / options.EarlyExaggeration / 4.0) 50.0
            else options.LearningRate
        let clock = Stopwatch.StartNew()
        let columns, probabilities = jointProbabilities options rows
        let affinitySeconds = clock.Elapsed.TotalSeconds
        clock.Restart()
        let init = pcaProjection
        let mean0 = init |> Array.averageBy (fun r -> r.[0])
        let std0 = sqrt (init |> Array.averageBy (fun r -> (r.[0] - mean0) ** 2.0))
        let scale = if std0 > 0.0 then 1e-4 / std0 else 1.0
        let xs = init |> Array.map (fun r -> r.[0] * scale)
        let ys = init |> Array.map (fun r -> r.[1] * scale)
        let gradX = Array.zeroCreate<float> n
        let gradY = Array.zeroCreate<float> n
        let sumQParts = Array.zeroCreate<float> n
        let negX = Array.zeroCreate<float> n
        let negY = Array.zeroCreate<float> n
        use workspace = new InterpolatedRepulsion.Workspace()
        // Returns the KL divergence when asked (it needs the normaliser, so it comes with the gradient).
        let gradient (exaggeration: float) (withError: bool) =
            let sumQ =
                if interpolate then InterpolatedRepulsion.compute workspace xs ys negX negY
                else
                    let tree = QuadTree(xs, ys)
                    Parallel.For(0, n, (fun () -> Array.zeroCreate<int> 1024), (fun i _ (stack: int[]) ->
                        let struct (q, fx, fy) = tree.Repulsion(xs.[i], ys.[i], options.Theta, stack)
                        sumQParts.[i] <- q
                        negX.[i] <- fx
                        negY.[i] <- fy
                        stack), (fun _ -> ())) |> ignore
                    Array.sum sumQParts
            let errors = Array.zeroCreate<float> n
            Parallel.For(0, n, fun i ->
                let mutable px = 0.0
                let mutable py = 0.0
                let mutable err = 0.0
                let cols = columns.[i]
                let vals = probabilities.[i]
                for t in 0 .. cols.Length - 1 do
                    let j = cols.[t]
                    let dx = xs.[i] - xs.[j]
                    let dy = ys.[i] - ys.[j]
                    let q = 1.0 / (1.0 + dx * dx + dy * dy)
                    let p = vals.[t] * exaggeration
                    px <- px + p * q * dx
                    py <- py + p * q * dy
                    if withError then
                        err <- err + p * log (max p 1.17549435e-38 / max (q / sumQ) 1.17549435e-38)
                errors.[i] <- err
                gradX.[i] <- 4.0 * (px - negX.[i] / sumQ)
                gradY.[i] <- 4.0 * (py - negY.[i] / sumQ)) |> ignore
            Array.sum errors
        let mutable kl = Double.NaN
        let mutable iteration = 0
        // One call of scikit-learn's `_gradient_descent`: fresh momentum buffer and gains.
        let descend (first: int) (last: int) (momentum: float) (exaggeration: float) (withoutProgress: int) =
            let updX = Array.zeroCreate<float> n
            let updY = Array.zeroCreate<float> n
            let gainX = Array.create n 1.0
            let gainY = Array.create n 1.0
            let mutable bestError = Double.MaxValue
            let mutable bestIteration = first
            let mutable i = first
            let mutable stop = false
            while not stop && i < last do
                let check = (i + 1) % 50 = 0
                let error = gradient exaggeration check
                let mutable norm = 0.0
                for t in 0 .. n - 1 do
                    norm <- norm + gradX.[t] * gradX.[t] + gradY.[t] * gradY.[t]
                    let step (upd: float[]) (gain: float[]) (grad: float[]) (pos: float[]) =
                        gain.[t] <- max 0.01 (if upd.[t] * grad.[t] < 0.0 then gain.[t] + 0.2 else gain.[t] * 0.8)
                        upd.[t] <- momentum * upd.[t] - learningRate * gain.[t] * grad.[t]
                        pos.[t] <- pos.[t] + upd.[t]
                    step updX gainX gradX xs
                    step updY gainY gradY ys
                iteration <- i + 1
                if check then
                    kl <- error
                    if error < bestError then
                        bestError <- error
                        bestIteration <- i
                    elif i - bestIteration > withoutProgress then stop <- true
                    if sqrt norm <= 1e-7 then stop <- true
                i <- i + 1
            i
        // The grid's FFTs are small batched transforms, faster on one torch thread here than on two (and one
        // thread keeps their summation order fixed); torch's setting is restored afterwards.
        let torchThreads = if interpolate then torch.get_num_threads () else 0
        if interpolate then torch.set_num_threads 1
        try
            let reached = descend 0 options.ExaggerationIterations 0.5 options.EarlyExaggeration options.ExaggerationIterations
            descend reached options.Iterations 0.8 1.0 300 |> ignore
        finally
            if interpolate then torch.set_num_threads torchThreads
        { Embedding = Array.init n (fun i -> [| xs.[i]; ys.[i] |]); KlDivergence = kl; Iterations = iteration
          ExactNeighbours = NearestNeighbours.UsesExactSearch(options.NeighbourSearch, n)
          Gradient = (if interpolate then TsneGradient.Interpolation else TsneGradient.BarnesHut)
          AffinitySeconds = affinitySeconds; OptimisationSeconds = clock.Elapsed.TotalSeconds }

    /// Embeds the rows (N, D) in two dimensions.
    let fit (options: TsneOptions) (rows: float[][]) : TsneResult =
        FeatureMatrix.Validate(rows, "rows") |> ignore
        fitFromPca options (Pca.fit 2 rows).Projection rows
