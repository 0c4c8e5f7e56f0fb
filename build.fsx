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
open System.Xml.Linq
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
// Options after `--` go to every stage of this run whose command declares them, and only there: `--epochs 1`
// reaches `ecg train` and `ecg probe`, `--data` reaches `ecg download` and `ecg preprocess`. What each command
// declares comes from Spectre.Console.Cli's own listing, `ecg cli xmldoc`. An option that no stage of the run
// declares stops the build before any stage runs. Environment: PTBXL_DIR (PTB-XL folder), ECG_ARTIFACTS.
// ---------------------------------------------------------------------------------------------

let ecgAssembly = Path.Combine("Ecg.Cli", "bin", configuration, "net10.0", "ecg.dll")

/// The `ecg` command behind each target that forwards options (Demo runs fixed stages and forwards none).
let stageCommands =
    Map [ "Download", "download"; "Preprocess", "preprocess"; "Train", "train"; "Evaluate", "evaluate"
          "FeatureSpace", "feature-space"; "Probe", "probe"; "Report", "report"
          "Bench", "bench"; "Growth", "bench"; "Ensemble", "ensemble"; "Average", "average" ]

/// Whether an option takes a value, as Spectre.Console.Cli parses it.
type OptionValue =
    /// A bool flag: no value, though `true`/`false` may follow it (or `=true`).
    | NoValue
    /// Scalar, vector or pair options: the next argument, or `--name=value` / `--name:value`.
    | RequiredValue
    /// FlagValue<T>: a value when the next argument is not an option.
    | OptionalValue

/// <summary>One option a command declares: every name it answers to (`--epochs`, `-e`) and its value.</summary>
type DeclaredOption = { Names: string list; Value: OptionValue }

/// <summary>The options of every `ecg` command, by command name, from `ecg cli xmldoc` (asked once per build run).</summary>
let declaredOptions : Lazy<Map<string, DeclaredOption list>> =
    lazy (
        let result =
            CreateProcess.fromRawCommand "dotnet" [ ecgAssembly; "cli"; "xmldoc" ]
            |> CreateProcess.setEnvironmentVariable "NO_COLOR" "1"
            |> CreateProcess.redirectOutput
            |> Proc.run
        if result.ExitCode <> 0 then
            failwithf "`dotnet %s cli xmldoc` (the options each ecg command declares) failed with exit code %d:\n%s%s"
                ecgAssembly result.ExitCode result.Result.Output result.Result.Error
        let output = result.Result.Output
        let start = output.IndexOf "<?xml"
        if start < 0 then failwithf "`ecg cli xmldoc` printed no XML:\n%s" output
        let name = XName.Get
        let attribute (element: XElement) key =
            match element.Attribute(name key) with
            | null -> ""
            | a -> a.Value
        XDocument.Parse(output.Substring start).Root.Elements(name "Command")
        |> Seq.map (fun command ->
            let options =
                command.Elements(name "Parameters").Elements(name "Option")
                |> Seq.map (fun option ->
                    // Spectre lists several aliases comma-separated, without dashes.
                    let names prefix key =
                        (attribute option key).Split([| ',' |], StringSplitOptions.RemoveEmptyEntries)
                        |> Seq.map (fun n -> prefix + n.Trim())
                        |> List.ofSeq
                    { Names = names "--" "Long" @ names "-" "Short"
                      Value =
                        match attribute option "Kind" with
                        | "flag" -> NoValue
                        | "flagvalue" -> OptionalValue
                        | _ -> RequiredValue })
                |> List.ofSeq
            attribute command "Name", options)
        |> Map.ofSeq)

/// <summary>The options a command declares; fails when the command is unknown (renamed in Ecg.Cli?).</summary>
let optionsOf (command: string) =
    match declaredOptions.Value.TryFind command with
    | Some options -> options
    | None -> failwithf "build.fsx runs `ecg %s`, which `ecg cli xmldoc` does not list: update stageCommands in build.fsx." command

