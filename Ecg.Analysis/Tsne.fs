namespace Ecg.Analysis

open System
open System.Threading.Tasks

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
      Theta: float }
    static member Default =
        { Perplexity = 30.0; EarlyExaggeration = 12.0; ExaggerationIterations = 250; Iterations = 1000
          LearningRate = Double.NaN; Theta = 0.5 }

[<CLIMutable>]
type TsneResult =
    { /// (N, 2) coordinates.
      Embedding: float[][]
      /// Kullback-Leibler divergence of P from Q at the last check.
      KlDivergence: float
      Iterations: int }

/// Barnes-Hut t-SNE to two dimensions, following scikit-learn 1.2's `TSNE(method="barnes_hut",
/// init="pca", learning_rate="auto")`: P from the 3 * perplexity nearest neighbours with a binary
/// search for each point's precision, symmetrised and normalised; PCA initialisation scaled so
/// the first coordinate has standard deviation 1e-4; early exaggeration with momentum 0.5, then
/// momentum 0.8; delta-bar-delta gains (+0.2 / x0.8, floor 0.01); convergence checked every 50
/// iterations (gradient norm <= 1e-7, or no KL improvement for 250 / 300 iterations).
/// Deterministic: no random numbers are used.
module Tsne =
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
    let private jointProbabilities (perplexity: float) (rows: float[][]) =
        let n = rows.Length
        let k = min (n - 1) (int (3.0 * perplexity + 1.0))
        let indices, distances = NearestNeighbours.Find(rows, k)
        let conditional = conditionalProbabilities perplexity distances
        let joint = Array.init n (fun _ -> Collections.Generic.Dictionary<int, float>())
        for i in 0 .. n - 1 do
            for t in 0 .. k - 1 do
                let j = indices.[i].[t]
                let v = conditional.[i].[t]
                joint.[i].[j] <- (match joint.[i].TryGetValue j with | true, x -> x | _ -> 0.0) + v
                joint.[j].[i] <- (match joint.[j].TryGetValue i with | true, x -> x | _ -> 0.0) + v
        let total = joint |> Array.sumBy (fun r -> Seq.sum r.Values)
        let scale = 1.0 / max total Double.Epsilon
        let columns = joint |> Array.map (fun r -> r.Keys |> Seq.toArray |> Array.sort)
        let values = Array.init n (fun i -> columns.[i] |> Array.map (fun j -> joint.[i].[j] * scale))
        columns, values

    /// Embeds the rows (N, D) in two dimensions.
    let fit (options: TsneOptions) (rows: float[][]) : TsneResult =
        FeatureMatrix.Validate(rows, "rows") |> ignore
        let n = rows.Length
        if n < 3 then invalidArg "rows" (sprintf "t-SNE needs at least 3 rows, got %d" n)
        if not (options.Perplexity > 0.0 && options.Perplexity < float n) then
            invalidArg "options" (sprintf "Perplexity = %g must be > 0 and < the number of rows %d" options.Perplexity n)
        if options.Iterations < options.ExaggerationIterations || options.ExaggerationIterations < 0 then
            invalidArg "options" (sprintf "Iterations = %d must be >= ExaggerationIterations = %d >= 0" options.Iterations options.ExaggerationIterations)
        if not (options.Theta >= 0.0) then invalidArg "options" (sprintf "Theta = %g must be >= 0" options.Theta)
        let learningRate =
            if Double.IsNaN options.LearningRate || options.LearningRate <= 0.0 then
                max (float n / options.EarlyExaggeration / 4.0) 50.0
            else options.LearningRate
        let columns, probabilities = jointProbabilities options.Perplexity rows
        let init = (Pca.fit 2 rows).Projection
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
        // Returns the KL divergence when asked (it needs the normaliser, so it comes with the gradient).
        let gradient (exaggeration: float) (withError: bool) =
            let tree = QuadTree(xs, ys)
            Parallel.For(0, n, (fun () -> Array.zeroCreate<int> 1024), (fun i _ (stack: int[]) ->
                let struct (q, fx, fy) = tree.Repulsion(xs.[i], ys.[i], options.Theta, stack)
                sumQParts.[i] <- q
                negX.[i] <- fx
                negY.[i] <- fy
                stack), (fun _ -> ())) |> ignore
            let sumQ = Array.sum sumQParts
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
        let reached = descend 0 options.ExaggerationIterations 0.5 options.EarlyExaggeration options.ExaggerationIterations
        descend reached options.Iterations 0.8 1.0 300 |> ignore
        { Embedding = Array.init n (fun i -> [| xs.[i]; ys.[i] |]); KlDivergence = kl; Iterations = iteration }
