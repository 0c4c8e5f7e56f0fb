/// Runs the built `ecg` program (ecg.dll, copied beside this test assembly) as a child process,
/// the way users and the FAKE targets run it.
module Ecg.Cli.Tests.EcgProcess

open System
open System.Diagnostics
open System.IO

type Outcome = { ExitCode: int; Output: string; Error: string }

/// The repository root: two levels above this file's folder.
let repositoryRoot = Path.GetFullPath(Path.Combine(__SOURCE_DIRECTORY__, "..", ".."))

/// The 400-record PTB-XL sample (../shared/ptbxl-sample beside the repository, or $PTBXL_SAMPLE_DIR).
let sampleFolder () =
    let folder =
        match Environment.GetEnvironmentVariable "PTBXL_SAMPLE_DIR" with
        | null | "" -> Path.Combine(repositoryRoot, "..", "shared", "ptbxl-sample")
        | given -> given
    if not (File.Exists(Path.Combine(folder, "ptbxl_database.csv"))) then
        failwithf "The PTB-XL sample is missing: expected %s (set PTBXL_SAMPLE_DIR to its folder)." (Path.GetFullPath folder)
    Path.GetFullPath folder

/// Runs `ecg` with the arguments, in the given working folder, with extra environment variables.
let runIn (workingFolder: string) (environment: (string * string) list) (arguments: string list) =
    let ecgDll = Path.Combine(AppContext.BaseDirectory, "ecg.dll")
    let info = ProcessStartInfo("dotnet", RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = workingFolder)
    info.ArgumentList.Add ecgDll
    for a in arguments do info.ArgumentList.Add a
    info.Environment.["NO_COLOR"] <- "1"
    info.Environment.["COLUMNS"] <- "200"
    for (k, v) in environment do info.Environment.[k] <- v
    use p = Process.Start info
    let output = p.StandardOutput.ReadToEndAsync()
    let error = p.StandardError.ReadToEndAsync()
    p.WaitForExit()
    { ExitCode = p.ExitCode; Output = output.Result; Error = error.Result }

let run arguments = runIn repositoryRoot [] arguments
