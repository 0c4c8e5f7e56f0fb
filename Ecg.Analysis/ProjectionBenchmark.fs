namespace Ecg.Analysis

open System
open System.Diagnostics

[<CLIMutable>]
type ProjectionTimings =
    { Rows: int; Columns: int; TsneSeconds: float; UmapSeconds: float; KMeansSeconds: float; PcaSeconds: float
      TsneTrustworthiness: float; UmapTrustworthiness: float }

/// Times the projections on Gaussian blobs of embedding size, to check they fit the pipeline's budget.
module ProjectionBenchmark =
    /// `rows` points in `columns` dimensions around `centres` random centres (unit noise, centres
    /// drawn with standard deviation 4), from System.Random(seed).
    let blobs (rows: int) (columns: int) (centres: int) (seed: int) : float[][] =
        let rng = Random(seed)
        let gaussian () = sqrt (-2.0 * log (1.0 - rng.NextDouble())) * cos (2.0 * Math.PI * rng.NextDouble())
        let means = Array.init centres (fun _ -> Array.init columns (fun _ -> 4.0 * gaussian ()))
        Array.init rows (fun i -> Array.init columns (fun j -> means.[i % centres].[j] + gaussian ()))

    let run (rows: int) (columns: int) : ProjectionTimings =
        let data = blobs rows columns 5 1
        let time f =
            let sw = Stopwatch.StartNew()
            let r = f ()
            r, sw.Elapsed.TotalSeconds
        let _, pcaSeconds = time (fun () -> Pca.fit 2 data)
        let _, kmeansSeconds = time (fun () -> KMeans.fit (KMeansOptions.Default 5) data)
        let tsne, tsneSeconds = time (fun () -> Tsne.fit TsneOptions.Default data)
        let umap, umapSeconds = time (fun () -> Umap.fit UmapOptions.Default data)
        { Rows = rows; Columns = columns; TsneSeconds = tsneSeconds; UmapSeconds = umapSeconds
          KMeansSeconds = kmeansSeconds; PcaSeconds = pcaSeconds
          TsneTrustworthiness = Trustworthiness.compute 10 data tsne.Embedding
          UmapTrustworthiness = Trustworthiness.compute 10 data umap.Embedding }
