module Ecg.Data.Tests.DownloadTests

open System
open System.Collections.Concurrent
open System.IO
open System.IO.Compression
open System.Net
open System.Net.Sockets
open System.Security.Cryptography
open System.Text
open System.Threading
open System.Threading.Tasks
open Expecto
open Ecg.Data

// ---------------------------------------------------------------------------------------------
// Fixture: a PhysioNet-like folder built in a temp dir from 20 real records of the sample.
// ---------------------------------------------------------------------------------------------

let sampleDir =
    match Environment.GetEnvironmentVariable "PTBXL_SAMPLE_DIR" with
    | null | "" -> Path.GetFullPath(Path.Combine(__SOURCE_DIRECTORY__, "..", "..", "..", "shared", "ptbxl-sample"))
    | dir -> dir

let sha256Hex (bytes: byte[]) = Convert.ToHexString(SHA256.HashData bytes).ToLowerInvariant()

/// The folder name PhysioNet-style zips wrap everything in; the server also serves the files under it.
let projectFolder = "ptb-xl-test-1.0.3"

type Fixture =
    { Root: string            // what the server serves
      DataDir: string         // Root/projectFolder: the files and SHA256SUMS.txt
      ZipUrlPath: string      // the zip's path below Root
      Files100: string[]      // relative paths a 100 Hz download must produce
      AllFiles: string[] }    // every listed file (100 Hz, 500 Hz, root files)

let fixture =
    lazy
        (let recordsDir = Path.Combine(sampleDir, "records100", "00000")
         if not (Directory.Exists recordsDir) then
             failwithf "PTB-XL sample not found at %s (set PTBXL_SAMPLE_DIR to a folder with records100/ and the CSVs)" sampleDir
         let root = Path.Combine(Path.GetTempPath(), "ecg-download-fixture-" + Guid.NewGuid().ToString("N"))
         AppDomain.CurrentDomain.ProcessExit.Add(fun _ -> try Directory.Delete(root, true) with _ -> ())
         let dataDir = Path.Combine(root, projectFolder)
         let copy (relative: string) =
             let destination = Path.Combine(dataDir, relative)
             Directory.CreateDirectory(Path.GetDirectoryName destination) |> ignore
             File.Copy(Path.Combine(sampleDir, relative), destination)
         let rootFiles = [| "LICENSE.txt"; "ptbxl_database.csv"; "scp_statements.csv" |]
         let records =
             Directory.GetFiles(recordsDir, "*_lr.*")
             |> Array.map Path.GetFileName
             |> Array.sort
             |> Array.truncate 40 // 20 records: .dat + .hea each
             |> Array.map (fun name -> "records100/00000/" + name)
         Array.iter copy rootFiles
         Array.iter copy records
         // A synthetic 500 Hz record: only there to prove the 100 Hz download leaves it alone.
         let hr = [| "records500/00000/00001_hr.dat"; "records500/00000/00001_hr.hea" |]
         let random = Random(7)
         for relative in hr do
             let destination = Path.Combine(dataDir, relative)
             Directory.CreateDirectory(Path.GetDirectoryName destination) |> ignore
             let bytes = Array.zeroCreate<byte> 3000
             random.NextBytes bytes
             File.WriteAllBytes(destination, bytes)
         let all = Array.concat [ rootFiles; records; hr ]
         let sums =
             all |> Array.map (fun relative -> sprintf "%s %s" (sha256Hex (File.ReadAllBytes(Path.Combine(dataDir, relative)))) relative)
         File.WriteAllText(Path.Combine(dataDir, "SHA256SUMS.txt"), String.Join("\n", sums) + "\n")
         let zipPath = Path.Combine(root, "archive", projectFolder + ".zip")
         Directory.CreateDirectory(Path.GetDirectoryName zipPath) |> ignore
         ZipFile.CreateFromDirectory(dataDir, zipPath, CompressionLevel.Fastest, true)
         { Root = root; DataDir = dataDir; ZipUrlPath = "archive/" + projectFolder + ".zip"
           Files100 = Array.append rootFiles records; AllFiles = all })

// ---------------------------------------------------------------------------------------------
// A minimal HTTP/1.1 server on 127.0.0.1 (TcpListener) whose misbehaviour each test chooses.
// ---------------------------------------------------------------------------------------------

