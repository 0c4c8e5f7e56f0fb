module Ecg.Analysis.Tests.Main

open Expecto
open Ecg.Analysis

[<EntryPoint>]
let main argv =
  // See Ecg.Model.Avx512Guard: TorchSharp gives sporadic NaN on this platform unless .NET stays off AVX-512.
  let relaunched = Ecg.Model.Avx512Guard.RelaunchIfNeeded argv
  match Option.ofNullable relaunched with
  | Some exitCode -> exitCode
  | None ->
    match argv with
    | [| "--benchmark"; rows; columns |] ->
        // Timing run, not a test: t-SNE and UMAP on blobs of embedding size.
        let t = ProjectionBenchmark.run (int rows) (int columns)
        printfn "%A" t
        0
    // Sequenced, as in Ecg.Model.Tests: torch from several test threads at once makes the platform faults frequent.
    | _ -> Tests.runTestsInAssemblyWithCLIArgs [ CLIArguments.Sequenced ] argv |> Ecg.Tests.TestFolders.finish
