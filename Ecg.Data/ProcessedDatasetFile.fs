namespace Ecg.Data

open System
open System.IO
open System.IO.Compression
open System.Runtime.InteropServices
open System.Text

/// Reads and writes a ProcessedDataset as a NumPy `.npz`: a deflate-compressed ZIP of `.npy` arrays,
/// no pickled objects (NumPy opens it with allow_pickle=False):
/// signals <f4 (N, T, L); ecg_ids <i4 (N,); labels |u1 (N, C); class_names <U (C,); lead_names <U (L,);
/// strat_fold <i4 (N,); patient_id, age, sex, height, weight, site <f8 (N,) with NaN for missing;
/// device <U (N,); sampling_rate <f8 scalar; signals_sha256 <U64 scalar, the SHA-256 of signals' bytes (absent in files
/// written before it and with the signals on disk).
/// Every record's SCP codes (see ScpAnnotations and docs/data.md), compressed-row style over the K rows of
/// scp_statements.csv: scp_code_names <U (K,); scp_code_diagnostic, scp_code_form, scp_code_rhythm |u1 (K,);
/// scp_code_diagnostic_class, scp_code_diagnostic_subclass <U (K,) ("" when blank); scp_offsets <i4 (N+1,);
/// scp_code_index <i4 (M,) into scp_code_names; scp_likelihood <f4 (M,). Files written before these arrays
/// existed still read (Scp is then null). `labels`/`class_names` stay the superclasses of every record.
/// With the signals on disk, `signals` is left out and `signals_file` (<U scalar) names a plain `.npy` beside the
/// npz (`<stem>_signals.npy`, <f4 C order (N, T, L)) that is memory-mapped when read (see MappedSignals).
[<AbstractClass; Sealed>]
type ProcessedDatasetFile private () =

    static let requireLittleEndian () =
        if not BitConverter.IsLittleEndian then raise (PlatformNotSupportedException "the .npz writer and reader assume a little-endian machine")

    /// Reads `count` elements of 'T straight into their final array (no intermediate byte copy).
    static member private ReadNumbers<'T when 'T: unmanaged and 'T: struct and 'T: (new: unit -> 'T) and 'T :> ValueType>
            (s: Stream, count: int64, fail: string -> unit) : 'T[] =
        if count > int64 Array.MaxLength then fail "is too large for one .NET array"
        let values = Array.zeroCreate<'T> (int count)
        try s.ReadExactly(MemoryMarshal.AsBytes(Span<'T>(values)))
        with
        | :? EndOfStreamException -> fail "truncated: fewer bytes than its shape needs"
        | :? InvalidDataException as e -> fail ("corrupt compressed data: " + e.Message)
        values

    static member private Validate(d: ProcessedDataset) =
        let n = d.RecordCount
        let check (what: string) actual expected =
            if actual <> expected then invalidArg "dataset" (sprintf "dataset %s has length %d, expected %d" what actual expected)
        if n < 0 || d.Samples < 0 || d.Leads < 0 then invalidArg "dataset" "negative RecordCount, Samples or Leads"
        if isNull (box d.Signals) then invalidArg "dataset" "dataset Signals is null"
        check "Signals" d.Signals.Length (int64 n * int64 d.Samples * int64 d.Leads)
        check "Signals record" (int64 d.Signals.RecordLength) (int64 d.Samples * int64 d.Leads)
        check "LeadNames" (int64 d.LeadNames.Length) (int64 d.Leads)
        check "Labels" (int64 d.Labels.Length) (int64 n * int64 d.ClassNames.Length)
        for name, len in [ "EcgIds", d.EcgIds.Length; "StratFolds", d.StratFolds.Length; "PatientIds", d.PatientIds.Length
                           "Age", d.Age.Length; "Sex", d.Sex.Length; "Height", d.Height.Length; "Weight", d.Weight.Length
                           "Site", d.Site.Length; "Device", d.Device.Length ] do
            check name (int64 len) (int64 n)
        if not (isNull d.Scp) then check "Scp records" (int64 d.Scp.RecordCount) (int64 n)

    /// The npz (every array; `signals` only when signalsFile is null, else `signals_file`) in a temporary file
    /// beside `full`, flushed to disk. Returns the temporary path.
    static member private WriteNpzTemp(full: string, d: ProcessedDataset, compression: CompressionLevel, signalsFile: string) : string =
        let folder = Path.GetDirectoryName full
        Directory.CreateDirectory folder |> ignore
        let temp = AtomicFile.TemporaryPathFor full
        try
            do
                use fs = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 <<< 16)
                do
                    use npz = new NpzWriter(fs, compression)
                    let n = int64 d.RecordCount
                    if isNull signalsFile then
                        // Record by record, so mapped signals and subsets stream too and no copy is made. The bytes'
                        // SHA-256 goes beside them: readers can tell these signals apart without reading them.
                        use hash = System.Security.Cryptography.IncrementalHash.CreateHash System.Security.Cryptography.HashAlgorithmName.SHA256
                        do
                            use s = npz.OpenArray("signals", "<f4", [| n; int64 d.Samples; int64 d.Leads |])
                            for i in 0 .. d.RecordCount - 1 do
                                let bytes = MemoryMarshal.AsBytes(d.Signal(i).Span)
                                s.Write bytes
                                hash.AppendData bytes
                        npz.Write("signals_sha256", [||], [| Convert.ToHexStringLower(hash.GetHashAndReset()) |])
                    else
                        npz.Write("signals_file", [||], [| signalsFile |])
                    npz.Write("ecg_ids", [| n |], d.EcgIds)
                    npz.Write("labels", [| n; int64 d.ClassNames.Length |], d.Labels)
                    npz.Write("class_names", [| int64 d.ClassNames.Length |], d.ClassNames)
                    npz.Write("lead_names", [| int64 d.LeadNames.Length |], d.LeadNames)
                    npz.Write("strat_fold", [| n |], d.StratFolds)
                    npz.Write("patient_id", [| n |], d.PatientIds)
                    npz.Write("age", [| n |], d.Age)
                    npz.Write("sex", [| n |], d.Sex)
                    npz.Write("height", [| n |], d.Height)
                    npz.Write("weight", [| n |], d.Weight)
                    npz.Write("site", [| n |], d.Site)
                    npz.Write("device", [| n |], d.Device)
                    npz.Write("sampling_rate", [||], [| d.SamplingRate |])
                    if not (isNull d.Scp) then
                        let scp = d.Scp
                        let k = int64 scp.CodeNames.Length
                        let flags (values: bool[]) = values |> Array.map (fun v -> if v then 1uy else 0uy)
                        npz.Write("scp_code_names", [| k |], scp.CodeNames)
                        npz.Write("scp_code_diagnostic", [| k |], flags scp.IsDiagnostic)
                        npz.Write("scp_code_form", [| k |], flags scp.IsForm)
                        npz.Write("scp_code_rhythm", [| k |], flags scp.IsRhythm)
                        npz.Write("scp_code_diagnostic_class", [| k |], scp.DiagnosticClass)
                        npz.Write("scp_code_diagnostic_subclass", [| k |], scp.DiagnosticSubclass)
                        npz.Write("scp_offsets", [| n + 1L |], scp.Offsets)
                        npz.Write("scp_code_index", [| int64 scp.CodeIndex.Length |], scp.CodeIndex)
                        npz.Write("scp_likelihood", [| int64 scp.Likelihood.Length |], scp.Likelihood)
                fs.Flush(true)
            temp
        with _ ->
            (try File.Delete temp with _ -> ())
            reraise ()

    /// Where the signals of `npzPath` go when they are written on disk: `<stem>_signals.npy` beside it.
    static member SignalsPathFor(npzPath: string) : string =
        let full = Path.GetFullPath npzPath
        Path.Combine(Path.GetDirectoryName full, Path.GetFileNameWithoutExtension full + "_signals.npy")

    /// Commits a dataset whose signals are already in a finished temporary `.npy` (NpySignalWriter.Finish):
    /// writes the npz naming `<stem>_signals.npy`, then renames. The npz is the commit point: an existing npz is
    /// deleted before its signals file is replaced, so an interruption between the renames leaves no npz (nothing
    /// a later run trusts), never an old npz beside new signals. `dataset` supplies everything but the signals.
    static member internal CommitWithSignalsFile(path: string, dataset: ProcessedDataset, signalsTemp: string) : unit =
        requireLittleEndian ()
        ProcessedDatasetFile.Validate dataset
        let full = Path.GetFullPath path
        let sibling = ProcessedDatasetFile.SignalsPathFor full
        let npzTemp = ProcessedDatasetFile.WriteNpzTemp(full, dataset, CompressionLevel.Fastest, Path.GetFileName sibling)
        try
            if File.Exists full then File.Delete full
            AtomicFile.Commit(signalsTemp, sibling)
            AtomicFile.Commit(npzTemp, full)
        with _ ->
            (try File.Delete npzTemp with _ -> ())
            reraise ()

    /// Writes atomically (temporary files in the same folder, then renamed over `path`). With `signalsOnDisk`
    /// the signals go to `<stem>_signals.npy` beside the npz (see SignalsPathFor and CommitWithSignalsFile);
    /// without, inside the npz, and a `<stem>_signals.npy` left by an earlier on-disk write is deleted.
    static member Write(path: string, dataset: ProcessedDataset, compression: CompressionLevel, signalsOnDisk: bool) : unit =
        requireLittleEndian ()
        ProcessedDatasetFile.Validate dataset
        let full = Path.GetFullPath path
        if signalsOnDisk then
            use writer = new NpySignalWriter(ProcessedDatasetFile.SignalsPathFor full, dataset.Samples, dataset.Leads)
            for i in 0 .. dataset.RecordCount - 1 do writer.Append(dataset.Signal(i).Span)
            ProcessedDatasetFile.CommitWithSignalsFile(full, dataset, writer.Finish())
        else
            let temp = ProcessedDatasetFile.WriteNpzTemp(full, dataset, compression, null)
            try AtomicFile.Commit(temp, full)
            with _ ->
                (try File.Delete temp with _ -> ())
                reraise ()
            let stale = ProcessedDatasetFile.SignalsPathFor full
            if File.Exists stale then File.Delete stale

    /// Writes atomically with the signals inside the npz.
    static member Write(path: string, dataset: ProcessedDataset, compression: CompressionLevel) : unit =
        ProcessedDatasetFile.Write(path, dataset, compression, false)

    /// Write with the fastest deflate level (the signals barely compress further at higher levels).
    static member Write(path: string, dataset: ProcessedDataset) : unit =
        ProcessedDatasetFile.Write(path, dataset, CompressionLevel.Fastest, false)

    /// Reads and validates every array (dtype, shape, agreement between arrays). Errors name the file and array;
    /// a truncated or corrupt file raises InvalidDataException.
    static member Read(path: string) : ProcessedDataset = ProcessedDatasetFile.Read(path, false)

    /// Read; with `deferSignals`, signals stored inside the npz are read only when a record is first asked for
    /// (their header is checked now; SignalStore.Deferred), from the file as it was opened now (the handle stays
    /// open until then, so a file replaced in between is not mixed in). Stages that may need only the metadata and
    /// a saved result use it: a 21,388-record dataset then costs its metadata, not 900 MB of signals.
    static member Read(path: string, deferSignals: bool) : ProcessedDataset =
        requireLittleEndian ()
        let file = Path.GetFileName path
        if not (File.Exists path) then raise (FileNotFoundException(sprintf "processed dataset %s not found" path, path))
        let zip =
            try new ZipArchive(File.OpenRead path, ZipArchiveMode.Read, false)
            with :? InvalidDataException as e -> raise (InvalidDataException(sprintf "%s is not a readable .npz (zip) file: %s" file e.Message, e))
        // Disposed at the end, unless deferred signals take it over.
        let mutable keepOpen = false
        try
            let where name = sprintf "%s, array %s" file name
            let fail name msg : 'a = raise (InvalidDataException(sprintf "%s: %s" (where name) msg))
            let openArray (name: string) (expectedDescr: string -> bool) (descrText: string) (rank: int) =
                let entry = zip.GetEntry(name + ".npy")
                if isNull entry then fail name "missing from the file"
                let s = try entry.Open() with :? InvalidDataException as e -> fail name ("cannot be opened: " + e.Message)
                let h = try NpyFormat.ReadHeader(s, where name) with :? InvalidDataException as e when not (e.Message.StartsWith file) -> fail name e.Message
                if not (expectedDescr h.Descr) then fail name (sprintf "dtype %s, expected %s" h.Descr descrText)
                if h.FortranOrder then fail name "is in Fortran order, expected C order"
                if h.Shape.Length <> rank then fail name (sprintf "has %d dimensions %A, expected %d" h.Shape.Length h.Shape rank)
                s, h
            let numbers (name: string) (descr: string) (rank: int) =
                let s, h = openArray name (fun d -> d = descr || (descr = "|u1" && d = "<u1")) descr rank
                s, h, (fun msg -> fail name msg |> ignore)
            let readStringsOfRank (name: string) (rank: int) : string[] =
                let s, h = openArray name (fun d -> d.StartsWith "<U") "<U{n}" rank
                use s = s
                let width = match Int32.TryParse(h.Descr.Substring 2) with | true, w when w > 0 -> w | _ -> fail name (sprintf "bad string dtype %s" h.Descr)
                let count = int h.ElementCount
                let bytes = Array.zeroCreate<byte> (count * width * 4)
                (try s.ReadExactly(Span<byte>(bytes))
                 with
                 | :? EndOfStreamException -> fail name "truncated: fewer bytes than its shape needs"
                 | :? InvalidDataException as e -> fail name ("corrupt compressed data: " + e.Message))
                Array.init count (fun i ->
                    let chars = Encoding.UTF32.GetString(bytes, i * width * 4, width * 4)
                    chars.TrimEnd('\000'))
            let readStrings name = readStringsOfRank name 1
            let readF32 name rank = let s, h, f = numbers name "<f4" rank in use s = s in ProcessedDatasetFile.ReadNumbers<float32>(s, h.ElementCount, f), h.Shape
            let readI32 name rank = let s, h, f = numbers name "<i4" rank in use s = s in ProcessedDatasetFile.ReadNumbers<int>(s, h.ElementCount, f), h.Shape
            let readU8 name rank = let s, h, f = numbers name "|u1" rank in use s = s in ProcessedDatasetFile.ReadNumbers<byte>(s, h.ElementCount, f), h.Shape
            let readF64 name rank = let s, h, f = numbers name "<f8" rank in use s = s in ProcessedDatasetFile.ReadNumbers<float>(s, h.ElementCount, f), h.Shape
            // Signals inside the npz, or a signals_file naming the .npy beside it (mapped once the rest is checked).
            let signalsFile =
                match zip.GetEntry "signals.npy", zip.GetEntry "signals_file.npy" with
                | null, null -> fail "signals" "missing from the file (and no signals_file names a signals .npy)"
                | _, null -> null
                | null, _ ->
                    let name = (readStringsOfRank "signals_file" 0).[0]
                    if name = "" || name = "." || name = ".." || Path.GetFileName name <> name || name.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0 then
                        fail "signals_file" (sprintf "'%s' is not the name of a file beside the npz" name)
                    name
                | _ -> fail "signals_file" "present together with signals: expected one or the other"
            let signals, sigShape =
                if isNull signalsFile then
                    if deferSignals then
                        let s, h = openArray "signals" (fun d -> d = "<f4") "<f4" 3
                        s.Dispose()
                        null, h.Shape
                    else readF32 "signals" 3
                else [||], null
            // Written with signals inside the npz only (a mapped .npy beside it can be swapped by hand).
            let recordedSha256 =
                if isNull (zip.GetEntry "signals_sha256.npy") || not (isNull signalsFile) then null
                else
                    let h = (readStringsOfRank "signals_sha256" 0).[0]
                    if h.Length <> 64 || not (Seq.forall Uri.IsHexDigit h) then fail "signals_sha256" (sprintf "'%s' is not a SHA-256 in hex" h)
                    h.ToLowerInvariant()
            let ecgIds, _ = readI32 "ecg_ids" 1
            let n = if isNull signalsFile then int sigShape.[0] else ecgIds.Length
            let counted = if isNull signalsFile then "records (signals has that many)" else "records (ecg_ids has that many)"
            let labels, labelShape = readU8 "labels" 2
            let classNames = readStrings "class_names"
            let leadNames = readStrings "lead_names"
            let folds, _ = readI32 "strat_fold" 1
            let f64 name = fst (readF64 name 1)
            let patient, age, sex, height, weight, site = f64 "patient_id", f64 "age", f64 "sex", f64 "height", f64 "weight", f64 "site"
            let device = readStrings "device"
            let rate, _ = readF64 "sampling_rate" 0
            let expectLength name (actual: int) (expected: int) what =
                if actual <> expected then fail name (sprintf "has %d %s, expected %d" actual what expected)
            for name, len in [ "ecg_ids", ecgIds.Length; "strat_fold", folds.Length; "patient_id", patient.Length; "age", age.Length
                               "sex", sex.Length; "height", height.Length; "weight", weight.Length; "site", site.Length; "device", device.Length ] do
                expectLength name len n counted
            expectLength "labels" (int labelShape.[0]) n counted
            expectLength "labels" (int labelShape.[1]) classNames.Length "columns (class_names has that many)"
            // SCP codes: all nine arrays or none (a file written before they existed).
            let scpArrays = [ "scp_code_names"; "scp_code_diagnostic"; "scp_code_form"; "scp_code_rhythm"; "scp_code_diagnostic_class"
                              "scp_code_diagnostic_subclass"; "scp_offsets"; "scp_code_index"; "scp_likelihood" ]
            let scp =
                match scpArrays |> List.filter (fun a -> isNull (zip.GetEntry(a + ".npy"))) with
                | missing when missing.Length = scpArrays.Length -> null
                | [] ->
                    let flags name = fst (readU8 name 1) |> Array.map (fun v -> v <> 0uy)
                    let names = readStrings "scp_code_names"
                    let isDiagnostic, isForm, isRhythm = flags "scp_code_diagnostic", flags "scp_code_form", flags "scp_code_rhythm"
                    let classes, subclasses = readStrings "scp_code_diagnostic_class", readStrings "scp_code_diagnostic_subclass"
                    let offsets, _ = readI32 "scp_offsets" 1
                    let codeIndex, _ = readI32 "scp_code_index" 1
                    let likelihood, _ = readF32 "scp_likelihood" 1
                    expectLength "scp_offsets" offsets.Length (n + 1) "values (one more than records)"
                    match ScpAnnotations.Problem(names, isDiagnostic, isForm, isRhythm, classes, subclasses, offsets, codeIndex, likelihood) with
                    | Some(name, message) -> fail name message
                    | None -> ScpAnnotations(names, isDiagnostic, isForm, isRhythm, classes, subclasses, offsets, codeIndex, likelihood)
                | missing -> fail missing.Head "missing from the file, though other scp_* arrays are there"
            let store, samples, leads =
                if isNull signalsFile then
                    expectLength "lead_names" leadNames.Length (int sigShape.[2]) "names (signals has that many leads)"
                    let recordLength = int sigShape.[1] * int sigShape.[2]
                    let store =
                        if deferSignals then
                            keepOpen <- true
                            let load () = new ArraySignals(fst (readF32 "signals" 3), recordLength, recordedSha256) :> SignalStore
                            SignalStore.Deferred(n, recordLength, load, recordedSha256, zip.Dispose)
                        else new ArraySignals(signals, recordLength, recordedSha256) :> SignalStore
                    store, int sigShape.[1], int sigShape.[2]
                else
                    let mapped = MappedSignals.Open(Path.Combine(Path.GetDirectoryName(Path.GetFullPath path), signalsFile), n, leadNames.Length, file)
                    mapped :> SignalStore, mapped.Samples, leadNames.Length
            { Signals = store; RecordCount = n; Samples = samples; Leads = leads; SamplingRate = rate.[0]
              LeadNames = leadNames; EcgIds = ecgIds; Labels = labels; ClassNames = classNames; StratFolds = folds
              PatientIds = patient; Age = age; Sex = sex; Height = height; Weight = weight; Site = site; Device = device; Scp = scp }
        finally
            if not keepOpen then zip.Dispose()

    /// Read, then the task's view (ProcessedDataset.ForTask with min_samples 0) that owns the file's mapped
    /// signals: disposing it releases them. A file without SCP codes serves the superdiagnostic task only;
    /// other tasks raise InvalidOperationException saying to preprocess again.
    static member Read(path: string, task: LabelTask) : ProcessedDataset =
        let whole = ProcessedDatasetFile.Read path
        try whole.ViewOf(whole.TaskLabels(task, 0), true)
        with _ ->
            (whole :> IDisposable).Dispose()
            reraise ()

    /// Whether the npz at `path` holds every record's SCP codes (reads only the zip's directory): false for a
    /// file written before they were stored, which serves the superdiagnostic task only.
    static member HasScpCodes(path: string) : bool =
        use zip = ZipFile.OpenRead path
        not (isNull (zip.GetEntry "scp_offsets.npy"))

    /// The full path of the signals `.npy` that the npz at `path` names (array signals_file), or null when its
    /// signals are inside it. Reads only that array; use Read to check the pair.
    static member SignalsFileOf(path: string) : string =
        use zip = ZipFile.OpenRead path
        match zip.GetEntry "signals_file.npy" with
        | null -> null
        | entry ->
            use s = entry.Open()
            let h = NpyFormat.ReadHeader(s, sprintf "%s, array signals_file" (Path.GetFileName path))
            let bytes = Array.zeroCreate<byte> (int h.ElementCount * 4 * (match Int32.TryParse(h.Descr.Substring 2) with | true, w -> w | _ -> 0))
            s.ReadExactly(Span<byte>(bytes))
            Path.Combine(Path.GetDirectoryName(Path.GetFullPath path), Encoding.UTF32.GetString(bytes).TrimEnd('\000'))