/// <summary>One option from the `--` arguments: its name as written and the arguments that carry it.</summary>
type GivenOption = { Name: string; Value: string option; Arguments: string list }

/// <summary>
/// Splits the `--` arguments into options, the way Spectre.Console.Cli will read them: `--name value`,
/// `--name=value`, `--name:value`, `-n value`, flags alone or with `true`/`false`. Whether a name takes a value
/// comes from the commands that run (<paramref name="commands"/>); a name none of them declares is an error.
/// </summary>
let parseGivenOptions (commands: string list) (arguments: string list) =
    let declarations =
        commands
        |> List.distinct
        |> List.collect (fun command -> optionsOf command |> List.map (fun option -> command, option))
    let valueOf (name: string) =
        match declarations |> List.filter (fun (_, option) -> List.contains name option.Names) with
        | [] ->
            failwithf "Option %s is not declared by any command this run executes (%s); see `dotnet %s <command> --help`."
                name (String.Join(", ", List.distinct commands)) ecgAssembly
        | found ->
            match found |> List.map (fun (_, option) -> option.Value) |> List.distinct with
            | [ value ] -> value
            | _ ->
                failwithf "Option %s takes a value in some commands and none in others (%s): run those stages separately."
                    name (String.Join(", ", found |> List.map fst))
    let isOption (argument: string) = argument.StartsWith "-"
    let isBoolean (argument: string) = argument.Equals("true", StringComparison.OrdinalIgnoreCase) || argument.Equals("false", StringComparison.OrdinalIgnoreCase)
    let rec parse (arguments: string list) =
        match arguments with
        | [] -> []
        | "--" :: _ -> failwith "A second `--` in the options: everything after the first one goes to the ecg commands."
        | argument :: rest when isOption argument ->
            // Spectre's separators: the first '=' or ':' after the name.
            let separator = argument.IndexOfAny([| '='; ':' |])
            let name, inlineValue = if separator > 0 then argument.Substring(0, separator), Some(argument.Substring(separator + 1)) else argument, None
            if not (name.StartsWith "--") && name.Length > 2 then
                failwithf "%s: give short options one at a time (e.g. -e 1), or use their long names." argument
            match valueOf name, inlineValue, rest with
            | NoValue, Some value, _ when not (isBoolean value) -> failwithf "%s is a flag: it takes no value (only true or false)." name
            | _, Some value, _ -> { Name = name; Value = Some value; Arguments = [ argument ] } :: parse rest
            | NoValue, None, value :: rest when isBoolean value -> { Name = name; Value = Some value; Arguments = [ argument; value ] } :: parse rest
            | NoValue, None, _ -> { Name = name; Value = None; Arguments = [ argument ] } :: parse rest
            | (RequiredValue | OptionalValue), None, value :: rest when not (isOption value) ->
                { Name = name; Value = Some value; Arguments = [ argument; value ] } :: parse rest
            | OptionalValue, None, _ -> { Name = name; Value = None; Arguments = [ argument ] } :: parse rest
            | RequiredValue, None, _ -> failwithf "Option %s needs a value." name
        | argument :: _ ->
            failwithf "'%s' after `--` is not an option: every argument there is an option (--name value) for the ecg commands." argument
    parse arguments

/// <summary>The `ecg` commands of the targets this build run executes, in order.</summary>
let runningCommands (p: TargetParameter) =
    p.Context.AllExecutingTargets |> List.choose (fun target -> stageCommands.TryFind target.Name)

/// <summary>The `--` arguments as options, checked against every command of this run (so a typo stops the first stage).</summary>
let givenOptions (p: TargetParameter) = parseGivenOptions (runningCommands p) p.Context.Arguments

/// <summary>The given options that <paramref name="command"/> declares, in the order given.</summary>
let forwardedTo (command: string) (p: TargetParameter) =
    let names = optionsOf command |> List.collect (fun option -> option.Names) |> set
    givenOptions p |> List.filter (fun option -> names.Contains option.Name)

