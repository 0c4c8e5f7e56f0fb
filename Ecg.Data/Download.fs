namespace Ecg.Data

open System
open System.Collections.Generic
open System.IO
open System.IO.Compression
open System.Net
open System.Net.Http
open System.Net.Http.Headers
open System.Runtime.ExceptionServices
open System.Security.Cryptography
open System.Threading
open System.Threading.Tasks

/// How PTB-XL is fetched from PhysioNet.
type DownloadMode =
    /// One request per file listed in SHA256SUMS.txt (only the chosen sampling rate plus the root files).
    | Files = 0
    /// The single published zip, then extracted and verified file by file.
    | WholeArchive = 1

/// Settings for a PTB-XL download. Every property has a usable default except TargetFolder.
[<AllowNullLiteral>]
type DownloadOptions() =
    /// Folder that receives the dataset (created when missing); files keep their PhysioNet relative paths.
    member val TargetFolder: string = null with get, set
    member val Mode = DownloadMode.Files with get, set
    /// 100 or 500: which records folder to fetch (records100/ or records500/); 0 fetches both.
    member val SamplingRate = 100 with get, set
    /// Folder URL that holds SHA256SUMS.txt and the files it lists.
    member val BaseUrl = Uri("https://physionet.org/files/ptb-xl/1.0.3/") with get, set
    /// URL of the whole-dataset zip (Mode = WholeArchive).
    member val ArchiveUrl =
        Uri("https://physionet.org/static/published-projects/ptb-xl/ptb-xl-a-large-publicly-available-electrocardiography-dataset-1.0.3.zip")
        with get, set
    /// Optional SHA-256 (hex) of the zip; when null the zip is checked by size and its files by SHA256SUMS.txt.
    member val ArchiveSha256: string = null with get, set
    /// Keep the zip after a fully verified extraction (a rerun then needs no network).
    member val KeepArchive = true with get, set
    /// Files fetched at once; PTB-XL is ~44,000 small WFDB files, so a few parallel requests pay off.
    member val MaxParallelDownloads = 4 with get, set
    /// Attempts per file for network failures without progress, and separately for checksum mismatches.
    member val MaxAttempts = 5 with get, set
    /// First retry delay; doubled after each failed attempt, capped by MaxRetryDelay.
    member val InitialRetryDelay = TimeSpan.FromSeconds 1.0 with get, set
    member val MaxRetryDelay = TimeSpan.FromSeconds 30.0 with get, set
    /// A request that delivers no data for this long counts as a dropped connection.
    member val StallTimeout = TimeSpan.FromSeconds 60.0 with get, set
    /// Keep a file that fails verification as `<name>.corrupt` instead of deleting it.
    member val KeepCorruptFiles = false with get, set
    /// Minimum time between progress reports (zero reports every event).
    member val ProgressInterval = TimeSpan.FromMilliseconds 250.0 with get, set
    /// Optional client to use (proxies, custom handlers); when null one is created and disposed.
    member val HttpClient: HttpClient = null with get, set

/// What the download is doing when a progress report is made.
type DownloadStage =
    | Checksums = 0
    | Files = 1
    | Archive = 2
    | Extract = 3

/// A progress snapshot. Byte totals are known only for the archive; otherwise the ETA is estimated from files.
type DownloadProgress =
    { Stage: DownloadStage
      FilesCompleted: int
      FilesSkipped: int
      FilesFailed: int
      FilesTotal: int
      BytesReceived: int64
      /// -1 when unknown.
      BytesTotal: int64
      BytesPerSecond: float
      EstimatedRemaining: Nullable<TimeSpan>
      CurrentFile: string }

    /// One console line, e.g. "Files 120/43,598 (0 failed), 12.3 MB at 2.1 MB/s, ETA 00:05:12".
    override this.ToString() =
        let eta = if this.EstimatedRemaining.HasValue then this.EstimatedRemaining.Value.ToString(@"hh\:mm\:ss") else "?"
        let total = if this.BytesTotal > 0L then sprintf " of %.1f MB" (float this.BytesTotal / 1e6) else ""
        sprintf "%O %d/%d (%d failed, %d already present), %.1f MB%s at %.2f MB/s, ETA %s"
            this.Stage this.FilesCompleted this.FilesTotal this.FilesFailed this.FilesSkipped
            (float this.BytesReceived / 1e6) total (this.BytesPerSecond / 1e6) eta

