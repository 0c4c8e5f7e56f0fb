namespace Ecg.Analysis

open System
open System.Threading.Tasks

/// Exact k-nearest neighbours by brute force (all pairs, in parallel): O(N^2 D), which is
/// a few seconds at most for N up to about 25,000 embeddings of 128 values.
/// Neighbours are sorted by distance, ties by index; the point itself is excluded.
[<AbstractClass; Sealed>]
type NearestNeighbours =
    /// For each row its `k` nearest other rows: (indices, squared Euclidean distances), both (N, k).
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