/// <summary>The names of the option of <paramref name="command"/> that answers to <paramref name="name"/>.</summary>
let aliasesOf (command: string) (name: string) =
    match optionsOf command |> List.tryFind (fun option -> List.contains name option.Names) with
    | Some option -> option.Names
    | None -> failwithf "build.fsx passes %s to `ecg %s`, which does not declare it." name command

/// <summary>
/// Runs `ecg <command>` with the target's own options (<paramref name="defaults"/>, each `[ name; value ]` or
/// `[ flag ]`) and the given options the command declares; a given option replaces a default of the same name.
/// A non-zero exit fails the target.
/// </summary>
let ecgWith (command: string) (defaults: string list list) (p: TargetParameter) =
    let forwarded = forwardedTo command p
    let given = forwarded |> List.map (fun option -> option.Name) |> set
    let kept = defaults |> List.filter (fun option -> aliasesOf command (List.head option) |> List.forall (given.Contains >> not))
    let arguments = command :: List.concat kept @ List.collect (fun option -> option.Arguments) forwarded
    Trace.log (sprintf "ecg %s" (String.Join(" ", arguments)))
    let result = DotNet.exec id ecgAssembly (Args.toWindowsCommandLine arguments)
    if not result.OK then failwithf "ecg %s failed with exit code %d" (String.Join(" ", arguments)) result.ExitCode

/// <summary>Runs `ecg <command>` with the given options it declares.</summary>
let ecg (command: string) (p: TargetParameter) = ecgWith command [] p

/// <summary>Runs `ecg <arguments>` as they are, without the `--` arguments (for the Demo stages).</summary>
let ecgExactly (arguments: string list) =
    Trace.log (sprintf "ecg %s" (String.Join(" ", arguments)))
    let result = DotNet.exec id ecgAssembly (Args.toWindowsCommandLine arguments)
    if not result.OK then failwithf "ecg %s failed with exit code %d" (String.Join(" ", arguments)) result.ExitCode

/// <summary>The value of the first given option named <paramref name="names"/> (e.g. --data or -d).</summary>
let givenValue (names: string list) (p: TargetParameter) =
    givenOptions p |> List.tryPick (fun option -> if List.contains option.Name names then option.Value else None)

/// The PTB-XL folder: --data, else PTBXL_DIR, else data/ptb-xl when a download put it there.
let ptbXlFolder (p: TargetParameter) =
    match givenValue [ "--data"; "-d" ] p, Environment.environVarOrNone "PTBXL_DIR" with
    | Some folder, _ | None, Some folder -> Some folder
    | None, None when File.Exists(Path.Combine("data", "ptb-xl", "ptbxl_database.csv")) -> Some(Path.Combine("data", "ptb-xl"))
    | None, None -> None

/// <summary>`--data <folder>` from PTBXL_DIR (or data/ptb-xl), as a default a given --data replaces.</summary>
let dataDefault (p: TargetParameter) =
    match ptbXlFolder p with
    | Some folder -> [ [ "--data"; folder ] ]
    | None -> []

let isPtbXl folder = File.Exists(Path.Combine(folder, "ptbxl_database.csv")) && File.Exists(Path.Combine(folder, "scp_statements.csv"))

/// Fetches PTB-XL into data/ptb-xl unless a PTB-XL folder is already given or present.
Target.create "Download" (fun p ->
    match ptbXlFolder p with
    | Some folder when isPtbXl folder -> Trace.log (sprintf "PTB-XL found in %s; nothing to download." folder)
    | given ->
        let target = defaultArg given (Path.Combine("data", "ptb-xl"))
        Trace.log (sprintf "No PTB-XL in %s: downloading PTB-XL 1.0.3 from PhysioNet." target)
        try ecgWith "download" [ [ "--data"; target ] ] p
        with e ->
            failwithf "%s\nCould not download PTB-XL. With a local copy, point the pipeline at it: PTBXL_DIR=/path/to/ptb-xl ./build.sh -t Train (or -- --data /path/to/ptb-xl)." e.Message
        Environment.setEnvironVar "PTBXL_DIR" (Path.GetFullPath target))

