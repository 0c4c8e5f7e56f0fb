module Ecg.Model.Tests.BenchmarkTests

open System
open Expecto
open Ecg.Model

[<Tests>]
let tests =
    testSequenced <| testList "TrainingBenchmark" [
        test "a tiny benchmark returns positive throughputs for training and inference" {
            let figures = TrainingBenchmark.Run([| 4 |], [| 120 |], steps = 1, threads = 2)
            Expect.equal (figures |> Seq.map (fun f -> f.Phase) |> Seq.toList) [ "train"; "inference" ] "phases"
            for f in figures do
                Expect.isGreaterThan f.SamplesPerSecond 0.0 "throughput"
                Expect.isGreaterThan f.PeakResidentMegabytes 0.0 "peak memory"
        }

        test "peak memory lines of /proc/self/status parse with and without padding" {
            Expect.equal (TrainingBenchmark.StatusLineMegabytes "VmHWM:\t  123904 kB") 121.0 "padded"
            Expect.equal (TrainingBenchmark.StatusLineMegabytes "VmHWM:\t10388480 kB") 10145.0 "8 digits: no space after the tab"
        }

        // The full measurement (batch 64 and 512, 1000 and 250 samples) takes minutes: run it on purpose with
        // ECG_TRAINING_BENCHMARK=1 dotnet tests/Ecg.Model.Tests/bin/Debug/net10.0/Ecg.Model.Tests.dll --filter-test-list TrainingBenchmark
        test "full measurement (opt-in)" {
            if Environment.GetEnvironmentVariable "ECG_TRAINING_BENCHMARK" <> "1" then
                skiptest "set ECG_TRAINING_BENCHMARK=1 to measure"
            printfn "cores %d, load average %s" Environment.ProcessorCount (IO.File.ReadAllText "/proc/loadavg")
            TrainingBenchmark.Run(steps = 2, onFigure = Action<BenchmarkFigure>(fun f -> printfn "%O" f)) |> ignore
        }
    ]
