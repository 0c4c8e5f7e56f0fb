namespace Ecg.Data

open System
open System.Diagnostics
open System.Globalization
open System.IO
open System.Text
open System.Text.Json

/// What to preprocess and where to write it.
[<CLIMutable>]
type PreprocessingOptions =
    { /// A PTB-XL folder (ptbxl_database.csv, scp_statements.csv, records100/ or records500/).
      PtbXlFolder: string
      /// The `.npz` to write; null or "" to build the dataset in memory only (no files written).
      OutputPath: string
      /// 100 (filename_lr) or 500 (filename_hr).
      SamplingRate: int
      /// strat_folds to keep; null or empty keeps all.
      Folds: int[]
      /// Reads only the first N CSV rows (in the file's ecg_id order) within those folds; 0 reads all.
      /// For subsets of a large database: quick trials and the growth study of `ecg bench`.
      MaxRecords: int
      /// Writes the signals to `<stem>_signals.npy` beside the npz as they are read, never holding them all
      /// in memory; the result's dataset maps that file. Needs OutputPath. Switched on automatically (and said
      /// in the summary's Note) when the signals would not fit one .NET array.
      SignalsOnDisk: bool }
    static member Create(folder: string, outputPath: string) =
        { PtbXlFolder = folder; OutputPath = outputPath; SamplingRate = 100; Folds = [||]; MaxRecords = 0; SignalsOnDisk = false }

/// Progress of the signal-reading phase.
[<CLIMutable>]
type PreprocessingProgress =
    { RecordsDone: int
      Total: int
      Elapsed: TimeSpan
      EstimatedRemaining: TimeSpan }

/// A record (or CSV row) left out of the dataset, and why.
[<CLIMutable>]
type PreprocessingFailure =
    { /// 0 when the row's ecg_id could not be read.
      EcgId: int
      /// The file at fault (CSV, header or signal file).
      Source: string
      Reason: string }

/// How many of the dataset's records one task keeps (ProcessedDataset.ForTask) and its classes.
[<CLIMutable>]
type TaskSummary =
    { /// The benchmark's name (superdiagnostic, subdiagnostic, diagnostic, form, rhythm, all).
      Task: string
      Records: int
      ClassNames: string[] }

/// What a run did. RecordsInCsv = MalformedRows + OutsideFolds + Failed(records) + Kept (+ rows past MaxRecords).
[<CLIMutable>]
type PreprocessingSummary =
    { PtbXlFolder: string
      SamplingRate: int
      Folds: int[]
      /// Data rows in ptbxl_database.csv.
      RecordsInCsv: int
      /// Rows left out because the CSV row itself is malformed (also listed in Failures).
      MalformedRows: int
      /// Well-formed rows whose strat_fold is not among Folds.
      OutsideFolds: int
      /// Always 0: every readable record is kept, with or without a superclass (a record without one still has
      /// form or rhythm labels); Tasks says how many each task keeps. Stays for readers of older reports.
      DroppedWithoutSuperclass: int
      /// Records whose signals were read and checked successfully.
      RecordsRead: int
      /// Records in the dataset.
      RecordsKept: int
      /// Records and rows that failed (malformed rows, missing or corrupt files).
      Failed: int
      Failures: PreprocessingFailure[]
      /// The superclasses (the file's `labels`/`class_names`).
      ClassNames: string[]
      /// Records and classes of each benchmark task over the dataset, in the benchmark's order.
      Tasks: TaskSummary[]
      Samples: int
      Leads: int
      ElapsedSeconds: float
      OutputPath: string
      /// The signals `.npy` beside the npz; "" when the signals are inside the npz (or not written).
      SignalsPath: string
      /// Anything the run decided on its own, e.g. writing the signals to disk; "" when nothing.
      Note: string
      ReportJsonPath: string
      ReportTextPath: string }

    /// A readable report.
    member s.ToText() =
        let b = StringBuilder()
        let line (t: string) = b.AppendLine t |> ignore
        line (sprintf "PTB-XL preprocessing report (%s, %d Hz)" s.PtbXlFolder s.SamplingRate)
        line (sprintf "folds: %s" (if s.Folds.Length = 0 then "all" else String.Join(",", s.Folds)))
        line (sprintf "records in CSV:              %d" s.RecordsInCsv)
        line (sprintf "malformed CSV rows:          %d" s.MalformedRows)
        line (sprintf "outside the chosen folds:    %d" s.OutsideFolds)
        line (sprintf "records read:                %d" s.RecordsRead)
        line (sprintf "records kept:                %d" s.RecordsKept)
        line (sprintf "failed:                      %d" s.Failed)
        line (sprintf "superclasses: %s; %d samples x %d leads; %.1f s" (String.Join(",", s.ClassNames)) s.Samples s.Leads s.ElapsedSeconds)
        if not (isNull s.Tasks) && s.Tasks.Length > 0 then
            line "records and classes per task (records with at least one of the task's labels):"
            for t in s.Tasks do
                line (sprintf "  %-16s %6d records, %3d classes" t.Task t.Records t.ClassNames.Length)
        if not (String.IsNullOrEmpty s.OutputPath) then line (sprintf "output: %s" s.OutputPath)
        if not (String.IsNullOrEmpty s.SignalsPath) then line (sprintf "signals: %s (on disk, memory-mapped when read)" s.SignalsPath)
        if not (String.IsNullOrEmpty s.Note) then line (sprintf "note: %s" s.Note)
        if s.Failures.Length > 0 then
            line ""
            line "failures:"
            for f in s.Failures do
                line (sprintf "  ecg_id %d (%s): %s" f.EcgId f.Source f.Reason)
        b.ToString()

