module Ecg.Model.Tests.WeightAveragingTests

open System
open System.IO
open Expecto
open TorchSharp
open Ecg.Data
open Ecg.Model
open Ecg.Model.Tests.TrainingFixtures
open Ecg.Model.Tests.TrainingTests

/// The exception of type 'E that f throws (Expecto fails the test when f throws nothing).
let private thrown<'E when 'E :> exn> (f: unit -> unit) : 'E =
    Expect.throwsC f (function
        | :? 'E as e -> e
        | e -> failtestf "expected %s, got %s: %s" typeof<'E>.Name (e.GetType().Name) e.Message)

/// A weights file's floating-point state by name (parameters and BatchNorm statistics), as float arrays.
let private stateOf (session: TrainingSession) (path: string) =
    use model = ModelFactory.Create(session.Manifest.Config, 12, 5)
    model.load(path) |> ignore
    model.state_dict() |> Seq.filter (fun kv -> kv.Value.is_floating_point())
    |> Seq.map (fun kv -> kv.Key, kv.Value.data<float32>().ToArray()) |> Map.ofSeq

/// Validation macro AUC the averaged weights must reach on this fixture (8 validation records). Measured with the opt-in
/// test below over training seeds 1-8, averages of epochs 2-3: 0.9733 0.9500 0.9625 0.9067 0.9233 0.9142 0.9500 0.9333
/// (min 0.907; seed 5, the test's, 0.9233), so 0.85 leaves room for another CPU's floats and is far above chance.
/// Against the epochs averaged, the average was never more than 0.023 below the lower of the two (seed 7: 0.9500
/// against 0.9733 and 1.0000) and up to 0.097 above it; the test allows 0.05 below.
let averagedAucFloor = 0.85

[<Tests>]
let tests =
    testSequenced <| testList "WeightAveraging" [
        test "BatchNorm statistics are the plain average of the per-batch statistics, as torch's update_bn computes them" {
            torch.manual_seed 3L |> ignore
            use conv = torch.nn.Conv1d(2L, 3L, 3L)
            use norm = torch.nn.BatchNorm1d(3L)
            use model = torch.nn.Sequential(("conv", conv :> torch.nn.Module<torch.Tensor, torch.Tensor>), ("norm", norm :> torch.nn.Module<torch.Tensor, torch.Tensor>))
            let inputs = Array.init 3 (fun _ -> torch.randn(5L, 2L, 20L))
            // Expected, computed independently: batch mean and unbiased variance of the conv output per channel.
            let stats =
                use _ = torch.no_grad()
                inputs |> Array.map (fun x ->
                    let y = conv.forward x
                    y.mean([| 0L; 2L |]).data<float32>().ToArray(), y.var([| 0L; 2L |], unbiased = true).data<float32>().ToArray())
            let expectedMean = Array.init 3 (fun c -> stats |> Array.averageBy (fun (m, _) -> float m.[c]))
            let expectedVar = Array.init 3 (fun c -> stats |> Array.averageBy (fun (_, v) -> float v.[c]))
            WeightAveraging.RecalibrateBatchNorm(model, (fun b -> inputs.[b].alias()), inputs.Length)
            let mean = norm.running_mean.data<float32>().ToArray() |> Array.map float
            let var = norm.running_var.data<float32>().ToArray() |> Array.map float
            for c in 0 .. 2 do
                Expect.floatClose { absolute = 1e-5; relative = 1e-5 } mean.[c] expectedMean.[c] (sprintf "running mean, channel %d" c)
                Expect.floatClose { absolute = 1e-5; relative = 1e-5 } var.[c] expectedVar.[c] (sprintf "running variance, channel %d" c)
            Expect.equal norm.momentum (Nullable 0.1) "momentum put back"
            Expect.isFalse model.training "left in evaluation mode"
        }

        test "averaging epochs gives the mean of their parameters, fresh BatchNorm statistics, and weights every stage reads" {
            let data = synthetic 80 200 7
            let result = Trainer.Start(temporaryArtifacts (), smallBenchmark 3, data, SplitScheme.Benchmark, options = quiet)
            let session = result.Session
            let path = WeightAveraging.Average(session, data, 2, 3)
            Expect.equal path (session.WeightsPath "2-3") "weights \"2-3\" name the file"
            Expect.equal (Path.GetFileName path) "average_002-003.bin" "file name"
            let averaged, second, third = stateOf session path, stateOf session (session.EpochWeightsPath 2), stateOf session (session.EpochWeightsPath 3)
            let isStatistic (name: string) = name.EndsWith "running_mean" || name.EndsWith "running_var"
            Expect.equal (averaged |> Map.keys |> Seq.toList) (second |> Map.keys |> Seq.toList) "same tensors"
            for KeyValue(name, values) in averaged |> Map.filter (fun k _ -> not (isStatistic k)) do
                let a, b = second.[name], third.[name]
                for i in 0 .. values.Length - 1 do
                    Expect.floatClose { absolute = 1e-6; relative = 1e-5 } (float values.[i]) ((float a.[i] + float b.[i]) / 2.0) (sprintf "%s[%d]" name i)
            let statistics = averaged |> Map.filter (fun k _ -> isStatistic k)
            Expect.isNonEmpty statistics "the model has BatchNorm"
            Expect.isTrue (statistics |> Map.exists (fun k v -> v <> third.[k])) "statistics recomputed, not copied"
            Expect.isTrue (statistics |> Map.forall (fun _ v -> v |> Array.forall Single.IsFinite)) "finite statistics"
            // Every stage reads them: evaluation (through the Predictor), prediction on raw signals, embeddings.
            let evaluation = Evaluator.Evaluate(session, data, DataSplit.Validation, WeightsChoice.Parse "2-3")
            let epochAucs = [ for e in [ "2"; "3" ] -> (Evaluator.Evaluate(session, data, DataSplit.Validation, WeightsChoice.Parse e)).MacroAuc ]
            printfn "validation macro AUC: epoch 2 %.4f, epoch 3 %.4f, average 2-3 %.4f" epochAucs.[0] epochAucs.[1] evaluation.MacroAuc
            Expect.isGreaterThanOrEqual evaluation.MacroAuc averagedAucFloor (sprintf "averaged weights reach the measured floor (epochs: %A)" epochAucs)
            Expect.isGreaterThanOrEqual evaluation.MacroAuc (List.min epochAucs - 0.05) "averaging keeps what the epochs averaged had"
            let validation = data.Subset(SplitScheme.Benchmark.ValidationIndices data)
            use predictor = Predictor.Load(session, "2-3")
            let direct = predictor.Predict(validation.Signals.ToArray(), validation.RecordCount, validation.Samples, validation.Leads)
            Expect.equal direct.Length evaluation.Probabilities.Length "probabilities for every validation record"
            Array.iteri2 (fun i (a: float32) (b: float32) -> Expect.floatClose Accuracy.high (float a) (float b) (sprintf "probability %d" i)) direct evaluation.Probabilities
            use extractor = EmbeddingExtractor.Load(session, "2-3")
            let embeddings = extractor.EmbedRecords(data, SplitScheme.Benchmark.ValidationIndices data)
            Expect.equal embeddings.Length (validation.RecordCount * extractor.Dimension) "one embedding per record"
            Expect.all embeddings Single.IsFinite "finite embeddings"
            let again = WeightAveraging.Average(session, data, 2, 3)
            Expect.isTrue (sameBytes path again) "deterministic: the same file again"
            // The average carries its checksum in a sidecar (sha256sum format), and a damaged average is named.
            Expect.equal (File.ReadAllText(path + ".sha256")) (sprintf "%s  average_002-003.bin\n" (TrainingSession.Sha256 path)) "sidecar checksum"
            let bytes = File.ReadAllBytes path
            bytes.[bytes.Length / 2] <- bytes.[bytes.Length / 2] ^^^ 0x01uy
            File.WriteAllBytes(path, bytes)
            let e = thrown<CheckpointDamagedException> (fun () -> Predictor.Load(session, "2-3") |> ignore)
            for part in [ "average_002-003.bin"; "(average of epochs 2-3)"; "checksum mismatch" ] do Expect.stringContains e.Message part "names the file"
        }

        test "bad epoch ranges and missing files are refused with the session, range and file named" {
            let data = synthetic 60 200 5
            let result = Trainer.Start(temporaryArtifacts (), smallConfig 2, data, SplitScheme.Benchmark, options = quiet)
            let session = result.Session
            let beyond = thrown<ArgumentException> (fun () -> WeightAveraging.Average(session, data, 1, 5) |> ignore)
            Expect.stringContains beyond.Message "has completed 2 epochs" "says how many epochs there are"
            let reversed = thrown<ArgumentException> (fun () -> WeightAveraging.Average(session, data, 2, 1) |> ignore)
            Expect.stringContains reversed.Message "2-1" "names the range"
            let notAveraged = thrown<FileNotFoundException> (fun () -> Predictor.Load(session, "1-2") |> ignore)
            Expect.stringContains notAveraged.Message "ecg average" "says how to make it"
            Expect.equal (WeightAveraging.LastEpochs(session, 4)) (struct (1, 2)) "last 4 of 2 epochs is 1-2"
            File.Delete(session.EpochWeightsPath 1)
            let missing = thrown<FileNotFoundException> (fun () -> WeightAveraging.Average(session, data, 1, 2) |> ignore)
            Expect.stringContains missing.Message "epoch_001.bin" "names the missing file"
            Expect.isFalse (File.Exists(session.WeightsPath "1-2")) "nothing written"
            let bad = thrown<UserError> (fun () -> session.WeightsPath "last" |> ignore)
            Expect.stringContains bad.Message "9-12" "says what weights can be"
            let other = thrown<UserError> (fun () -> WeightAveraging.Average(session, synthetic 90 200 5, 2, 2) |> ignore)
            Expect.stringContains other.Message "does not fit session" "statistics only from the session's own training records"
            Expect.isFalse (File.Exists(session.WeightsPath "2-2")) "nothing written for another dataset"
        }

        // Where the averaging test's AUC floor comes from: the same fixture and recipe over several training seeds,
        // run on purpose with ECG_AVERAGING_FLOOR_SEEDS=1,2,3 dotnet tests/Ecg.Model.Tests/bin/Release/net10.0/Ecg.Model.Tests.dll --filter-test-case "averaging floor over seeds"
        test "averaging floor over seeds (opt-in measurement)" {
            let seeds = Environment.GetEnvironmentVariable "ECG_AVERAGING_FLOOR_SEEDS"
            if String.IsNullOrWhiteSpace seeds then skiptest "set ECG_AVERAGING_FLOOR_SEEDS=1,2,3 to measure"
            let data = synthetic 80 200 7
            for seed in seeds.Split(',', StringSplitOptions.RemoveEmptyEntries) |> Array.map int64 do
                let session = (Trainer.Start(temporaryArtifacts (), modify (smallBenchmark 3) [ "seed", box seed ], data, SplitScheme.Benchmark, options = quiet)).Session
                WeightAveraging.Average(session, data, 2, 3) |> ignore
                let auc weights = (Evaluator.Evaluate(session, data, DataSplit.Validation, WeightsChoice.Parse weights)).MacroAuc
                printfn "seed %d: validation macro AUC epoch 1 %.4f, epoch 2 %.4f, epoch 3 %.4f, average 2-3 %.4f" seed (auc "1") (auc "2") (auc "3") (auc "2-3")
        }
    ]
