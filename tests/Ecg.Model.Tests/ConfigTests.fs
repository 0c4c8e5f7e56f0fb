module Ecg.Model.Tests.ConfigTests

open Expecto
open Ecg.Model
open Ecg.Model.Tests.TrainingFixtures

[<Tests>]
let tests =
    testList "TrainingConfig" [
        test "seed preset is the original notebooks' training" {
            let c = TrainingConfig.FromPreset "seed"
            Expect.equal (c.Optimizer, c.LearningRate, c.Beta1, c.Beta2, c.Epsilon, c.BatchSize, c.Epochs) ("adam", 1e-4, 0.9, 0.999, 1e-7, 512, 100) "Adam settings"
            Expect.equal (c.CropLength, c.EvalWindow, c.Standardisation) (System.Nullable(), System.Nullable(), "none") "full 10 s input, no standardisation"
        }
        test "benchmark preset: 2.5 s crops, 1.25 s stride, global standardisation, one-cycle 1e-2, AdamW 1e-2" {
            let c = TrainingConfig.FromPreset "benchmark"
            Expect.equal (c.CropLength, c.EvalWindow, c.EvalStride) (System.Nullable 250, System.Nullable 250, System.Nullable 125) "100 Hz windows"
            Expect.equal (c.Optimizer, c.WeightDecay, c.OneCycleMaxLearningRate, c.BatchSize, c.Epochs) ("adamw", 1e-2, System.Nullable 1e-2, 128, 50) "optimizer"
            Expect.equal c.Standardisation "global" "standardisation"
            Expect.equal (c.ForSamplingRate 500.0).CropLength (System.Nullable 1250) "500 Hz crops"
        }
        test "cpu preset: the benchmark recipe in 12 epochs with mean window aggregation" {
            let c = TrainingConfig.FromPreset "cpu"
            let b = TrainingConfig.FromPreset "benchmark"
            Expect.equal (c.Preset, c.Epochs, c.EvalAggregation) ("cpu", 12, "mean") "what differs"
            Expect.equal (c.CropLength, c.EvalWindow, c.EvalStride, c.Optimizer, c.WeightDecay, c.OneCycleMaxLearningRate, c.BatchSize, c.Standardisation)
                         (b.CropLength, b.EvalWindow, b.EvalStride, b.Optimizer, b.WeightDecay, b.OneCycleMaxLearningRate, b.BatchSize, b.Standardisation) "the rest is the benchmark's"
            Expect.sequenceEqual TrainingConfig.PresetNames [ "seed"; "benchmark"; "cpu" ] "names"
            c.Validate() |> ignore
        }
        test "JSON round trip keeps every field" {
            let c = TrainingConfig(Preset = "benchmark", CropLength = 250, EarlyStoppingPatience = 5, Threads = 3, ClassWeights = true, OneCycleMaxLearningRate = 0.01, OneCycleCycles = 3)
            let back = TrainingConfig.FromJson(c.ToJson())
            Expect.equal back c "round trip"
            Expect.stringContains (c.ToJson()) "\"one_cycle_max_learning_rate\": 0.01" "snake_case names"
        }
        test "bad values are refused with the field's name" {
            let e = Expect.throwsC (fun () -> TrainingConfig(Optimizer = "sgd").Validate() |> ignore) id
            Expect.stringContains e.Message "optimizer" "names the field"
            Expect.throwsT<System.ArgumentException> (fun () -> TrainingConfig.FromPreset "fast" |> ignore) "unknown preset"
        }
        test "one-cycle schedule: max/25 at start, max at 30%, max/25e4 at the end, beta1 cycled" {
            let s = OneCycleSchedule(1e-2, 100L)
            let struct (lr0, b0) = s.At 0L
            Expect.floatClose Accuracy.veryHigh lr0 4e-4 "initial lr"
            Expect.floatClose Accuracy.veryHigh b0 0.95 "initial beta1"
            let struct (lrPeak, bPeak) = s.At 29L
            Expect.floatClose Accuracy.veryHigh lrPeak 1e-2 "peak lr at step pct*total-1"
            Expect.floatClose Accuracy.veryHigh bPeak 0.85 "beta1 at peak"
            let struct (lrEnd, _) = s.At 99L
            Expect.floatClose Accuracy.veryHigh lrEnd 4e-8 "final lr"
        }
        test "restarted one-cycle: each of the cycles is the one-cycle of its own steps, warming up again from max/25" {
            let single = OneCycleSchedule(1e-2, 100L)
            let restarted = OneCycleSchedule(1e-2, 300L, Cycles = 3)
            for step in 0L .. 299L do
                let struct (lr, beta1) = restarted.At step
                let struct (lrOne, beta1One) = single.At(step % 100L)
                Expect.floatClose Accuracy.veryHigh lr lrOne (sprintf "lr at step %d" step)
                Expect.floatClose Accuracy.veryHigh beta1 beta1One (sprintf "beta1 at step %d" step)
            let struct (lrRestart, _) = restarted.At 100L
            let struct (lrBefore, _) = restarted.At 99L
            Expect.floatClose Accuracy.veryHigh lrBefore 4e-8 "the first cycle ends annealed"
            Expect.floatClose Accuracy.veryHigh lrRestart 4e-4 "the second starts at max/25 again"
            Expect.equal (OneCycleSchedule(1e-2, 100L, Cycles = 1).At 57L) (single.At 57L) "one cycle is the plain schedule"
            Expect.throwsT<System.ArgumentException> (fun () -> OneCycleSchedule(1e-2, 100L, Cycles = 3).At 0L |> ignore) "steps that do not split evenly"
        }
        test "restarted schedules are refused unless the epochs split into the cycles of a one-cycle schedule" {
            let cpu = TrainingConfig.FromPreset "cpu"
            Expect.equal cpu.OneCycleCycles 1 "one cycle by default"
            (modify cpu [ "epochs", box 36; "one_cycle_cycles", box 3 ]).Validate() |> ignore
            let message (c: TrainingConfig) = (Expect.throwsC (fun () -> c.Validate() |> ignore) id).Message
            Expect.stringContains (message (modify cpu [ "epochs", box 12; "one_cycle_cycles", box 5 ])) "one_cycle_cycles (5)" "epochs not divisible"
            Expect.stringContains (message (modify cpu [ "one_cycle_cycles", box 0 ])) "one_cycle_cycles must be at least 1" "zero cycles"
            Expect.stringContains (message (modify (modify cpu [ "one_cycle_cycles", box 2 ]) [ "one_cycle_max_learning_rate", null ])) "needs a one-cycle schedule" "constant lr"
            Expect.isTrue ((TrainingConfig.FromJson "{}").OneCycleCycles = 1) "config.json files written before cycles read as one cycle"
        }
        test "evaluation windows cover the record: 1000 samples, 250/125 gives 7 windows" {
            Expect.sequenceEqual (WindowedInference.WindowStarts(1000L, 250L, 125L)) [| 0L; 125L; 250L; 375L; 500L; 625L; 750L |] "starts"
            Expect.sequenceEqual (WindowedInference.WindowStarts(1000L, 300L, 300L)) [| 0L; 300L; 600L; 700L |] "flush window at the end"
            Expect.sequenceEqual (WindowedInference.WindowStarts(200L, 250L, 125L)) [| 0L |] "short record: one pass"
        }
        test "windowed logits are the max over windows" {
            TorchSharp.torch.manual_seed 1L |> ignore
            use model = new CrossLeadCnn(12, 5)
            model.eval()
            use x = TorchSharp.torch.randn(2L, 12L, 400L)
            use combined = WindowedInference.Logits(model, x, 200, 200)
            use a = model.forward(x.narrow(-1L, 0L, 200L))
            use b = model.forward(x.narrow(-1L, 200L, 200L))
            use expected = TorchSharp.torch.maximum(a, b)
            Expect.isTrue (combined.allclose(expected, 1e-5, 1e-6)) "max of the two windows"
        }
        test "mean aggregation returns the logit of the windows' mean probability" {
            TorchSharp.torch.manual_seed 2L |> ignore
            use model = new CrossLeadCnn(12, 5)
            model.eval()
            use x = TorchSharp.torch.randn(3L, 12L, 400L)
            use combined = WindowedInference.Logits(model, x, 200, 200, WindowAggregation.Mean)
            let probabilities (t: TorchSharp.torch.Tensor) = t.sigmoid().data<float32>().ToArray()
            let pa = probabilities (model.forward(x.narrow(-1L, 0L, 200L)))
            let pb = probabilities (model.forward(x.narrow(-1L, 200L, 200L)))
            let got = probabilities combined
            for i in 0 .. got.Length - 1 do
                Expect.floatClose Accuracy.medium (float got.[i]) (float (pa.[i] + pb.[i]) / 2.0) (sprintf "entry %d" i)
            use whole = WindowedInference.Logits(model, x, 200, 200, WindowAggregation.Whole)
            use direct = model.forward(x)
            Expect.isTrue (whole.allclose(direct, 1e-5, 1e-6)) "whole: one pass, no windows"
            Expect.throwsT<Ecg.Data.UserError> (fun () -> WindowAggregations.Parse "median" |> ignore) "unknown aggregation"
            let json = TrainingConfig.BenchmarkPreset.ToJson().Replace("\"eval_aggregation\": \"max\"", "\"eval_aggregation\": \"median\"")
            Expect.stringContains json "median" "edited config"
            Expect.throwsT<System.ArgumentException> (fun () -> TrainingConfig.FromJson(json).Validate() |> ignore) "config refuses it"
        }
    ]
