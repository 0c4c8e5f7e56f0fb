/// The F# scripts in scripts/ run with `dotnet fsi` against this test's own build output (ECG_BIN), on the
/// real sample, so they cannot rot.
module Ecg.Cli.Tests.ScriptTests

open System
open System.Diagnostics
open System.IO
open Expecto
open Ecg.Cli.Tests.EcgProcess

let private tempFolder name = Ecg.Tests.TestFolders.create ("scripts-" + name)

/// Runs `dotnet fsi scripts/<script> <arguments>` in `folder` with ECG_BIN set to this test's output folder.
let runScript (folder: string) (environment: (string * string) list) (script: string) (arguments: string list) =
    let info = ProcessStartInfo("dotnet", RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = folder)
    for a in [ "fsi"; Path.Combine(repositoryRoot, "scripts", script) ] @ arguments do info.ArgumentList.Add a
    info.Environment.["ECG_BIN"] <- AppContext.BaseDirectory
    info.Environment.["ECG_ARTIFACTS"] <- ""
    for (k, v) in environment do info.Environment.[k] <- v
    use p = Process.Start info
    let output = p.StandardOutput.ReadToEndAsync()
    let error = p.StandardError.ReadToEndAsync()
    p.WaitForExit()
    { ExitCode = p.ExitCode; Output = output.Result; Error = error.Result }

let private expectOk (r: Outcome) = Expect.equal r.ExitCode 0 (sprintf "exit code; output:\n%s\n%s" r.Output r.Error)

/// Whether a failed run stopped on NaN or non-finite values: the platform fault of README "AVX-512 and sporadic
/// NaN", which F# Interactive meets more often than compiled programs do.
let private stoppedOnNaN (r: Outcome) =
    r.ExitCode <> 0 && Text.RegularExpressions.Regex.IsMatch(r.Output + r.Error, @"\bNaN\b|non-finite")

/// Runs a script that uses TorchSharp; when it stops on NaN, runs it once more in a fresh process and says so, as the
/// Test target does for a whole test program. A real failure fails both times.
let private runTorchScript folder environment script arguments =
    let first = runScript folder environment script arguments
    if stoppedOnNaN first then
        eprintfn "%s stopped on NaN (platform fault, see README \"AVX-512 and sporadic NaN\"); running it once more in a new process. First run:\n%s\n%s"
            script first.Output first.Error
        runScript folder environment script arguments
    else first

[<Tests>]
let tests =
    testSequenced <| testList "Scripts" [
        test "explore-data runs on the sample: Deedle frames and an offline 12-lead chart" {
            let work = tempFolder "explore"
            expectOk (runIn work [ "PTBXL_DIR", ""; "ECG_ARTIFACTS", "" ] [ "preprocess"; "--data"; sampleFolder () ])
            let data = runScript work [] "explore-data.fsx" [ "--record"; "9" ]
            expectOk data
            Expect.stringContains data.Output "Records per class" "class counts"
            Expect.stringContains data.Output "NORM -> 243" "NORM count of the sample"
            Expect.stringContains data.Output "Age: 386 known, 4 missing" "age statistics"
            let chart = Path.Combine(work, "artifacts", "scripts", "explore-data", "record_9.html")
            Expect.isTrue (File.Exists chart) "record chart"
            Expect.isFalse (File.ReadAllText(chart).Contains "<script src=\"https://") "no CDN script"
        }

        test "explore-embeddings runs on a one-epoch session of the sample" {
            let work = tempFolder "embeddings"
            expectOk (runIn work [ "PTBXL_DIR", ""; "ECG_ARTIFACTS", "" ] [ "preprocess"; "--data"; sampleFolder () ])
            expectOk (runIn work [ "ECG_ARTIFACTS", "" ] [ "train"; "--epochs"; "1"; "--batch-size"; "64"; "--seed"; "1" ])
            let embeddings = runTorchScript work [] "explore-embeddings.fsx" [ "--session"; "1"; "--clusters"; "3" ]
            expectOk embeddings
            Expect.stringContains embeddings.Output "62 x 128 embeddings" "validation fold 9 of the sample, 128-d"
            Expect.stringContains embeddings.Output "records per cluster and class" "the cluster x class frame"
            Expect.isTrue (File.Exists(Path.Combine(work, "artifacts", "scripts", "explore-embeddings", "session_1", "pca_clusters.html"))) "PCA chart"
        }

        test "train-short trains two epochs and prints the metrics" {
            let work = tempFolder "train"
            expectOk (runIn work [ "PTBXL_DIR", ""; "ECG_ARTIFACTS", "" ] [ "preprocess"; "--data"; sampleFolder () ])
            let r = runTorchScript work [] "train-short.fsx" [ "--epochs"; "2"; "--batch-size"; "64" ]
            expectOk r
            Expect.stringContains r.Output "macro_auc" "metrics header"
            // A rerun after a NaN stop trains a new session: check the one this run names.
            let session = Text.RegularExpressions.Regex.Match(r.Output, @"Session (\d+): ")
            Expect.isTrue session.Success "names its session"
            let metrics = Path.Combine(work, "artifacts", "training_sessions", "session_" + session.Groups.[1].Value, "metrics.csv")
            Expect.equal (File.ReadAllLines metrics).Length 3 "a header and two epochs in metrics.csv"
        }

        test "a script without the build output says to build first" {
            let r = runScript (tempFolder "nobuild") [ "ECG_BIN", "/nonexistent/ecg-bin" ] "explore-data.fsx" []
            Expect.equal r.ExitCode 1 "failure"
            Expect.stringContains r.Error "run ./build.sh -t Build first" "says what to do"
        }
    ]
