/// Explore a processed dataset with Deedle and plot one record's 12 leads.
///
/// Usage (after ./build.sh -t Build):
///   dotnet fsi scripts/explore-data.fsx [--dataset NPZ] [--out FOLDER] [--record ECG_ID]
///
///   --dataset  processed .npz (env ECG_DATASET; default <artifacts>/processed/ptbxl_100hz.npz,
///              artifacts = --artifacts, $ECG_ARTIFACTS or ./artifacts)
///   --out      folder for the chart (env ECG_SCRIPT_OUT; default <artifacts>/scripts/explore-data)
///   --record   ecg_id to plot (env ECG_RECORD; default: the first record)
///
/// Prints the metadata frame (joined with each record's label set), class counts, age statistics overall
/// and per class, and records per fold; writes record_<ecg_id>.html (12 stacked leads, mV vs seconds,
/// plotly.js embedded so it opens offline).
#load "References.fsx"
#load ".references/Assemblies.fsx"

open System
open System.IO
open Deedle
open Plotly.NET
open Ecg.Data

let artifacts = References.artifactsRoot ()
let datasetPath =
    Path.GetFullPath(References.parameter "dataset" "ECG_DATASET" ((ArtifactLayout artifacts).ProcessedDataset 100))
let outputFolder =
    Path.GetFullPath(References.parameter "out" "ECG_SCRIPT_OUT" (Path.Combine(artifacts, "scripts", "explore-data")))
if not (File.Exists datasetPath) then
    References.fail (sprintf "No processed dataset at %s: run `ecg preprocess --data <PTB-XL folder>` first, or pass --dataset." datasetPath)

// The records and labels of one benchmark task (--task, default the superclasses), as training sees them.
let task = try LabelTask.Parse(References.parameter "task" "ECG_TASK" "superdiagnostic") with :? ArgumentException as e -> References.fail e.Message
let dataset = (ProcessedDatasetFile.Read datasetPath).ForTask task
printfn "%s: %d records, %d samples x %d leads at %g Hz, classes %s"
    datasetPath dataset.RecordCount dataset.Samples dataset.Leads dataset.SamplingRate (String.Join(",", dataset.ClassNames))

// Metadata (one row per ecg_id, one 0/1 column per class) joined with each record's label set as text.
let metadata = ProcessedDatasetFrame.Metadata dataset
let labelSets =
    let names i =
        dataset.ClassNames |> Array.indexed |> Array.filter (fun (c, _) -> dataset.Labels.[i * dataset.ClassNames.Length + c] = 1uy)
        |> Array.map snd
    Frame.ofColumns [ "label_set" => Series(dataset.EcgIds, Array.init dataset.RecordCount (fun i -> String.Join("+", names i))) ]
let records = metadata.Join(labelSets, JoinKind.Left)
printfn "\nMetadata joined with label sets (first rows):"
records.Columns.[[ "strat_fold"; "age"; "sex"; "label_set" ]] |> Frame.take 5 |> fun f -> f.Print()

// Class counts: the class columns are 0/1, so their sums count positives (a record can have several).
let classCounts =
    dataset.ClassNames
    |> Array.map (fun c -> c, records.GetColumn<int>(c) |> Stats.sum)
    |> series
printfn "\nRecords per class (multilabel, so the sum exceeds %d):" dataset.RecordCount
classCounts.Print()

printfn "Most frequent label sets:"
records.GetColumn<string>("label_set").Values
|> Seq.countBy id |> Seq.sortByDescending snd |> Seq.truncate 8
|> Seq.iter (fun (set, n) -> printfn "  %-20s %d" (if set = "" then "(none)" else set) n)

// Age: NaN marks a missing age, which Deedle treats as a missing value.
let ages = records.GetColumn<float>("age")
printfn "\nAge: %d known, %d missing; mean %.1f, sd %.1f, median %.1f, min %.0f, max %.0f"
    (Stats.count ages) (records.RowCount - Stats.count ages) (Stats.mean ages) (Stats.stdDev ages) (Stats.median ages) (Stats.min ages) (Stats.max ages)

let perClass =
    dataset.ClassNames
    |> Array.map (fun c ->
        let members = records |> Frame.filterRowsBy c 1
        let memberAges = members.GetColumn<float>("age")
        let sexes = members.GetColumn<float>("sex")
        c, series [ "records", float members.RowCount
                    "mean_age", Math.Round(Stats.mean memberAges, 1)
                    "sd_age", Math.Round(Stats.stdDev memberAges, 1)
                    "share_sex_1", Math.Round(Stats.mean sexes, 3) ])
    |> Frame.ofRows
printfn "\nAge and sex (PTB-XL codes 0 = male, 1 = female) per class:"
perClass.Print()

printfn "Records per strat_fold:"
records.GetColumn<int>("strat_fold").Values |> Seq.countBy id |> Seq.sortBy fst
|> Seq.iter (fun (fold, n) -> printf " %d:%d" fold n)
printfn ""

// One record's 12 leads, stacked, in mV against seconds.
let index =
    match References.parameter "record" "ECG_RECORD" "" with
    | "" -> 0
    | text ->
        match Int32.TryParse text with
        | true, id when Array.contains id dataset.EcgIds -> Array.IndexOf(dataset.EcgIds, id)
        | _ -> References.fail (sprintf "--record %s: no record with that ecg_id in %s." text datasetPath)
let ecgId = dataset.EcgIds.[index]
let signal = dataset.Signal(index).ToArray()
let seconds = Array.init dataset.Samples (fun t -> float t / dataset.SamplingRate)
let leadCharts =
    dataset.LeadNames
    |> Array.mapi (fun lead name ->
        let millivolts = Array.init dataset.Samples (fun t -> float signal.[t * dataset.Leads + lead])
        Chart.Line(x = seconds, y = millivolts, Name = name)
        |> Chart.withYAxisStyle (TitleText = name + " (mV)")
        |> Chart.withXAxisStyle (TitleText = (if lead = dataset.Leads - 1 then "time (s)" else "")))
let labelText = records.GetColumn<string>("label_set").[ecgId]
let chart =
    leadCharts
    |> Chart.Grid(dataset.Leads, 1)
    |> Chart.withTitle (sprintf "ecg_id %d (%s), %g Hz" ecgId (if labelText = "" then "no class" else labelText) dataset.SamplingRate)
    |> Chart.withSize (1200, 180 * dataset.Leads)
    |> Chart.withDisplayOptionsStyle (PlotlyJSReference = PlotlyJSReference.Full)

Directory.CreateDirectory outputFolder |> ignore
let chartPath = Path.Combine(outputFolder, sprintf "record_%d.html" ecgId)
// The page Chart.saveHtml would write, written atomically so a reader never sees half a page.
AtomicFile.WriteAllText(chartPath, GenericChart.toEmbeddedHTML chart)
printfn "\nwritten: %s" chartPath
