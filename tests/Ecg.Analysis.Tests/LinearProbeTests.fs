module Ecg.Analysis.Tests.LinearProbeTests

open System
open Expecto
open Ecg.Analysis
open Ecg.Analysis.Tests.TestData

/// Rows of 4 blobs in 16-d; the class is the blob; a noisy linear function of the rows for regression.
let private data n seed =
    let rows = blobs n 16 4 3.0 1.0 seed
    rows, Array.init n (fun i -> float (i % 4))

let private options = { ProbeTrainingOptions.Default with Epochs = 40; BatchSize = 32; LearningRate = 1e-2; Seed = 3 }

[<Tests>]
let tests =
    testSequenced <| testList "LinearProbe" [
        test "softmax probe: training loss falls and separable blobs are learnt" {
            let rows, targets = data 400 11UL
            let fit = LinearProbe.train ProbeKind.Softmax 4 options rows.[0..299] targets.[0..299] rows.[300..] targets.[300..]
            let first, last = fit.History.[0], fit.History.[fit.History.Length - 1]
            Expect.equal first.Epoch 0 "epoch 0 is before training"
            Expect.isLessThan last.TrainLoss (first.TrainLoss * 0.5) (sprintf "loss %g -> %g" first.TrainLoss last.TrainLoss)
            let best = fit.History |> Array.find (fun h -> h.Epoch = fit.BestEpoch)
            Expect.equal best.ValidationScore (fit.History |> Array.map (fun h -> h.ValidationScore) |> Array.max) "best epoch has the best validation accuracy"
            Expect.isGreaterThan best.ValidationScore 0.9 "validation accuracy"
            // The plain-number model reproduces the accuracy torch measured for the selected epoch.
            let predicted = fit.Model.PredictClasses rows.[300..]
            let accuracy = Array.map2 (fun p t -> if float p = t then 1.0 else 0.0) predicted targets.[300..] |> Array.average
            Expect.floatClose Accuracy.medium accuracy best.ValidationScore "model.json weights give the selected epoch's accuracy"
        }

        test "same seed gives the same probe; another seed another one" {
            let rows, targets = data 120 5UL
            let run seed = LinearProbe.train ProbeKind.Softmax 4 { options with Epochs = 3; Seed = seed } rows.[0..89] targets.[0..89] rows.[90..] targets.[90..]
            Expect.equal (run 1).Model.Weight (run 1).Model.Weight "identical weights"
            Expect.notEqual (run 1).Model.Weight (run 2).Model.Weight "other seed"
        }

        test "sigmoid probe learns a binary target; regression probe reduces mean absolute error" {
            let rows, classes = data 300 7UL
            let binary = classes |> Array.map (fun c -> if c >= 2.0 then 1.0 else 0.0)
            let fit = LinearProbe.train ProbeKind.Sigmoid 2 options rows.[0..199] binary.[0..199] rows.[200..] binary.[200..]
            Expect.isLessThan fit.History.[fit.History.Length - 1].TrainLoss fit.History.[0].TrainLoss "sigmoid loss fell"
            Expect.isGreaterThan (fit.History |> Array.map (fun h -> h.ValidationScore) |> Array.max) 0.9 "sigmoid accuracy"
            let rng = Lcg(99UL)
            let values = rows |> Array.map (fun r -> 50.0 + 4.0 * r.[0] - 2.0 * r.[3] + 0.5 * rng.Gaussian())
            let regression = LinearProbe.train ProbeKind.Regression 1 options rows.[0..199] values.[0..199] rows.[200..] values.[200..]
            let h0 = regression.History.[0]
            let best = regression.History |> Array.find (fun h -> h.Epoch = regression.BestEpoch)
            Expect.isLessThan best.ValidationScore (h0.ValidationScore * 0.2) (sprintf "MAE %g -> %g" h0.ValidationScore best.ValidationScore)
            let predicted = regression.Model.PredictValues rows.[200..]
            let mae = Array.map2 (fun (p: float) t -> abs (p - t)) predicted values.[200..] |> Array.average
            Expect.floatClose Accuracy.medium mae best.ValidationScore "model.json reproduces the validation MAE"
        }

        test "a unit that fired once in training cannot throw a new record's prediction off" {
            // ReLU embeddings: feature 5 is zero on every training row but one (a tiny standard deviation),
            // and fires strongly on a new record; without clipping to the training range, that record would
            // sit thousands of deviations out.
            let rows, _ = data 200 13UL
            let rows = rows |> Array.mapi (fun i r -> Array.mapi (fun j v -> if j = 5 then (if i = 7 then 0.01 else 0.0) else v) r)
            let rng = Lcg(5UL)
            let values = rows |> Array.map (fun r -> 50.0 + 4.0 * r.[0] + 0.5 * rng.Gaussian())
            let fit = LinearProbe.train ProbeKind.Regression 1 options rows.[0..149] values.[0..149] rows.[150..] values.[150..]
            Expect.equal fit.Model.FeatureHigh.[5] 0.01 "training range kept"
            let outlier = Array.copy rows.[160]
            outlier.[5] <- 50.0
            let normal = fit.Model.PredictValues [| rows.[160] |]
            let clipped = fit.Model.PredictValues [| outlier |]
            Expect.isLessThan (abs (clipped.[0] - normal.[0])) 30.0 (sprintf "prediction %g vs %g without the outlier value" clipped.[0] normal.[0])
        }

        test "bad targets are rejected" {
            let rows, _ = data 20 1UL
            Expect.throwsT<ArgumentException> (fun () -> LinearProbe.train ProbeKind.Sigmoid 2 options rows (Array.create 20 2.0) [||] [||] |> ignore) "sigmoid needs 0/1"
            Expect.throwsT<ArgumentException> (fun () -> LinearProbe.train ProbeKind.Softmax 4 options rows (Array.create 20 4.0) [||] [||] |> ignore) "class index range"
        }
    ]
