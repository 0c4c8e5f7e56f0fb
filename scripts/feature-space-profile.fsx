/// Where `ecg feature-space` spends its time and memory on a saved embeddings file: each algorithm of the stage
/// timed alone, with the process's peak RSS after it (Linux VmHWM, reset before each step where the kernel allows).
///
///   dotnet fsi scripts/feature-space-profile.fsx --embeddings <artifacts>/feature_space/session_N/embeddings_all.npz
///
///   --embeddings    the .npz that `ecg embed` wrote (ECG_EMBEDDINGS)
#load "References.fsx"
#load ".references/Assemblies.fsx"

open System
open System.Diagnostics
open System.IO
open Ecg.Analysis
open Ecg.Model

let path = References.parameter "embeddings" "ECG_EMBEDDINGS" ""
if path = "" || not (File.Exists path) then References.fail (sprintf "--embeddings '%s': no such file." path)
let set = EmbeddingFile.Read path
let rows = set.Rows()
printfn "%s: %d x %d" path rows.Length set.Dimension

let time name (f: unit -> 'T) =
    TrainingBenchmark.ResetPeakResidentMemory()
    let clock = Stopwatch.StartNew()
    let result = f ()
    printfn "%-44s %7.1f s   peak RSS %6.0f MiB" name clock.Elapsed.TotalSeconds (TrainingBenchmark.PeakResidentMegabytes())
    result

for k in [ 5; 4; 2 ] do
    time (sprintf "K-Means k = %d (10 restarts)" k) (fun () -> KMeans.fit (KMeansOptions.Default k) rows) |> ignore
time "PCA (2 components)" (fun () -> Pca.fit 2 rows) |> ignore
time "neighbours (NN-descent, k = 91)" (fun () -> NearestNeighbours.Approximate(rows, 91, 0)) |> ignore
let tsne = time "t-SNE (automatic gradient)" (fun () -> Tsne.fit TsneOptions.Default rows)
printfn "  t-SNE: %A gradient, %d iterations, KL %.4f" tsne.Gradient tsne.Iterations tsne.KlDivergence
let umap = time "UMAP" (fun () -> Umap.fit UmapOptions.Default rows)
time "trustworthiness@5 (sampled)" (fun () -> Trustworthiness.estimate 5 rows tsne.Embedding) |> printfn "  %.4f"
