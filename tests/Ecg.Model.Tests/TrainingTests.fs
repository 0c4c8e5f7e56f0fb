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

        test "a restarted one-cycle schedule (2 cycles in 4 epochs) anneals at epoch 2 and runs the 2-epoch schedule again" {
            let data = synthetic 60 200 2
            let plain = Trainer.Start(temporaryArtifacts (), smallBenchmark 2, data, SplitScheme.Benchmark, options = quiet)
            let restarted = Trainer.Start(temporaryArtifacts (), modify (smallBenchmark 4) [ "one_cycle_cycles", box 2 ], data, SplitScheme.Benchmark, options = quiet)
            let rates (r: TrainingResult) = r.History |> Seq.map (fun m -> m.LearningRate) |> Seq.toArray
            let p, c = rates plain, rates restarted
            Expect.floatClose Accuracy.veryHigh c.[0] p.[0] "epoch 1: the plain 2-epoch schedule's rate"
            Expect.floatClose Accuracy.veryHigh c.[1] p.[1] "epoch 2: annealed, as the plain schedule ends"
            Expect.floatClose Accuracy.veryHigh c.[2] p.[0] "epoch 3: the second cycle, warmed up again"
            Expect.floatClose Accuracy.veryHigh c.[3] p.[1] "epoch 4: annealed again"
            Expect.isGreaterThan c.[2] (100.0 * c.[1]) "the rate rose again after the first cycle"
            Expect.equal restarted.Session.Manifest.Config.OneCycleCycles 2 "config.json records the cycles"
        }

        test "a libtorch error during training restarts from the last completed epoch to the straight run's bytes; one that persists is reported" {
            let data = synthetic 60 200 2
            let config = smallBenchmark 2
            let straight = Trainer.Start(temporaryArtifacts (), config, data, SplitScheme.Benchmark, options = quiet)
            let logged = System.Collections.Generic.List<string>()
            let previous = TransientFaults.Log
            TransientFaults.Log <- System.Action<string>(logged.Add)
            try
                // The progress callback runs inside the step loop: an ExternalException there is what libtorch throws.
                let mutable thrown = 0
                let failOnce (p: TrainingProgress) =
                    if p.Epoch = 2 && p.Batch = 2 && thrown = 0 then
                        thrown <- 1
                        raise (System.Runtime.InteropServices.ExternalException "Expected false to be true, but got false.\nframe #0: c10::Error")
                let faulted = Trainer.Start(temporaryArtifacts (), config, data, SplitScheme.Benchmark,
                                            options = TrainingOptions(WriteReports = false, Progress = System.Action<TrainingProgress>(failOnce)))
                Expect.isTrue faulted.Finished "finished after the restart"
                Expect.isTrue (sameBytes (straight.Session.EpochWeightsPath 2) (faulted.Session.EpochWeightsPath 2)) "epoch_002.bin as straight"
                Expect.isTrue (sameBytes straight.Session.BestWeightsPath faulted.Session.BestWeightsPath) "best.bin as straight"
                Expect.exists logged (fun l -> l.Contains "libtorch failed during training: Expected false to be true, but got false." && l.Contains "restart 1 of 3") "logged, first line only"
                let always (p: TrainingProgress) =
                    if p.Epoch = 1 && p.Batch = 1 then raise (System.Runtime.InteropServices.ExternalException "a shape that never fits")
                let e = Expect.throwsC (fun () ->
                            Trainer.Start(temporaryArtifacts (), config, data, SplitScheme.Benchmark,
                                          options = TrainingOptions(WriteReports = false, Progress = System.Action<TrainingProgress>(always))) |> ignore) id
                Expect.stringContains e.Message "a shape that never fits" "reported after the last restart"
                Expect.exists logged (fun l -> l.Contains "restart 3 of 3") "every restart tried"
            finally
                TransientFaults.Log <- previous
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

// ---------------------------------------------------------------------------------------------------------------------
// Checkpoint checksums, damaged files, going back to an intact epoch
// ---------------------------------------------------------------------------------------------------------------------

/// Flips 4 bytes in the middle of a file (inside the tensor data: torch alone would load it without complaint).
let private flipBytes (path: string) =
    let bytes = File.ReadAllBytes path
    for i in bytes.Length / 2 .. bytes.Length / 2 + 3 do bytes.[i] <- bytes.[i] ^^^ 0xFFuy
    File.WriteAllBytes(path, bytes)

/// Cuts a file to half its length, as a full disk or an interrupted copy would.
let private truncate (path: string) =
    use stream = new FileStream(path, FileMode.Open)
    stream.SetLength(stream.Length / 2L)

/// A copy of a session folder under a fresh artifacts root (so each damage is tried on an intact session).
let private copySession (session: TrainingSession) =
    let target = Path.Combine((ArtifactLayout(temporaryArtifacts ())).TrainingSessions, Path.GetFileName session.Folder)
    for file in Directory.GetFiles(session.Folder, "*", SearchOption.AllDirectories) do
        let destination = Path.Combine(target, Path.GetRelativePath(session.Folder, file))
        Directory.CreateDirectory(Path.GetDirectoryName destination) |> ignore
        File.Copy(file, destination)
    TrainingSession.Open target

/// state.json as sessions wrote it before checkpoints carried checksums.
let private withoutChecksums (session: TrainingSession) =
    let node = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText session.StatePath).AsObject()
    Expect.isTrue (node.Remove "checksums") "state.json had checksums"
    File.WriteAllText(session.StatePath, node.ToJsonString())

