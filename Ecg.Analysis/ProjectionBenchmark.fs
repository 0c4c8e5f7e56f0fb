namespace Ecg.Analysis

open System
open System.Diagnostics

[<CLIMutable>]
type ProjectionTimings =
    { Rows: int; Columns: int; TsneSeconds: float; UmapSeconds: float; KMeansSeconds: float; PcaSeconds: float
      TsneTrustworthiness: float; UmapTrustworthiness: float
      /// t-SNE's two parts: neighbours and P, then the gradient descent.
      TsneAffinitySeconds: float; TsneOptimisationSeconds: float
      /// How t-SNE summed its repulsive forces (Automatic's choice for `Rows`).
      TsneGradient: TsneGradient }

/// One neighbour-search comparison: the same projection with exact and with approximate neighbours.
[<CLIMutable>]
type NeighbourSearchTiming =
    { Projection: string; Rows: int; Columns: int; Search: NeighbourSearch; Seconds: float
      /// Trustworthiness (10 neighbours) as `Trustworthiness.estimate` gives it: exact up to
      /// `Trustworthiness.SampleLimit` rows, else on `Trustworthiness.DefaultSampleSize` sampled points.
      Trustworthiness: float }

/// One t-SNE repulsion method on one input: time, trustworthiness (as `NeighbourSearchTiming`) and KL divergence.
[<CLIMutable>]
type TsneGradientTiming =
    { Rows: int; Columns: int; Gradient: TsneGradient; Seconds: float; AffinitySeconds: float
      Trustworthiness: float; KlDivergence: float }

/// Times the projections on Gaussian blobs of embedding size, to check they fit the pipeline's budget.
module ProjectionBenchmark =
    /// `rows` points in `columns` dimensions around `centres` random centres (unit noise, centres
    /// drawn with standard deviation 4), from System.Random(seed).
    let blobs (rows: int) (columns: int) (centres: int) (seed: int) : float[][] =
        let rng = Random(seed)
        let gaussian () = sqrt (-2.0 * log (1.0 - rng.NextDouble())) * cos (2.0 * Math.PI * rng.NextDouble())
        let means = Array.init centres (fun _ -> Array.init columns (fun _ -> 4.0 * gaussian ()))
        Array.init rows (fun i -> Array.init columns (fun j -> means.[i % centres].[j] + gaussian ()))

    let private time f =
        let sw = Stopwatch.StartNew()
        let r = f ()
        r, sw.Elapsed.TotalSeconds

    /// K-Means (k = 5), PCA, t-SNE and UMAP (default options, so approximate neighbours above 4,096 rows) on
    /// `data`; trustworthiness by `Trustworthiness.estimate`.
    let runOn (data: float[][]) : ProjectionTimings =
        let rows, columns = data.Length, (if data.Length = 0 then 0 else data.[0].Length)
        let _, pcaSeconds = time (fun () -> Pca.fit 2 data)
        let _, kmeansSeconds = time (fun () -> KMeans.fit (KMeansOptions.Default 5) data)
        let tsne, tsneSeconds = time (fun () -> Tsne.fit TsneOptions.Default data)
        let umap, umapSeconds = time (fun () -> Umap.fit UmapOptions.Default data)
        { Rows = rows; Columns = columns; TsneSeconds = tsneSeconds; UmapSeconds = umapSeconds
          KMeansSeconds = kmeansSeconds; PcaSeconds = pcaSeconds
          TsneTrustworthiness = Trustworthiness.estimate 10 data tsne.Embedding
          UmapTrustworthiness = Trustworthiness.estimate 10 data umap.Embedding; TsneGradient = tsne.Gradient
          TsneAffinitySeconds = tsne.AffinitySeconds; TsneOptimisationSeconds = tsne.OptimisationSeconds }

    /// runOn `blobs rows columns 5 1`.
    let run (rows: int) (columns: int) : ProjectionTimings = runOn (blobs rows columns 5 1)

    /// UMAP and/or t-SNE ("umap", "tsne") on `data` once per search in `searches`, in the order given.
    let compareSearches (data: float[][]) (projections: string list) (searches: NeighbourSearch list) : NeighbourSearchTiming list =
        [ for projection in projections do
            for search in searches do
                let embedding, seconds =
                    match projection with
                    | "umap" -> time (fun () -> (Umap.fit { UmapOptions.Default with NeighbourSearch = search } data).Embedding)
                    | "tsne" -> time (fun () -> (Tsne.fit { TsneOptions.Default with NeighbourSearch = search } data).Embedding)
                    | other -> invalidArg "projections" (sprintf "unknown projection '%s' (umap, tsne)" other)
                yield { Projection = projection; Rows = data.Length; Columns = data.[0].Length; Search = search
                        Seconds = seconds; Trustworthiness = Trustworthiness.estimate 10 data embedding } ]

    /// t-SNE (default options otherwise) on `data` once per repulsion method in `gradients`, in the order given.
    let compareGradients (data: float[][]) (gradients: TsneGradient list) : TsneGradientTiming list =
        [ for gradient in gradients do
            let r, seconds = time (fun () -> Tsne.fit { TsneOptions.Default with Gradient = gradient } data)
            yield { Rows = data.Length; Columns = data.[0].Length; Gradient = r.Gradient; Seconds = seconds
                    AffinitySeconds = r.AffinitySeconds; Trustworthiness = Trustworthiness.estimate 10 data r.Embedding
                    KlDivergence = r.KlDivergence } ]

    /// Neighbour search alone: seconds for the exact and the approximate k-NN, and the recall of the latter.
    let neighbourRecall (data: float[][]) (k: int) : float * float * float =
        let (exact, _), exactSeconds = time (fun () -> NearestNeighbours.Find(data, k))
        let (approx, _), approxSeconds = time (fun () -> NearestNeighbours.Approximate(data, k, 0))
        let hits = Array.map2 (fun (e: int[]) (a: int[]) -> (Set.ofArray e |> Set.intersect (Set.ofArray a)).Count) exact approx |> Array.sum
        exactSeconds, approxSeconds, float hits / float (data.Length * k)
