/// Train a short session with Ecg.Model's Trainer and print each epoch's metrics.
///
/// Usage (after ./build.sh -t Build):
///   dotnet fsi scripts/train-short.fsx [--dataset NPZ] [--artifacts FOLDER] [--epochs N] [--preset NAME]
///                                      [--batch-size N] [--seed N] [--threads N]
///
///   --dataset     processed .npz (env ECG_DATASET; default <artifacts>/processed/ptbxl_100hz.npz)
///   --artifacts   artifacts root the session goes under (env ECG_ARTIFACTS; default ./artifacts)
///   --epochs      epochs (env ECG_EPOCHS; default 2)
///   --preset      benchmark, cpu or seed (env ECG_PRESET; default benchmark)
///   --batch-size  batch size (env ECG_BATCH_SIZE; default: the preset's)
///   --seed        random seed (env ECG_SEED; default: the preset's)
///   --threads     CPU threads for torch (env ECG_THREADS; default: all cores)
///
/// The session is an ordinary one (<artifacts>/training_sessions/session_N/, as `ecg train` makes):
/// `ecg evaluate`, `ecg report` and scripts/explore-embeddings.fsx can read it.
#load "References.fsx"
#load ".references/Assemblies.fsx"

open System
open System.IO
open System.Text.Json.Nodes
open Ecg.Data
open Ecg.Model

let artifacts = References.artifactsRoot ()
let datasetPath =
    Path.GetFullPath(References.parameter "dataset" "ECG_DATASET" ((ArtifactLayout artifacts).ProcessedDataset 100))
let epochs = References.intParameter "epochs" "ECG_EPOCHS" 2
let presetName = References.parameter "preset" "ECG_PRESET" "benchmark"
if not (File.Exists datasetPath) then
    References.fail (sprintf "No processed dataset at %s: run `ecg preprocess --data <PTB-XL folder>` first, or pass --dataset." datasetPath)

let file = ProcessedDatasetFile.Read datasetPath
let preset =
    try TrainingConfig.FromPreset(presetName).ForSamplingRate(file.SamplingRate)
    with :? ArgumentException as e -> References.fail e.Message

// TrainingConfig is a C# record: F# has no `with` for it, so the overrides go through its JSON form
// (snake_case names, as in a session's config.json).
let config =
    let json = JsonNode.Parse(preset.ToJson())
    json.["epochs"] <- JsonValue.Create epochs
    match References.parameter "batch-size" "ECG_BATCH_SIZE" "" with
    | "" -> ()
    | _ -> json.["batch_size"] <- JsonValue.Create(References.intParameter "batch-size" "ECG_BATCH_SIZE" 0)
    match References.parameter "seed" "ECG_SEED" "" with
    | "" -> ()
    | _ -> json.["seed"] <- JsonValue.Create(int64 (References.intParameter "seed" "ECG_SEED" 0))
    match References.parameter "threads" "ECG_THREADS" "" with
    | "" -> ()
    | _ -> json.["threads"] <- JsonValue.Create(References.intParameter "threads" "ECG_THREADS" 0)
    let config = TrainingConfig.FromJson(json.ToJsonString())
    try config.Validate() with :? ArgumentException as e -> References.fail e.Message
// The config's task and leads applied to the file's records, as `ecg train` does.
let dataset = TrainingData.For(file, config)

let split = SplitScheme.Benchmark
printfn "Training %s (%s preset) for %d epoch(s), batch %d, on %s: %d train / %d validation records"
    config.Model config.Preset config.Epochs config.BatchSize datasetPath
    (split.TrainIndices(dataset).Length) (split.ValidationIndices(dataset).Length)

let classNames = dataset.ClassNames
printfn "%5s %10s %10s %9s %s %8s %9s" "epoch" "train_loss" "val_loss" "macro_auc"
    (String.Join(" ", classNames |> Array.map (sprintf "%6s"))) "seconds" "samples/s"
let printEpoch (m: EpochMetrics) =
    let perClass = m.ValidationAucPerClass |> Array.map (sprintf "%6.3f")
    printfn "%5d %10.4f %10.4f %9.4f %s %8.1f %9.0f"
        m.Epoch m.TrainLoss m.ValidationLoss m.ValidationMacroAuc (String.Join(" ", perClass)) m.Seconds m.TrainSamplesPerSecond

let options = TrainingOptions(EpochCompleted = Action<EpochMetrics> printEpoch)
let result = Trainer.Start(artifacts, config, dataset, split, datasetPath, sprintf "scripts/train-short.fsx, %d epoch(s)" epochs, options)
printfn "Session %d: %s" result.Session.Number result.Session.Folder
printfn "best epoch %d; metrics.csv, Loss.html, AUC.html and weights/ are in the session folder" result.BestEpoch
