module Ecg.Data.Tests.ProcessedDatasetFileTests

open System
open System.IO
open Expecto
open FsCheck
open FsCheck.FSharp
open Ecg.Data
open Ecg.Data.Tests.TestData

let sameFloats (a: float[]) (b: float[]) =
    a.Length = b.Length && Array.forall2 (fun (x: float) y -> BitConverter.DoubleToInt64Bits x = BitConverter.DoubleToInt64Bits y) a b

let sameSingles (a: float32[]) (b: float32[]) =
    a.Length = b.Length && Array.forall2 (fun (x: float32) y -> BitConverter.SingleToInt32Bits x = BitConverter.SingleToInt32Bits y) a b

/// A dataset of random size and content: NaNs, infinities, non-ASCII strings and empty strings included.
let genDataset =
    gen {
        let! n = Gen.choose (0, 6)
        let! samples = Gen.choose (1, 5)
        let! leads = Gen.choose (1, 3)
        let! classes = Gen.choose (1, 5)
        let! signals = Gen.arrayOfLength (n * samples * leads) (ArbMap.defaults |> ArbMap.generate<float32>)
        let floats = Gen.arrayOfLength n (ArbMap.defaults |> ArbMap.generate<float>)
        let! labels = Gen.arrayOfLength (n * classes) (Gen.elements [ 0uy; 1uy ])
        let! ids = Gen.arrayOfLength n (ArbMap.defaults |> ArbMap.generate<int>)
        let! folds = Gen.arrayOfLength n (Gen.choose (1, 10))
        let! p = floats
        let! a = floats
        let! s = floats
        let! h = floats
        let! w = floats
        let! site = floats
        let str = Gen.elements [ ""; "CS-12   E"; "AT-6 C 5.8"; "Ünïcode ✓"; "𝔼CG" ]
        let! device = Gen.arrayOfLength n str
        let! leadNames = Gen.arrayOfLength leads str
        let! rate = Gen.elements [ 100.0; 500.0; nan ]
        // SCP codes or none (a file of the layout before they were stored): K statements, 0-3 codes a record.
        let! withScp = Gen.elements [ true; false ]
        let! k = Gen.choose (1, 4)
        let! perRecord = Gen.arrayOfLength n (Gen.choose (0, 3))
        let m = Array.sum perRecord
        let! codeIndex = Gen.arrayOfLength m (Gen.choose (0, k - 1))
        let! likelihood = Gen.arrayOfLength m (Gen.elements [ 0.0f; 15.0f; 50.0f; 100.0f; nanf ])
        let! flags = Gen.arrayOfLength (3 * k) (Gen.elements [ true; false ])
        let! scpClasses = Gen.arrayOfLength (2 * k) str
        let scp =
            if not withScp then null
            else
                ScpAnnotations(Array.init k (sprintf "C%d/Ü"), flags.[0 .. k - 1], flags.[k .. 2 * k - 1], flags.[2 * k ..],
                               scpClasses.[0 .. k - 1], scpClasses.[k ..], Array.scan (+) 0 perRecord, codeIndex, likelihood)
        return
            { Signals = SignalStore.OfArray(signals, samples * leads); RecordCount = n; Samples = samples; Leads = leads; SamplingRate = rate; LeadNames = leadNames
              EcgIds = ids; Labels = labels; ClassNames = Array.init classes (fun i -> sprintf "C%d" i); StratFolds = folds
              PatientIds = p; Age = a; Sex = s; Height = h; Weight = w; Site = site; Device = device; Scp = scp }
    }

let sameScp (a: ScpAnnotations) (b: ScpAnnotations) =
    match a, b with
    | null, null -> true
    | null, _ | _, null -> false
    | a, b ->
        a.CodeNames = b.CodeNames && a.IsDiagnostic = b.IsDiagnostic && a.IsForm = b.IsForm && a.IsRhythm = b.IsRhythm
        && a.DiagnosticClass = b.DiagnosticClass && a.DiagnosticSubclass = b.DiagnosticSubclass && a.Offsets = b.Offsets
        && a.CodeIndex = b.CodeIndex && sameSingles a.Likelihood b.Likelihood

let equalDatasets (a: ProcessedDataset) (b: ProcessedDataset) =
    sameSingles (a.Signals.ToArray()) (b.Signals.ToArray()) && a.RecordCount = b.RecordCount && a.Samples = b.Samples && a.Leads = b.Leads
    && sameFloats [| a.SamplingRate |] [| b.SamplingRate |] && a.LeadNames = b.LeadNames && a.EcgIds = b.EcgIds
    && a.Labels = b.Labels && a.ClassNames = b.ClassNames && a.StratFolds = b.StratFolds
    && sameFloats a.PatientIds b.PatientIds && sameFloats a.Age b.Age && sameFloats a.Sex b.Sex
    && sameFloats a.Height b.Height && sameFloats a.Weight b.Weight && sameFloats a.Site b.Site && a.Device = b.Device
    && sameScp a.Scp b.Scp

