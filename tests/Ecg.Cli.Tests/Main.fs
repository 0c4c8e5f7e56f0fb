module Ecg.Cli.Tests.Main

open Expecto

[<EntryPoint>]
let main argv =
    // See Ecg.Model.Avx512Guard: TorchSharp gives sporadic NaN on this platform unless .NET stays off AVX-512.
    let relaunched = Ecg.Model.Avx512Guard.RelaunchIfNeeded argv
    match Option.ofNullable relaunched with
    | Some exitCode -> exitCode
    | None -> Tests.runTestsInAssemblyWithCLIArgs [] argv |> Ecg.Tests.TestFolders.finish
