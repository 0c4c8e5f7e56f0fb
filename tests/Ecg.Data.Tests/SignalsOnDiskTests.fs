/// The signals-on-disk layout: the npz without `signals`, plus `signals_file` naming `<stem>_signals.npy`.
///
/// Checked once by hand with NumPy 1.24 (python3-numpy) on the files of the first test:
/// np.load('ptbxl_100hz.npz', allow_pickle=False) lists every array but signals, and str(z['signals_file'])
/// is 'ptbxl_100hz_signals.npy'; np.load('ptbxl_100hz_signals.npy', mmap_mode='r') is a memmap float32
/// (400, 1000, 12) equal to the in-memory npz's z['signals']. The project itself needs no Python.
module Ecg.Data.Tests.SignalsOnDiskTests

open System
open System.IO
open System.IO.Compression
open System.Text
open Expecto
open Ecg.Data
open Ecg.Data.Tests.TestData
open Ecg.Data.Tests.ProcessedDatasetFileTests

let private arraysOf (npz: string) =
    use zip = ZipFile.OpenRead npz
    [ for e in zip.Entries -> e.FullName ] |> List.sort

let private headerOf (npz: string) (name: string) =
    use zip = ZipFile.OpenRead npz
    use s = zip.GetEntry(name + ".npy").Open()
    NpyFormat.ReadHeader(s, name)

/// Replaces the header of a .npy in place with one for another dtype/shape, padded to the same length.
let private rewriteHeader (npy: string) (descr: string) (shape: int64[]) =
    use fs = new FileStream(npy, FileMode.Open, FileAccess.ReadWrite)
    NpyFormat.ReadHeader(fs, npy) |> ignore
    let length = int fs.Position
    fs.Position <- 0L
    fs.Write(NpyFormat.HeaderBytes(descr, shape, length))

let private expectMessage<'E when 'E :> exn> (f: unit -> unit) (fragments: string list) =
    try f (); failtestf "expected %s" typeof<'E>.Name
    with :? 'E as e ->
        for fr in fragments do Expect.stringContains e.Message fr (sprintf "'%s' names %s" e.Message fr)

/// A store whose records fail from `failAt` on: a write that stops part-way.
type private FailingSignals(source: SignalStore, failAt: int) =
    inherit SignalStore(source.RecordCount, source.RecordLength)
    override _.Record(index) = if index >= failAt then raise (IOException "disk gone") else source.Record index
    override _.Subset(indices) = source.Subset indices

let private onDisk (d: ProcessedDataset) = d.Signals.FilePath <> null

