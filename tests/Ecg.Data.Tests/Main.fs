module Ecg.Data.Tests.Main

open Expecto

[<EntryPoint>]
let main argv = Tests.runTestsInAssemblyWithCLIArgs [] argv |> Ecg.Tests.TestFolders.finish
