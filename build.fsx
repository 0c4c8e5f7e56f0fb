#r "paket:
source https://api.nuget.org/v3/index.json
framework: net6.0
storage: none
strategy: min
nuget FSharp.Core 6.0.0
nuget Fake.Core.Target 5.20.3
nuget Fake.DotNet.Cli 5.20.3
nuget Fake.IO.FileSystem 5.20.3
nuget Fake.Core.CommandLineParsing 5.20.3
nuget Fake.Core.Context 5.20.3
nuget Fake.Core.Environment 5.20.3
nuget Fake.Core.FakeVar 5.20.3
nuget Fake.Core.Process 5.20.3
nuget Fake.Core.SemVer 5.20.3
nuget Fake.Core.String 5.20.3
nuget Fake.Core.Tasks 5.20.3
nuget Fake.Core.Trace 5.20.3
nuget Fake.Core.Xml 5.20.3
nuget Fake.DotNet.MSBuild 5.20.3
nuget Fake.DotNet.NuGet 5.20.3
nuget Fake.Net.Http 5.20.3
nuget FParsec 1.1.1
nuget FSharp.Control.Reactive 4.4.2
nuget System.Reactive 5.0.0
nuget System.Collections.Immutable 5.0.0
nuget Mono.Posix.NETStandard 1.0.0
nuget Newtonsoft.Json 12.0.3
nuget BlackFox.VsWhere 1.1.0
nuget Microsoft.Win32.Registry 4.7.0
nuget MSBuild.StructuredLogger 2.1.176
nuget NuGet.Protocol 6.7.0 //"

#load ".fake/build.fsx/intellisense.fsx"

// The whole pipeline as build targets. Every stage runs the `ecg` command (Ecg.Cli), so each
// stage's logic lives in one place; this file only orders the stages and passes options through.
// Usage: ./build.sh -t <Target> [-- <options for the ecg command>]

open System
open System.IO
open Fake.Core
open Fake.Core.TargetOperators
open Fake.DotNet
open Fake.IO
open Fake.IO.Globbing.Operators

let configuration = Environment.environVarOrDefault "CONFIGURATION" "Release"
let solution = "Ecg.sln"
let testProjects = !! "tests/**/*.Tests.fsproj" |> Seq.sort |> Seq.toList

/// <summary>FAKE 5 cannot read .NET 10 binlogs: turn its internal binlog off on every MSBuild call.</summary>
let noBinLog (p: MSBuild.CliArguments) = { p with DisableInternalBinLog = true }

/// <summary>Runs `dotnet <arguments>` in the repository root and fails the target on a non-zero exit.</summary>
let dotnet (arguments: string) =
    let result = DotNet.exec id "" arguments
    if not result.OK then failwithf "dotnet %s failed with exit code %d" arguments result.ExitCode

// ---------------------------------------------------------------------------------------------
// Targets
// ---------------------------------------------------------------------------------------------

Target.create "Clean" (fun _ ->
    !! "Ecg.*/bin" ++ "Ecg.*/obj" ++ "tests/*/bin" ++ "tests/*/obj" |> Shell.cleanDirs)

Target.create "Restore" (fun _ ->
    DotNet.restore (fun p -> { p with MSBuildParams = noBinLog p.MSBuildParams }) solution)

Target.create "Build" (fun _ ->
    DotNet.build (fun p ->
        { p with
            Configuration = DotNet.BuildConfiguration.fromString configuration
            NoRestore = true
            MSBuildParams = noBinLog p.MSBuildParams }) solution)

/// Test projects are Expecto console programs: run each built assembly; any failure fails the target.
Target.create "Test" (fun _ ->
    let failures =
        testProjects
        |> List.filter (fun project ->
            let name = Path.GetFileNameWithoutExtension project
            let assembly = Path.Combine(Path.GetDirectoryName project, "bin", configuration, "net10.0", name + ".dll")
            if not (File.Exists assembly) then
                failwithf "%s was not built: add %s to %s" assembly project solution
            Trace.log (sprintf "Running %s" name)
            let result = DotNet.exec id assembly "--summary"
            // One rerun in a fresh process: on our development VMs TorchSharp sometimes enters a state where every
            // computation gives NaN until the process ends (README, "Platform notes"). A real failure fails twice.
            if result.OK then false
            else
                Trace.traceImportant (sprintf "%s failed; running it once more in a new process (platform NaN faults, see README)" name)
                not (DotNet.exec id assembly "--summary").OK)
    if not failures.IsEmpty then
        failwithf "Tests failed in: %s" (String.Join(", ", failures |> List.map Path.GetFileNameWithoutExtension)))