type DownloadFailureKind =
    /// The file arrived but its SHA-256 differs from SHA256SUMS.txt on every attempt.
    | ChecksumMismatch = 0
    /// The server answered with an error status that retrying does not fix (404, 403, ...).
    | HttpStatus = 1
    /// The connection kept failing (dropped, timed out, 5xx) until MaxAttempts ran out; the `.part` is kept.
    | Network = 2
    /// SHA256SUMS.txt lists the file but the archive lacks it, or the archive could not be read.
    | Archive = 3

/// One file that could not be fetched and verified.
type DownloadFailure =
    { RelativePath: string
      /// The final path the file would have had (it does not exist).
      LocalPath: string
      Url: string
      Kind: DownloadFailureKind
      /// Null when not a checksum problem.
      ExpectedSha256: string
      ActualSha256: string
      /// HTTP status for HttpStatus failures.
      StatusCode: Nullable<int>
      Attempts: int
      Message: string }
    override this.ToString() = sprintf "%s: %s" this.RelativePath this.Message

/// The outcome of a download run.
type DownloadSummary =
    { TargetFolder: string
      Mode: DownloadMode
      FilesTotal: int
      FilesDownloaded: int
      /// Already present with the right checksum, so not fetched again.
      FilesSkipped: int
      Failures: DownloadFailure[]
      BytesDownloaded: int64
      Elapsed: TimeSpan }
    member this.Succeeded = this.Failures.Length = 0

    /// Throws DownloadFailedException listing the failures when any file could not be verified.
    member this.ThrowIfFailed() =
        if not this.Succeeded then
            let shown = this.Failures |> Array.truncate 20 |> Array.map (fun f -> "  " + string f)
            let more = if this.Failures.Length > 20 then [| sprintf "  ... and %d more" (this.Failures.Length - 20) |] else [||]
            let message =
                sprintf "PTB-XL download into %s: %d of %d files could not be verified:\n%s"
                    this.TargetFolder this.Failures.Length this.FilesTotal
                    (String.Join("\n", Array.append shown more))
            raise (DownloadFailedException(message, Some this))

    override this.ToString() =
        sprintf "%d files: %d downloaded, %d already verified, %d failed; %.1f MB in %.1f s -> %s"
            this.FilesTotal this.FilesDownloaded this.FilesSkipped this.Failures.Length
            (float this.BytesDownloaded / 1e6) this.Elapsed.TotalSeconds this.TargetFolder

/// Raised by ThrowIfFailed, and for problems that stop the whole run (such as a missing SHA256SUMS.txt).
and DownloadFailedException(message: string, summary: DownloadSummary option) =
    inherit Exception(message)
    /// Null when the run stopped before any file was attempted.
    member _.Summary = match summary with Some s -> s | None -> Unchecked.defaultof<DownloadSummary>

/// One line of SHA256SUMS.txt.
type ChecksumEntry = { RelativePath: string; Sha256: string }

/// Parses PhysioNet's SHA256SUMS.txt (`<sha256> <relative path>`, sha256sum's `*` binary marker allowed).
[<AbstractClass; Sealed>]
type ChecksumList private () =

    /// Rejects absolute paths and `..` so a hostile list or zip cannot write outside the target folder.
    static member IsSafeRelativePath(path: string) =
        not (String.IsNullOrWhiteSpace path)
        && not (Path.IsPathRooted path)
        && not (path.StartsWith "/" || path.StartsWith "\\")
        && path.Split([| '/'; '\\' |]) |> Array.forall (fun part -> part <> ".." && part <> "")

    static member Parse(text: string, sourceName: string) : ChecksumEntry[] =
        text.Split('\n')
        |> Array.mapi (fun index raw -> index + 1, raw.TrimEnd('\r'))
        |> Array.filter (fun (_, line) -> not (String.IsNullOrWhiteSpace line))
        |> Array.map (fun (lineNumber, line) ->
            let fail reason = raise (InvalidDataException(sprintf "%s line %d: %s: '%s'" sourceName lineNumber reason line))
            let separator = line.IndexOfAny [| ' '; '\t' |]
            if separator < 0 then fail "expected '<sha256> <path>'"
            let hash = line.Substring(0, separator).ToLowerInvariant()
            let path = line.Substring(separator).Trim().TrimStart('*')
            if hash.Length <> 64 || not (hash |> Seq.forall Uri.IsHexDigit) then fail "the hash is not 64 hex digits"
            if not (ChecksumList.IsSafeRelativePath path) then fail "the path is not a safe relative path"
            { RelativePath = path; Sha256 = hash })

    /// True for the files one sampling rate needs: its records folder plus every root-level file (CSVs, licence).
    static member IsNeeded(samplingRate: int, relativePath: string) =
        samplingRate = 0
        || not (relativePath.Contains '/')
        || relativePath.StartsWith(sprintf "records%d/" samplingRate, StringComparison.Ordinal)