let small () =
    { Signals = SignalStore.OfArray([| 1.0f; nanf; -2.5f; 0.125f |], 2); RecordCount = 2; Samples = 1; Leads = 2; SamplingRate = 100.0
      LeadNames = [| "I"; "II" |]; EcgIds = [| 7; 9 |]; Labels = [| 1uy; 0uy; 0uy; 1uy |]; ClassNames = [| "A"; "B" |]
      StratFolds = [| 1; 10 |]; PatientIds = [| 1.0; nan |]; Age = [| 56.0; nan |]; Sex = [| 0.0; 1.0 |]
      Height = [| nan; 180.0 |]; Weight = [| 63.0; nan |]; Site = [| 0.0; 2.0 |]; Device = [| "CS-12   E"; "" |]; Scp = null }

let expectInvalid (f: unit -> unit) (fragments: string list) =
    try f (); failtest "expected InvalidDataException"
    with :? InvalidDataException as e ->
        for fr in fragments do Expect.stringContains e.Message fr (sprintf "'%s' names %s" e.Message fr)

[<Tests>]
let tests =
    testList "ProcessedDatasetFile" [
        testProperty "write then read returns exactly what was written (NaNs included)" (Prop.forAll (Arb.fromGen genDataset) (fun d ->
            use tmp = new TempFolder()
            let path = Path.Combine(tmp.Path, "d.npz")
            ProcessedDatasetFile.Write(path, d)
            equalDatasets d (ProcessedDatasetFile.Read path)))
        test "the file is a zip of .npy v1.0 arrays with the documented dtypes and no temp file is left" {
            // Checked once with NumPy 1.24 (python3-numpy): np.load(path, allow_pickle=False) gave
            // signals float32 (2, 1, 2), ecg_ids int32 (2,), labels uint8 (2, 2), class_names <U1 (2,),
            // lead_names <U2 (2,), strat_fold int32, patient_id/age/sex/height/weight/site float64 (2,),
            // device <U9 (2,), sampling_rate float64 () = 100.0; NaNs where written.
            use tmp = new TempFolder()
            let path = Path.Combine(tmp.Path, "d.npz")
            ProcessedDatasetFile.Write(path, small ())
            Expect.equal (Directory.GetFiles tmp.Path |> Array.map Path.GetFileName) [| "d.npz" |] "only the npz"
            use zip = System.IO.Compression.ZipFile.OpenRead path
            let names = zip.Entries |> Seq.map (fun e -> e.FullName) |> Set.ofSeq
            Expect.equal names (Set.ofList [ for n in [ "signals"; "signals_sha256"; "ecg_ids"; "labels"; "class_names"; "lead_names"; "strat_fold"; "patient_id"; "age"; "sex"; "height"; "weight"; "site"; "device"; "sampling_rate" ] -> n + ".npy" ]) "arrays"
            let headerOf name = use s = zip.GetEntry(name + ".npy").Open() in NpyFormat.ReadHeader(s, name)
            Expect.equal (headerOf "signals") { Descr = "<f4"; FortranOrder = false; Shape = [| 2L; 1L; 2L |] } "signals"
            Expect.equal (headerOf "labels").Descr "|u1" "labels"
            Expect.equal (headerOf "device") { Descr = "<U9"; FortranOrder = false; Shape = [| 2L |] } "device"
            Expect.equal (headerOf "sampling_rate").Shape [||] "scalar"
            Expect.equal (headerOf "signals_sha256") { Descr = "<U64"; FortranOrder = false; Shape = [||] } "signals_sha256"
        }
        test "the signals' SHA-256 is recorded; deferred signals are read on first use, from the file as opened" {
            use tmp = new TempFolder()
            let path = Path.Combine(tmp.Path, "d.npz")
            let d = small ()
            ProcessedDatasetFile.Write(path, d)
            // What NumPy gives for hashlib.sha256(np.load(path)["signals"].tobytes()).hexdigest(): the C-order bytes.
            let expected = Convert.ToHexStringLower(Security.Cryptography.SHA256.HashData(Runtime.InteropServices.MemoryMarshal.AsBytes(ReadOnlySpan(d.Signals.ToArray()))))
            let whole = ProcessedDatasetFile.Read path
            Expect.equal whole.Signals.RecordedSha256 expected "recorded on write, read back"
            let deferred = ProcessedDatasetFile.Read(path, true)
            Expect.isFalse deferred.Signals.IsLoaded "not read yet"
            Expect.equal deferred.Signals.RecordedSha256 expected "known without reading the signals"
            Expect.equal (deferred.EcgIds, deferred.Labels, deferred.Samples, deferred.Leads) (d.EcgIds, d.Labels, d.Samples, d.Leads) "metadata"
            let view = deferred.Subset [| 1 |]
            Expect.isTrue deferred.Signals.IsLoaded "a subset reads them"
            Expect.isTrue (sameSingles (view.Signal(0).ToArray()) [| -2.5f; 0.125f |]) "record 1"
            Expect.isTrue (equalDatasets whole deferred) "the same dataset"
            // The file replaced (atomically, as every writer here does) between reading and first use: the values are
            // those of the file that was opened, which the recorded hash describes.
            let early = ProcessedDatasetFile.Read(path, true)
            ProcessedDatasetFile.Write(path, { d with Signals = SignalStore.OfArray([| 5.0f; 6.0f; 7.0f; 8.0f |], 2) })
            Expect.isTrue (sameSingles (early.Signals.ToArray()) (d.Signals.ToArray())) "the opened file's values"
            Expect.notEqual (ProcessedDatasetFile.Read path).Signals.RecordedSha256 expected "the new file records its own hash"
            (early :> IDisposable).Dispose()
        }
        test "deferred signals: a truncated array fails on first use naming file and array; bad or missing hashes" {
            use tmp = new TempFolder()
            let path = Path.Combine(tmp.Path, "d.npz")
            ProcessedDatasetFile.Write(path, small ())
            let replace (name: string) (bytes: byte[]) =
                use zip = System.IO.Compression.ZipFile.Open(path, System.IO.Compression.ZipArchiveMode.Update)
                zip.GetEntry(name + ".npy").Delete()
                use s = zip.CreateEntry(name + ".npy").Open()
                s.Write bytes
            replace "signals_sha256" (Array.append (NpyFormat.HeaderBytes("<U64", [||])) (Text.Encoding.UTF32.GetBytes(String('z', 64))))
            expectInvalid (fun () -> ProcessedDatasetFile.Read(path, true) |> ignore) [ "d.npz, array signals_sha256"; "not a SHA-256" ]
            do
                use zip = System.IO.Compression.ZipFile.Open(path, System.IO.Compression.ZipArchiveMode.Update)
                zip.GetEntry("signals_sha256.npy").Delete()
            Expect.isNull (ProcessedDatasetFile.Read path).Signals.RecordedSha256 "a file written before the hash: unknown"
            replace "signals" (Array.append (NpyFormat.HeaderBytes("<f4", [| 2L; 1L; 2L |])) (Array.zeroCreate<byte> 12))
            let deferred = ProcessedDatasetFile.Read(path, true)
            Expect.equal deferred.RecordCount 2 "the header is enough to read the rest"
            expectInvalid (fun () -> deferred.Signal 0 |> ignore) [ "d.npz, array signals"; "truncated" ]
            expectInvalid (fun () -> ProcessedDatasetFile.Read path |> ignore) [ "d.npz, array signals"; "truncated" ]
            replace "signals" (NpyFormat.HeaderBytes("<f8", [| 2L; 1L; 2L |]))
            expectInvalid (fun () -> ProcessedDatasetFile.Read(path, true) |> ignore) [ "d.npz, array signals"; "dtype <f8" ]
        }
        test "a truncated file gives a clear error naming the file" {
            use tmp = new TempFolder()
            let path = Path.Combine(tmp.Path, "d.npz")
            ProcessedDatasetFile.Write(path, small ())
            let bytes = File.ReadAllBytes path
            File.WriteAllBytes(path, bytes.[0 .. bytes.Length / 2])
            expectInvalid (fun () -> ProcessedDatasetFile.Read path |> ignore) [ "d.npz" ]
        }
        test "a wrong dtype or a missing array names the array and the file" {
            use tmp = new TempFolder()
            let path = Path.Combine(tmp.Path, "d.npz")
            ProcessedDatasetFile.Write(path, small ())
            do
                use zip = System.IO.Compression.ZipFile.Open(path, System.IO.Compression.ZipArchiveMode.Update)
                zip.GetEntry("ecg_ids.npy").Delete()
                let e = zip.CreateEntry("ecg_ids.npy")
                use s = e.Open()
                s.Write(NpyFormat.HeaderBytes("<i8", [| 2L |]))
                s.Write(Array.zeroCreate<byte> 16)
            expectInvalid (fun () -> ProcessedDatasetFile.Read path |> ignore) [ "d.npz, array ecg_ids"; "dtype <i8, expected <i4" ]
            do
                use zip = System.IO.Compression.ZipFile.Open(path, System.IO.Compression.ZipArchiveMode.Update)
                zip.GetEntry("age.npy").Delete()
            expectInvalid (fun () -> ProcessedDatasetFile.Read path |> ignore) [ "d.npz, array" ]
        }
        test "an inconsistent dataset is refused before anything is written" {
            use tmp = new TempFolder()
            let path = Path.Combine(tmp.Path, "d.npz")
            Expect.throwsT<ArgumentException> (fun () -> ProcessedDatasetFile.Write(path, { small () with Age = [| 1.0 |] })) "Age length"
            Expect.isFalse (File.Exists path) "nothing written"
        }
        test "metadata frame is indexed by ecg_id with one column per class" {
            let f = ProcessedDatasetFrame.Metadata(small ())
            Expect.equal (List.ofSeq f.RowKeys) [ 7; 9 ] "index"
            Expect.equal (f.GetColumn<int>("B").[9]) 1 "label column"
            Expect.equal (f.GetColumn<float>("age").[7]) 56.0 "age"
        }
    ]
