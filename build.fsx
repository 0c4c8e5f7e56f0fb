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
            not result.OK)
    if not failures.IsEmpty then
        failwithf "Tests failed in: %s" (String.Join(", ", failures |> List.map Path.GetFileNameWithoutExtension)))

// ---------------------------------------------------------------------------------------------
// Dependencies
// ---------------------------------------------------------------------------------------------

"Clean" ?=> "Restore"
"Restore" ==> "Build" ==> "Test"

Target.runOrDefaultWithArguments "Build"
