/// Temporary folders of one test run, all under one root per process. The root is removed when the run
/// passes and kept (and named on stderr) when it fails, so what a failing test wrote can be inspected.
/// Compiled into each test program that writes sessions or artifacts (linked, not copied).
module Ecg.Tests.TestFolders

open System
open System.IO

let private shortId () = Guid.NewGuid().ToString("N").Substring(0, 8)

let private root = lazy (Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), sprintf "ecg-tests-%d-%s" Environment.ProcessId (shortId ()))).FullName)

/// A new, empty folder under this run's root; <paramref name="name"/> says which test made it.
let create (name: string) = Directory.CreateDirectory(Path.Combine(root.Value, sprintf "%s-%s" name (shortId ()))).FullName

/// Removes this run's root when <paramref name="exitCode"/> is 0; passes the exit code through.
let finish (exitCode: int) =
    if root.IsValueCreated && Directory.Exists root.Value then
        if exitCode = 0 then
            try Directory.Delete(root.Value, true)
            with e -> eprintfn "Could not remove the test folders %s: %s" root.Value e.Message
        else eprintfn "Test folders kept for inspection: %s" root.Value
    exitCode
