/// Where the PTB-XL samples are, and temporary folders for synthetic and damaged copies.
module Ecg.Data.Tests.TestData

open System
open System.IO

let private repoRoot = Path.GetFullPath(Path.Combine(__SOURCE_DIRECTORY__, "..", ".."))

let private resolve (envVar: string) (relative: string) =
    let fromEnv = Environment.GetEnvironmentVariable envVar
    let path = if String.IsNullOrWhiteSpace fromEnv then Path.GetFullPath(Path.Combine(repoRoot, relative)) else fromEnv
    if not (File.Exists(Path.Combine(path, "ptbxl_database.csv"))) then
        failwithf "PTB-XL sample not found at %s: put the shared data beside the repository (../shared/...) or set %s" path envVar
    path

/// The 400-record 100 Hz sample (PTBXL_SAMPLE_DIR overrides).
let sampleFolder () = resolve "PTBXL_SAMPLE_DIR" "../shared/ptbxl-sample"

/// The 100-record 500 Hz sample (PTBXL_SAMPLE_500HZ_DIR overrides).
let sample500Folder () = resolve "PTBXL_SAMPLE_500HZ_DIR" "../shared/ptbxl-sample-500hz"

/// A fresh temporary folder, deleted when disposed.
type TempFolder() =
    let path = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), "ecg-data-tests-" + Guid.NewGuid().ToString("N"))).FullName
    member _.Path = path
    interface IDisposable with
        member _.Dispose() = try Directory.Delete(path, true) with _ -> ()

/// Copies the CSVs and the given records (relative paths without extension) of a PTB-XL folder.
let copyPtbXl (source: string) (target: string) (records: string seq) =
    for f in [ "ptbxl_database.csv"; "scp_statements.csv" ] do File.Copy(Path.Combine(source, f), Path.Combine(target, f))
    for r in records do
        Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(target, r))) |> ignore
        for ext in [ ".hea"; ".dat" ] do File.Copy(Path.Combine(source, r + ext), Path.Combine(target, r + ext))