Target.create "Preprocess" (fun p -> ecgWith "preprocess" (dataDefault p) p)
Target.create "Train" (ecg "train")
Target.create "Evaluate" (ecg "evaluate")
Target.create "FeatureSpace" (ecg "feature-space")
Target.create "Probe" (ecg "probe")
Target.create "Report" (ecgWith "report" [ [ "--session"; "all" ] ])
Target.create "All" ignore

/// The whole pipeline on a small synthetic PTB-XL (no download): a few minutes, ends with the report.
/// Writes under artifacts/demo (or $ECG_ARTIFACTS/demo); DEMO_RECORDS and DEMO_EPOCHS change its size.
Target.create "Demo" (fun p ->
    let root = Path.Combine(Environment.environVarOrDefault "ECG_ARTIFACTS" "artifacts", "demo")
    let data = Path.Combine(root, "ptb-xl-synthetic")
    let records = Environment.environVarOrDefault "DEMO_RECORDS" "2000"
    let epochs = Environment.environVarOrDefault "DEMO_EPOCHS" "5"
    if not p.Context.Arguments.IsEmpty then
        failwithf "Demo takes no options after `--` (got %s): DEMO_RECORDS and DEMO_EPOCHS set its size." (String.Join(" ", p.Context.Arguments))
    if not (File.Exists(Path.Combine(data, "SHA256SUMS.txt"))) then
        ecgExactly [ "synth"; data; "--records"; records; "--overwrite" ]
    for stage in [ [ "preprocess"; "--data"; data ]
                   [ "train"; "--preset"; "benchmark"; "--epochs"; epochs; "--notes"; "Demo on synthetic data" ]
                   [ "evaluate" ]
                   [ "feature-space" ]
                   [ "probe"; "--epochs"; "30" ]
                   [ "report"; "--session"; "latest" ] ] do
        ecgExactly (stage @ [ "--artifacts"; root ])
    Trace.log (sprintf "Demo report: %s" (Path.Combine(root, "training_sessions")) ))

/// Runs every F# script in scripts/ on the 400-record sample: only the script tests of the Cli test program
/// (the Test target runs them too; see tests/Ecg.Cli.Tests/ScriptTests.fs).
Target.create "Scripts" (fun _ ->
    let assembly = Path.Combine("tests", "Ecg.Cli.Tests", "bin", configuration, "net10.0", "Ecg.Cli.Tests.dll")
    let result = DotNet.exec id assembly "--summary --filter-test-list Scripts"
    if not result.OK then failwith "The scripts failed on the sample.")

/// Stage timings on this machine (not a test): pass --data and --dataset for full-size figures.
Target.create "Bench" (fun p -> ecgWith "bench" (dataDefault p) p)

/// The growth study (not a test): preprocessing, one training epoch, embedding and projections for the first
/// 1,000, 5,000 and all records of the PTB-XL folder, each in a fresh process (`-- --growth-records` changes them).
Target.create "Growth" (fun p -> ecgWith "bench" ([ "--stages"; "growth" ] :: dataDefault p) p)

/// `ecg ensemble` over the sessions in ENSEMBLE_SESSIONS (e.g. 1,2,3) or `-- --sessions 1,2,3`: the mean of their
/// probabilities, evaluated like a session.
Target.create "Ensemble" (fun p ->
    match givenValue [ "--sessions" ] p, Environment.environVarOrNone "ENSEMBLE_SESSIONS" with
    | Some _, _ -> ecg "ensemble" p
    | None, Some sessions -> ecgWith "ensemble" [ [ "--sessions"; sessions ] ] p
    | None, None -> failwith "Ensemble: name the sessions, e.g. ENSEMBLE_SESSIONS=1,2,3 ./build.sh -t Ensemble (or -- --sessions 1,2,3).")

/// `ecg average`: a session's weights averaged over its last epochs (`-- --session 3 --epochs 9-12`), with fresh
/// BatchNorm statistics, evaluated on validation.
Target.create "Average" (ecg "average")

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
