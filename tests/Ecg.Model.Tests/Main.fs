module Ecg.Model.Tests.Main

open Expecto

// Sequenced: torch's global random generator and its thread pool are shared by all tests, so
// tests running side by side would make seeded runs depend on scheduling.
[<EntryPoint>]
let main argv =
    // See Ecg.Model.Avx512Guard: TorchSharp gives sporadic NaN on this platform unless .NET stays off AVX-512.
    let relaunched = Ecg.Model.Avx512Guard.RelaunchIfNeeded argv
    match Option.ofNullable relaunched with
    | Some exitCode -> exitCode
    | None -> Tests.runTestsInAssemblyWithCLIArgs [ CLIArguments.Sequenced ] argv |> Ecg.Tests.TestFolders.finish
