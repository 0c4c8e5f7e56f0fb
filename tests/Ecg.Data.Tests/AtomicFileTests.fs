module Ecg.Data.Tests.AtomicFileTests

open System
open System.IO
open System.Text
open Expecto
open FsCheck.FSharp
open Ecg.Data
open Ecg.Data.Tests.TestData

/// Everything in the folder but `keep` (temporary files included: they are dot files).
let private others (folder: string) (keep: string) =
    Directory.GetFiles folder |> Array.map Path.GetFileName |> Array.filter ((<>) keep)

/// The exception `f` raises (the test fails when it raises none).
let private raised (f: unit -> unit) : exn =
    match (try f (); None with e -> Some e) with
    | Some e -> e
    | None -> failtest "expected an exception"

[<Tests>]
let tests =
    testList "AtomicFile" [
        testProperty "reading what WriteAllBytes wrote returns it, and no temporary file is left" <| fun (bytes: byte[]) ->
            let bytes = if isNull bytes then [||] else bytes
            use tmp = new TempFolder()
            let path = Path.Combine(tmp.Path, "sub", "data.bin")
            AtomicFile.WriteAllBytes(path, bytes)
            File.ReadAllBytes path = bytes && Array.isEmpty (others (Path.GetDirectoryName path) "data.bin")

        testProperty "reading what WriteAllText wrote returns it (UTF-8, no byte-order mark)" <| fun (text: string) ->
            let text = if isNull text then "" else text
            use tmp = new TempFolder()
            let path = Path.Combine(tmp.Path, "t.txt")
            File.WriteAllText(path, "old")
            AtomicFile.WriteAllText(path, text)
            File.ReadAllBytes path = UTF8Encoding(false).GetBytes text

        test "a failure between the write and the rename leaves the old file intact and no temporary file" {
            use tmp = new TempFolder()
            let path = Path.Combine(tmp.Path, "weights.bin")
            File.WriteAllText(path, "old weights")
            let mutable written = ""
            let inject = Action<string>(fun temporary ->
                written <- File.ReadAllText temporary
                raise (IOException "injected: power cut before the rename"))
            let e = raised (fun () -> AtomicFile.Write(path, (fun t -> File.WriteAllText(t, "new weights")), inject))
            Expect.stringContains e.Message "injected" "the injected failure comes through"
            Expect.equal written "new weights" "the new content was complete in the temporary file"
            Expect.equal (File.ReadAllText path) "old weights" "the old file is intact"
            Expect.isEmpty (others tmp.Path "weights.bin") "the temporary file is removed"
        }

        test "a failing write leaves the old file intact; a write that makes no file is an error naming the target" {
            use tmp = new TempFolder()
            let path = Path.Combine(tmp.Path, "report.txt")
            File.WriteAllText(path, "old")
            Expect.throwsT<InvalidOperationException>
                (fun () -> AtomicFile.Write(path, fun t -> File.WriteAllText(t, "half"); invalidOp "writer failed")) "the writer's error"
            let e = raised (fun () -> AtomicFile.Write(path, fun _ -> ()))
            Expect.stringContains e.Message path "names the file"
            Expect.equal (File.ReadAllText path) "old" "old file intact"
            Expect.isEmpty (others tmp.Path "report.txt") "no temporary file"
        }

        test "the temporary file is a dot file beside the target, ending .tmp" {
            let t = AtomicFile.TemporaryPathFor "/data/sessions/session_1/config.json"
            Expect.equal (Path.GetDirectoryName t) "/data/sessions/session_1" "same folder (one file system, atomic rename)"
            Expect.stringStarts (Path.GetFileName t) ".config.json." "dot file named after the target"
            Expect.stringEnds t ".tmp" "ends .tmp"
            Expect.notEqual (AtomicFile.TemporaryPathFor "/x/a") (AtomicFile.TemporaryPathFor "/x/a") "unique per write"
        }

        test "Commit replaces the target with the temporary file" {
            use tmp = new TempFolder()
            let path = Path.Combine(tmp.Path, "a.npy")
            File.WriteAllText(path, "old")
            let temporary = AtomicFile.TemporaryPathFor path
            File.WriteAllText(temporary, "new")
            AtomicFile.Commit(temporary, path)
            Expect.equal (File.ReadAllText path) "new" "replaced"
            Expect.isFalse (File.Exists temporary) "moved"
        }

        test "flushing a folder works, and a missing folder is an error naming it (Linux)" {
            use tmp = new TempFolder()
            AtomicFile.FlushFolder tmp.Path
            if OperatingSystem.IsLinux() then
                let missing = Path.Combine(tmp.Path, "missing")
                let e = raised (fun () -> AtomicFile.FlushFolder missing)
                Expect.isTrue (e :? IOException) "an IOException"
                Expect.stringContains e.Message missing "names the folder"
        }
    ]