type Fault =
    /// Serves the file with one byte flipped.
    | Corrupt
    /// Announces the full length, sends this many body bytes and closes the socket, on the first request only.
    | DropOnceAfter of int
    /// The same on every request.
    | DropAlwaysAfter of int
    /// Answers 200 with the whole file even when a Range was asked for.
    | IgnoreRange
    | NotFound

let corrupted (bytes: byte[]) =
    let copy = Array.copy bytes
    copy[copy.Length / 2] <- copy[copy.Length / 2] ^^^ 0xFFuy
    copy

type TestServer(root: string) =
    let listener = new TcpListener(IPAddress.Loopback, 0)
    let faults = ConcurrentDictionary<string, Fault list>()
    let droppedOnce = ConcurrentDictionary<string, bool>()
    let requests = ConcurrentQueue<string * string>()
    let stop = new CancellationTokenSource()
    let mutable delay = TimeSpan.Zero

    let handle (client: TcpClient) =
        task {
            use client = client
            let stream = client.GetStream()
            use reader = new StreamReader(stream, Encoding.ASCII, false, 1024, true)
            let! requestLine = reader.ReadLineAsync()
            let mutable range = ""
            let mutable reading = not (isNull requestLine)
            while reading do
                let! line = reader.ReadLineAsync()
                if String.IsNullOrEmpty line then reading <- false
                elif line.StartsWith("Range:", StringComparison.OrdinalIgnoreCase) then range <- line.Substring(6).Trim()
            if not (isNull requestLine) then
                let target = requestLine.Split(' ')[1]
                let path = Uri.UnescapeDataString(target.TrimStart('/'))
                requests.Enqueue((path, range))
                if delay > TimeSpan.Zero then do! Task.Delay delay
                let fileFaults = match faults.TryGetValue path with | true, f -> f | _ -> []
                let has fault = List.contains fault fileFaults
                let file = Path.Combine(root, path)
                let send (head: string) (body: byte[]) (bodyBytes: int) =
                    task {
                        let headBytes = Encoding.ASCII.GetBytes(head + "Connection: close\r\n\r\n")
                        do! stream.WriteAsync(headBytes, 0, headBytes.Length)
                        do! stream.WriteAsync(body, 0, bodyBytes)
                        do! stream.FlushAsync()
                        client.Client.Shutdown SocketShutdown.Send
                    }
                if has NotFound || not (File.Exists file) then
                    let body = Encoding.ASCII.GetBytes "not found"
                    do! send (sprintf "HTTP/1.1 404 Not Found\r\nContent-Length: %d\r\n" body.Length) body body.Length
                else
                    let bytes = File.ReadAllBytes file |> fun b -> if has Corrupt then corrupted b else b
                    let start =
                        if range.StartsWith "bytes=" && not (has IgnoreRange) then
                            Some(int64 (range.Substring(6).TrimEnd('-')))
                        else None
                    match start with
                    | Some s when s >= bytes.LongLength ->
                        do! send (sprintf "HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */%d\r\nContent-Length: 0\r\n" bytes.Length) [||] 0
                    | _ ->
                        let head, body =
                            match start with
                            | Some s ->
                                let body = bytes[int s ..]
                                sprintf "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes %d-%d/%d\r\nContent-Length: %d\r\n"
                                    s (bytes.Length - 1) bytes.Length body.Length, body
                            | None -> sprintf "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n" bytes.Length, bytes
                        let dropAfter =
                            fileFaults |> List.tryPick (function
                                | DropAlwaysAfter n -> Some n
                                | DropOnceAfter n when droppedOnce.TryAdd(path, true) -> Some n
                                | _ -> None)
                        let sent = match dropAfter with Some n -> min n body.Length | None -> body.Length
                        do! send head body sent
        }

    do
        listener.Start()
        Task.Run(fun () ->
            task {
                while not stop.IsCancellationRequested do
                    let! client = listener.AcceptTcpClientAsync(stop.Token)
                    Task.Run(fun () -> handle client :> Task) |> ignore
            } :> Task) |> ignore

    member _.Url(path: string) = Uri(sprintf "http://127.0.0.1:%d/%s" (listener.LocalEndpoint :?> IPEndPoint).Port path)
    member this.BaseUrl = this.Url(projectFolder + "/")
    member _.AddFault(path: string, fault: Fault) =
        faults.AddOrUpdate(path, [ fault ], fun _ existing -> fault :: existing) |> ignore
    member _.ResponseDelay with get () = delay and set value = delay <- value
    /// (path, Range header) of every request so far.
    member _.Requests = requests.ToArray()
    member _.ClearRequests() = requests.Clear()
    interface IDisposable with
        member _.Dispose() =
            stop.Cancel()
            listener.Stop()