[<Tests>]
let tests =
    testSequenced <| testList "Signals on disk" [
        test "on-disk and in-memory preprocessing of the 400-record sample give identical datasets and files" {
            let folder = sampleFolder ()
            use tmp = new TempFolder()
            let memoryNpz, diskNpz = Path.Combine(tmp.Path, "mem", "ptbxl_100hz.npz"), Path.Combine(tmp.Path, "disk", "ptbxl_100hz.npz")
            let inMemory = Preprocessing.Run(PreprocessingOptions.Create(folder, memoryNpz))
            let disk = Preprocessing.Run({ PreprocessingOptions.Create(folder, diskNpz) with SignalsOnDisk = true })
            use stream = disk.Dataset
            let summary = disk.Summary
            Expect.isFalse (onDisk inMemory.Dataset) "default: in memory"
            Expect.isTrue (onDisk stream) "mapped"
            Expect.equal stream.Signals.FilePath (Path.Combine(tmp.Path, "disk", "ptbxl_100hz_signals.npy")) "maps the final file"
            Expect.equal summary.SignalsPath stream.Signals.FilePath "summary names the signals file"
            Expect.equal (summary.RecordsKept, summary.Failed, summary.Note) (400, 0, "") "counts, no note"
            Expect.isTrue (equalDatasets inMemory.Dataset stream) "the run's datasets: same signals, ids, labels, metadata"
            use back = ProcessedDatasetFile.Read diskNpz
            Expect.isTrue (onDisk back) "read maps the signals"
            Expect.isTrue (equalDatasets (ProcessedDatasetFile.Read memoryNpz) back) "the files hold the same dataset"
            Expect.equal (Directory.GetFiles(Path.Combine(tmp.Path, "disk")) |> Array.map Path.GetFileName |> Array.sort)
                [| "ptbxl_100hz.npz"; "ptbxl_100hz_report.json"; "ptbxl_100hz_report.txt"; "ptbxl_100hz_signals.npy" |] "no temporary file left"
            Expect.stringContains (File.ReadAllText(Path.Combine(tmp.Path, "disk", "ptbxl_100hz_report.txt"))) "signals: " "report names the signals file"
            // Every array but signals and its hash, with the same dtypes and shapes, plus signals_file. (A hash of a
            // .npy beside the npz, which can be swapped by hand, would not pin its values down.)
            Expect.equal (arraysOf diskNpz)
                         (arraysOf memoryNpz |> List.filter ((<>) "signals_sha256.npy") |> List.map (fun a -> if a = "signals.npy" then "signals_file.npy" else a) |> List.sort) "arrays"
            Expect.isNull back.Signals.RecordedSha256 "mapped signals: no recorded hash"
            for a in arraysOf diskNpz |> List.filter ((<>) "signals_file.npy") do
                let name = a.Replace(".npy", "")
                Expect.equal (headerOf diskNpz name) (headerOf memoryNpz name) name
            Expect.equal (headerOf diskNpz "signals_file") { Descr = "<U23"; FortranOrder = false; Shape = [||] } "signals_file: <U scalar"
            Expect.equal (ProcessedDatasetFile.SignalsFileOf diskNpz) stream.Signals.FilePath "SignalsFileOf"
            Expect.isNull (ProcessedDatasetFile.SignalsFileOf memoryNpz) "in the npz"
            Expect.throwsT<ArgumentException> (fun () -> Preprocessing.Run({ PreprocessingOptions.Create(folder, null) with SignalsOnDisk = true }) |> ignore) "needs an output"
        }

        test "past the in-memory limit the run writes the signals to disk by itself and says so (an error without an output)" {
            use tmp = new TempFolder()
            let npz = Path.Combine(tmp.Path, "ptbxl_100hz.npz")
            let options = { PreprocessingOptions.Create(sampleFolder (), npz) with MaxRecords = 20 }
            Preprocessing.InMemoryLimit <- 12_000L * 5L   // 5 records of 1000 x 12
            try
                let result = Preprocessing.Run options
                use d = result.Dataset
                Expect.isTrue (onDisk d) "switched to disk"
                Expect.stringContains result.Summary.Note "signals written to disk (as with --signals-on-disk)" "note"
                Expect.stringContains (result.Summary.ToText()) "note: signals written to disk" "in the printed summary"
                Expect.equal (ProcessedDatasetFile.SignalsFileOf npz) (ProcessedDatasetFile.SignalsPathFor npz) "the npz names its signals file"
                expectMessage<InvalidOperationException> (fun () -> Preprocessing.Run({ options with OutputPath = null }) |> ignore)
                    [ "exceed one .NET array: give an OutputPath" ]
            finally Preprocessing.InMemoryLimit <- int64 Array.MaxLength
        }

        test "the signals file is a valid NPY 1.0 array: magic, version, <f4 C-order (N, 1000, 12) header padded to 64 bytes" {
            use tmp = new TempFolder()
            let npz = Path.Combine(tmp.Path, "ptbxl_100hz.npz")
            let result = Preprocessing.Run({ PreprocessingOptions.Create(sampleFolder (), npz) with SignalsOnDisk = true; MaxRecords = 60 })
            use d = result.Dataset
            let bytes = File.ReadAllBytes(ProcessedDatasetFile.SignalsPathFor npz)
            Expect.equal bytes.[0..5] [| 0x93uy; byte 'N'; byte 'U'; byte 'M'; byte 'P'; byte 'Y' |] "magic"
            Expect.equal (bytes.[6], bytes.[7]) (1uy, 0uy) "version 1.0"
            let headerLength = int bytes.[8] ||| (int bytes.[9] <<< 8)
            let dataOffset = 10 + headerLength
            Expect.equal (dataOffset % 64) 0 "data starts at a multiple of 64"
            let text = Encoding.ASCII.GetString(bytes, 10, headerLength)
            Expect.isTrue (text.EndsWith "\n") "header ends with a newline"
            Expect.equal (text.TrimEnd()) (sprintf "{'descr': '<f4', 'fortran_order': False, 'shape': (%d, 1000, 12), }" d.RecordCount) "header dict"
            Expect.equal bytes.LongLength (int64 dataOffset + int64 d.RecordCount * 12_000L * 4L) "file size"
            let first = Array.init 12_000 (fun i -> BitConverter.ToSingle(bytes, dataOffset + 4 * i))
            Expect.equal first (d.Signal(0).ToArray()) "record 0, little-endian row-major"
        }

        test "a damaged or missing signals file is refused with an error naming the file and the field" {
            use tmp = new TempFolder()
            let npz = Path.Combine(tmp.Path, "d.npz")
            let npy = ProcessedDatasetFile.SignalsPathFor npz
            let write () = ProcessedDatasetFile.Write(npz, small (), CompressionLevel.Fastest, true)
            let read () = (ProcessedDatasetFile.Read npz :> IDisposable).Dispose()
            write ()
            read ()
            // Truncated by 4 bytes: header 128 + 2 x 1 x 2 x 4 bytes = 144 needed.
            File.WriteAllBytes(npy, File.ReadAllBytes(npy).[.. 139])
            expectMessage<InvalidDataException> read [ "d_signals.npy: file is 140 bytes, header shape (2, 1, 2) needs 144" ]
            write ()
            rewriteHeader npy "<f4" [| 3L; 1L; 2L |]
            expectMessage<InvalidDataException> read [ "d_signals.npy: shape (3, 1, 2) in header, but d.npz has 2 records" ]
            write ()
            rewriteHeader npy "<f4" [| 2L; 1L; 3L |]
            expectMessage<InvalidDataException> read [ "d_signals.npy: shape (2, 1, 3) in header, but d.npz has 2 leads (lead_names)" ]
            write ()
            rewriteHeader npy "<f8" [| 2L; 1L; 2L |]
            expectMessage<InvalidDataException> read [ "d_signals.npy: dtype <f8 in header, expected <f4" ]
            write ()
            rewriteHeader npy "<f4" [| 4L |]
            expectMessage<InvalidDataException> read [ "d_signals.npy: shape (4,) in header, expected 3 dimensions" ]
            write ()
            File.WriteAllBytes(npy, Array.append [| 0uy |] (File.ReadAllBytes(npy).[1..]))
            expectMessage<InvalidDataException> read [ "d_signals.npy"; "bad magic" ]
            write ()
            File.Delete npy
            expectMessage<FileNotFoundException> read [ "d.npz names the signals file d_signals.npy (array signals_file)" ]
        }

        test "a write interrupted before the commit leaves the previous pair, or nothing, and no temporary file" {
            use tmp = new TempFolder()
            let npz = Path.Combine(tmp.Path, "d.npz")
            let failing = { small () with Signals = new FailingSignals((small ()).Signals, 1) }
            // Nothing there before: nothing after.
            Expect.throwsT<IOException> (fun () -> ProcessedDatasetFile.Write(npz, failing, CompressionLevel.Fastest, true)) "fails"
            Expect.isEmpty (Directory.GetFiles tmp.Path) "no npz, no signals file, no temporary file"
            // A pair there before: the same pair after.
            let before = { small () with EcgIds = [| 70; 90 |] }
            ProcessedDatasetFile.Write(npz, before, CompressionLevel.Fastest, true)
            Expect.throwsT<IOException> (fun () -> ProcessedDatasetFile.Write(npz, failing, CompressionLevel.Fastest, true)) "fails"
            Expect.throwsT<IOException> (fun () -> ProcessedDatasetFile.Write(npz, failing)) "fails in the npz too"
            Expect.equal (Directory.GetFiles tmp.Path |> Array.map Path.GetFileName |> Array.sort) [| "d.npz"; "d_signals.npy" |] "the old pair only"
            use old = ProcessedDatasetFile.Read npz
            Expect.isTrue (equalDatasets before old) "the old pair reads back unchanged"
            // Killed between the renames: the old npz is already gone, so a new signals file is never paired with it.
            File.Delete npz
            expectMessage<FileNotFoundException> (fun () -> ProcessedDatasetFile.Read npz |> ignore) [ "d.npz" ]
            // Switching layouts leaves no stale signals file.
            ProcessedDatasetFile.Write(npz, small ())
            Expect.equal (Directory.GetFiles tmp.Path |> Array.map Path.GetFileName) [| "d.npz" |] "in-npz layout: the stale signals file is gone"
        }

        test "a mapped dataset's Subset shares the file; written back either way it reads the same; Dispose unmaps" {
            use tmp = new TempFolder()
            let d = small ()
            let npz = Path.Combine(tmp.Path, "d.npz")
            ProcessedDatasetFile.Write(npz, d, CompressionLevel.Fastest, true)
            let mapped = ProcessedDatasetFile.Read npz
            let sub = mapped.Subset [| 1; 0; 1 |]
            Expect.equal sub.Signals.FilePath mapped.Signals.FilePath "a view of the same file"
            Expect.isTrue (equalDatasets (d.Subset [| 1; 0; 1 |]) sub) "same records as an in-memory subset"
            Expect.equal (sub.Subset([| 2 |]).Signal(0).ToArray()) (d.Signal(1).ToArray()) "subset of a subset"
            for layout in [ false; true ] do
                let out = Path.Combine(tmp.Path, sprintf "sub-%b.npz" layout)
                ProcessedDatasetFile.Write(out, sub, CompressionLevel.Fastest, layout)
                use back = ProcessedDatasetFile.Read out
                Expect.equal (onDisk back) layout "layout"
                Expect.isTrue (equalDatasets sub back) (sprintf "round trip, on disk %b" layout)
            (sub :> IDisposable).Dispose()
            Expect.equal (mapped.Signal(1).ToArray()) (d.Signal(1).ToArray()) "a subset does not own the mapping"
            (mapped :> IDisposable).Dispose()
            Expect.throwsT<ObjectDisposedException> (fun () -> mapped.Signal 0 |> ignore) "disposed"
            Expect.throwsT<ArgumentOutOfRangeException> (fun () -> d.Signal 2 |> ignore) "index checked"
        }

        test "64-bit offsets: a sparse file of 180,000 x 1000 x 12 values (over 2^31) maps, across Memory segments" {
            use tmp = new TempFolder()
            let path = Path.Combine(tmp.Path, "big_signals.npy")
            let records, length = 180_000, 12_000
            let header = NpyFormat.HeaderBytes("<f4", [| int64 records; 1000L; 12L |])
            Expect.isGreaterThan (int64 records * int64 length) (int64 Int32.MaxValue) "more values than one array or span holds"
            let marked = [ 0; 1; 178_955; 178_956; 179_999 ]   // 178,956 records fill the first 2^31-1-value segment
            do
                use fs = new FileStream(path, FileMode.CreateNew)
                fs.Write header
                fs.SetLength(int64 header.Length + int64 records * int64 length * 4L)   // sparse: no disk used
                for r in marked do
                    fs.Position <- int64 header.Length + (int64 r * int64 length + int64 length - 1L) * 4L
                    fs.Write(BitConverter.GetBytes(float32 r + 0.5f))
            use store = MappedSignals.Open(path, records, 12, "big.npz")
            Expect.equal (store.Length, store.Samples) (int64 records * int64 length, 1000) "shape"
            for r in marked do
                let values = store.Record(r).Span
                Expect.equal values.Length length "record length"
                Expect.equal values.[length - 1] (float32 r + 0.5f) (sprintf "last value of record %d" r)
                Expect.equal values.[0] 0.0f (sprintf "first value of record %d" r)
            // Small segments: the same arithmetic on a small file.
            let d = small ()
            let npz = Path.Combine(tmp.Path, "d.npz")
            ProcessedDatasetFile.Write(npz, d, CompressionLevel.Fastest, true)
            use tiny = MappedSignals.Open(ProcessedDatasetFile.SignalsPathFor npz, 2, 2, "d.npz", 1)
            Expect.isTrue (sameSingles (tiny.ToArray()) (d.Signals.ToArray())) "one record per segment"
        }
    ]
