namespace Ecg.Analysis

open System
open System.Threading.Tasks

/// How well an embedding keeps local neighbourhoods: scikit-learn's
/// `sklearn.manifold.trustworthiness(X, X_embedded, n_neighbors)` with Euclidean distances.
/// 1.0 means every embedded k-neighbourhood holds only original-space near neighbours.
/// The exact value costs O(N^2 D); for large N `estimate` averages the same per-point penalty over a
/// random sample of points (ranks still taken among all N points), an unbiased estimate of it.
module Trustworthiness =
    /// Above this many rows `estimate` samples.
    [<Literal>]
    let SampleLimit = 5000

    /// Points sampled by `estimate` above `SampleLimit` rows (standard error about 0.001 on embeddings).
    [<Literal>]
    let DefaultSampleSize = 2000

    let private check (neighbours: int) (original: float[][]) (embedded: float[][]) =
        FeatureMatrix.Validate(original, "original") |> ignore
        FeatureMatrix.Validate(embedded, "embedded") |> ignore
        let n = original.Length
        if embedded.Length <> n then
            invalidArg "embedded" (sprintf "embedded has %d rows, original has %d" embedded.Length n)
        if neighbours < 1 || float neighbours >= float n / 2.0 then
            invalidArg "neighbours" (sprintf "neighbours = %d must be >= 1 and < N / 2 = %g" neighbours (float n / 2.0))

    /// Sum over point i's embedded k-neighbours j of max(0, r(i, j) - k), where r is the 1-based rank
    /// of j among the other points by original-space distance from i (ties by index).
    let private penalty (neighbours: int) (original: float[][]) (embedded: float[][]) (i: int) =
        let n = original.Length
        // Embedded k nearest (ties by index), by a bounded insertion buffer.
        let bestD = Array.create neighbours Double.PositiveInfinity
        let bestI = Array.create neighbours Int32.MaxValue
        for j in 0 .. n - 1 do
            if j <> i then
                let d = FeatureMatrix.SquaredDistance(embedded.[i], embedded.[j])
                if d < bestD.[neighbours - 1] then
                    let mutable p = neighbours - 1
                    while p > 0 && bestD.[p - 1] > d do
                        bestD.[p] <- bestD.[p - 1]
                        bestI.[p] <- bestI.[p - 1]
                        p <- p - 1
                    bestD.[p] <- d
                    bestI.[p] <- j
        let dist = Array.init n (fun j -> FeatureMatrix.SquaredDistance(original.[i], original.[j]))
        let mutable t = 0.0
        for j in bestI do
            let dj = dist.[j]
            let mutable rank = 1
            for l in 0 .. n - 1 do
                if l <> i && l <> j && (dist.[l] < dj || (dist.[l] = dj && l < j)) then rank <- rank + 1
            if rank > neighbours then t <- t + float (rank - neighbours)
        t

    let private normaliser (n: int) (neighbours: int) =
        let nf, kf = float n, float neighbours
        2.0 / (nf * kf * (2.0 * nf - 3.0 * kf - 1.0))

    /// The exact trustworthiness over all points.
    let compute (neighbours: int) (original: float[][]) (embedded: float[][]) : float =
        check neighbours original embedded
        let n = original.Length
        let penalties = Array.zeroCreate<float> n
        Parallel.For(0, n, fun i -> penalties.[i] <- penalty neighbours original embedded i) |> ignore
        1.0 - Array.sum penalties * normaliser n neighbours

    /// Trustworthiness estimated from `sampleSize` points drawn without replacement by System.Random(seed)
    /// (all points when sampleSize >= N, which gives `compute`'s value).
    let sampled (neighbours: int) (sampleSize: int) (seed: int) (original: float[][]) (embedded: float[][]) : float =
        check neighbours original embedded
        if sampleSize < 1 then invalidArg "sampleSize" (sprintf "sampleSize = %d must be >= 1" sampleSize)
        let n = original.Length
        let m = min n sampleSize
        // Partial Fisher-Yates shuffle: the first m entries are the sample.
        let order = Array.init n id
        let rng = Random(seed)
        for t in 0 .. m - 1 do
            let s = t + rng.Next(n - t)
            let x = order.[t]
            order.[t] <- order.[s]
            order.[s] <- x
        let penalties = Array.zeroCreate<float> m
        Parallel.For(0, m, fun t -> penalties.[t] <- penalty neighbours original embedded order.[t]) |> ignore
        1.0 - Array.sum penalties * (float n / float m) * normaliser n neighbours

    /// `compute` up to `SampleLimit` rows, else `sampled` with `DefaultSampleSize` points and seed 0.
    let estimate (neighbours: int) (original: float[][]) (embedded: float[][]) : float =
        if not (isNull original) && original.Length <= SampleLimit then compute neighbours original embedded
        else sampled neighbours DefaultSampleSize 0 original embedded
