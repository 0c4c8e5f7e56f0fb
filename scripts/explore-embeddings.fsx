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
let sessionsRoot = TrainingSession.SessionsRoot artifacts
let numbers =
    if Directory.Exists sessionsRoot then
        Directory.GetDirectories(sessionsRoot, TrainingSession.FolderPrefix + "*")
        |> Array.choose (fun d ->
            match Int32.TryParse(Path.GetFileName(d).Substring(TrainingSession.FolderPrefix.Length)) with
            | true, n when File.Exists(Path.Combine(d, "config.json")) -> Some n
            | _ -> None)
        |> Array.sort
    else [||]
let number =
    match References.parameter "session" "ECG_SESSION" "latest" with
    | "latest" when numbers.Length > 0 -> numbers.[numbers.Length - 1]
    | "latest" -> References.fail (sprintf "No training session in %s (run `ecg train` or scripts/train-short.fsx)." sessionsRoot)
    | text ->
        match Int32.TryParse text with
        | true, n when Array.contains n numbers -> n
        | _ -> References.fail (sprintf "Training session '%s' not found in %s (existing: %A)." text sessionsRoot numbers)
let session = TrainingSession.Open(Path.Combine(sessionsRoot, TrainingSession.FolderPrefix + string number))
let datasetPath =
    let recorded = if isNull session.Manifest.DataFile then Path.Combine(artifacts, "processed", "ptbxl_100hz.npz") else session.Manifest.DataFile
    Path.GetFullPath(References.parameter "dataset" "ECG_DATASET" recorded)
if not (File.Exists datasetPath) then References.fail (sprintf "No processed dataset at %s: pass --dataset." datasetPath)
let dataset = ProcessedDatasetFile.Read datasetPath
let validation = session.SplitScheme.ValidationIndices dataset
if validation.Length < 3 then References.fail (sprintf "The validation split of %s has %d records; K-Means needs at least 3." datasetPath validation.Length)
let clusters = References.intParameter "clusters" "ECG_CLUSTERS" dataset.ClassNames.Length
let outputFolder =
    Path.GetFullPath(References.parameter "out" "ECG_SCRIPT_OUT" (Path.Combine(artifacts, "scripts", "explore-embeddings", sprintf "session_%d" number)))

/// (records, 128) embeddings, batch by batch, without gradients.
let embed () : float[][] =
    let config = session.Manifest.Config
    let standardisation = session.LoadStandardisation()
    use model = ModelFactory.Create(config, dataset.Leads, dataset.ClassNames.Length)
    model.load(session.BestWeightsPath) |> ignore
    model.eval()
    let embedOf (x: torch.Tensor) : torch.Tensor =
        match box model with
        | :? CrossLeadCnn as cnn -> cnn.Embed x
        | :? Ecg.Model.Architectures.IEcgNetwork as network -> network.Embed x
        | _ -> References.fail (sprintf "Model '%s' has no Embed." config.Model)
    use _ = torch.no_grad()
    [| for offset in 0 .. config.BatchSize .. validation.Length - 1 do
        use scope = torch.NewDisposeScope()
        let count = min config.BatchSize (validation.Length - offset)
        let values = Array.zeroCreate<float32> (count * dataset.RecordLength)
        for k in 0 .. count - 1 do dataset.Signal(validation.[offset + k]).Span.CopyTo(values.AsSpan(k * dataset.RecordLength))
        let input =
            torch.tensor(values, ReadOnlySpan<int64>([| int64 count; int64 dataset.Samples; int64 dataset.Leads |])).permute(0L, 2L, 1L).contiguous()
                .sub((float32 standardisation.Mean).ToScalar()).div((float32 standardisation.Std).ToScalar())
        let embedded =
            let window = config.EvalWindow
            if not window.HasValue || window.Value >= dataset.Samples then embedOf input
            else
                let stride = if config.EvalStride.HasValue then config.EvalStride.Value else window.Value
                let starts = WindowedInference.WindowStarts(int64 dataset.Samples, int64 window.Value, int64 stride)
                torch.stack([| for s in starts -> embedOf (input.narrow(-1L, s, int64 window.Value)) |]).mean([| 0L |])
        yield! FeatureMatrix.OfRowMajor(embedded.contiguous().data<float32>().ToArray(), count, int embedded.shape.[1]) |]

printfn "Session %d (%s): embedding %d validation records of %s" number session.Manifest.Config.Model validation.Length datasetPath
let rows = embed ()
if rows |> Array.exists (Array.exists Double.IsNaN) then References.fail "The embeddings contain NaN (see scripts/README.md, known issues)."
printfn "%d x %d embeddings" rows.Length rows.[0].Length

let kmeans = FeatureSpace.KMeans(rows, clusters, 0)
let pca = FeatureSpace.Pca(rows, 2)
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