let private damaged (f: unit -> unit) =
    Expect.throwsC f (function
        | :? CheckpointDamagedException as e -> e
        | e -> failtestf "expected CheckpointDamagedException, got %s: %s" (e.GetType().Name) e.Message)

let private expectNames (e: exn) (parts: string list) =
    for part in parts do Expect.stringContains e.Message part (sprintf "the message names %s" part)

// Shared by the resume tests: the benchmark recipe (one-cycle, AdamW: step count and moments matter) run 3 epochs
// straight, and the same run stopped after epoch 2, which each test copies and damages.
let private resumeData = lazy (synthetic 60 200 12)
let private straightRun = lazy (Trainer.Start(temporaryArtifacts (), smallBenchmark 3, resumeData.Value, SplitScheme.Benchmark, options = quiet))
let private stoppedRun =
    lazy (Trainer.Start(temporaryArtifacts (), smallBenchmark 3, resumeData.Value, SplitScheme.Benchmark,
                        options = TrainingOptions(WriteReports = false, StopAfterEpoch = 2)).Session)

/// Resumes a session and checks it ends byte for byte where the straight run did.
let private expectSameAsStraight (session: TrainingSession) =
    let resumed = Trainer.Run(session, resumeData.Value, quiet)
    let straight = straightRun.Value
    Expect.isTrue resumed.Finished "resumed run finished"
    Expect.isTrue (sameBytes (straight.Session.EpochWeightsPath 3) (session.EpochWeightsPath 3)) "epoch_003.bin identical to the straight run's"
    Expect.isTrue (sameBytes straight.Session.BestWeightsPath session.BestWeightsPath) "best.bin identical"
    Expect.sequenceEqual (metricsWithoutTimings session) (metricsWithoutTimings straight.Session) "metrics.csv identical"
    Expect.equal resumed.BestEpoch straight.BestEpoch "best epoch"