// ---------------------------------------------------------------------------------------------
// Pipeline stages: each runs one `ecg` command (Ecg.Cli), built by the Build target.
// Options after `--` go to the command of the target you asked for; --data, --artifacts and --rate
// also go to the stages it depends on. Environment: PTBXL_DIR (PTB-XL folder), ECG_ARTIFACTS.
// ---------------------------------------------------------------------------------------------

let ecgAssembly = Path.Combine("Ecg.Cli", "bin", configuration, "net10.0", "ecg.dll")

/// Options every stage understands, forwarded to the stages a target depends on.
let sharedOptions = set [ "--data"; "-d"; "--artifacts"; "-a"; "--rate"; "-r" ]

/// <summary>The options for this target's command: all of them for the requested target, the shared ones otherwise.</summary>
let stageArguments (p: TargetParameter) =
    let arguments = p.Context.Arguments
    if p.Context.FinalTarget = p.TargetInfo.Name then arguments
    else
        let rec shared = function
            | name :: value :: rest when sharedOptions.Contains name -> name :: value :: shared rest
            | _ :: rest -> shared rest
            | [] -> []
        shared arguments

/// <summary>Runs `ecg <command> <options>`; a non-zero exit fails the target.</summary>
let ecg (command: string list) (p: TargetParameter) =
    let arguments = command @ stageArguments p
    let result = DotNet.exec id ecgAssembly (Args.toWindowsCommandLine arguments)
    if not result.OK then failwithf "ecg %s failed with exit code %d" (String.Join(" ", arguments)) result.ExitCode

/// The PTB-XL folder: --data, else PTBXL_DIR, else data/ptb-xl when a download put it there.
let ptbXlFolder (p: TargetParameter) =
    let rec fromArguments = function
        | ("--data" | "-d") :: value :: _ -> Some value
        | _ :: rest -> fromArguments rest
        | [] -> None
    match fromArguments p.Context.Arguments, Environment.environVarOrNone "PTBXL_DIR" with
    | Some folder, _ | None, Some folder -> Some folder
    | None, None when File.Exists(Path.Combine("data", "ptb-xl", "ptbxl_database.csv")) -> Some(Path.Combine("data", "ptb-xl"))
    | None, None -> None

/// <summary>`--data <folder>` from PTBXL_DIR (or data/ptb-xl) when the options do not already name one.</summary>
let dataOption (p: TargetParameter) =
    let given = p.Context.Arguments |> List.exists (fun a -> a = "--data" || a = "-d")
    match ptbXlFolder p with
    | Some folder when not given -> [ "--data"; folder ]
    | _ -> []

let isPtbXl folder = File.Exists(Path.Combine(folder, "ptbxl_database.csv")) && File.Exists(Path.Combine(folder, "scp_statements.csv"))

/// Fetches PTB-XL into data/ptb-xl unless a PTB-XL folder is already given or present.
Target.create "Download" (fun p ->
    match ptbXlFolder p with
    | Some folder when isPtbXl folder -> Trace.log (sprintf "PTB-XL found in %s; nothing to download." folder)
    | given ->
        let target = defaultArg given (Path.Combine("data", "ptb-xl"))
        Trace.log (sprintf "No PTB-XL in %s: downloading PTB-XL 1.0.3 (100 Hz) from PhysioNet." target)
        try ecg [ "download"; "--data"; target ] { p with Context = { p.Context with Arguments = [] } }
        with e ->
            failwithf "%s\nCould not download PTB-XL. With a local copy, point the pipeline at it: PTBXL_DIR=/path/to/ptb-xl ./build.sh -t Train (or -- --data /path/to/ptb-xl)." e.Message
        Environment.setEnvironVar "PTBXL_DIR" (Path.GetFullPath target))

Target.create "Preprocess" (fun p -> ecg ("preprocess" :: dataOption p) p)
Target.create "Train" (ecg [ "train" ])
Target.create "Evaluate" (ecg [ "evaluate" ])

