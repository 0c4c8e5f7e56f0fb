/// The FAKE pipeline (build.fsx through build.sh) on the real sample, with the shortest settings: every stage runs
/// and gets exactly the `--` options its `ecg` command declares. Each run builds the already-built solution again
/// (Restore and Build are dependencies of the stages), and never runs the Test target.
module Ecg.Cli.Tests.BuildChainTests

open System
open System.Diagnostics
open System.IO
open Expecto
open Ecg.Cli.Tests.EcgProcess

/// The configuration this test program was built in (bin/<configuration>/net10.0), so FAKE runs that build.
let private configuration =
    DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)).Parent.Name

/// Runs `bash build.sh <arguments>` in the repository root with the artifacts under `artifacts` and
/// PTBXL_DIR set to `ptbXlDir` (or removed).
let private runBuild (artifacts: string) (ptbXlDir: string option) (arguments: string list) =
    let info = ProcessStartInfo("bash", RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = repositoryRoot)
    for a in "build.sh" :: arguments do info.ArgumentList.Add a
    // Under the Test target this test runs inside FAKE. A nested FAKE there recompiles build.fsx (seen on a fresh
    // clone, not when the test program runs alone) and then fails to move its assembly over the outer run's cached
    // one ("IOException: ... build_<hash>.dll already exists"). The outer run has loaded that assembly already, so
    // the cached files are removed first: the nested build compiles and caches them again. The nested build also
    // starts without the outer FAKE's environment variables, as a user's would.
    let cache = Path.Combine(repositoryRoot, ".fake", "build.fsx")
    if Directory.Exists cache then
        for file in Directory.GetFiles(cache, "build_*.*") do File.Delete file
    for name in info.Environment.Keys |> Seq.filter (fun k -> k.StartsWith("FAKE", StringComparison.OrdinalIgnoreCase)) |> Seq.toArray do
        info.Environment.Remove name |> ignore
    info.Environment.["ECG_ARTIFACTS"] <- artifacts
    info.Environment.["CONFIGURATION"] <- configuration
    info.Environment.["NO_COLOR"] <- "1"
    match ptbXlDir with
    | Some folder -> info.Environment.["PTBXL_DIR"] <- folder
    | None -> info.Environment.Remove "PTBXL_DIR" |> ignore
    use p = Process.Start info
    let output = p.StandardOutput.ReadToEndAsync()
    let error = p.StandardError.ReadToEndAsync()
    p.WaitForExit()
    { ExitCode = p.ExitCode; Output = output.Result; Error = error.Result }

let private expectOk (r: Outcome) = Expect.equal r.ExitCode 0 (sprintf "exit code; output:\n%s\n%s" r.Output r.Error)

/// The `ecg ...` command lines build.fsx logged before running each stage.
let private ecgLines (r: Outcome) =
    r.Output.Split('\n') |> Array.map (fun line -> line.TrimEnd '\r') |> Array.filter (fun line -> line.StartsWith "ecg ") |> List.ofArray

let private expectFile (root: string) (relative: string) =
    Expect.isTrue (File.Exists(Path.Combine(root, relative))) (sprintf "%s exists under %s" relative root)

[<Tests>]
let tests =
    testSequenced <| testList "BuildChain" [
        test "./build.sh -t All -- --data <sample> ...: every stage runs and gets only the options it declares" {
            let artifacts = Ecg.Tests.TestFolders.create "fake-all"
            let sample = sampleFolder ()
            // Short and long names, `=` values and flags: Spectre's forms, split the way each command reads them.
            let r =
                runBuild artifacts None
                    [ "-t"; "All"; "--"; "--data"; sample; "-e"; "1"; "--batch-size"; "64"; "--bootstrap=10"
                      "--no-tsne"; "--no-umap"; "--seed"; "1" ]
            expectOk r
            Expect.equal (ecgLines r)
                [ sprintf "ecg preprocess --data %s" sample
                  "ecg train -e 1 --batch-size 64 --seed 1"
                  "ecg evaluate --bootstrap=10"
                  "ecg feature-space --no-tsne --no-umap --seed 1"
                  "ecg probe -e 1 --seed 1"
                  "ecg report --session all" ]
                "each stage's command line: --data only to preprocess (download found the sample), -e to train and probe"
            Expect.stringContains r.Output (sprintf "PTB-XL found in %s" sample) "Download saw the given folder"

            expectFile artifacts (Path.Combine("processed", "ptbxl_100hz.npz"))
            let session = Path.Combine(artifacts, "training_sessions", "session_1")
            for file in [ "config.json"; "weights/best.bin"; "weights/epoch_001.bin"; "evaluations/test_best.txt"; "report.html" ] do
                expectFile session file
            Expect.equal (File.ReadAllLines(Path.Combine(session, "metrics.csv"))).Length 2 "one epoch in metrics.csv"
            let space = Path.Combine(artifacts, "feature_space", "session_1")
            for file in [ "summary.json"; "embeddings_test.npz"; "charts/index.html"; "charts/pca_clusters.html" ] do
                expectFile space file
            Expect.isEmpty (Directory.GetFiles(Path.Combine(space, "charts"), "*tsne*")) "--no-tsne reached feature-space"
            expectFile (Path.Combine(artifacts, "probe_training_sessions", "session_1")) "summary.txt"
        }

        test "PTBXL_DIR=<sample> ./build.sh -t Preprocess: Download finds the folder, Preprocess reads it" {
            let artifacts = Ecg.Tests.TestFolders.create "fake-ptbxl-dir"
            let sample = sampleFolder ()
            let r = runBuild artifacts (Some sample) [ "-t"; "Preprocess" ]
            expectOk r
            Expect.stringContains r.Output (sprintf "PTB-XL found in %s" sample) "Download saw PTBXL_DIR"
            Expect.equal (ecgLines r) [ sprintf "ecg preprocess --data %s" sample ] "PTBXL_DIR became --data"
            expectFile artifacts (Path.Combine("processed", "ptbxl_100hz.npz"))
        }

        test "an option that no stage of the run declares stops the build before any stage runs" {
            let artifacts = Ecg.Tests.TestFolders.create "fake-unknown"
            // -s: only Train, without its dependencies; the check still covers every stage up to Train.
            let r = runBuild artifacts None [ "-s"; "-t"; "Train"; "--"; "--epochs"; "1"; "--bootstrap"; "10" ]
            Expect.notEqual r.ExitCode 0 "fails"
            Expect.stringContains (r.Output + r.Error) "Option --bootstrap is not declared by any command this run executes (download, preprocess, train)" "names the option and the commands"
            Expect.isEmpty (ecgLines r) "no stage ran"
            Expect.isFalse (Directory.Exists(Path.Combine(artifacts, "training_sessions"))) "nothing trained"
        }
    ]
