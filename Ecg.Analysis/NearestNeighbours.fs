namespace Ecg.Analysis

open System
open System.Runtime.InteropServices
open System.Runtime.Intrinsics
open System.Threading
open System.Threading.Tasks

/// How k-nearest neighbours are found for UMAP and t-SNE.
type NeighbourSearch =
    /// Exact below `NearestNeighbours.ExactLimit` rows (umap-learn's own switch-over, 4,096), approximate above.
    | Automatic = 0
    /// Brute force over all pairs: O(N^2 D).
    | Exact = 1
    /// NN-descent started from random-projection trees (pynndescent's method): about O(N log N D).
    | Approximate = 2

/// Squared Euclidean distances in float32 with SIMD over rows padded to a whole number of vectors:
/// the inner loop of the approximate search, which only needs to rank candidates.
type internal PaddedRows(rows: float[][]) =
    let n = rows.Length
    let d = rows.[0].Length
    let lanes = Vector256<float32>.Count
    let stride = (d + lanes - 1) / lanes * lanes
    let values =
        let v = Array.zeroCreate<float32> (n * stride)
        for i in 0 .. n - 1 do
            let r = rows.[i]
            for j in 0 .. d - 1 do v.[i * stride + j] <- float32 r.[j]
        v
    member _.Count = n
    member _.Stride = stride
    member _.Values = values
    member _.Distance(a: int, b: int) : float32 =
        let va = MemoryMarshal.Cast<float32, Vector256<float32>>(ReadOnlySpan(values, a * stride, stride))
        let vb = MemoryMarshal.Cast<float32, Vector256<float32>>(ReadOnlySpan(values, b * stride, stride))
        Vector256.Sum(FeatureMatrix.SquaredDifferenceLanes(va, vb))

/// Bounded max-heaps of (distance, index), one per row, in flat arrays: the k best candidates so far.
/// A row's final content is the k smallest distinct (distance, index) pairs ever offered, whatever the
/// order of the offers, so concurrent pushes (serialised per row by a lock) give deterministic results.
type internal NeighbourHeaps(n: int, k: int) =
    let indices = Array.create (n * k) -1
    let distances = Array.create (n * k) Single.PositiveInfinity
    /// Iteration in which the entry arrived; entries newer than the last candidate sampling are "new".
    let stamps = Array.zeroCreate<int> (n * k)
    let isNew = Array.zeroCreate<bool> (n * k)
    let locks = Array.init n (fun _ -> obj ())
    let greater (d1: float32) (i1: int) (d2: float32) (i2: int) = d1 > d2 || (d1 = d2 && i1 > i2)
    member _.Indices = indices
    member _.Distances = distances
    member _.IsNew = isNew
    member _.Stamps = stamps
    member _.K = k
    /// The largest distance kept for the row (infinity until the row is full): offers above it are refused.
    member _.Threshold(row: int) = Volatile.Read(&distances.[row * k])
    /// Offers `candidate` at distance `d` to `row`; true when it was taken.
    member _.Push(row: int, d: float32, candidate: int, stamp: int) : bool =
        let o = row * k
        if greater d candidate distances.[o] indices.[o] then false
        else
            Monitor.Enter locks.[row]
            try
                if greater d candidate distances.[o] indices.[o] then false
                else
                    // Array.IndexOf is vectorised: the membership test is most of a push's cost.
                    if Array.IndexOf(indices, candidate, o, k) >= 0 then false
                    else
                        // Replace the root (largest) and sift down.
                        let mutable p = 0
                        let mutable fin = false
                        while not fin do
                            let l = 2 * p + 1
                            if l >= k then fin <- true
                            else
                                let c = if l + 1 < k && greater distances.[o + l + 1] indices.[o + l + 1] distances.[o + l] indices.[o + l] then l + 1 else l
                                if greater distances.[o + c] indices.[o + c] d candidate then
                                    distances.[o + p] <- distances.[o + c]
                                    indices.[o + p] <- indices.[o + c]
                                    isNew.[o + p] <- isNew.[o + c]
                                    stamps.[o + p] <- stamps.[o + c]
                                    p <- c
                                else fin <- true
                        distances.[o + p] <- d
                        indices.[o + p] <- candidate
                        isNew.[o + p] <- true
                        stamps.[o + p] <- stamp
                        true
            finally Monitor.Exit locks.[row]

