module Ecg.Model.Tests.Main

open Expecto

// Sequenced: torch's global random generator and its thread pool are shared by all tests, so
// tests running side by side would make seeded runs depend on scheduling.
[<EntryPoint>]
let main argv = Tests.runTestsInAssemblyWithCLIArgs [ CLIArguments.Sequenced ] argv
