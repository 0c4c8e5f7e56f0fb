/// Embeddings of a training session's validation records: K-Means and PCA (Ecg.Analysis), cluster x class
/// counts as a Deedle frame, and a PCA scatter chart.
///
/// Usage (after ./build.sh -t Build):
///   dotnet fsi scripts/explore-embeddings.fsx [--session N|latest] [--artifacts FOLDER] [--dataset NPZ]
///                                             [--clusters K] [--out FOLDER]
///
///   --session   training session (env ECG_SESSION; default latest)
///   --artifacts artifacts root (env ECG_ARTIFACTS; default ./artifacts)
///   --dataset   processed .npz (env ECG_DATASET; default: the file the session was trained on)
///   --clusters  K-Means clusters (env ECG_CLUSTERS; default: the number of classes)
///   --out       output folder (env ECG_SCRIPT_OUT; default <artifacts>/scripts/explore-embeddings/session_N)
///
/// Embeddings are the model's 128-d penultimate activations (`Embed`), computed here from the session's
/// best weights and standardisation; a model evaluated with windows embeds a record as the mean over the
/// same windows evaluation uses. Writes pca_clusters.html (plotly.js embedded, works offline).
#load "References.fsx"
#load ".references/Assemblies.fsx"

open System
open System.IO
open Deedle
open Plotly.NET
open TorchSharp
open Ecg.Data
open Ecg.Model
open Ecg.Analysis

let artifacts = References.artifactsRoot ()
let layout = ArtifactLayout artifacts
// "N" or "latest", resolved as every stage resolves it (a clear error listing the sessions otherwise).
let session =
    try TrainingSession.Open(layout, References.parameter "session" "ECG_SESSION" "latest")
    with :? UserError as e -> References.fail e.Message
let number = session.Number
let datasetPath =
    let recorded = if isNull session.Manifest.DataFile then layout.ProcessedDataset 100 else session.Manifest.DataFile
    Path.GetFullPath(References.parameter "dataset" "ECG_DATASET" recorded)
if not (File.Exists datasetPath) then References.fail (sprintf "No processed dataset at %s: pass --dataset." datasetPath)
// The session's own records, labels and leads (its task and lead subset), as every stage sees them.
let dataset = TrainingData.For(ProcessedDatasetFile.Read datasetPath, session)
let validation = session.SplitScheme.ValidationIndices dataset
if validation.Length < 3 then References.fail (sprintf "The validation split of %s has %d records; K-Means needs at least 3." datasetPath validation.Length)
let clusters = References.intParameter "clusters" "ECG_CLUSTERS" dataset.ClassNames.Length
let outputFolder =
    Path.GetFullPath(References.parameter "out" "ECG_SCRIPT_OUT" (Path.Combine(artifacts, "scripts", "explore-embeddings", sprintf "session_%d" number)))

/// (records, 128) embeddings of the validation records: the library's embedding stage (the session's
/// standardisation, windows averaged as `ecg embed` does, with its fault policy).
let embed () : float[][] =
    let set = EmbeddingStage.Compute(session, dataset, validation, "validation", WeightsChoice.Best, null, null, Threading.CancellationToken.None)
    set.Rows()

printfn "Session %d (%s): embedding %d validation records of %s" number session.Manifest.Config.Model validation.Length datasetPath
let rows = embed ()
if rows |> Array.exists (Array.exists Double.IsNaN) then References.fail "The embeddings contain NaN (see scripts/README.md, known issues)."
printfn "%d x %d embeddings" rows.Length rows.[0].Length

let kmeans = FeatureSpaceAlgorithms.KMeans(rows, clusters, 0)
let pca = FeatureSpaceAlgorithms.Pca(rows, 2)
printfn "K-Means (k = %d): inertia %.2f after %d iterations; PCA explained variance ratio %.3f, %.3f"
    clusters kmeans.Inertia kmeans.Iterations pca.ExplainedVarianceRatio.[0] pca.ExplainedVarianceRatio.[1]

// Cluster x class counts: one row per cluster, one column per class (multilabel: a record counts in each of its classes).
let ids = validation |> Array.map (fun i -> dataset.EcgIds.[i])
let classColumns =
    dataset.ClassNames |> Array.mapi (fun c name ->
        name, Series(ids, validation |> Array.map (fun i -> int dataset.Labels.[i * dataset.ClassNames.Length + c])))
let records =
    Frame.ofColumns classColumns
    |> Frame.addCol "cluster" (Series(ids, kmeans.Labels))
let counts =
    records
    |> Frame.aggregateRowsBy [ "cluster" ] dataset.ClassNames Stats.sum
    |> Frame.indexRowsInt "cluster"
    |> Frame.sortRowsByKey
let sizes = records.GetColumn<int>("cluster").Values |> Seq.countBy id |> Map.ofSeq
let countsWithSize = counts |> Frame.addCol "records" (counts.RowKeys |> Seq.map (fun k -> k, float sizes.[k]) |> series)
printfn "\nValidation records per cluster and class:"
countsWithSize.Print()

let chart =
    [ for k in 0 .. clusters - 1 do
        let members = kmeans.Labels |> Array.indexed |> Array.filter (fun (_, l) -> l = k) |> Array.map fst
        if members.Length > 0 then
            Chart.Point(
                x = (members |> Array.map (fun i -> pca.Projection.[i].[0])),
                y = (members |> Array.map (fun i -> pca.Projection.[i].[1])),
                Name = sprintf "cluster %d (%d)" k members.Length,
                MultiText = (members |> Array.map (fun i -> sprintf "ecg_id %d" ids.[i]))) ]
    |> Chart.combine
    |> Chart.withTitle (sprintf "Session %d: validation embeddings, PCA coloured by K-Means cluster" number)
    |> Chart.withXAxisStyle (TitleText = sprintf "PC 1 (%.1f%%)" (100.0 * pca.ExplainedVarianceRatio.[0]))
    |> Chart.withYAxisStyle (TitleText = sprintf "PC 2 (%.1f%%)" (100.0 * pca.ExplainedVarianceRatio.[1]))
    |> Chart.withDisplayOptionsStyle (PlotlyJSReference = PlotlyJSReference.Full)
Directory.CreateDirectory outputFolder |> ignore
let chartPath = Path.Combine(outputFolder, "pca_clusters.html")
// The page Chart.saveHtml would write, written atomically so a reader never sees half a page.
AtomicFile.WriteAllText(chartPath, GenericChart.toEmbeddedHTML chart)
printfn "\nwritten: %s" chartPath
