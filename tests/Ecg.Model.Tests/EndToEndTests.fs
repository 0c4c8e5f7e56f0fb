/// Trains on the real 400-record PTB-XL sample (read by the test-only WFDB reader in TrainingFixtures).
module Ecg.Model.Tests.EndToEndTests

open System
open Expecto
open Ecg.Data
open Ecg.Model
open Ecg.Model.Tests.TrainingFixtures

/// The end-to-end run: 5 epochs on the sample, 2.5 s crops, global standardisation, Adam 1e-3.
let private sampleConfig (seed: int64) =
    TrainingConfig(Preset = "custom", Epochs = 5, BatchSize = 32, LearningRate = 1e-3, Standardisation = "global", CropLength = 250,
                   Device = "cpu", Threads = 2, Seed = seed)

// The floors, measured with the opt-in test below over seeds 1-8 (Release, 2 threads):
//   best validation macro AUC  0.8464 0.8645 0.8431 0.8853 0.8566 0.8454 0.8532 0.8606  (min 0.843, mean 0.857, sd 0.014)
//   test macro AUC, best epoch 0.8016 0.7936 0.7901 0.7880 0.7864 0.7639 0.7923 0.7920  (min 0.764, mean 0.789, sd 0.011)
// Seed 3 (the test's) gave 0.8431 and 0.7901. Each floor sits about 0.04 (3 sd) below the lowest seed, leaving room for
// another CPU's float results, and far above chance (0.5): a model that learns nothing, or a broken pipeline, fails.

/// Best validation macro AUC over the 5 epochs must reach this (62 validation records, fold 9; 53 test records, fold 10).
let bestValidationAucFloor = 0.80

/// Test macro AUC of the best epoch's weights must reach this.
let testAucFloor = 0.72

[<Tests>]
let tests =
    testSequenced <| testList "EndToEnd" [
        test "PTB-XL sample: 5 epochs lower the training loss and lift validation and test macro AUC to measured floors" {
            let data = ptbxlSample ()
            Expect.isGreaterThan data.RecordCount 300 "records with a superclass"
            let config = sampleConfig 3L
            let result = Trainer.Start(temporaryArtifacts (), config, data, SplitScheme.Benchmark, notes = "end-to-end test")
            let history = result.History |> Seq.toList
            for m in history do printfn "%s" (m.ToLogLine config.Epochs)
            Expect.isLessThan (List.last history).TrainLoss (List.head history).TrainLoss "training loss fell"
            let bestAuc = history |> List.map (fun m -> m.ValidationMacroAuc) |> List.max
            Expect.isGreaterThanOrEqual bestAuc bestValidationAucFloor "best validation macro AUC reaches the measured floor"
            let test = Evaluator.Evaluate(result.Session, data, DataSplit.Test, WeightsChoice.Best)
            printfn "test macro AUC (best epoch %d): %.4f" result.BestEpoch test.MacroAuc
            Expect.isGreaterThanOrEqual test.MacroAuc testAucFloor "test macro AUC of the best weights reaches the measured floor"
        }

        // Where the floors come from: the same run over several seeds (minutes each on 2 cores), run on purpose with
        // ECG_AUC_FLOOR_SEEDS=1,2,3,4 dotnet tests/Ecg.Model.Tests/bin/Release/net10.0/Ecg.Model.Tests.dll --filter-test-case "floors over seeds"
        test "floors over seeds (opt-in measurement)" {
            let seeds = Environment.GetEnvironmentVariable "ECG_AUC_FLOOR_SEEDS"
            if String.IsNullOrWhiteSpace seeds then skiptest "set ECG_AUC_FLOOR_SEEDS=1,2,3 to measure"
            let data = ptbxlSample ()
            for seed in seeds.Split(',', StringSplitOptions.RemoveEmptyEntries) |> Array.map int64 do
                let result = Trainer.Start(temporaryArtifacts (), sampleConfig seed, data, SplitScheme.Benchmark, options = TrainingOptions(WriteReports = false))
                let aucs = result.History |> Seq.map (fun m -> m.ValidationMacroAuc) |> Seq.toArray
                let test = Evaluator.Evaluate(result.Session, data, DataSplit.Test, WeightsChoice.Best)
                printfn "seed %d: validation macro AUC per epoch %s; best epoch %d; test macro AUC %.4f; train loss %.4f -> %.4f"
                    seed (aucs |> Array.map (sprintf "%.4f") |> String.concat " ") result.BestEpoch test.MacroAuc
                    result.History.[0].TrainLoss result.History.[result.History.Count - 1].TrainLoss
        }
    ]