/// k-nearest neighbours, exact (brute force) or approximate (NN-descent).
/// Neighbours are sorted by distance, ties by index; the point itself is excluded.
[<AbstractClass; Sealed>]
type NearestNeighbours =
    /// Below this many rows `NeighbourSearch.Automatic` searches exactly (umap-learn's threshold).
    static member ExactLimit = 4096

    /// Whether `search` means the exact search for `rows` rows.
    static member UsesExactSearch(search: NeighbourSearch, rows: int) =
        match search with
        | NeighbourSearch.Exact -> true
        | NeighbourSearch.Approximate -> false
        | NeighbourSearch.Automatic -> rows < NearestNeighbours.ExactLimit
        | other -> invalidArg "search" (sprintf "unknown neighbour search %A" other)

    /// For each row its `k` nearest other rows: (indices, squared Euclidean distances), both (N, k). Exact.
    static member Find(rows: float[][], k: int) : int[][] * float[][] =
        let n = rows.Length
        if k < 1 || k > n - 1 then invalidArg "k" (sprintf "k = %d neighbours needs 1 <= k <= N - 1 = %d" k (n - 1))
        let indices = Array.zeroCreate<int[]> n
        let distances = Array.zeroCreate<float[]> n
        Parallel.For(0, n, fun i ->
            let ri = rows.[i]
            // Keep the k smallest with a bounded insertion buffer: cheap for small k.
            let bestD = Array.create k Double.PositiveInfinity
            let bestI = Array.create k Int32.MaxValue
            for j in 0 .. n - 1 do
                if j <> i then
                    let d = FeatureMatrix.SquaredDistance(ri, rows.[j])
                    if d < bestD.[k - 1] || (d = bestD.[k - 1] && j < bestI.[k - 1]) then
                        let mutable p = k - 1
                        while p > 0 && (bestD.[p - 1] > d || (bestD.[p - 1] = d && bestI.[p - 1] > j)) do
                            bestD.[p] <- bestD.[p - 1]
                            bestI.[p] <- bestI.[p - 1]
                            p <- p - 1
                        bestD.[p] <- d
                        bestI.[p] <- j
            indices.[i] <- bestI
            distances.[i] <- bestD) |> ignore
        indices, distances

    /// As `Find`, exactly or approximately as `search` says; `seed` drives the approximate search.
    static member Find(rows: float[][], k: int, search: NeighbourSearch, seed: int) : int[][] * float[][] =
        if NearestNeighbours.UsesExactSearch(search, rows.Length) then NearestNeighbours.Find(rows, k)
        else NearestNeighbours.Approximate(rows, k, seed)

    /// Approximate k nearest neighbours by NN-descent (Dong, Moses & Li 2011) as pynndescent runs it:
    /// start from the leaves of random-projection trees (min(64, 5 + round(sqrt(N) / 20)) trees, leaves of
    /// max(10, k) points), then repeatedly join each row's sampled new and old candidates (at most
    /// min(30, k) of each, forward and reverse neighbours; pynndescent allows min(60, k), which costs t-SNE's
    /// k = 90 twice the time for a recall of 0.9999 instead of 0.997) for max(5, round(log2 N)) iterations or until
    /// fewer than 0.001 k N entries change. Candidates are ranked by float32 distances; the returned
    /// squared distances are recomputed in float64. Deterministic for a seed whatever the thread scheduling.
    static member Approximate(rows: float[][], k: int, seed: int) : int[][] * float[][] =
        NearestNeighbours.Approximate(rows, k, seed, min 30 k)

    /// `Approximate` with at most `maxCandidates` new (and as many old) candidates per row and iteration.
    static member Approximate(rows: float[][], k: int, seed: int, maxCandidates: int) : int[][] * float[][] =
        if maxCandidates < 1 then invalidArg "maxCandidates" (sprintf "maxCandidates = %d must be >= 1" maxCandidates)
        FeatureMatrix.Validate(rows, "rows") |> ignore
        let n = rows.Length
        if k < 1 || k > n - 1 then invalidArg "k" (sprintf "k = %d neighbours needs 1 <= k <= N - 1 = %d" k (n - 1))
        let data = PaddedRows(rows)
        let heaps = NeighbourHeaps(n, k)
        // splitmix64: independent, reproducible random streams for every (purpose, tree, row, ...).
        let mix (x: uint64) =
            let mutable z = x + 0x9E3779B97F4A7C15UL
            z <- (z ^^^ (z >>> 30)) * 0xBF58476D1CE4E5B9UL
            z <- (z ^^^ (z >>> 27)) * 0x94D049BB133111EBUL
            z ^^^ (z >>> 31)
        let hash (a: int) (b: int) (c: int) =
            mix (mix (mix (uint64 (uint32 seed)) + uint64 (uint32 a)) + (uint64 (uint32 b) <<< 32 ||| uint64 (uint32 c)))

        // 1. Random-projection forest: each leaf's points are offered to each other.
        let trees = min 64 (5 + int (Math.Round(sqrt (float n) / 20.0)))
        let leafSize = max 10 k
        let leavesOfTree (tree: int) =
            let rng = Random(int (hash 1 tree 0 &&& 0x7FFFFFFFUL))
            let leaves = Collections.Generic.List<int[]>()
            let stride = data.Stride
            let values = data.Values
            let rec split (points: int[]) =
                if points.Length <= leafSize then leaves.Add points
                else
                    let ia = rng.Next points.Length
                    let ib = rng.Next(points.Length - 1)
                    let a = points.[ia]
                    let b = points.[if ib >= ia then ib + 1 else ib]
                    // Hyperplane half-way between a and b, normal to a - b.
                    let normal = Array.init stride (fun t -> values.[a * stride + t] - values.[b * stride + t])
                    let mutable offset = 0.0f
                    for t in 0 .. stride - 1 do offset <- offset - normal.[t] * (values.[a * stride + t] + values.[b * stride + t]) * 0.5f
                    let side =
                        points |> Array.map (fun p ->
                            let mutable m = offset
                            for t in 0 .. stride - 1 do m <- m + normal.[t] * values.[p * stride + t]
                            if abs m < 1e-8f then rng.Next 2 = 0 else m > 0.0f)
                    let left = Array.zeroCreate<int> (side |> Array.sumBy (fun s -> if s then 1 else 0))
                    let right = Array.zeroCreate<int> (points.Length - left.Length)
                    let mutable l = 0
                    let mutable r = 0
                    for t in 0 .. points.Length - 1 do
                        if side.[t] then left.[l] <- points.[t]; l <- l + 1
                        else right.[r] <- points.[t]; r <- r + 1
                    if left.Length = 0 || right.Length = 0 then
                        // Degenerate hyperplane (duplicates): split in halves in the order given.
                        let h = points.Length / 2
                        split points.[.. h - 1]
                        split points.[h ..]
                    else
                        split left
                        split right
            split (Array.init n id)
            leaves.ToArray()
        let leaves = Array.Parallel.init trees leavesOfTree |> Array.concat
        Parallel.For(0, leaves.Length, fun l ->
            let leaf = leaves.[l]
            for x in 0 .. leaf.Length - 1 do
                for y in x + 1 .. leaf.Length - 1 do
                    let p, q = leaf.[x], leaf.[y]
                    let d = data.Distance(p, q)
                    if d <= heaps.Threshold p then heaps.Push(p, d, q, 0) |> ignore
                    if d <= heaps.Threshold q then heaps.Push(q, d, p, 0) |> ignore) |> ignore
        // Rows the leaves left short of k get random points (pynndescent's init_random).
        Parallel.For(0, n, fun i ->
            let mutable attempt = 0
            while heaps.Indices.[i * k] < 0 do
                let j = int (hash 2 i attempt % uint64 n)
                if j <> i then heaps.Push(i, data.Distance(i, j), j, 0) |> ignore
                attempt <- attempt + 1) |> ignore

        // 2. NN-descent.
        let iterations = max 5 (int (Math.Round(Math.Log2(float n))))
        let newCandidates = NeighbourHeaps(n, maxCandidates)
        let oldCandidates = NeighbourHeaps(n, maxCandidates)
        let mutable iteration = 1
        let mutable fin = false
        while not fin && iteration <= iterations do
            // Sample candidates: each (row, neighbour) pair gets a random priority; the lowest are kept.
            for c in [ newCandidates; oldCandidates ] do
                Array.Fill(c.Indices, -1)
                Array.Fill(c.Distances, Single.PositiveInfinity)
            Parallel.For(0, n, fun i ->
                for t in 0 .. k - 1 do
                    let j = heaps.Indices.[i * k + t]
                    if j >= 0 then
                        let priority = float32 (hash (3 + iteration) (min i j) (max i j) >>> 40) / 16777216.0f
                        let target = if heaps.IsNew.[i * k + t] then newCandidates else oldCandidates
                        if priority <= target.Threshold i then target.Push(i, priority, j, 0) |> ignore
                        if priority <= target.Threshold j then target.Push(j, priority, i, 0) |> ignore) |> ignore
            // Sampled new entries become old.
            Parallel.For(0, n, fun i ->
                for t in 0 .. k - 1 do
                    let e = i * k + t
                    if heaps.IsNew.[e] && Array.IndexOf(newCandidates.Indices, heaps.Indices.[e], i * maxCandidates, maxCandidates) >= 0 then
                        heaps.IsNew.[e] <- false) |> ignore
            // Local join: new x new and new x old candidate pairs of every row.
            Parallel.For(0, n, fun i ->
                let o = i * maxCandidates
                for x in 0 .. maxCandidates - 1 do
                    let p = newCandidates.Indices.[o + x]
                    if p >= 0 then
                        let offer q =
                            if q >= 0 && q <> p then
                                let d = data.Distance(p, q)
                                if d <= heaps.Threshold p then heaps.Push(p, d, q, iteration) |> ignore
                                if d <= heaps.Threshold q then heaps.Push(q, d, p, iteration) |> ignore
                        for y in x + 1 .. maxCandidates - 1 do offer newCandidates.Indices.[o + y]
                        for y in 0 .. maxCandidates - 1 do offer oldCandidates.Indices.[o + y]) |> ignore
            // Entries that arrived in this iteration and survived it (independent of the order of pushes).
            let changes = heaps.Stamps |> Array.sumBy (fun s -> if s = iteration then 1 else 0)
            if float changes <= 0.001 * float k * float n then fin <- true
            iteration <- iteration + 1

        // 3. Sort each row by float64 distance (ties by index).
        let indices = Array.zeroCreate<int[]> n
        let distances = Array.zeroCreate<float[]> n
        Parallel.For(0, n, fun i ->
            let idx = Array.sub heaps.Indices (i * k) k
            let dist = idx |> Array.map (fun j -> FeatureMatrix.SquaredDistance(rows.[i], rows.[j]))
            let order = Array.init k id |> Array.sortWith (fun a b -> let c = compare dist.[a] dist.[b] in if c <> 0 then c else compare idx.[a] idx.[b])
            indices.[i] <- order |> Array.map (fun t -> idx.[t])
            distances.[i] <- order |> Array.map (fun t -> dist.[t])) |> ignore
        indices, distances
