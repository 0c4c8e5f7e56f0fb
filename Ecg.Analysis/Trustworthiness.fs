namespace Ecg.Analysis

open System
open System.Threading.Tasks

/// How well an embedding keeps local neighbourhoods: scikit-learn's
/// `sklearn.manifold.trustworthiness(X, X_embedded, n_neighbors)` with Euclidean distances.
/// 1.0 means every embedded k-neighbourhood holds only original-space near neighbours.
module Trustworthiness =
    let compute (neighbours: int) (original: float[][]) (embedded: float[][]) : float =
        FeatureMatrix.Validate(original, "original") |> ignore
        FeatureMatrix.Validate(embedded, "embedded") |> ignore
        let n = original.Length
        if embedded.Length <> n then
            invalidArg "embedded" (sprintf "embedded has %d rows, original has %d" embedded.Length n)
        if neighbours < 1 || float neighbours >= float n / 2.0 then
            invalidArg "neighbours" (sprintf "neighbours = %d must be >= 1 and < N / 2 = %g" neighbours (float n / 2.0))
        let embeddedNeighbours, _ = NearestNeighbours.Find(embedded, neighbours)
        let penalty = Array.zeroCreate<float> n
        Parallel.For(0, n, fun i ->
            // Rank (1-based, self excluded) of every point by original-space distance from i.
            let dist = Array.init n (fun j -> if j = i then Double.PositiveInfinity else FeatureMatrix.SquaredDistance(original.[i], original.[j]))
            let order = Array.init n id
            Array.Sort(dist, order)
            let rank = Array.zeroCreate<int> n
            order |> Array.iteri (fun r j -> rank.[j] <- r + 1)
            let mutable t = 0.0
            for j in embeddedNeighbours.[i] do
                let excess = rank.[j] - neighbours
                if excess > 0 then t <- t + float excess
            penalty.[i] <- t) |> ignore
        let nf, kf = float n, float neighbours
        1.0 - Array.sum penalty * (2.0 / (nf * kf * (2.0 * nf - 3.0 * kf - 1.0)))