/// Paths the server sees for a dataset file.
let served (relative: string) = projectFolder + "/" + relative

let newTarget () = Path.Combine(Path.GetTempPath(), "ecg-download-test-" + Guid.NewGuid().ToString("N"))

let optionsFor (server: TestServer) (target: string) =
    DownloadOptions(
        TargetFolder = target, BaseUrl = server.BaseUrl, SamplingRate = 100, MaxParallelDownloads = 4,
        MaxAttempts = 3, InitialRetryDelay = TimeSpan.FromMilliseconds 5.0, MaxRetryDelay = TimeSpan.FromMilliseconds 40.0,
        StallTimeout = TimeSpan.FromSeconds 10.0, ProgressInterval = TimeSpan.Zero)

let expectIdentical (fixture: Fixture) (target: string) (files: string seq) =
    for relative in files do
        let local = Path.Combine(target, relative)
        Expect.isTrue (File.Exists local) (sprintf "%s was downloaded" relative)
        Expect.equal (File.ReadAllBytes local) (File.ReadAllBytes(Path.Combine(fixture.DataDir, relative))) (sprintf "%s is byte-identical" relative)

let leftovers (target: string) pattern =
    Directory.GetFiles(target, pattern, SearchOption.AllDirectories)

let cleanUp (target: string) = try Directory.Delete(target, true) with _ -> ()

/// A progress sink that runs synchronously on the reporting thread (Progress<T> would post asynchronously).
type RecordingProgress(onReport: DownloadProgress -> unit) =
    let reports = ConcurrentQueue<DownloadProgress>()
    member _.Reports = reports.ToArray()
    interface IProgress<DownloadProgress> with
        member _.Report value =
            reports.Enqueue value
            onReport value

let withServer (body: Fixture -> TestServer -> string -> unit) () =
    let f = fixture.Force()
    use server = new TestServer(f.Root)
    let target = newTarget ()
    try body f server target
    finally cleanUp target