Target.create "FeatureSpace" (ecg [ "feature-space" ])
Target.create "Probe" (ecg [ "probe" ])
Target.create "Report" (ecg [ "report"; "--session"; "all" ])
Target.create "All" ignore

/// The whole pipeline on a small synthetic PTB-XL (no download): a few minutes, ends with the report.
/// Writes under artifacts/demo (or $ECG_ARTIFACTS/demo); DEMO_RECORDS and DEMO_EPOCHS change its size.
Target.create "Demo" (fun p ->
    let root = Path.Combine(Environment.environVarOrDefault "ECG_ARTIFACTS" "artifacts", "demo")
    let data = Path.Combine(root, "ptb-xl-synthetic")
    let records = Environment.environVarOrDefault "DEMO_RECORDS" "2000"
    let epochs = Environment.environVarOrDefault "DEMO_EPOCHS" "5"
    let only = { p with Context = { p.Context with Arguments = [] } }
    if not (File.Exists(Path.Combine(data, "SHA256SUMS.txt"))) then
        ecg [ "synth"; data; "--records"; records; "--overwrite" ] only
    for stage in [ [ "preprocess"; "--data"; data ]
                   [ "train"; "--preset"; "benchmark"; "--epochs"; epochs; "--notes"; "Demo on synthetic data" ]
                   [ "evaluate" ]
                   [ "feature-space" ]
                   [ "probe"; "--epochs"; "30" ]
                   [ "report"; "--session"; "latest" ] ] do
        ecg (stage @ [ "--artifacts"; root ]) only
    Trace.log (sprintf "Demo report: %s" (Path.Combine(root, "training_sessions")) ))

/// Runs every F# script in scripts/ on the 400-record sample (the script tests, which the Test target
/// skips: see tests/Ecg.Cli.Tests/ScriptTests.fs).
Target.create "Scripts" (fun _ ->
    let assembly = Path.Combine("tests", "Ecg.Cli.Tests", "bin", configuration, "net10.0", "Ecg.Cli.Tests.dll")
    Environment.setEnvironVar "ECG_RUN_SCRIPT_TESTS" "1"
    let result = DotNet.exec id assembly "--summary --filter-test-list Scripts"
    if not result.OK then failwith "The scripts failed on the sample.")

/// Stage timings on this machine (not a test): pass --data and --dataset for full-size figures.
Target.create "Bench" (fun p -> ecg ("bench" :: dataOption p) p)

/// The growth study (not a test): preprocessing, one training epoch, embedding and projections for the first
/// 1,000, 5,000 and all records of the PTB-XL folder, each in a fresh process (`-- --growth-records` changes them).
Target.create "Growth" (fun p -> ecg ([ "bench"; "--stages"; "growth" ] @ dataOption p) p)

/// `ecg ensemble` over the sessions in ENSEMBLE_SESSIONS (e.g. 1,2,3) or `-- --sessions 1,2,3`: the mean of their
/// probabilities, evaluated like a session.
Target.create "Ensemble" (fun p ->
    let given = p.Context.Arguments |> List.contains "--sessions"
    match Environment.environVarOrNone "ENSEMBLE_SESSIONS" with
    | Some sessions when not given -> ecg [ "ensemble"; "--sessions"; sessions ] p
    | _ when given -> ecg [ "ensemble" ] p
    | _ -> failwith "Ensemble: name the sessions, e.g. ENSEMBLE_SESSIONS=1,2,3 ./build.sh -t Ensemble (or -- --sessions 1,2,3).")

/// `ecg average`: a session's weights averaged over its last epochs (`-- --session 3 --epochs 9-12`), with fresh
/// BatchNorm statistics, evaluated on validation.
Target.create "Average" (ecg [ "average" ])

// ---------------------------------------------------------------------------------------------
// Dependencies
// ---------------------------------------------------------------------------------------------

"Clean" ?=> "Restore"
"Restore" ==> "Build" ==> "Test"
"Build" ==> "Download" ==> "Preprocess" ==> "Train" ==> "Evaluate" ==> "FeatureSpace" ==> "Probe" ==> "Report" ==> "All"
"Build" ==> "Demo"
"Build" ==> "Bench"
"Build" ==> "Growth"
"Build" ==> "Ensemble"
"Build" ==> "Average"
"Build" ==> "Scripts"

Target.runOrDefaultWithArguments "Build"