/// Thread-safe counters behind the progress callback; reports are serialised and throttled.
type private ProgressTracker(progress: IProgress<DownloadProgress>, interval: TimeSpan) =
    let clock = Diagnostics.Stopwatch.StartNew()
    let gate = obj ()
    let mutable stage = DownloadStage.Checksums
    let mutable completed = 0
    let mutable skipped = 0
    let mutable failed = 0
    let mutable total = 0
    let mutable bytes = 0L
    let mutable bytesTotal = -1L
    let mutable lastReport = TimeSpan.Zero
    let mutable reported = false

    member _.Elapsed = clock.Elapsed
    member _.Bytes = Interlocked.Read &bytes
    member _.Begin(newStage, files, totalBytes) =
        lock gate (fun () ->
            stage <- newStage
            total <- files
            bytesTotal <- totalBytes
            completed <- 0
            skipped <- 0
            failed <- 0)
    member _.SetBytesTotal(value) = lock gate (fun () -> bytesTotal <- value)
    /// Only the archive is one file whose length is the whole job, so only then is a byte total known.
    member _.IsArchiveStage = stage = DownloadStage.Archive
    member this.AddBytes(count: int, file: string) =
        Interlocked.Add(&bytes, int64 count) |> ignore
        this.Report(file, false)
    member this.FileDone(file: string, wasSkipped: bool, wasFailed: bool) =
        lock gate (fun () ->
            if wasFailed then failed <- failed + 1
            else
                completed <- completed + 1
                if wasSkipped then skipped <- skipped + 1)
        this.Report(file, false)
    member this.Report(file: string, force: bool) =
        if not (isNull progress) then
            lock gate (fun () ->
                let now = clock.Elapsed
                let finished = total > 0 && completed + failed = total
                if force || finished || not reported || now - lastReport >= interval then
                    lastReport <- now
                    reported <- true
                    let received = Interlocked.Read &bytes
                    let seconds = max now.TotalSeconds 1e-3
                    let rate = float received / seconds
                    let eta =
                        if bytesTotal > 0L && rate > 0.0 then
                            Nullable(TimeSpan.FromSeconds(float (max 0L (bytesTotal - received)) / rate))
                        elif completed - skipped > 0 then
                            // Per-file pace of this run; skipped files cost no network time.
                            let perFile = seconds / float (completed - skipped + failed)
                            Nullable(TimeSpan.FromSeconds(perFile * float (total - completed - failed)))
                        else Nullable()
                    progress.Report
                        { Stage = stage; FilesCompleted = completed; FilesSkipped = skipped; FilesFailed = failed
                          FilesTotal = total; BytesReceived = received; BytesTotal = bytesTotal
                          BytesPerSecond = rate; EstimatedRemaining = eta; CurrentFile = file })

/// The result of one HTTP attempt at filling a `.part` file.
type private AttemptOutcome =
    /// The body was received completely (or the server says the range starts past the end).
    | BodyComplete
    /// Worth retrying: dropped connection, stall, 5xx, 429.
    | Transient of string
    /// Retrying will not help (404, 403, ...).
    | Permanent of int * string

type private FileResult =
    | Fetched
    | AlreadyVerified
    | Failed of DownloadFailure

