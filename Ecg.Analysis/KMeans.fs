namespace Ecg.Analysis

open System
open System.Threading.Tasks

/// Settings of k-means; `KMeansOptions.Default k` gives scikit-learn 1.2's defaults.
[<CLIMutable>]
type KMeansOptions =
    { Clusters: int
      /// Restarts from fresh k-means++ seeds; the lowest inertia wins (scikit-learn 1.2: 10).
      Restarts: int
      MaxIterations: int
      /// Relative tolerance: Lloyd stops when the squared centre shift is <= Tolerance * mean column variance.
      Tolerance: float
      Seed: int }
    static member Default(clusters: int) =
        { Clusters = clusters; Restarts = 10; MaxIterations = 300; Tolerance = 1e-4; Seed = 0 }

[<CLIMutable>]
type KMeansResult =
    { /// Cluster index (0 .. Clusters-1) of each row.
      Labels: int[]
      Centroids: float[][]
      /// Sum of squared distances of rows to their centroid.
      Inertia: float
      /// Lloyd iterations of the winning restart.
      Iterations: int }

/// K-means as scikit-learn 1.2 does it (`KMeans(n_init=10, algorithm="lloyd")`): greedy k-means++
/// seeding with 2 + ln(k) local trials, Lloyd iterations, scikit-learn's stopping rule and empty
/// cluster relocation. Random numbers come from System.Random(seed), so seeds differ from NumPy's;
/// the optimum found is the same on well-separated data.
module KMeans =
    let private assign (rows: float[][]) (centres: float[][]) (labels: int[]) =
        Parallel.For(0, rows.Length, fun i ->
            let mutable best = 0
            let mutable bestD = Double.PositiveInfinity
            for c in 0 .. centres.Length - 1 do
                let d = FeatureMatrix.SquaredDistance(rows.[i], centres.[c])
                if d < bestD then
                    bestD <- d
                    best <- c
            labels.[i] <- best) |> ignore

    let private inertiaOf (rows: float[][]) (centres: float[][]) (labels: int[]) =
        let mutable s = 0.0
        for i in 0 .. rows.Length - 1 do s <- s + FeatureMatrix.SquaredDistance(rows.[i], centres.[labels.[i]])
        s

    /// Greedy k-means++ (scikit-learn's `_kmeans_plusplus`).
    let private seedCentres (rng: Random) (rows: float[][]) (k: int) =
        let n = rows.Length
        let trials = 2 + int (log (float k))
        let centres = Array.zeroCreate<float[]> k
        centres.[0] <- Array.copy rows.[rng.Next n]
        let mutable closest = rows |> Array.map (fun r -> FeatureMatrix.SquaredDistance(r, centres.[0]))
        let mutable potential = Array.sum closest
        for c in 1 .. k - 1 do
            let cumulative = Array.scan (+) 0.0 closest |> Array.tail
            let candidates =
                Array.init trials (fun _ ->
                    let target = rng.NextDouble() * potential
                    // searchsorted (left): first index whose cumulative sum >= target.
                    let mutable lo = 0
                    let mutable hi = n
                    while lo < hi do
                        let mid = (lo + hi) / 2
                        if cumulative.[mid] < target then lo <- mid + 1 else hi <- mid
                    min lo (n - 1))
            let candidateDistances =
                candidates |> Array.map (fun ci ->
                    Array.init n (fun i -> min closest.[i] (FeatureMatrix.SquaredDistance(rows.[i], rows.[ci]))))
            let potentials = candidateDistances |> Array.map Array.sum
            let best = Array.findIndex ((=) (Array.min potentials)) potentials
            potential <- potentials.[best]
            closest <- candidateDistances.[best]
            centres.[c] <- Array.copy rows.[candidates.[best]]
        centres

    /// New centres as label means; an empty cluster takes the row farthest from its old centre
    /// (scikit-learn's `_relocate_empty_clusters_dense`).
    let private updateCentres (rows: float[][]) (oldCentres: float[][]) (labels: int[]) =
        let k = oldCentres.Length
        let d = rows.[0].Length
        let sums = Array.init k (fun _ -> Array.zeroCreate<float> d)
        let counts = Array.zeroCreate<float> k
        for i in 0 .. rows.Length - 1 do
            let s = sums.[labels.[i]]
            for j in 0 .. d - 1 do s.[j] <- s.[j] + rows.[i].[j]
            counts.[labels.[i]] <- counts.[labels.[i]] + 1.0
        let empty = [| for c in 0 .. k - 1 do if counts.[c] = 0.0 then c |]
        if empty.Length > 0 then
            let far =
                Array.init rows.Length (fun i -> i, FeatureMatrix.SquaredDistance(rows.[i], oldCentres.[labels.[i]]))
                |> Array.sortBy (fun (i, dist) -> -dist, i)
            empty |> Array.iteri (fun e c ->
                let i, _ = far.[e]
                let old = labels.[i]
                for j in 0 .. d - 1 do
                    sums.[old].[j] <- sums.[old].[j] - rows.[i].[j]
                    sums.[c].[j] <- rows.[i].[j]
                counts.[c] <- 1.0
                counts.[old] <- counts.[old] - 1.0)
        Array.init k (fun c -> if counts.[c] > 0.0 then sums.[c] |> Array.map (fun v -> v / counts.[c]) else sums.[c])

    let private lloyd (rows: float[][]) (initial: float[][]) (maxIterations: int) (tolerance: float) =
        let n = rows.Length
        let mutable centres = initial
        let labels = Array.create n -1
        let previous = Array.create n -1
        let mutable iterations = 0
        let mutable strict = false
        let mutable stop = false
        while not stop && iterations < maxIterations do
            assign rows centres labels
            let next = updateCentres rows centres labels
            let shift = Array.map2 (fun a b -> FeatureMatrix.SquaredDistance(a, b)) centres next |> Array.sum
            centres <- next
            iterations <- iterations + 1
            if labels = previous then
                strict <- true
                stop <- true
            elif shift <= tolerance then stop <- true
            else Array.blit labels 0 previous 0 n
        // Labels must match the final centres.
        if not strict then assign rows centres labels
        labels, centres, inertiaOf rows centres labels, iterations

    /// True when two labelings are the same partition up to renaming clusters.
    let private samePartition (a: int[]) (b: int[]) (k: int) =
        let map = Array.create k -1
        let mutable same = true
        for i in 0 .. a.Length - 1 do
            if map.[b.[i]] = -1 then map.[b.[i]] <- a.[i]
            elif map.[b.[i]] <> a.[i] then same <- false
        same

    /// Clusters the rows (N, D).
    let fit (options: KMeansOptions) (rows: float[][]) : KMeansResult =
        let d = FeatureMatrix.Validate(rows, "rows")
        let n = rows.Length
        if options.Clusters < 1 || options.Clusters > n then
            invalidArg "options" (sprintf "Clusters = %d must be between 1 and the number of rows %d" options.Clusters n)
        if options.Restarts < 1 then invalidArg "options" (sprintf "Restarts = %d must be >= 1" options.Restarts)
        if options.MaxIterations < 1 then invalidArg "options" (sprintf "MaxIterations = %d must be >= 1" options.MaxIterations)
        if not (options.Tolerance >= 0.0) then invalidArg "options" (sprintf "Tolerance = %g must be >= 0" options.Tolerance)
        // scikit-learn's `_tolerance`: tol times the mean of the column variances.
        let meanVariance =
            Array.init d (fun j ->
                let m = (rows |> Array.sumBy (fun r -> r.[j])) / float n
                (rows |> Array.sumBy (fun r -> (r.[j] - m) ** 2.0)) / float n)
            |> Array.average
        let tolerance = options.Tolerance * meanVariance
        let rng = Random(options.Seed)
        let mutable best = None
        for _ in 1 .. options.Restarts do
            let labels, centres, inertia, iterations = lloyd rows (seedCentres rng rows options.Clusters) options.MaxIterations tolerance
            match best with
            | Some b when not (inertia < b.Inertia && not (samePartition labels b.Labels options.Clusters)) -> ()
            | _ -> best <- Some { Labels = labels; Centroids = centres; Inertia = inertia; Iterations = iterations }
        best.Value
