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

    let private check (neighbours: int) (original: float[][]) (embeddings: float[][][]) =
        FeatureMatrix.Validate(original, "original") |> ignore
        let n = original.Length
        for embedded in embeddings do
            FeatureMatrix.Validate(embedded, "embedded") |> ignore
            if embedded.Length <> n then
                invalidArg "embedded" (sprintf "embedded has %d rows, original has %d" embedded.Length n)
        if neighbours < 1 || float neighbours >= float n / 2.0 then
            invalidArg "neighbours" (sprintf "neighbours = %d must be >= 1 and < N / 2 = %g" neighbours (float n / 2.0))

    /// Point i's k nearest other points in `embedded` (ties by index), by a bounded insertion buffer.
    let private embeddedNeighbours (neighbours: int) (embedded: float[][]) (i: int) =
        let bestD = Array.create neighbours Double.PositiveInfinity
        let bestI = Array.create neighbours Int32.MaxValue
        for j in 0 .. embedded.Length - 1 do
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
        bestI

    /// For each embedding: the sum over point i's embedded k-neighbours j of max(0, r(i, j) - k), where r is the
    /// 1-based rank of j among the other points by original-space distance from i (ties by index). The
    /// original-space distances, most of the cost, are computed once for all the embeddings.
    let private penalties (neighbours: int) (original: float[][]) (embeddings: float[][][]) (i: int) : float[] =
        let n = original.Length
        let dist = Array.init n (fun j -> FeatureMatrix.SquaredDistance(original.[i], original.[j]))
        embeddings |> Array.map (fun embedded ->
            let mutable t = 0.0
            for j in embeddedNeighbours neighbours embedded i do
                let dj = dist.[j]
                let mutable rank = 1
                for l in 0 .. n - 1 do
                    if l <> i && l <> j && (dist.[l] < dj || (dist.[l] = dj && l < j)) then rank <- rank + 1
                if rank > neighbours then t <- t + float (rank - neighbours)
            t)

    let private normaliser (n: int) (neighbours: int) =
        let nf, kf = float n, float neighbours
        2.0 / (nf * kf * (2.0 * nf - 3.0 * kf - 1.0))

    /// Each embedding's trustworthiness from the penalties of the points `sample` (scaled up to all N points).
    let private fromSample (neighbours: int) (original: float[][]) (embeddings: float[][][]) (sample: int[]) : float[] =
        let n = original.Length
        let perPoint = Array.zeroCreate<float[]> sample.Length
        Parallel.For(0, sample.Length, fun t -> perPoint.[t] <- penalties neighbours original embeddings sample.[t]) |> ignore
        Array.init embeddings.Length (fun e ->
            let total = perPoint |> Array.sumBy (fun p -> p.[e])
            1.0 - total * (float n / float sample.Length) * normaliser n neighbours)

    /// The first m of a partial Fisher-Yates shuffle of 0 .. n - 1 by System.Random(seed).
    let private drawSample (n: int) (m: int) (seed: int) =
        let order = Array.init n id
        let rng = Random(seed)
        for t in 0 .. m - 1 do
            let s = t + rng.Next(n - t)
            let x = order.[t]
            order.[t] <- order.[s]
            order.[s] <- x
        Array.sub order 0 m

    /// The exact trustworthiness over all points.
    let compute (neighbours: int) (original: float[][]) (embedded: float[][]) : float =
        check neighbours original [| embedded |]
        (fromSample neighbours original [| embedded |] (Array.init original.Length id)).[0]

    /// Trustworthiness estimated from `sampleSize` points drawn without replacement by System.Random(seed)
    /// (all points when sampleSize >= N, which gives `compute`'s value).
    let sampled (neighbours: int) (sampleSize: int) (seed: int) (original: float[][]) (embedded: float[][]) : float =
        check neighbours original [| embedded |]
        if sampleSize < 1 then invalidArg "sampleSize" (sprintf "sampleSize = %d must be >= 1" sampleSize)
        let n = original.Length
        (fromSample neighbours original [| embedded |] (drawSample n (min n sampleSize) seed)).[0]

    /// `estimate` for several embeddings of the same points at once, on the same sample: the same values as
    /// `estimate` for each, for about the cost of one.
    let estimateAll (neighbours: int) (original: float[][]) (embeddings: float[][][]) : float[] =
        if isNull embeddings then nullArg "embeddings"
        check neighbours original embeddings
        let n = original.Length
        let sample = if n <= SampleLimit then Array.init n id else drawSample n (min n DefaultSampleSize) 0
        fromSample neighbours original embeddings sample

    /// `compute` up to `SampleLimit` rows, else `sampled` with `DefaultSampleSize` points and seed 0.
    let estimate (neighbours: int) (original: float[][]) (embedded: float[][]) : float =
        if isNull embedded then nullArg "embedded"
        (estimateAll neighbours original [| embedded |]).[0]