module private Transfer =

    let rethrow (e: exn) : 'a =
        ExceptionDispatchInfo.Capture(e).Throw()
        Unchecked.defaultof<'a>

    let sha256OfFile (path: string) (ct: CancellationToken) =
        task {
            use stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 <<< 16, true)
            let! hash = SHA256.HashDataAsync(stream, ct)
            return Convert.ToHexString(hash).ToLowerInvariant()
        }

    let fileUrl (baseUrl: Uri) (relativePath: string) =
        let text = baseUrl.AbsoluteUri
        let folder = if text.EndsWith "/" then text else text + "/"
        let escaped = relativePath.Split('/') |> Array.map Uri.EscapeDataString |> String.concat "/"
        Uri(folder + escaped)

    let retryDelay (options: DownloadOptions) (failuresInARow: int) =
        let factor = Math.Pow(2.0, float (max 0 (failuresInARow - 1)))
        let ms = min options.MaxRetryDelay.TotalMilliseconds (options.InitialRetryDelay.TotalMilliseconds * factor)
        // Jitter keeps parallel workers from retrying in lock step against a struggling server.
        TimeSpan.FromMilliseconds(ms * (0.8 + 0.4 * Random.Shared.NextDouble()))

    /// One GET into `partPath`, resuming from its current length with a Range request.
    /// Returns the outcome and the final length of the part file.
    let fetchIntoPart (client: HttpClient) (options: DownloadOptions) (tracker: ProgressTracker)
                      (relativePath: string) (url: Uri) (partPath: string) (ct: CancellationToken) =
        task {
            let offset = if File.Exists partPath then FileInfo(partPath).Length else 0L
            use stall = CancellationTokenSource.CreateLinkedTokenSource ct
            try
                use request = new HttpRequestMessage(HttpMethod.Get, url)
                if offset > 0L then request.Headers.Range <- RangeHeaderValue(Nullable offset, Nullable())
                stall.CancelAfter options.StallTimeout
                use! response = client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, stall.Token)
                let status = int response.StatusCode
                if status = 416 && offset > 0L then
                    // The part already holds every byte; verification decides whether it is right.
                    return BodyComplete, offset
                elif status = 200 || status = 206 then
                    let range = response.Content.Headers.ContentRange
                    let resumes =
                        status = 206 && offset > 0L && not (isNull range) && range.From.HasValue && range.From.Value = offset
                    if status = 206 && not resumes then
                        // A range we did not ask for: start the file over rather than guess.
                        File.Delete partPath
                        return Transient(sprintf "server answered with an unexpected range (%O) for offset %d" range offset), 0L
                    else
                        let expectedLength =
                            if resumes && range.Length.HasValue then Nullable range.Length.Value
                            elif not resumes && response.Content.Headers.ContentLength.HasValue then
                                response.Content.Headers.ContentLength
                            else Nullable()
                        if tracker.IsArchiveStage && expectedLength.HasValue then
                            tracker.SetBytesTotal(tracker.Bytes + expectedLength.Value - (if resumes then offset else 0L))
                        // A 200 after a Range request means the server ignored it: FileMode.Create restarts the file.
                        let mode = if resumes then FileMode.Append else FileMode.Create
                        use file = new FileStream(partPath, mode, FileAccess.Write, FileShare.None, 1 <<< 16, true)
                        use! body = response.Content.ReadAsStreamAsync(stall.Token)
                        let buffer = Array.zeroCreate<byte> (1 <<< 16)
                        let mutable reading = true
                        while reading do
                            stall.CancelAfter options.StallTimeout
                            let! count = body.ReadAsync(Memory<byte>(buffer), stall.Token)
                            if count = 0 then reading <- false
                            else
                                do! file.WriteAsync(ReadOnlyMemory<byte>(buffer, 0, count), ct)
                                tracker.AddBytes(count, relativePath)
                        do! file.FlushAsync(ct)
                        let length = file.Length
                        if expectedLength.HasValue && length <> expectedLength.Value then
                            return Transient(sprintf "connection closed after %d of %d bytes" length expectedLength.Value), length
                        else return BodyComplete, length
                elif status = 408 || status = 429 || status >= 500 then
                    return Transient(sprintf "HTTP %d %s" status response.ReasonPhrase), offset
                else
                    return Permanent(status, sprintf "HTTP %d %s for %O" status response.ReasonPhrase url), offset
            with e ->
                ct.ThrowIfCancellationRequested()
                let length = if File.Exists partPath then FileInfo(partPath).Length else 0L
                match e with
                | :? OperationCanceledException ->
                    return Transient(sprintf "no data for %.0f s" options.StallTimeout.TotalSeconds), length
                | :? HttpRequestException
                | :? IOException -> return Transient(e.Message), length
                | _ -> return rethrow e
        }

    /// Puts a file that failed verification out of the way, so nothing half-right keeps a final name.
    let quarantine (options: DownloadOptions) (path: string) (finalPath: string) =
        if File.Exists path then
            if options.KeepCorruptFiles then File.Move(path, finalPath + ".corrupt", true)
            else File.Delete path

    /// Fetches one file into `<final>.part`, resuming and retrying, verifies its SHA-256 (when known)
    /// and only then renames it to its final name.
    let fetchVerified (client: HttpClient) (options: DownloadOptions) (tracker: ProgressTracker)
                      (relativePath: string) (url: Uri) (finalPath: string) (expectedSha256: string) (ct: CancellationToken) =
        task {
            let partPath = finalPath + ".part"
            Directory.CreateDirectory(Path.GetDirectoryName finalPath) |> ignore
            let failure kind statusCode actual attempts message =
                Failed
                    { RelativePath = relativePath; LocalPath = finalPath; Url = string url; Kind = kind
                      ExpectedSha256 = expectedSha256; ActualSha256 = actual; StatusCode = statusCode
                      Attempts = attempts; Message = message }
            let mutable result = None
            let mutable attempts = 0
            let mutable networkFailuresInARow = 0
            let mutable checksumFailures = 0
            let mutable longestPart = if File.Exists partPath then FileInfo(partPath).Length else 0L
            while result.IsNone do
                attempts <- attempts + 1
                let! outcome, partLength = fetchIntoPart client options tracker relativePath url partPath ct
                match outcome with
                | BodyComplete ->
                    let! actual =
                        if isNull expectedSha256 then Task.FromResult null else sha256OfFile partPath ct
                    if isNull expectedSha256 || actual = expectedSha256 then
                        // A file with a known SHA-256 is hashed again on every run, so a rename is enough
                        // (a durable commit costs about 12 ms a file here: minutes over PTB-XL's records);
                        // one without (the checksum list, an unlisted zip) is trusted as found, so it is
                        // committed durably and a power loss cannot leave it renamed but empty.
                        if isNull expectedSha256 then AtomicFile.Commit(partPath, finalPath)
                        else File.Move(partPath, finalPath, true)
                        result <- Some Fetched
                    else
                        checksumFailures <- checksumFailures + 1
                        longestPart <- 0L
                        quarantine options partPath finalPath
                        if checksumFailures >= options.MaxAttempts then
                            result <-
                                Some(failure DownloadFailureKind.ChecksumMismatch (Nullable()) actual attempts
                                        (sprintf "SHA-256 mismatch after %d attempts: expected %s, got %s (%s)"
                                            checksumFailures expectedSha256 actual
                                            (if options.KeepCorruptFiles then "kept as " + finalPath + ".corrupt" else "deleted")))
                        else do! Task.Delay(retryDelay options checksumFailures, ct)
                | Transient message ->
                    // Only a part that grew past its best length is progress; a server that ignores Range
                    // and drops every time would otherwise retry forever.
                    if partLength > longestPart then
                        longestPart <- partLength
                        networkFailuresInARow <- 0
                    networkFailuresInARow <- networkFailuresInARow + 1
                    if networkFailuresInARow >= options.MaxAttempts then
                        result <-
                            Some(failure DownloadFailureKind.Network (Nullable()) null attempts
                                    (sprintf "gave up after %d attempts without progress: %s (partial data kept in %s)"
                                        networkFailuresInARow message partPath))
                    else do! Task.Delay(retryDelay options networkFailuresInARow, ct)
                | Permanent(status, message) ->
                    result <- Some(failure DownloadFailureKind.HttpStatus (Nullable status) null attempts message)
            return result.Value
        }

    /// True when the final file exists and has the expected hash (a stale or damaged one is re-fetched).
    let isAlreadyVerified (finalPath: string) (expectedSha256: string) (ct: CancellationToken) =
        task {
            if not (File.Exists finalPath) then return false
            else
                let! actual = sha256OfFile finalPath ct
                return actual = expectedSha256
        }

    let makeClient (options: DownloadOptions) =
        if not (isNull options.HttpClient) then options.HttpClient, false
        else
            // No automatic decompression: byte offsets for Range must refer to the stored file.
            let handler =
                new SocketsHttpHandler(
                    AutomaticDecompression = DecompressionMethods.None,
                    PooledConnectionLifetime = TimeSpan.FromMinutes 5.0,
                    MaxConnectionsPerServer = max 1 options.MaxParallelDownloads)
            let client = new HttpClient(handler, true, Timeout = Timeout.InfiniteTimeSpan)
            client.DefaultRequestHeaders.UserAgent.ParseAdd("Ecg.Data-PtbXlDownloader/0.1")
            client, true

