module Ecg.Model.Tests.TrainingTests

open System.IO
open Expecto
open Ecg.Data
open Ecg.Model
open Ecg.Model.Tests.TrainingFixtures

/// Small and fast: 60 synthetic records of 200 samples, batch 16, Adam at a rate that learns in a few epochs.
let smallConfig epochs =
    TrainingConfig(Epochs = epochs, BatchSize = 16, LearningRate = 3e-3, Device = "cpu", Threads = 2, Seed = 11L)

/// The benchmark recipe scaled to 200-sample synthetic records (C# records cannot be copied with `with` from F#).
let smallBenchmark epochs =
    TrainingConfig(Preset = "benchmark", Optimizer = "adamw", WeightDecay = 1e-2, Epsilon = 1e-8, OneCycleMaxLearningRate = 1e-2,
                   CropLength = 100, EvalWindow = 100, EvalStride = 50, Standardisation = "global",
                   Epochs = epochs, BatchSize = 16, Device = "cpu", Threads = 2, Seed = 5L)

/// Copies a config changing some fields, through its JSON (F# cannot use C#'s `with` on records).
let modify (config: TrainingConfig) (changes: (string * obj) list) =
    let node = System.Text.Json.Nodes.JsonNode.Parse(config.ToJson()).AsObject()
    for name, value in changes do node.[name] <- System.Text.Json.Nodes.JsonValue.Create(value)
    TrainingConfig.FromJson(node.ToJsonString())

let quiet = TrainingOptions(WriteReports = false)

let sameBytes (a: string) (b: string) = File.ReadAllBytes a = File.ReadAllBytes b

/// metrics.csv without the timing and memory columns (the last three), which differ between runs.
let private metricsWithoutTimings (session: TrainingSession) =
    File.ReadAllLines session.MetricsPath |> Array.map (fun l -> l.Split(',') |> Array.rev |> Array.skip 3 |> Array.rev |> String.concat ",")

