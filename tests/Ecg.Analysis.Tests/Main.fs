module Ecg.Analysis.Tests.Main

open Expecto
open Ecg.Analysis

[<EntryPoint>]
let main argv =
    match argv with
    | [| "--benchmark"; rows; columns |] ->
        // Timing run, not a test: t-SNE and UMAP on blobs of embedding size.
        let t = ProjectionBenchmark.run (int rows) (int columns)
        printfn "%A" t
        0
    | _ -> Tests.runTestsInAssemblyWithCLIArgs [] argv
