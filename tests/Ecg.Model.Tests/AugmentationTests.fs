module Ecg.Model.Tests.AugmentationTests

open System
open Expecto
open Ecg.Data
open Ecg.Model
open Ecg.Model.Tests.TrainingFixtures
open Ecg.Model.Tests.TrainingTests

let private length, leads, hertz = 250, 12, 100.0

/// A crop with a distinct, non-zero value everywhere: lead l at sample t is 1 + sin(t / 7 + l).
let private crop () =
    Array.init (length * leads) (fun i -> float32 (1.0 + Math.Sin(float (i / leads) / 7.0 + float (i % leads))))

let private augmented (spec: string) (seed: int) =
    let signal = crop ()
    (Augmentation.Parse spec).Apply(Span signal, length, leads, hertz, Random seed)
    signal

let private residual (spec: string) (seed: int) = Array.map2 (-) (augmented spec seed) (crop ())

let private lead (values: float32[]) (l: int) = Array.init length (fun t -> float values.[t * leads + l])

[<Tests>]
let tests =
    testSequenced <| testList "Augmentation" [
        test "specs: ecg, none, key=value pairs in canonical form, and every bad one refused naming its key" {
            Expect.equal (Augmentation.Parse "ecg") Augmentation.Ecg "ecg"
            Expect.equal (string (Augmentation.Parse "ECG")) "scale=0.1,noise=0.02,wander=0.1,mask=0.1" "canonical text"
            Expect.isNull (Augmentation.Parse "none") "none"
            Expect.isNull (Augmentation.Parse null) "absent"
            Expect.isNull (Augmentation.Parse "scale=0") "all amounts 0 is none"
            Expect.equal (string (Augmentation.Parse " mask=0.25 , scale=0.2")) "scale=0.2,noise=0,wander=0,mask=0.25" "unnamed keys are 0"
            for spec, names in [ "shift=0.1", "'shift=0.1'"; "noise", "'noise'"; "noise=-1", "noise must be a number >= 0"
                                 "wander=abc", "wander must be"; "mask=1", "mask must be below 1"; "scale=1.5", "scale must be below 1"
                                 "noise=0.1,noise=0.2", "noise is given twice"; "noise=NaN", "noise must be" ] do
                Expect.throwsC (fun () -> Augmentation.Parse spec |> ignore) (fun e ->
                    Expect.stringContains e.Message names spec
                    Expect.stringContains e.Message (sprintf "augment '%s'" spec) "names the field and the spec")
            Expect.throwsC (fun () -> (modify (smallConfig 1) [ "augment", box "jitter=1" ]).Validate() |> ignore)
                           (fun e -> Expect.stringContains e.Message "Training config: augment 'jitter=1'" "the config names the field")
            Expect.isNull (TrainingConfig.FromJson("""{"model": "cross-lead-cnn"}""")).Augment "configs written before it do not augment"
        }

        test "scale multiplies the whole record by one factor in [0.9, 1.1]" {
            let a = augmented "scale=0.1" 1
            let ratios = Array.map2 (fun (x: float32) (y: float32) -> float x / float y) a (crop ())
            Expect.isLessThan (Array.max ratios - Array.min ratios) 1e-5 "one factor for every lead and sample"
            Expect.isTrue (ratios.[0] >= 0.9 && ratios.[0] <= 1.1 && abs (ratios.[0] - 1.0) > 1e-6) (sprintf "factor %f" ratios.[0])
        }

        test "noise adds zero-mean white noise of at most the given standard deviation" {
            let r = residual "noise=0.05" 2
            let mean = r |> Array.averageBy float
            let std = sqrt (r |> Array.averageBy (fun v -> (float v - mean) ** 2.0))
            Expect.isTrue (std > 0.0 && std <= 0.05 * 1.05) (sprintf "std %f" std)
            Expect.isLessThan (abs mean) (4.0 * std / sqrt (float r.Length)) "zero mean"
            // White: neighbouring samples of a lead do not correlate.
            let l0 = lead r 0
            let lag1 = Array.init (length - 1) (fun t -> l0.[t] * l0.[t + 1]) |> Array.average
            Expect.isLessThan (abs lag1 / (std * std)) 0.2 "lag-1 autocorrelation"
        }

        test "wander adds a slow sinusoid per lead, at most the given amplitude, with its own amplitude and phase" {
            let r = residual "wander=0.2" 3
            Expect.isLessThanOrEqual (r |> Array.map abs |> Array.max) 0.2f "amplitude bound"
            let l0, l1 = lead r 0, lead r 1
            Expect.isGreaterThan (l0 |> Array.map abs |> Array.max) 1e-3 "lead 0 drifts"
            Expect.notEqual l0 l1 "leads drift differently"
            // 0.05-0.5 Hz at 100 Hz: at most 0.5 * 2 pi / 100 = 0.031 rad a sample, so neighbours differ by at most 0.2 * 0.031.
            for t in 0 .. length - 2 do Expect.isLessThan (abs (l0.[t + 1] - l0.[t])) (0.2 * 0.0315) "slow"
        }

        test "mask zeroes one stretch of at most the given fraction on every lead and leaves the rest" {
            let mutable masked = 0
            for seed in 1 .. 20 do
                let a, original = augmented "mask=0.3" seed, crop ()
                let zeroed = Array.init length (fun t -> Array.forall (fun l -> a.[t * leads + l] = 0.0f) [| 0 .. leads - 1 |])
                let kept = Array.init length (fun t -> Array.forall (fun l -> a.[t * leads + l] = original.[t * leads + l]) [| 0 .. leads - 1 |])
                Expect.isTrue (Array.forall2 (||) zeroed kept) "each sample is either zeroed on every lead or unchanged"
                let zeros = zeroed |> Array.filter id |> Array.length
                Expect.isLessThanOrEqual zeros (int (0.3 * float length)) "at most 30%"
                masked <- masked + zeros
                if zeros > 0 then
                    let first = Array.IndexOf(zeroed, true)
                    Expect.isTrue (Array.forall id zeroed.[first .. first + zeros - 1]) "one contiguous stretch"
            Expect.isGreaterThan masked (20 * length / 20) "about 15% of 20 crops masked on average"
        }

        test "the same random stream gives the same record; another gives another" {
            Expect.equal (augmented "ecg" 7) (augmented "ecg" 7) "seeded"
            Expect.notEqual (augmented "ecg" 7) (augmented "ecg" 8) "random"
        }

        test "training with augmentation learns, changes the weights, and resumes to the straight run's bytes" {
            let data = synthetic 200 200 3
            let augmentedConfig epochs = modify (smallBenchmark epochs) [ "augment", box "ecg" ]
            let plain = Trainer.Start(temporaryArtifacts (), smallBenchmark 4, data, SplitScheme.Benchmark, options = quiet)
            let withAugment = Trainer.Start(temporaryArtifacts (), augmentedConfig 4, data, SplitScheme.Benchmark, options = quiet)
            let auc (r: TrainingResult) = r.History |> Seq.map (fun m -> m.ValidationMacroAuc) |> Seq.max
            Expect.isGreaterThan (auc withAugment) 0.7 (sprintf "augmented validation macro AUC beats chance (plain %.4f)" (auc plain))
            Expect.isFalse (sameBytes (plain.Session.EpochWeightsPath 4) (withAugment.Session.EpochWeightsPath 4)) "the batches did change"
            let straight = Trainer.Start(temporaryArtifacts (), augmentedConfig 2, data, SplitScheme.Benchmark, options = quiet)
            let first = Trainer.Start(temporaryArtifacts (), augmentedConfig 2, data, SplitScheme.Benchmark, options = TrainingOptions(WriteReports = false, StopAfterEpoch = 1))
            let resumed = Trainer.Run(TrainingSession.Open first.Session.Folder, data, quiet)
            Expect.isTrue (sameBytes (straight.Session.EpochWeightsPath 2) (resumed.Session.EpochWeightsPath 2)) "epoch_002.bin identical"
        }
    ]