[<Tests>]
let checkpointTests =
    testSequenced <| testList "Checkpoint" [
        test "state.json records size and SHA-256 of every weights and optimizer file it commits; the last two optimizer states are kept" {
            let session = (Trainer.Start(temporaryArtifacts (), smallConfig 3, synthetic 60 200 13, SplitScheme.Benchmark, options = quiet)).Session
            let state = session.LoadState()
            let keys = state.Checksums.Keys |> Seq.toList
            let expectedKeys = [ "state/optimizer_epoch_002.bin"; "state/optimizer_epoch_003.bin"; "weights/best.bin"
                                 "weights/epoch_001.bin"; "weights/epoch_002.bin"; "weights/epoch_003.bin" ]
            Expect.equal keys expectedKeys "one entry per committed file"
            for KeyValue(key, checksum) in state.Checksums do
                let file = Path.Combine(session.Folder, key)
                Expect.equal checksum.Sha256 (TrainingSession.Sha256 file) (sprintf "%s: SHA-256" key)
                Expect.equal checksum.Bytes (FileInfo(file).Length) (sprintf "%s: size" key)
            Expect.equal state.Checksums.["weights/best.bin"] state.Checksums.[sprintf "weights/epoch_%03d.bin" state.BestEpoch] "best.bin is the best epoch's copy"
            Expect.isFalse (File.Exists(Path.Combine(session.StateFolder, "optimizer_epoch_001.bin"))) "older optimizer states are deleted"
            Expect.isNull state.Rollbacks "no rollback"
        }

        test "every loader names a damaged weights file and its epoch: checksum mismatch, not a torch exception" {
            let data = synthetic 60 200 14
            let session = (Trainer.Start(temporaryArtifacts (), smallBenchmark 3, data, SplitScheme.Benchmark, options = quiet)).Session
            flipBytes (session.EpochWeightsPath 2)
            let expected = [ "epoch_002.bin"; "(epoch 2)"; "is damaged: checksum mismatch" ]
            expectNames (damaged (fun () -> Predictor.Load(session, "2") |> ignore)) expected
            expectNames (damaged (fun () -> EmbeddingExtractor.Load(session, "2") |> ignore)) expected
            expectNames (damaged (fun () -> Evaluator.Evaluate(session, data, DataSplit.Validation, WeightsChoice.OfEpoch 2) |> ignore)) expected
            let average = damaged (fun () -> WeightAveraging.Average(session, data, 1, 3) |> ignore)
            expectNames average expected
            Expect.equal average.Epoch (System.Nullable 2) "the exception carries the epoch"
            Expect.isFalse (File.Exists(session.WeightsPath "1-3")) "no average written from a damaged epoch"
            // An intact epoch of the same session still loads.
            (Predictor.Load(session, "1")).Dispose()
            truncate session.BestWeightsPath
            let best = session.LoadState().BestEpoch
            expectNames (damaged (fun () -> Predictor.Load(session) |> ignore))
                [ "best.bin"; sprintf "(best weights, epoch %d)" best; "checksum mismatch"; "truncated" ]
            // A weights file past the last committed epoch (a run killed before state.json) is refused, not trusted.
            File.Copy(session.EpochWeightsPath 3, session.EpochWeightsPath 4)
            let uncommitted = Expect.throwsC (fun () -> Predictor.Load(session, "4") |> ignore) id
            expectNames uncommitted [ "epoch_004.bin"; "last completed epoch is 3" ]
        }

        test "resume after a truncated or bit-flipped last weights file names it; --from-epoch 1 then trains on to the straight run's bytes" {
            for damage, how in [ truncate, "truncated"; flipBytes, "flipped" ] do
                let session = copySession stoppedRun.Value
                damage (session.EpochWeightsPath 2)
                let e = damaged (fun () -> Trainer.Run(session, resumeData.Value, quiet) |> ignore)
                expectNames e [ "cannot resume from epoch 2"; "epoch_002.bin"; "(epoch 2)"; "checksum mismatch"; "--from-epoch 1" ]
                Expect.equal e.Epoch (System.Nullable 2) (sprintf "%s: epoch" how)
                let record = Trainer.RollBack(session, 1)
                Expect.equal (record.FromEpoch, record.ToEpoch, record.FreshOptimizer) (2, 1, false) (sprintf "%s: back to 1 with its optimizer state" how)
                Expect.sequenceEqual record.DamagedFiles [ "weights/epoch_002.bin" ] (sprintf "%s: the damaged file recorded" how)
                let state = session.LoadState()
                Expect.equal (state.LastCompletedEpoch, state.History.Count) (1, 1) "state.json truncated to epoch 1"
                Expect.isFalse (state.Checksums.ContainsKey "weights/epoch_002.bin") "epoch 2's checksum dropped"
                Expect.equal (File.ReadAllLines session.MetricsPath).Length 2 "metrics.csv: header and epoch 1"
                Expect.equal state.Rollbacks.Count 1 "the rollback is recorded"
                expectSameAsStraight session
        }

        test "resume after a truncated or bit-flipped optimizer state names it; going back one epoch is exact, staying gives fresh moments" {
            for damage, how in [ truncate, "truncated"; flipBytes, "flipped" ] do
                let session = copySession stoppedRun.Value
                damage (Path.Combine(session.StateFolder, "optimizer_epoch_002.bin"))
                let e = damaged (fun () -> Trainer.Run(session, resumeData.Value, quiet) |> ignore)
                expectNames e [ "cannot resume from epoch 2"; "optimizer_epoch_002.bin"; "(optimizer state after epoch 2)"; "checksum mismatch"
                                "--from-epoch 2"; "fresh optimizer moments"; "--from-epoch 1"; "exactly as the first time" ]
                let record = Trainer.RollBack(session, 1)
                Expect.sequenceEqual record.DamagedFiles [ "state/optimizer_epoch_002.bin" ] (sprintf "%s: the damaged file recorded" how)
                expectSameAsStraight session
            // Keeping epoch 2's weights: the run goes on with Adam's moments started afresh, and says so.
            let session = copySession stoppedRun.Value
            flipBytes (Path.Combine(session.StateFolder, "optimizer_epoch_002.bin"))
            let record = Trainer.RollBack(session, 2)
            Expect.equal (record.ToEpoch, record.FreshOptimizer) (2, true) "stays at epoch 2, fresh moments"
            let warnings = System.Collections.Generic.List<string>()
            let resumed = Trainer.Run(session, resumeData.Value, TrainingOptions(WriteReports = false, Warning = System.Action<string>(warnings.Add)))
            Expect.isTrue resumed.Finished "finished"
            Expect.exists warnings (fun w -> w.Contains "moments start afresh") "warned about the fresh moments"
            Expect.isTrue (session.LoadState().Rollbacks.[0].FreshOptimizer) "state.json records the fresh moments"
        }

        test "a session written before checksums resumes unverified to the straight run's bytes; a truncated file in it is still named" {
            let legacy = copySession stoppedRun.Value
            withoutChecksums legacy
            Expect.isNull (legacy.LoadState().Checksums) "no checksums, as before"
            (Predictor.Load(legacy, "2")).Dispose()
            expectSameAsStraight legacy
            Expect.isTrue ((legacy.LoadState().Checksums).ContainsKey "weights/epoch_003.bin") "the resumed epoch is recorded"
            let broken = copySession stoppedRun.Value
            withoutChecksums broken
            truncate (broken.EpochWeightsPath 2)
            let e = damaged (fun () -> Trainer.Run(broken, resumeData.Value, quiet) |> ignore)
            expectNames e [ "cannot resume from epoch 2"; "epoch_002.bin"; "(epoch 2)"; "cannot be read"; "no checksum was recorded"; "--from-epoch 1" ]
        }

        test "going back recomputes the best epoch and best.bin over the epochs kept, and refuses an epoch that is not there" {
            let before = straightRun.Value.Session.LoadState()
            let session = copySession straightRun.Value.Session
            Expect.throwsT<System.ArgumentException> (fun () -> Trainer.RollBack(session, 4) |> ignore) "epoch 4 of 3"
            Expect.isNull (Trainer.RollBack(session, 3)) "already there: nothing to do"
            Trainer.RollBack(session, 2) |> ignore
            let state = session.LoadState()
            let auc1, auc2 = before.History.[0].ValidationMacroAuc, before.History.[1].ValidationMacroAuc
            let bestOfTwo = if auc2 > auc1 then 2 else 1
            Expect.equal (state.BestEpoch, state.BestScore, state.EpochsWithoutImprovement) (bestOfTwo, max auc1 auc2, 2 - bestOfTwo) "best of epochs 1-2"
            Expect.isFalse state.Finished "not finished"
            Expect.isTrue (sameBytes session.BestWeightsPath (session.EpochWeightsPath bestOfTwo)) "best.bin is the best kept epoch's weights"
            Expect.equal state.Checksums.["weights/best.bin"] state.Checksums.[sprintf "weights/epoch_%03d.bin" bestOfTwo] "and its checksum"
            Expect.equal state.GlobalStep (before.GlobalStep / 3L * 2L) "two epochs of steps"
            Expect.throwsC (fun () -> Predictor.Load(session, "3") |> ignore) (fun e -> Expect.stringContains e.Message "last completed epoch is 2" "epochs given up are refused")
            expectSameAsStraight session
            // Only the last two optimizer states are kept: further back, Adam's moments have to start afresh.
            let far = copySession straightRun.Value.Session
            let record = Trainer.RollBack(far, 1)
            Expect.isTrue record.FreshOptimizer "epoch 1's optimizer state is gone"
            Expect.isEmpty record.DamagedFiles "nothing damaged"
            Expect.isTrue (sameBytes far.BestWeightsPath (far.EpochWeightsPath 1)) "best.bin is epoch 1's"
        }
    ]
