module Ecg.Model.Tests.SessionTests

open System.IO
open System.Threading.Tasks
open Expecto
open Ecg.Data
open Ecg.Model
open Ecg.Tests
open Ecg.Model.Tests.TrainingFixtures
open Ecg.Model.Tests.TrainingTests

let private manifestFor (data: ProcessedDataset) =
    TrainingSession.Describe(TrainingConfig(Device = "cpu"), data, SplitScheme.Benchmark, null)

[<Tests>]
let tests =
    testSequenced <| testList "TrainingSession" [
        test "sessions are numbered from 1, never overwritten, and parallel creations get distinct folders" {
            let artifacts = temporaryArtifacts ()
            let manifest = manifestFor (synthetic 20 50 1)
            let first = TrainingSession.Create(artifacts, manifest, "first")
            Expect.equal first.Number 1 "first session"
            Expect.equal (Path.GetFileName first.Folder) "session_1" "folder name"
            let parallelSessions = Parallel.For(0, 8, fun _ -> TrainingSession.Create(artifacts, manifest, "p") |> ignore)
            Expect.isTrue parallelSessions.IsCompleted "parallel creation"
            let numbers = Directory.GetDirectories((Ecg.Data.ArtifactLayout artifacts).TrainingSessions) |> Array.map Path.GetFileName |> Array.sort
            Expect.equal numbers.Length 9 "nine distinct sessions"
            Expect.equal (File.ReadAllText first.NotesPath) "first" "first session's notes untouched"
            let reopened = TrainingSession.Open first.Folder
            Expect.equal reopened.Manifest.ClassNames manifest.ClassNames "config.json round trip"
            Expect.equal reopened.Manifest.Config manifest.Config "config round trip"
        }

        test "config.json records data file hash and versions" {
            let artifacts = temporaryArtifacts ()
            let dataFile = Path.Combine(artifacts, "data.bin")
            File.WriteAllText(dataFile, "abc")
            let manifest = TrainingSession.Describe(TrainingConfig(), synthetic 20 50 1, SplitScheme.Benchmark, dataFile)
            // sha256("abc"), a standard test vector.
            Expect.equal manifest.DataSha256 "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" "SHA-256"
            let session = TrainingSession.Create(artifacts, manifest, null)
            let json = File.ReadAllText session.ConfigPath
            for key in [ "\"torch_sharp_version\""; "\"dot_net_version\""; "\"tool_version\""; "\"seed\""; "\"learning_rate\"" ] do
                Expect.stringContains json key "config.json field"
        }

        test "a finished session has every report, offline charts, and a Predictor that reproduces predictions.csv" {
            let data = synthetic 80 200 7
            let result = Trainer.Start(temporaryArtifacts (), smallBenchmark 2, data, SplitScheme.Benchmark, notes = "synthetic run")
            let s = result.Session
            for file in [ "config.json"; "notes.txt"; "training_log.txt"; "metrics.csv"; "standardisation.json"; "predictions.csv"
                          "classification_report.txt"; "thresholds.json"; "Loss.html"; "Accuracy.html"; "AUC.html"; HtmlCharts.PlotlyFileName
                          "weights/epoch_001.bin"; "weights/epoch_002.bin"; "weights/best.bin"; "state/state.json"
                          "confusion_matrices/CD.html"; "confusion_matrices/STTC.html" ] do
                Expect.isTrue (File.Exists(Path.Combine(s.Folder, file))) (sprintf "%s exists" file)
            Expect.equal (File.ReadAllLines s.LogPath).Length 2 "one log line per epoch"
            for page in Directory.GetFiles(s.Folder, "*.html", SearchOption.AllDirectories) do
                let html = File.ReadAllText page
                Expect.isFalse (html.Contains "http://" || html.Contains "https://") (sprintf "%s needs no network" page)
                Expect.stringContains html "plotly.min.js" "uses the local plotly.js"
            Expect.isGreaterThan (FileInfo(Path.Combine(s.Folder, HtmlCharts.PlotlyFileName)).Length) 1_000_000L "plotly.js copied"
            // The curves draw the epochs' numbers.
            let traces, layout = ChartPages.read (Path.Combine(s.Folder, "Loss.html"))
            Expect.equal (ChartPages.title layout) "Loss per epoch" "Loss.html title"
            Expect.equal (traces |> Array.map ChartPages.name) [| "train"; "validation" |] "Loss.html traces"
            Expect.equal (ChartPages.numbers traces.[0] "x") [| 1.0; 2.0 |] "one point per epoch"
            Expect.equal (ChartPages.numbers traces.[0] "y") (result.History |> Seq.map (fun m -> m.TrainLoss) |> Seq.toArray) "train losses"
            Expect.equal (ChartPages.numbers traces.[1] "y") (result.History |> Seq.map (fun m -> m.ValidationLoss) |> Seq.toArray) "validation losses"
            let auc, _ = ChartPages.read (Path.Combine(s.Folder, "AUC.html"))
            Expect.equal (auc |> Array.map ChartPages.name) (Array.append [| "macro" |] s.Manifest.ClassNames) "AUC.html: macro and one line per class"
            Expect.equal (ChartPages.numbers auc.[0] "y") (result.History |> Seq.map (fun m -> m.ValidationMacroAuc) |> Seq.toArray) "macro AUC"
            let matrix, matrixLayout = ChartPages.read (Path.Combine(s.Folder, "confusion_matrices", "CD.html"))
            let cells = matrix.[0].GetProperty("z").EnumerateArray() |> Seq.collect (fun row -> row.EnumerateArray() |> Seq.map (fun v -> v.GetInt64())) |> Seq.sum
            Expect.stringStarts (ChartPages.title matrixLayout) "CD: " "confusion matrix title names the class"
            Expect.isGreaterThan cells 0L "confusion matrix counts the records"
            Expect.isEmpty (Directory.GetFiles(s.Folder, "*.tmp", SearchOption.AllDirectories)) "no temporary files left"

            // The Predictor on raw test signals gives the probabilities predictions.csv holds.
            let test = SplitScheme.Benchmark.TestIndices data
            let subset = data.Subset test
            use predictor = Predictor.Load(s)
            let probabilities = predictor.Predict(subset.Signals.ToArray(), subset.RecordCount, subset.Samples, subset.Leads)
            let rows = File.ReadAllLines(Path.Combine(s.Folder, "predictions.csv")) |> Array.filter (fun l -> l.Contains ",test,")
            Expect.equal rows.Length test.Length "test rows"
            rows |> Array.iteri (fun r row ->
                let f = row.Split ','
                Expect.equal (int f.[0]) data.EcgIds.[test.[r]] "ecg_id"
                for c in 0 .. 4 do
                    Expect.floatClose Accuracy.high (float probabilities.[r * 5 + c]) (float (System.Single.Parse(f.[2 + c], System.Globalization.CultureInfo.InvariantCulture))) "probability")
            let thresholds = TrainingReport.ReadThresholds s
            Expect.equal thresholds.Length 5 "one threshold per class"
            Expect.stringContains (File.ReadAllText(Path.Combine(s.Folder, "classification_report.txt"))) "macro avg" "sklearn-style report"
            let evaluation = Evaluator.Evaluate(s, data, DataSplit.Test, WeightsChoice.Best)
            Expect.equal evaluation.Probabilities.Length (test.Length * 5) "evaluator covers the test split"
        }

        test "a refit session trains on folds 1-8 with no validation fold, keeps the lowest training loss, and is tested on fold 9 alone" {
            Expect.equal (SplitScheme.Parse " Refit ") SplitScheme.Refit "parsed like the others"
            let data = synthetic 80 200 7
            let result = Trainer.Start(temporaryArtifacts (), smallConfig 2, data, SplitScheme.Refit, options = TrainingOptions(WriteReports = false))
            let m = result.Session.Manifest
            Expect.equal (m.Split, m.TrainFolds, m.ValidationFolds, m.TestFolds) ("refit", [| 1 .. 8 |], [||], [| 9 |]) "the folds recorded"
            // Fixture folds cycle 1..10: 8 of every 10 records train, 1 is the test, fold 10 is unused.
            Expect.equal (m.TrainRecords, m.ValidationRecords, m.TestRecords) (64, 0, 8) "record counts"
            let lowestLoss = result.History |> Seq.minBy (fun e -> e.TrainLoss)
            Expect.equal result.BestEpoch lowestLoss.Epoch "no validation fold: the epoch with the lowest training loss, never a fold-9 score"
            let evaluation = Evaluator.Evaluate(result.Session, data, DataSplit.Test, WeightsChoice.Best)
            Expect.equal evaluation.Probabilities.Length (8 * 5) "the test part is fold 9 alone"
            Expect.isEmpty (Evaluator.Evaluate(result.Session, data, DataSplit.Validation, WeightsChoice.Best)).EcgIds "no validation records"
        }

        test "resuming a session with another dataset is refused with a clear message" {
            let data = synthetic 40 100 8
            let first = Trainer.Start(temporaryArtifacts (), smallConfig 2, data, SplitScheme.Benchmark, options = TrainingOptions(WriteReports = false, StopAfterEpoch = 1))
            let other = synthetic 40 120 8
            let e = Expect.throwsC (fun () -> Trainer.Run(TrainingSession.Open first.Session.Folder, other) |> ignore) id
            Expect.stringContains e.Message "samples per record" "names the mismatch"
        }
    ]