[<Tests>]
let tests =
    testSequenced <| testList "PtbXlDownloader" [
        testCase "a clean download verifies every file, byte-identical, and leaves no .part files" <| withServer (fun f server target ->
            let progress = RecordingProgress ignore
            let summary = PtbXlDownloader.Download(optionsFor server target, progress)
            Expect.isTrue summary.Succeeded (sprintf "no failures: %A" summary.Failures)
            Expect.equal summary.FilesTotal f.Files100.Length "root files + 20 records x 2"
            Expect.equal summary.FilesDownloaded f.Files100.Length "all fetched"
            Expect.equal summary.FilesSkipped 0 "nothing was there before"
            expectIdentical f target f.Files100
            Expect.isFalse (Directory.Exists(Path.Combine(target, "records500"))) "500 Hz files are not fetched for 100 Hz"
            Expect.isTrue (File.Exists(Path.Combine(target, "SHA256SUMS.txt"))) "the checksum list is kept"
            Expect.isEmpty (leftovers target "*.part") "no partial files remain"
            let expectedBytes = f.Files100 |> Array.sumBy (fun r -> FileInfo(Path.Combine(f.DataDir, r)).Length)
            Expect.isGreaterThanOrEqual summary.BytesDownloaded expectedBytes "bytes counted"
            let last = progress.Reports |> Array.last
            Expect.equal (last.FilesCompleted, last.FilesTotal, last.FilesFailed) (f.Files100.Length, f.Files100.Length, 0) "final progress"
            Expect.isTrue (progress.Reports |> Array.exists (fun p -> p.BytesPerSecond > 0.0)) "a rate is reported"
            Expect.isTrue (progress.Reports |> Array.exists (fun p -> p.EstimatedRemaining.HasValue)) "an ETA is reported")

        testCase "SamplingRate 0 fetches both records folders" <| withServer (fun f server target ->
            let options = optionsFor server target
            options.SamplingRate <- 0
            let summary = PtbXlDownloader.Download options
            Expect.isTrue summary.Succeeded "no failures"
            expectIdentical f target f.AllFiles)

        testCase "a corrupted file is refused, reported with path and both hashes, and never gets its final name" <| withServer (fun f server target ->
            let bad = "records100/00000/00003_lr.dat"
            server.AddFault(served bad, Corrupt)
            let options = optionsFor server target
            let summary = PtbXlDownloader.Download options
            Expect.isFalse summary.Succeeded "the run reports failure"
            let failure = Expect.wantSome (summary.Failures |> Array.tryExactlyOne) "exactly one failure"
            let original = File.ReadAllBytes(Path.Combine(f.DataDir, bad))
            Expect.equal failure.RelativePath bad "which file"
            Expect.equal failure.Kind DownloadFailureKind.ChecksumMismatch "kind"
            Expect.equal failure.ExpectedSha256 (sha256Hex original) "expected hash from SHA256SUMS.txt"
            Expect.equal failure.ActualSha256 (sha256Hex (corrupted original)) "actual hash of what arrived"
            Expect.equal failure.LocalPath (Path.Combine(target, bad)) "local path"
            Expect.isFalse (File.Exists failure.LocalPath) "no final-named file"
            Expect.isFalse (File.Exists(failure.LocalPath + ".part")) "no partial file either"
            let tries = server.Requests |> Array.filter (fun (p, _) -> p = served bad) |> Array.length
            Expect.equal tries options.MaxAttempts "retried a bounded number of times"
            Expect.equal summary.FilesDownloaded (f.Files100.Length - 1) "the others still arrive"
            let thrown = Expect.throwsC (fun () -> summary.ThrowIfFailed()) id
            Expect.stringContains thrown.Message bad "the exception names the file"
            Expect.stringContains thrown.Message failure.ExpectedSha256 "and the expected hash")

        testCase "KeepCorruptFiles keeps the refused bytes as .corrupt" <| withServer (fun f server target ->
            let bad = "records100/00000/00004_lr.hea"
            server.AddFault(served bad, Corrupt)
            let options = optionsFor server target
            options.KeepCorruptFiles <- true
            let summary = PtbXlDownloader.Download options
            Expect.equal summary.Failures.Length 1 "one failure"
            let local = Path.Combine(target, bad)
            Expect.isFalse (File.Exists local) "no final-named file"
            Expect.equal (File.ReadAllBytes(local + ".corrupt")) (corrupted (File.ReadAllBytes(Path.Combine(f.DataDir, bad)))) ".corrupt holds what arrived")

        testCase "a connection dropped mid-file is resumed with a Range request and ends verified" <| withServer (fun f server target ->
            let file = "records100/00000/00002_lr.dat"
            server.AddFault(served file, DropOnceAfter 5000)
            let summary = PtbXlDownloader.Download(optionsFor server target)
            Expect.isTrue summary.Succeeded (sprintf "no failures: %A" summary.Failures)
            expectIdentical f target [ file ]
            let ranges = server.Requests |> Array.filter (fun (p, _) -> p = served file) |> Array.map snd
            Expect.equal ranges [| ""; "bytes=5000-" |] "first a full request, then a resume from byte 5000")

        testCase "a server that ignores Range makes the file restart from zero" <| withServer (fun f server target ->
            let file = "records100/00000/00005_lr.dat"
            server.AddFault(served file, DropOnceAfter 7000)
            server.AddFault(served file, IgnoreRange)
            let summary = PtbXlDownloader.Download(optionsFor server target)
            Expect.isTrue summary.Succeeded (sprintf "no failures: %A" summary.Failures)
            expectIdentical f target [ file ])

        testCase "a .part left by an earlier run is continued, not refetched" <| withServer (fun f server target ->
            let file = "records100/00000/00006_lr.dat"
            let local = Path.Combine(target, file)
            Directory.CreateDirectory(Path.GetDirectoryName local) |> ignore
            File.WriteAllBytes(local + ".part", File.ReadAllBytes(Path.Combine(f.DataDir, file))[.. 999])
            let summary = PtbXlDownloader.Download(optionsFor server target)
            Expect.isTrue summary.Succeeded "no failures"
            expectIdentical f target [ file ]
            let ranges = server.Requests |> Array.filter (fun (p, _) -> p = served file) |> Array.map snd
            Expect.equal ranges [| "bytes=1000-" |] "one request, from byte 1000")

        testCase "a connection that keeps dropping without progress gives up, keeps the .part and reports it" <| withServer (fun f server target ->
            let file = "records100/00000/00007_lr.dat"
            server.AddFault(served file, DropAlwaysAfter 3000)
            server.AddFault(served file, IgnoreRange)
            let options = optionsFor server target
            let summary = PtbXlDownloader.Download options
            let failure = Expect.wantSome (summary.Failures |> Array.tryExactlyOne) "one failure"
            Expect.equal failure.Kind DownloadFailureKind.Network "network failure"
            Expect.isFalse (File.Exists(Path.Combine(target, file))) "no final-named file"
            Expect.isTrue (File.Exists(Path.Combine(target, file + ".part"))) "the partial data is kept for a later run"
            let tries = server.Requests |> Array.filter (fun (p, _) -> p = served file) |> Array.length
            Expect.equal tries options.MaxAttempts "bounded retries")

        testCase "an interrupted run followed by a rerun completes and skips the files already verified" <| withServer (fun f server target ->
            server.ResponseDelay <- TimeSpan.FromMilliseconds 15.0
            use cancel = new CancellationTokenSource()
            let progress = RecordingProgress(fun p -> if p.Stage = DownloadStage.Files && p.FilesCompleted >= 8 then cancel.Cancel())
            let options = optionsFor server target
            let error = Expect.throwsC (fun () -> PtbXlDownloader.Download(options, progress, cancel.Token) |> ignore) id
            Expect.isTrue (error :? OperationCanceledException) (sprintf "cancellation surfaces, got %O" error)
            let finished =
                f.Files100 |> Array.filter (fun r -> File.Exists(Path.Combine(target, r)))
            Expect.isGreaterThanOrEqual finished.Length 8 "some files finished before the cancel"
            Expect.isLessThan finished.Length f.Files100.Length "the run was cut short"
            expectIdentical f target finished // a final name only ever holds verified bytes
            server.ClearRequests()
            let summary = PtbXlDownloader.Download(options)
            Expect.isTrue summary.Succeeded "the rerun completes"
            Expect.equal summary.FilesSkipped finished.Length "files verified before are skipped"
            Expect.equal (summary.FilesSkipped + summary.FilesDownloaded) f.Files100.Length "every file accounted for"
            let refetched = server.Requests |> Array.map fst |> Set.ofArray
            for r in finished do
                Expect.isFalse (refetched.Contains(served r)) (sprintf "%s was not requested again" r)
            expectIdentical f target f.Files100
            Expect.isEmpty (leftovers target "*.part") "no partial files remain")

        testCase "a 404 is reported with its URL and status, without retries" <| withServer (fun f server target ->
            let missing = "records100/00000/00008_lr.hea"
            server.AddFault(served missing, NotFound)
            let summary = PtbXlDownloader.Download(optionsFor server target)
            let failure = Expect.wantSome (summary.Failures |> Array.tryExactlyOne) "one failure"
            Expect.equal failure.Kind DownloadFailureKind.HttpStatus "kind"
            Expect.equal failure.StatusCode (Nullable 404) "status"
            Expect.equal failure.Attempts 1 "a 404 is not retried"
            Expect.stringContains failure.Url missing "URL named"
            Expect.stringContains failure.Message "404" "message says 404"
            Expect.isFalse (File.Exists(Path.Combine(target, missing))) "no file"
            Expect.equal summary.FilesDownloaded (f.Files100.Length - 1) "the rest arrives")

        testCase "a missing SHA256SUMS.txt stops the run with a clear error" <| withServer (fun _ server target ->
            server.AddFault(served "SHA256SUMS.txt", NotFound)
            let error = Expect.throwsC (fun () -> PtbXlDownloader.Download(optionsFor server target) |> ignore) id
            Expect.isTrue (error :? DownloadFailedException) "DownloadFailedException"
            Expect.stringContains error.Message "SHA256SUMS.txt" "names the list"
            Expect.stringContains error.Message "404" "and the status")

        testCase "whole archive: resumable zip download, verified extraction, rerun needs no network" <| withServer (fun f server target ->
            server.AddFault(f.ZipUrlPath, DropOnceAfter 100_000)
            let options = optionsFor server target
            options.Mode <- DownloadMode.WholeArchive
            options.ArchiveUrl <- server.Url f.ZipUrlPath
            options.KeepArchive <- false
            let progress = RecordingProgress ignore
            let summary = PtbXlDownloader.Download(options, progress)
            Expect.isTrue summary.Succeeded (sprintf "no failures: %A" summary.Failures)
            Expect.equal summary.FilesDownloaded f.Files100.Length "every 100 Hz file extracted"
            let zipLength = FileInfo(Path.Combine(f.Root, f.ZipUrlPath)).Length
            let archiveReports = progress.Reports |> Array.filter (fun p -> p.Stage = DownloadStage.Archive)
            Expect.isTrue (archiveReports |> Array.exists (fun p -> p.BytesTotal = zipLength)) "the zip's size is known while it downloads"
            Expect.isTrue (archiveReports |> Array.exists (fun p -> string p <> "")) "progress formats as text"
            Expect.isTrue (progress.Reports |> Array.exists (fun p -> p.Stage = DownloadStage.Extract)) "extraction is reported"
            expectIdentical f target f.Files100
            Expect.isFalse (Directory.Exists(Path.Combine(target, "records500"))) "500 Hz entries not extracted"
            let zipRequests = server.Requests |> Array.filter (fun (p, _) -> p = f.ZipUrlPath) |> Array.map snd
            Expect.equal zipRequests [| ""; "bytes=100000-" |] "the zip was resumed after the drop"
            Expect.isEmpty (Directory.GetFiles(target, "*.zip")) "KeepArchive=false deletes the zip"
            server.ClearRequests()
            let again = PtbXlDownloader.Download options
            Expect.isTrue again.Succeeded "rerun succeeds"
            Expect.equal again.FilesSkipped f.Files100.Length "everything skipped"
            Expect.isEmpty server.Requests "no request at all")

        testCase "whole archive: an entry that does not match SHA256SUMS.txt is refused" <| withServer (fun f server target ->
            // A zip whose listed checksums come from the fixture but one entry holds other bytes.
            let bad = "records100/00000/00001_lr.hea"
            let zipPath = Path.Combine(f.Root, "archive", "tampered.zip")
            if not (File.Exists zipPath) then
                File.Copy(Path.Combine(f.Root, f.ZipUrlPath), zipPath + ".tmp", true)
                using (ZipFile.Open(zipPath + ".tmp", ZipArchiveMode.Update)) (fun zip ->
                    zip.GetEntry(projectFolder + "/" + bad).Delete()
                    let entry = zip.CreateEntry(projectFolder + "/" + bad)
                    using (entry.Open()) (fun s -> s.Write(Encoding.ASCII.GetBytes "not a header", 0, 12)))
                File.Move(zipPath + ".tmp", zipPath, true)
            let options = optionsFor server target
            options.Mode <- DownloadMode.WholeArchive
            options.ArchiveUrl <- server.Url "archive/tampered.zip"
            let summary = PtbXlDownloader.Download options
            let failure = Expect.wantSome (summary.Failures |> Array.tryExactlyOne) "one failure"
            Expect.equal failure.RelativePath bad "which entry"
            Expect.equal failure.ActualSha256 (sha256Hex (Encoding.ASCII.GetBytes "not a header")) "actual hash"
            Expect.isFalse (File.Exists(Path.Combine(target, bad))) "no final-named file"
            Expect.isTrue (File.Exists(Path.Combine(target, "tampered.zip"))) "the zip stays for inspection")

        test "SHA256SUMS.txt lines with a bad hash or an escaping path are rejected with the line number" {
            let good = String('a', 64)
            let parsed = ChecksumList.Parse(sprintf "%s  records100/00000/00001_lr.dat\r\n%s *LICENSE.txt\n\n" good good, "sums")
            Expect.equal (parsed |> Array.map (fun e -> e.RelativePath)) [| "records100/00000/00001_lr.dat"; "LICENSE.txt" |] "two-space and binary-marker forms"
            let escaping = Expect.throwsC (fun () -> ChecksumList.Parse(sprintf "%s x\n%s ../etc/passwd" good good, "sums") |> ignore) id
            Expect.stringContains escaping.Message "sums line 2" "line number"
            let badHash = Expect.throwsC (fun () -> ChecksumList.Parse("abc LICENSE.txt", "sums") |> ignore) id
            Expect.stringContains badHash.Message "64 hex digits" "reason"
        }

        test "options are validated before any work" {
            let options = DownloadOptions(TargetFolder = newTarget (), SamplingRate = 250)
            let error = Expect.throwsC (fun () -> PtbXlDownloader.Download options |> ignore) id
            Expect.stringContains error.Message "SamplingRate" "names the option"
        }
    ]
