module Ecg.Data.Tests.ArtifactLayoutTests

open System
open System.IO
open System.Threading.Tasks
open Expecto
open Ecg.Data

let private folder name = Ecg.Tests.TestFolders.create ("layout-" + name)

/// A numbered folder that counts as complete: it holds the file that makes it one.
let private complete (parent: string) (n: int) (file: string) =
    let d = NumberedFolders.Path(parent, n)
    Directory.CreateDirectory d |> ignore
    File.WriteAllText(Path.Combine(d, file), "{}")

[<Tests>]
let tests =
    testList "ArtifactLayout" [
        test "every path sits under the root, in the documented places" {
            let root = folder "paths"
            let layout = ArtifactLayout root
            Expect.equal (layout.ProcessedDataset 100) (Path.Combine(root, "processed", "ptbxl_100hz.npz")) "processed dataset"
            Expect.equal (layout.TrainingSessionFolder 7) (Path.Combine(root, "training_sessions", "session_7")) "session folder"
            Expect.equal (layout.FeatureSpace 7) (Path.Combine(root, "feature_space", "session_7")) "feature space"
            Expect.equal (layout.Embeddings(7, "test")) (Path.Combine(root, "feature_space", "session_7", "embeddings_test.npz")) "embeddings"
            Expect.equal (layout.ProbeSession 2) (Path.Combine(root, "probe_training_sessions", "session_2")) "probe session"
            Expect.equal (layout.EnsembleReport "sessions_1_2_test") (Path.Combine(root, "ensembles", "sessions_1_2_test.txt")) "ensemble report"
            let s = layout.TrainingSession 7
            Expect.equal (s.EpochWeights 3) (Path.Combine(root, "training_sessions", "session_7", "weights", "epoch_003.bin")) "epoch weights"
            Expect.equal (s.AveragedWeights(9, 12)) (Path.Combine(s.WeightsFolder, "average_009-012.bin")) "averaged weights"
            Expect.equal (s.OptimizerState 4) (Path.Combine(s.Folder, "state", "optimizer_epoch_004.bin")) "optimizer state"
            Expect.equal (s.Curve "Loss") (Path.Combine(s.Folder, "Loss.html")) "curve"
        }

        test "the root comes from the argument, else ECG_ARTIFACTS, else ./artifacts" {
            let previous = Environment.GetEnvironmentVariable ArtifactLayout.EnvironmentVariable
            try
                Environment.SetEnvironmentVariable(ArtifactLayout.EnvironmentVariable, "/tmp/from-environment")
                Expect.equal (ArtifactLayout.Resolve "/tmp/given").Root "/tmp/given" "argument first"
                Expect.equal (ArtifactLayout.Resolve null).Root "/tmp/from-environment" "then the environment"
                Environment.SetEnvironmentVariable(ArtifactLayout.EnvironmentVariable, null)
                Expect.equal (ArtifactLayout.Resolve "").Root (Path.GetFullPath "artifacts") "then ./artifacts"
            finally
                Environment.SetEnvironmentVariable(ArtifactLayout.EnvironmentVariable, previous)
        }

        test "N and latest resolve among complete folders; anything else lists what exists" {
            let layout = ArtifactLayout(folder "resolve")
            let none = Expect.throwsC (fun () -> layout.ResolveTrainingSession "latest" |> ignore) id
            Expect.stringContains none.Message "there are none yet" "no session yet"
            for n in [ 1; 2; 5 ] do complete layout.TrainingSessions n "config.json"
            Directory.CreateDirectory(layout.TrainingSessionFolder 9) |> ignore   // claimed, never written: not a session
            Expect.equal (layout.TrainingSessionNumbers()) [| 1; 2; 5 |] "complete sessions only"
            Expect.equal (layout.ResolveTrainingSession "latest") 5 "latest"
            Expect.equal (layout.ResolveTrainingSession "") 5 "empty means latest"
            Expect.equal (layout.ResolveTrainingSession " 2 ") 2 "a number"
            for bad in [ "9"; "3"; "two"; "-1" ] do
                let e = Expect.throwsC (fun () -> layout.ResolveTrainingSession bad |> ignore) id
                Expect.isTrue (e :? UserError) "a user error"
                Expect.stringContains e.Message (sprintf "Training session '%s' not found" bad) "names the choice"
                Expect.stringContains e.Message "existing: 1, 2, 5" "lists the sessions"
        }

        test "claims are distinct under concurrency and never reuse a complete or owned folder" {
            let parent = Path.Combine(folder "claim", "runs")
            complete parent 1 "done.json"
            let claimed = Collections.Concurrent.ConcurrentBag<int>()
            Parallel.For(0, 16, fun _ -> let struct (n, d) = NumberedFolders.Claim(parent, "done.json") in claimed.Add n; Expect.isTrue (Directory.Exists d) "folder exists") |> ignore
            let numbers = claimed |> Seq.sort |> Seq.toArray
            Expect.equal numbers [| 2 .. 17 |] "sixteen distinct numbers after the existing one"
            for n in numbers do
                Expect.isTrue (File.Exists(Path.Combine(NumberedFolders.Path(parent, n), NumberedFolders.OwnerFile))) "each has its owner file"
            // A folder that another process created but has not finished (owner file only) is not taken over.
            let struct (next, _) = NumberedFolders.Claim(parent, "done.json")
            Expect.equal next 18 "the next free number"
        }

        test "numbers come only from session_N names" {
            Expect.equal (NumberedFolders.NumberOf "/x/session_12") 12 "numbered"
            Expect.equal (NumberedFolders.NumberOf "/x/session_12/") 12 "trailing separator"
            for name in [ "/x/session_"; "/x/session_a"; "/x/other_3"; "/x/session_0" ] do
                Expect.equal (NumberedFolders.NumberOf name) 0 name
        }
    ]