/// Downloads PTB-XL 1.0.3 from PhysioNet: resumable, SHA-256 verified, parallel, with progress.
[<AbstractClass; Sealed>]
type PtbXlDownloader private () =

    static let checksumFileName = "SHA256SUMS.txt"

    static let validate (options: DownloadOptions) =
        if isNull options then nullArg "options"
        if String.IsNullOrWhiteSpace options.TargetFolder then
            invalidArg "options" "DownloadOptions.TargetFolder is required"
        if not (List.contains options.SamplingRate [ 0; 100; 500 ]) then
            invalidArg "options" (sprintf "DownloadOptions.SamplingRate must be 100, 500 or 0 (both), not %d" options.SamplingRate)
        if options.MaxAttempts < 1 then invalidArg "options" "DownloadOptions.MaxAttempts must be at least 1"
        if options.MaxParallelDownloads < 1 then invalidArg "options" "DownloadOptions.MaxParallelDownloads must be at least 1"
        if isNull options.BaseUrl then invalidArg "options" "DownloadOptions.BaseUrl is required"

    /// The local SHA256SUMS.txt, fetched once (atomically) and reused by later runs.
    static let loadChecksums (client: HttpClient) (options: DownloadOptions) (tracker: ProgressTracker) (target: string) ct =
        task {
            let localPath = Path.Combine(target, checksumFileName)
            if not (File.Exists localPath) then
                let url = Transfer.fileUrl options.BaseUrl checksumFileName
                let! result = Transfer.fetchVerified client options tracker checksumFileName url localPath null ct
                match result with
                | Failed failure ->
                    raise (DownloadFailedException(
                        sprintf "Cannot fetch the checksum list %s: %s" failure.Url failure.Message, None))
                | _ -> ()
            let! text = File.ReadAllTextAsync(localPath, ct)
            return ChecksumList.Parse(text, localPath)
        }

    /// Checks, fetches or extracts each needed file, collecting results.
    static let summarize (options: DownloadOptions) (target: string) (tracker: ProgressTracker) (results: FileResult seq) =
        let results = Seq.toArray results
        { TargetFolder = target
          Mode = options.Mode
          FilesTotal = results.Length
          FilesDownloaded = results |> Array.filter (function Fetched -> true | _ -> false) |> Array.length
          FilesSkipped = results |> Array.filter (function AlreadyVerified -> true | _ -> false) |> Array.length
          Failures = results |> Array.choose (function Failed f -> Some f | _ -> None) |> Array.sortBy (fun f -> f.RelativePath)
          BytesDownloaded = tracker.Bytes
          Elapsed = tracker.Elapsed }

    static let downloadFiles (client: HttpClient) (options: DownloadOptions) (tracker: ProgressTracker) (target: string) (ct: CancellationToken) =
        task {
            let! entries = loadChecksums client options tracker target ct
            let needed =
                entries |> Array.filter (fun e -> ChecksumList.IsNeeded(options.SamplingRate, e.RelativePath))
            tracker.Begin(DownloadStage.Files, needed.Length, -1L)
            let results = Array.zeroCreate<FileResult> needed.Length
            let parallelOptions =
                ParallelOptions(MaxDegreeOfParallelism = options.MaxParallelDownloads, CancellationToken = ct)
            do! Parallel.ForEachAsync(
                    Seq.indexed needed, parallelOptions,
                    Func<int * ChecksumEntry, CancellationToken, ValueTask>(fun (index, entry) token ->
                        ValueTask(task {
                            let finalPath = Path.Combine(target, entry.RelativePath)
                            let! present = Transfer.isAlreadyVerified finalPath entry.Sha256 token
                            let! result =
                                if present then Task.FromResult AlreadyVerified
                                else
                                    let url = Transfer.fileUrl options.BaseUrl entry.RelativePath
                                    Transfer.fetchVerified client options tracker entry.RelativePath url finalPath entry.Sha256 token
                            results[index] <- result
                            tracker.FileDone(entry.RelativePath, present, (match result with Failed _ -> true | _ -> false))
                        } :> Task)))
            return summarize options target tracker results
        }

    /// Extracts the needed entries one by one into `.part` files, hashing while writing, renaming only verified ones.
    static let extractArchive (client: HttpClient) (options: DownloadOptions) (tracker: ProgressTracker) (target: string)
                              (archive: ZipArchive) (zipPath: string) (ct: CancellationToken) =
        task {
            let files = archive.Entries |> Seq.filter (fun e -> not (e.FullName.EndsWith "/")) |> Seq.toArray
            // PhysioNet zips hold everything under one top folder named after the project; strip it.
            let topFolder =
                let firsts = files |> Array.map (fun e -> let i = e.FullName.IndexOf '/' in if i < 0 then "" else e.FullName.Substring(0, i + 1)) |> Array.distinct
                if firsts.Length = 1 then firsts[0] else ""
            let byPath =
                files
                |> Array.map (fun e -> e.FullName.Substring(topFolder.Length), e)
                |> dict
            let checksumsPath = Path.Combine(target, checksumFileName)
            match byPath.TryGetValue checksumFileName with
            | true, entry ->
                use stream = entry.Open()
                use memory = new MemoryStream()
                do! stream.CopyToAsync(memory, ct)
                AtomicFile.WriteAllBytes(checksumsPath, memory.ToArray())
            | _ -> ()
            // A zip without its own list falls back to the one published next to the files.
            let! entries = loadChecksums client options tracker target ct
            let needed =
                entries
                |> Array.filter (fun e -> ChecksumList.IsNeeded(options.SamplingRate, e.RelativePath))
            tracker.Begin(DownloadStage.Extract, needed.Length, -1L)
            let results = ResizeArray<FileResult>()
            for entry in needed do
                let finalPath = Path.Combine(target, entry.RelativePath)
                let failure actual message =
                    Failed
                        { RelativePath = entry.RelativePath; LocalPath = finalPath; Url = zipPath
                          Kind = (if isNull actual then DownloadFailureKind.Archive else DownloadFailureKind.ChecksumMismatch)
                          ExpectedSha256 = entry.Sha256; ActualSha256 = actual; StatusCode = Nullable()
                          Attempts = 1; Message = message }
                let! present = Transfer.isAlreadyVerified finalPath entry.Sha256 ct
                let! result =
                    task {
                        if present then return AlreadyVerified
                        else
                            match byPath.TryGetValue entry.RelativePath with
                            | false, _ -> return failure null (sprintf "listed in %s but missing from %s" checksumFileName zipPath)
                            | true, zipEntry ->
                                Directory.CreateDirectory(Path.GetDirectoryName finalPath) |> ignore
                                let partPath = finalPath + ".part"
                                try
                                    let actual =
                                        use source = zipEntry.Open()
                                        use destination = new FileStream(partPath, FileMode.Create, FileAccess.Write)
                                        use hasher = IncrementalHash.CreateHash HashAlgorithmName.SHA256
                                        let buffer = Array.zeroCreate<byte> (1 <<< 16)
                                        let mutable count = source.Read(buffer, 0, buffer.Length)
                                        while count > 0 do
                                            hasher.AppendData(buffer, 0, count)
                                            destination.Write(buffer, 0, count)
                                            count <- source.Read(buffer, 0, buffer.Length)
                                        Convert.ToHexString(hasher.GetHashAndReset()).ToLowerInvariant()
                                    if actual = entry.Sha256 then
                                        File.Move(partPath, finalPath, true)
                                        return Fetched
                                    else
                                        Transfer.quarantine options partPath finalPath
                                        return failure actual (sprintf "SHA-256 mismatch in %s: expected %s, got %s" zipPath entry.Sha256 actual)
                                with :? InvalidDataException as e ->
                                    Transfer.quarantine options partPath finalPath
                                    return failure null (sprintf "cannot extract from %s: %s" zipPath e.Message)
                    }
                ct.ThrowIfCancellationRequested()
                results.Add result
                tracker.FileDone(entry.RelativePath, present, (match result with Failed _ -> true | _ -> false))
            return summarize options target tracker results
        }

    static let downloadZip (client: HttpClient) (options: DownloadOptions) (tracker: ProgressTracker) (zipPath: string) (expected: string) ct =
        task {
            tracker.Begin(DownloadStage.Archive, 1, -1L)
            let name = Path.GetFileName zipPath
            let! result = Transfer.fetchVerified client options tracker name options.ArchiveUrl zipPath expected ct
            tracker.FileDone(name, false, (match result with Failed _ -> true | _ -> false))
            return (match result with Failed f -> Some f | _ -> None)
        }

    static let downloadArchive (client: HttpClient) (options: DownloadOptions) (tracker: ProgressTracker) (target: string) (ct: CancellationToken) =
        task {
            if isNull options.ArchiveUrl then invalidArg "options" "DownloadOptions.ArchiveUrl is required for WholeArchive"
            let zipName = Uri.UnescapeDataString(options.ArchiveUrl.Segments |> Array.last)
            let zipPath = Path.Combine(target, zipName)
            let expected = if isNull options.ArchiveSha256 then null else options.ArchiveSha256.ToLowerInvariant()
            // A previous run may have extracted everything and deleted the zip: then no network at all.
            let checksumsPath = Path.Combine(target, checksumFileName)
            let! alreadyExtracted =
                task {
                    if File.Exists zipPath || not (File.Exists checksumsPath) then return None
                    else
                        let needed =
                            ChecksumList.Parse(File.ReadAllText checksumsPath, checksumsPath)
                            |> Array.filter (fun e -> ChecksumList.IsNeeded(options.SamplingRate, e.RelativePath))
                        tracker.Begin(DownloadStage.Extract, needed.Length, -1L)
                        let mutable all = true
                        for entry in needed do
                            if all then
                                let! ok = Transfer.isAlreadyVerified (Path.Combine(target, entry.RelativePath)) entry.Sha256 ct
                                all <- ok
                                if ok then tracker.FileDone(entry.RelativePath, true, false)
                        return (if all then Some needed.Length else None)
                }
            match alreadyExtracted with
            | Some count -> return summarize options target tracker (Array.create count AlreadyVerified)
            | None ->
                let! zipFailure =
                    task {
                        if File.Exists zipPath && isNull expected then return None
                        else
                            let! ok =
                                if File.Exists zipPath then Transfer.isAlreadyVerified zipPath expected ct
                                else Task.FromResult false
                            if ok then return None
                            else return! downloadZip client options tracker zipPath expected ct
                    }
                match zipFailure with
                | Some failure -> return summarize options target tracker [ Failed failure ]
                | None ->
                    let opened =
                        try Ok(ZipFile.OpenRead zipPath)
                        with :? InvalidDataException as e -> Error e.Message
                    match opened with
                    | Error message ->
                        // An unreadable zip is set aside so the next run fetches it again.
                        Transfer.quarantine options zipPath zipPath
                        return summarize options target tracker
                            [ Failed { RelativePath = zipName; LocalPath = zipPath; Url = string options.ArchiveUrl
                                       Kind = DownloadFailureKind.Archive; ExpectedSha256 = expected; ActualSha256 = null
                                       StatusCode = Nullable(); Attempts = 1
                                       Message = sprintf "the archive cannot be read: %s" message } ]
                    | Ok archive ->
                        let! summary =
                            task {
                                use archive = archive
                                return! extractArchive client options tracker target archive zipPath ct
                            }
                        if summary.Succeeded && not options.KeepArchive then File.Delete zipPath
                        return summary
        }

    /// Downloads (or completes) PTB-XL into options.TargetFolder. Never throws for per-file failures:
    /// they are listed in the summary (call ThrowIfFailed to turn them into an exception).
    /// Throws OperationCanceledException when cancelled (partial files are kept and resumed next time),
    /// DownloadFailedException when SHA256SUMS.txt itself cannot be fetched.
    /// The progress callback is called from worker threads, one call at a time.
    static member DownloadAsync(options: DownloadOptions,
                                [<Runtime.InteropServices.Optional; Runtime.InteropServices.DefaultParameterValue(null: IProgress<DownloadProgress>)>] progress: IProgress<DownloadProgress>,
                                [<Runtime.InteropServices.Optional>] cancellationToken: CancellationToken) : Task<DownloadSummary> =
        validate options
        task {
            let target = Path.GetFullPath options.TargetFolder
            Directory.CreateDirectory target |> ignore
            let tracker = ProgressTracker(progress, options.ProgressInterval)
            let client, owned = Transfer.makeClient options
            try
                let! summary =
                    match options.Mode with
                    | DownloadMode.WholeArchive -> downloadArchive client options tracker target cancellationToken
                    | _ -> downloadFiles client options tracker target cancellationToken
                tracker.Report(null, true)
                return summary
            finally
                if owned then client.Dispose()
        }

    /// Blocking form of DownloadAsync.
    static member Download(options: DownloadOptions,
                           [<Runtime.InteropServices.Optional; Runtime.InteropServices.DefaultParameterValue(null: IProgress<DownloadProgress>)>] progress: IProgress<DownloadProgress>,
                           [<Runtime.InteropServices.Optional>] cancellationToken: CancellationToken) : DownloadSummary =
        PtbXlDownloader.DownloadAsync(options, progress, cancellationToken).GetAwaiter().GetResult()
