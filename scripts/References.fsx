/// Shared set-up for the scripts in this folder: finds the built assemblies, stops with a clear message
/// when they are missing, writes the `#r` lines for them and loads TorchSharp's patched native library.
///
/// Every script starts with these two lines (both are needed, in this order):
///
///     #load "References.fsx"               // find the build (or stop: "run ./build.sh -t Build first")
///     #load ".references/Assemblies.fsx"   // the #r lines References.fsx wrote for that build
///
/// Why two files: `#r` takes only a literal path, and fsi resolves every `#r`/`#load` of a loaded file
/// before running any of it. So this file runs first (as its own #load), picks the folder at run time
/// and writes `.references/Assemblies.fsx`, which the script's next `#load` reads.
///
/// The build folder: $ECG_BIN when set (the tests point it at their own output folder), else
/// `../Ecg.Cli/bin/$CONFIGURATION/net10.0` with CONFIGURATION defaulting to Release (what
/// `./build.sh -t Build` produces).
module References

open System
open System.IO
open System.Runtime.InteropServices

let repositoryRoot = Path.GetFullPath(Path.Combine(__SOURCE_DIRECTORY__, ".."))

let private environment name =
    match Environment.GetEnvironmentVariable name with
    | null -> None
    | value when String.IsNullOrWhiteSpace value -> None
    | value -> Some(value.Trim())

/// The folder the assemblies come from.
let binFolder =
    match environment "ECG_BIN" with
    | Some given -> Path.GetFullPath given
    | None ->
        let configuration = environment "CONFIGURATION" |> Option.defaultValue "Release"
        Path.Combine(repositoryRoot, "Ecg.Cli", "bin", configuration, "net10.0")

/// Assemblies every script may use, in dependency order. FSharp.Core is fsi's own.
let private assemblies =
    [ "Ecg.Data.dll"; "Ecg.Model.dll"; "Ecg.Analysis.dll"
      "TorchSharp.dll"; "Google.Protobuf.dll"; "ICSharpCode.SharpZipLib.dll"; "SkiaSharp.dll"
      "MathNet.Numerics.dll"; "Deedle.dll"
      "DynamicObj.dll"; "Fable.Core.dll"; "Newtonsoft.Json.dll"; "Giraffe.ViewEngine.dll"; "Plotly.NET.dll" ]

/// TorchSharp looks for its native library beside TorchSharp.dll (not in runtimes/ as an app's deps.json
/// says), and on failure copies the UNPATCHED library from the NuGet cache. Loading the build's patched
/// copy first makes its later lookups by name find the one already loaded.
let private nativeLibrary = Path.Combine(binFolder, "runtimes", "linux-x64", "native", "libLibTorchSharp.so")

let private stop (message: string) =
    eprintfn "error: %s" message
    exit 1

// Same rule as Ecg.Model.Avx512Guard (not referenced yet at this point): on an AVX-512 CPU, TorchSharp gives
// sporadic NaN on this platform unless the .NET runtime stays off AVX-512, which must be set before fsi starts.
// So the script runs itself again under `dotnet fsi` with DOTNET_EnableAVX512F=0 (ECG_ALLOW_AVX512=1 opts out).
do
    let needsRelaunch =
        OperatingSystem.IsLinux() && RuntimeInformation.ProcessArchitecture = Architecture.X64
        && (environment "DOTNET_EnableAVX512F").IsNone && environment "ECG_ALLOW_AVX512" <> Some "1"
        && File.ReadLines "/proc/cpuinfo" |> Seq.exists (fun l -> l.StartsWith "flags" && l.Contains " avx512f")
    if needsRelaunch then
        let start = Diagnostics.ProcessStartInfo("dotnet", UseShellExecute = false)
        start.ArgumentList.Add "fsi"
        for a in fsi.CommandLineArgs do start.ArgumentList.Add a
        start.Environment.["DOTNET_EnableAVX512F"] <- "0"
        use child = Diagnostics.Process.Start start
        child.WaitForExit()
        exit child.ExitCode

do
    let missing =
        assemblies @ [ "runtimes/linux-x64/native/libLibTorchSharp.so" ]
        |> List.filter (fun file -> not (File.Exists(Path.Combine(binFolder, file))))
    if not missing.IsEmpty then
        let source = if (environment "ECG_BIN").IsSome then "ECG_BIN" else "the build output"
        let what = if missing.Length = 1 then missing.Head else sprintf "%s and %d more files" missing.Head (missing.Length - 1)
        stop (sprintf "%s (%s) lacks %s: run ./build.sh -t Build first (or set CONFIGURATION=Debug, or ECG_BIN=<folder with ecg.dll>)."
                  source binFolder what)

do
    let lines =
        [ yield "// Written by References.fsx for the build it found; do not edit (it is rewritten when the build folder changes)."
          for file in assemblies do
              yield sprintf "#r @\"%s\"" (Path.Combine(binFolder, file).Replace("\"", "\"\""))
          yield sprintf "if typeof<Ecg.Data.ProcessedDataset>.Assembly.Location <> @\"%s\" then" (Path.Combine(binFolder, "Ecg.Data.dll"))
          yield "    failwith \"scripts/.references/Assemblies.fsx was rewritten for another build folder by a script running at the same time; run this one again.\"" ]
    let text = String.Join("\n", lines) + "\n"
    let target = Path.Combine(__SOURCE_DIRECTORY__, ".references", "Assemblies.fsx")
    if not (File.Exists target) || File.ReadAllText target <> text then
        Directory.CreateDirectory(Path.GetDirectoryName target) |> ignore
        let temporary = target + "." + Guid.NewGuid().ToString("N") + ".tmp"
        File.WriteAllText(temporary, text)
        File.Move(temporary, target, true)

do
    if OperatingSystem.IsLinux() then NativeLibrary.Load nativeLibrary |> ignore

/// The value of `--name VALUE` (or `--name=VALUE`) on the script's command line, else of the environment
/// variable, else the default. Scripts document their names in their header and in README.md.
let parameter (name: string) (environmentVariable: string) (defaultValue: string) =
    let arguments = fsi.CommandLineArgs |> Array.skip 1
    let flag = "--" + name
    let fromArguments =
        arguments
        |> Array.tryFindIndex (fun a -> a = flag || a.StartsWith(flag + "="))
        |> Option.map (fun i ->
            let a = arguments.[i]
            if a.Contains "=" then a.Substring(a.IndexOf '=' + 1)
            elif i + 1 < arguments.Length then arguments.[i + 1]
            else stop (sprintf "%s needs a value." flag))
    match fromArguments with
    | Some value -> value
    | None -> environment environmentVariable |> Option.defaultValue defaultValue

/// An integer parameter; a value that is not an integer stops the script naming it.
let intParameter (name: string) (environmentVariable: string) (defaultValue: int) =
    let text = parameter name environmentVariable (string defaultValue)
    match Int32.TryParse text with
    | true, value -> value
    | _ -> stop (sprintf "--%s (or %s): '%s' is not an integer." name environmentVariable text)

/// Stops the script with a one-line reason and exit code 1.
let fail (message: string) : 'T = stop message

/// The artifacts root the `ecg` command uses: --artifacts, else $ECG_ARTIFACTS, else ./artifacts.
let artifactsRoot () = Path.GetFullPath(parameter "artifacts" "ECG_ARTIFACTS" "artifacts")