[<Tests>]
let tests =
    testSequenced <| testList "Training" [
        test "same seed twice gives identical weights after one epoch" {
            let data = synthetic 60 200 1
            let run () = Trainer.Start(temporaryArtifacts (), smallConfig 1, data, SplitScheme.Benchmark, options = quiet)
            let a, b = run (), run ()
            Expect.isTrue (sameBytes (a.Session.EpochWeightsPath 1) (b.Session.EpochWeightsPath 1)) "epoch_001.bin identical"
            Expect.equal a.History.[0].TrainLoss b.History.[0].TrainLoss "training loss identical"
            let c = Trainer.Start(temporaryArtifacts (), (modify (smallConfig 1) [ "seed", box 12L ]), data, SplitScheme.Benchmark, options = quiet)
            Expect.isFalse (sameBytes (a.Session.EpochWeightsPath 1) (c.Session.EpochWeightsPath 1)) "another seed gives other weights"
        }

        test "a dataset mapped from a signals file on disk trains to the same weights as in memory" {
            let data = synthetic 60 200 7
            let folder = temporaryArtifacts ()
            let npz = Path.Combine(folder, "mapped.npz")
            ProcessedDatasetFile.Write(npz, data, System.IO.Compression.CompressionLevel.Fastest, true)
            use mapped = ProcessedDatasetFile.Read npz
            Expect.isNotNull mapped.Signals.FilePath "signals mapped from disk"
            // The benchmark recipe reads signals three ways: global standardisation, random crops, evaluation windows.
            let run d = Trainer.Start(temporaryArtifacts (), smallBenchmark 1, d, SplitScheme.Benchmark, options = quiet)
            let a, b = run data, run mapped
            Expect.isTrue (sameBytes (a.Session.EpochWeightsPath 1) (b.Session.EpochWeightsPath 1)) "epoch_001.bin identical"
            Expect.equal a.History.[0].ValidationMacroAuc b.History.[0].ValidationMacroAuc "validation AUC identical"
        }

        test "resume: 1 epoch, stop, resume 1 equals 2 epochs straight (benchmark preset: crops, windows, one-cycle, AdamW)" {
            let data = synthetic 60 200 2
            let config = smallBenchmark 2
            let straight = Trainer.Start(temporaryArtifacts (), config, data, SplitScheme.Benchmark, options = quiet)
            let artifacts = temporaryArtifacts ()
            let first = Trainer.Start(artifacts, config, data, SplitScheme.Benchmark, options = TrainingOptions(WriteReports = false, StopAfterEpoch = 1))
            Expect.isFalse first.Finished "stopped after epoch 1"
            Expect.isFalse (File.Exists(first.Session.EpochWeightsPath 2)) "no epoch 2 yet"
            let resumed = Trainer.Run(TrainingSession.Open first.Session.Folder, data, quiet)
            Expect.isTrue resumed.Finished "resumed run finished"
            Expect.isTrue (sameBytes (straight.Session.EpochWeightsPath 2) (resumed.Session.EpochWeightsPath 2)) "epoch_002.bin identical"
            Expect.isTrue (sameBytes straight.Session.BestWeightsPath resumed.Session.BestWeightsPath) "best.bin identical"
            Expect.sequenceEqual (metricsWithoutTimings resumed.Session) (metricsWithoutTimings straight.Session) "metrics.csv identical"
            Expect.equal resumed.BestEpoch straight.BestEpoch "best epoch"
        }

        test "training loss falls and validation AUC beats chance on learnable synthetic data" {
            let data = synthetic 200 200 3
            let result = Trainer.Start(temporaryArtifacts (), smallConfig 4, data, SplitScheme.Benchmark, options = quiet)
            let losses = result.History |> Seq.map (fun m -> m.TrainLoss) |> Seq.toList
            Expect.isLessThan (List.last losses) (List.head losses) (sprintf "training loss fell: %A" losses)
            Expect.isGreaterThan (result.History |> Seq.map (fun m -> m.ValidationMacroAuc) |> Seq.max) 0.7 "validation macro AUC"
        }

        test "memory stays flat over epochs" {
            let data = synthetic 120 500 4
            let result = Trainer.Start(temporaryArtifacts (), (modify (smallConfig 6) [ "batch_size", box 32 ]), data, SplitScheme.Benchmark, options = quiet)
            let growth = result.LastEpochResidentMegabytes - result.FirstEpochResidentMegabytes
            printfn "RSS after epoch 1: %.0f MiB, after epoch 6: %.0f MiB" result.FirstEpochResidentMegabytes result.LastEpochResidentMegabytes
            Expect.isLessThan growth 40.0 "RSS growth between epoch 1 and epoch 6 (MiB)"
        }

        test "early stopping ends the run when validation AUC stops improving" {
            let data = synthetic 60 200 5
            // A learning rate of ~0 cannot improve after epoch 1, so patience 2 stops at epoch 3.
            let config = modify (smallConfig 10) [ "learning_rate", box 1e-12; "early_stopping_patience", box 2 ]
            let result = Trainer.Start(temporaryArtifacts (), config, data, SplitScheme.Benchmark, options = quiet)
            Expect.isTrue result.StoppedEarly "stopped early"
            Expect.isLessThan result.History.Count 10 "fewer epochs than configured"
        }

        test "progress callback reports every batch with a rate and an ETA" {
            let data = synthetic 60 200 6
            let ticks = System.Collections.Generic.List<TrainingProgress>()
            let options = TrainingOptions(WriteReports = false, Progress = System.Action<TrainingProgress>(ticks.Add))
            Trainer.Start(temporaryArtifacts (), smallConfig 1, data, SplitScheme.Benchmark, options = options) |> ignore
            let train = ticks |> Seq.filter (fun t -> t.Phase = "train") |> Seq.toList
            // 48 training records (folds 1-8) at batch 16: 3 batches.
            Expect.equal train.Length 3 "one tick per batch"
            Expect.isTrue (train |> List.forall (fun t -> t.SamplesPerSecond > 0.0 && t.Batches = 3)) "rates"
            Expect.isTrue (ticks |> Seq.exists (fun t -> t.Phase = "validate")) "validation ticks"
        }

        test "class weights are negatives over positives per class" {
            // 4 records, 2 classes: class 0 has 1 positive, class 1 has 2.
            let w = Trainer.PositiveWeights([| 1uy; 1uy; 0uy; 1uy; 0uy; 0uy; 0uy; 0uy |], 2)
            Expect.sequenceEqual w [| 3.0f; 1.0f |] "pos_weight"
        }
    ]
