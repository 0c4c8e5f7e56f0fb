/// Trains on the real 400-record PTB-XL sample (read by the test-only WFDB reader in TrainingFixtures).
module Ecg.Model.Tests.EndToEndTests

open Expecto
open Ecg.Data
open Ecg.Model
open Ecg.Model.Tests.TrainingFixtures

[<Tests>]
let tests =
    testSequenced <| testList "EndToEnd" [
        test "PTB-XL sample: a few epochs lower the training loss and lift validation AUC above chance" {
            let data = ptbxlSample ()
            Expect.isGreaterThan data.RecordCount 300 "records with a superclass"
            let config =
                TrainingConfig(Preset = "custom", Epochs = 5, BatchSize = 32, LearningRate = 1e-3, Standardisation = "global", CropLength = 250,
                               Device = "cpu", Threads = 2, Seed = 3L)
            let result = Trainer.Start(temporaryArtifacts (), config, data, SplitScheme.Benchmark, notes = "end-to-end test")
            let history = result.History |> Seq.toList
            for m in history do printfn "%s" (m.ToLogLine config.Epochs)
            Expect.isLessThan (List.last history).TrainLoss (List.head history).TrainLoss "training loss fell"
            let bestAuc = history |> List.map (fun m -> m.ValidationMacroAuc) |> List.max
            Expect.isGreaterThan bestAuc 0.5 "validation macro AUC above chance"
            let test = Evaluator.Evaluate(result.Session, data, DataSplit.Test, WeightsChoice.Best)
            printfn "test macro AUC (best epoch %d): %.4f" result.BestEpoch test.MacroAuc
        }
    ]