/// The dataset a run built and its summary.
[<CLIMutable>]
type PreprocessingResult = { Dataset: ProcessedDataset; Summary: PreprocessingSummary }

/// PTB-XL folder -> ProcessedDataset (+ `.npz` and a failure report beside it).
/// Every readable record is kept, whatever its labels: one dataset serves every task (ProcessedDataset.ForTask).
/// Bad records are reported and left out; one never stops the run.
[<AbstractClass; Sealed>]
type Preprocessing private () =

    static let mutable inMemoryLimit = int64 Array.MaxLength

    /// The most signal values held in memory before the run writes them to disk by itself: one .NET
    /// array's limit. Settable for tests only.
    static member internal InMemoryLimit with get () = inMemoryLimit and set (v: int64) = inMemoryLimit <- v

    /// Report files beside the npz: `<name>_report.json` and `<name>_report.txt`.
    static member ReportPaths(outputPath: string) =
        let full = Path.GetFullPath outputPath
        let stem = Path.Combine(Path.GetDirectoryName full, Path.GetFileNameWithoutExtension full)
        stem + "_report.json", stem + "_report.txt"

    static member Run(options: PreprocessingOptions, progress: Action<PreprocessingProgress>) : PreprocessingResult =
        let clock = Stopwatch.StartNew()
        if isNull (box options) || String.IsNullOrWhiteSpace options.PtbXlFolder then invalidArg "options" "PtbXlFolder is required"
        let rate = options.SamplingRate
        if rate <> 100 && rate <> 500 then invalidArg "options" (sprintf "SamplingRate must be 100 or 500, not %d" rate)
        let folder = Path.GetFullPath options.PtbXlFolder
        let folds = if isNull options.Folds then [||] else Array.sort options.Folds
        let db = PtbXlDatabase.Load folder
        let mapper = SuperclassMapper.FromDatabase db
        let classes = mapper.ClassNames
        let failures = ResizeArray<PreprocessingFailure>()
        let malformedRows = db.Errors |> Array.filter (fun e -> e.File = PtbXlDatabase.DatabaseFileName) |> Array.distinctBy (fun e -> e.Line) |> Array.length
        for e in db.Errors do
            let id = if e.Key.StartsWith "ecg_id " then (match Int32.TryParse(e.Key.Substring 7) with | true, v -> v | _ -> 0) else 0
            failures.Add { EcgId = id; Source = e.File; Reason = e.ToString() }
        if options.MaxRecords < 0 then invalidArg "options" (sprintf "MaxRecords must be 0 (all) or positive, not %d" options.MaxRecords)
        let inFolds = db.Records |> Array.filter (fun r -> folds.Length = 0 || Array.BinarySearch(folds, r.StratFold) >= 0)
        let outsideFolds = db.Records.Length - inFolds.Length
        let inFolds = if options.MaxRecords > 0 then Array.truncate options.MaxRecords inFolds else inFolds
        let reader = WfdbRecordReader()
        let recordPath (r: PtbXlRecord) = Path.Combine(folder, r.FilenameFor rate)
        let fail (r: PtbXlRecord) (source: string) (reason: string) =
            failures.Add { EcgId = r.EcgId; Source = source; Reason = reason }
        // Phase 1: headers (small) decide the shape and which records can be read, so Signals is
        // allocated once at (nearly always) its final size.
        let mutable samples = 0
        let mutable leadNames: string[] = null
        let candidates = ResizeArray<PtbXlRecord * WfdbHeader>(inFolds.Length)
        for r in inFolds do
            let name = r.FilenameFor rate
            if String.IsNullOrWhiteSpace name then fail r PtbXlDatabase.DatabaseFileName (sprintf "no filename_%s for %d Hz" (if rate = 100 then "lr" else "hr") rate)
            else
                try
                    let h = reader.ReadHeader(recordPath r)
                    let source = name + ".hea"
                    if h.SamplingFrequency <> float rate then fail r source (sprintf "sampling frequency %g Hz in header, %d Hz expected" h.SamplingFrequency rate)
                    elif h.SampleCount <= 0 || h.SignalCount <= 0 then fail r source "header gives no sample or signal count"
                    else
                        if isNull leadNames then
                            samples <- h.SampleCount
                            leadNames <- h.LeadNames
                        if h.SampleCount <> samples then fail r source (sprintf "%d samples per lead, other records have %d" h.SampleCount samples)
                        elif h.LeadNames <> leadNames then fail r source (sprintf "leads %s, other records have %s" (String.Join(",", h.LeadNames)) (String.Join(",", leadNames)))
                        else candidates.Add((r, h))
                with
                | :? WfdbException as e -> fail r (name + ".hea") e.Message
                | :? IOException | :? UnauthorizedAccessException as e -> fail r (name + ".hea") e.Message
        let leads = if isNull leadNames then 0 else leadNames.Length
        let length = samples * leads
        let total = candidates.Count
        let output = if String.IsNullOrWhiteSpace options.OutputPath then "" else Path.GetFullPath options.OutputPath
        let tooLarge = int64 total * int64 length > inMemoryLimit
        if options.SignalsOnDisk && output = "" then invalidArg "options" "SignalsOnDisk needs an OutputPath (the .npz beside which the signals go)"
        if tooLarge && output = "" then
            raise (InvalidOperationException(sprintf "%d records x %d values exceed one .NET array: give an OutputPath so the signals can be written to disk" total length))
        let onDisk = options.SignalsOnDisk || tooLarge
        let note =
            if tooLarge && not options.SignalsOnDisk then
                sprintf "signals written to disk (as with --signals-on-disk): %s records x %s values exceed one .NET array (%s values)"
                    (total.ToString("N0", CultureInfo.InvariantCulture)) (length.ToString("N0", CultureInfo.InvariantCulture))
                    (inMemoryLimit.ToString("N0", CultureInfo.InvariantCulture))
            else ""
        // In memory: one array at its (nearly always) final size, each record read straight into its slot.
        // On disk: each record read into one buffer and appended to a temporary .npy; memory stays flat.
        let mutable signals = if onDisk then [||] else Array.zeroCreate<float32> (total * length)
        use writer = if onDisk then new NpySignalWriter(ProcessedDatasetFile.SignalsPathFor output, samples, leads) else null
        let buffer = if onDisk then Array.zeroCreate<float32> length else null
        let kept = ResizeArray<PtbXlRecord>(total)
        let report (doneCount: int) =
            if not (isNull progress) then
                let elapsed = clock.Elapsed
                let perRecord = if doneCount > 0 then elapsed.TotalSeconds / float doneCount else 0.0
                progress.Invoke { RecordsDone = doneCount; Total = total; Elapsed = elapsed
                                  EstimatedRemaining = TimeSpan.FromSeconds(perRecord * float (total - doneCount)) }
        // Phase 2: signals; a failed record's slot is reused by the next one (and never reaches the file).
        for i in 0 .. total - 1 do
            let r, h = candidates.[i]
            let slot = if onDisk then Span<float32>(buffer) else Span<float32>(signals, kept.Count * length, length)
            try
                reader.ReadSignal(h, recordPath r, slot) |> ignore
                if onDisk then writer.Append(ReadOnlySpan<float32>(buffer))
                kept.Add r
            with
            | :? WfdbException as e -> fail r (Path.Combine(Path.GetDirectoryName(r.FilenameFor rate), e.File)) e.Message
            | :? IOException | :? UnauthorizedAccessException as e -> fail r (r.FilenameFor rate + ".dat") e.Message
            if (i + 1) % 500 = 0 || i + 1 = total then report (i + 1)
        if total = 0 then report 0
        // Only when a signal file failed after its header passed: shrink to the final size.
        if not onDisk && kept.Count < total then Array.Resize(&signals, kept.Count * length)
        let n = kept.Count
        let labels = Array.zeroCreate<byte> (n * classes.Length)
        kept |> Seq.iteri (fun i r -> mapper.Encode(r, Span<byte>(labels, i * classes.Length, classes.Length)) |> ignore)
        let pick f = kept |> Seq.map f |> Seq.toArray
        let leadNames = if isNull leadNames then [||] else leadNames
        let dataset =
            { Signals = (if onDisk then MappedSignals.Open(writer.Finish(), n, leads, Path.GetFileName output) :> SignalStore
                         else SignalStore.OfArray(signals, length))
              RecordCount = n; Samples = samples; Leads = leads; SamplingRate = float rate
              LeadNames = leadNames; EcgIds = pick (fun r -> r.EcgId)
              Labels = labels; ClassNames = classes; StratFolds = pick (fun r -> r.StratFold)
              PatientIds = pick (fun r -> r.PatientId); Age = pick (fun r -> r.Age); Sex = pick (fun r -> r.Sex)
              Height = pick (fun r -> r.Height); Weight = pick (fun r -> r.Weight); Site = pick (fun r -> r.Site)
              Device = pick (fun r -> r.Device); Scp = ScpAnnotations.FromRecords(db.Statements, kept.ToArray()) }
        let jsonPath, textPath = if output = "" then "", "" else Preprocessing.ReportPaths output
        let readFailures = failures.Count - db.Errors.Length
        let summary =
            { PtbXlFolder = folder; SamplingRate = rate; Folds = folds; RecordsInCsv = db.Records.Length + malformedRows
              MalformedRows = malformedRows; OutsideFolds = outsideFolds; DroppedWithoutSuperclass = 0
              RecordsRead = n; RecordsKept = n; Failed = malformedRows + readFailures
              Failures = failures.ToArray(); ClassNames = classes
              Tasks = LabelTask.Values |> Array.map (fun task ->
                  let t = dataset.TaskLabels(task, 0)
                  { Task = task.Name; Records = t.Records.Length; ClassNames = t.ClassNames })
              Samples = samples; Leads = leads
              ElapsedSeconds = 0.0; OutputPath = output; SignalsPath = (if onDisk then ProcessedDatasetFile.SignalsPathFor output else "")
              Note = note; ReportJsonPath = jsonPath; ReportTextPath = textPath }
        let dataset =
            if onDisk then
                // The temporary .npy was mapped (and so checked) to write the npz; after the commit the
                // dataset maps the final file.
                try ProcessedDatasetFile.CommitWithSignalsFile(output, dataset, writer.TempPath)
                finally (dataset :> IDisposable).Dispose()
                { dataset with Signals = MappedSignals.Open(summary.SignalsPath, n, leads, Path.GetFileName output) }
            else
                if output <> "" then ProcessedDatasetFile.Write(output, dataset)
                dataset
        let summary = { summary with ElapsedSeconds = clock.Elapsed.TotalSeconds }
        if output <> "" then
            AtomicFile.WriteAllText(jsonPath, JsonSerializer.Serialize(summary, JsonDefaults.DeclaredNames))
            AtomicFile.WriteAllText(textPath, summary.ToText())
        { Dataset = dataset; Summary = summary }

    static member Run(options: PreprocessingOptions) : PreprocessingResult = Preprocessing.Run(options, null)
