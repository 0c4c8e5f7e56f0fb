/// The benchmark's six tasks: label sets, classes and records per task, the SCP arrays of the npz, files
/// without them, and bad input.
///
/// Reference values below were made by benchmark_task_labels.py (beside this file; csv and ast only), which
/// rereads the sample's two CSVs and applies the rules of helme/ecg_ptbxl_benchmarking's code/utils/utils.py
/// (compute_label_aggregations, then select_data with min_samples = 0):
///     python3 tests/Ecg.Data.Tests/benchmark_task_labels.py ../shared/ptbxl-sample
/// Its output was also checked once against those two functions run as written with pandas 1.5.3 and
/// scikit-learn 1.2.1 (MultiLabelBinarizer): same records, classes and hashes for all six tasks.
/// The hash is the SHA-256 of "ecg_id:label,label\n" over the kept records in ecg_id order, labels sorted.
module Ecg.Data.Tests.LabelTaskTests

open System
open System.IO
open System.IO.Compression
open System.Security.Cryptography
open System.Text
open Expecto
open Ecg.Data
open Ecg.Data.Tests.TestData

type Reference = { Records: int; Classes: string; Counts: string; Sha256: string }

/// benchmark_task_labels.py on ../shared/ptbxl-sample (PTB-XL 1.0.3, 400 rows).
let reference =
    [ LabelTask.All,
      { Records = 400
        Classes = "1AVB ABQRS AFIB AFLT ALMI AMI ANEUR ASMI CLBBB CRBBB DIG EL HVOLT ILBBB ILMI IMI INVT IRBBB ISCAL ISCAS ISCIL ISCIN ISCLA ISC_ IVCD LAFB LAO/LAE LMI LNGQT LOWT LPFB LPR LVH LVOLT NDT NORM NST_ NT_ PAC PACE PVC QWAVE RAO/RAE RVH SARRH SBRAD SEHYP SR STACH STD_ SVTAC TAB_ VCLVH"
        Counts = "9 20 9 7 3 5 3 25 7 4 5 3 2 1 3 26 4 14 5 1 3 1 1 19 3 20 3 2 3 4 3 2 28 2 28 243 13 9 4 5 12 8 3 2 23 9 1 327 5 17 1 1 9"
        Sha256 = "d38b350748f12ac4c84475cb6742ab0dcff7e05f5a54ac489f08993756cdccf7" }
      LabelTask.Diagnostic,
      { Records = 390
        Classes = "1AVB ALMI AMI ANEUR ASMI CLBBB CRBBB DIG EL ILBBB ILMI IMI IRBBB ISCAL ISCAS ISCIL ISCIN ISCLA ISC_ IVCD LAFB LAO/LAE LMI LNGQT LPFB LVH NDT NORM NST_ RAO/RAE RVH SEHYP"
        Counts = "9 3 5 3 25 7 4 5 3 1 3 26 14 5 1 3 1 1 19 3 20 3 2 3 3 28 28 243 13 3 2 1"
        Sha256 = "ce38da9532a4ab0f6a0735c8f82f2c94f700da466ad2dd68eeaae1c33ab9b912" }
      LabelTask.Subdiagnostic,
      { Records = 390
        Classes = "AMI CLBBB CRBBB ILBBB IMI IRBBB ISCA ISCI ISC_ IVCD LAFB/LPFB LAO/LAE LMI LVH NORM NST_ RAO/RAE RVH SEHYP STTC _AVB"
        Counts = "31 7 4 1 29 14 7 4 19 3 23 3 2 28 243 13 3 2 1 39 9"
        Sha256 = "a0f662362d62c493e587b2783bc1df431658ba8ec1d088ea5e838dd4a94a9228" }
      LabelTask.Superdiagnostic,
      { Records = 390
        Classes = "CD HYP MI NORM STTC"
        Counts = "58 32 53 243 74"
        Sha256 = "e5d5d8522e9ac6b13c0e7cfb7cb1c20d18cec5f2aee9fb2f7f8148cd88790ecc" }
      LabelTask.Form,
      { Records = 98
        Classes = "ABQRS DIG HVOLT INVT LNGQT LOWT LPR LVOLT NDT NST_ NT_ PAC PVC QWAVE STD_ TAB_ VCLVH"
        Counts = "20 5 2 4 3 4 2 2 28 13 9 4 12 8 17 1 9"
        Sha256 = "0776dfd69dcf6b5be9861d05f09c2c4ad94605e5ce9ae345ed8be4162011f2d3" }
      LabelTask.Rhythm,
      { Records = 382
        Classes = "AFIB AFLT PACE SARRH SBRAD SR STACH SVTAC"
        Counts = "9 7 5 23 9 327 5 1"
        Sha256 = "fb6abd738f1b0fb02553ca19ab890700efac1d9c39d2b868b3f445e48d0e41c6" } ]

/// The script's canonical listing of a task's records and labels, hashed.
let listingSha256 (ecgIds: int[]) (labels: byte[]) (classNames: string[]) =
    let c = classNames.Length
    let rows =
        Array.init ecgIds.Length (fun i -> ecgIds.[i], [| for j in 0 .. c - 1 do if labels.[i * c + j] = 1uy then yield classNames.[j] |])
        |> Array.sortBy fst
    let text = String.Join("", rows |> Array.map (fun (id, ls) -> sprintf "%d:%s\n" id (String.Join(",", ls))))
    Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes text)).ToLowerInvariant()

let expectMatches (task: LabelTask) (ecgIds: int[]) (labels: byte[]) (classNames: string[]) =
    let r = reference |> List.find (fun (t, _) -> t = task) |> snd
    let c = classNames.Length
    Expect.equal ecgIds.Length r.Records (sprintf "%s: records" task.Name)
    Expect.equal (String.Join(" ", classNames)) r.Classes (sprintf "%s: classes" task.Name)
    let counts = Array.init c (fun j -> Seq.sum (seq { for i in 0 .. ecgIds.Length - 1 -> int labels.[i * c + j] }))
    Expect.equal (String.Join(" ", counts)) r.Counts (sprintf "%s: records per class" task.Name)
    Expect.equal (listingSha256 ecgIds labels classNames) r.Sha256 (sprintf "%s: every record's label set" task.Name)

/// The sample preprocessed once in memory (400 records, signals read).
let private sampleDataset = lazy (Preprocessing.Run(PreprocessingOptions.Create(sampleFolder (), null)).Dataset)

/// A 4-record dataset with the sample's statements: NORM+SR, SR only (no superclass), IMI+LVOLT (form, no
/// rhythm), and a dict with every kind.
let small () =
    let db = PtbXlDatabase.Load(sampleFolder ())
    let record id (codes: (string * float) list) =
        { (db.Records.[0]) with EcgId = id; ScpCodes = codes |> List.map (fun (c, l) -> { Code = c; Likelihood = l }) |> Array.ofList }
    let records =
        [| record 11 [ "NORM", 100.0; "SR", 0.0 ]; record 12 [ "SR", 0.0 ]; record 13 [ "IMI", 15.0; "LVOLT", 0.0 ]
           record 14 [ "AMI", 50.0; "NDT", 100.0; "AFIB", 0.0 ] |]
    let mapper = SuperclassMapper.FromDatabase db
    let labels = Array.zeroCreate<byte> (4 * 5)
    records |> Array.iteri (fun i r -> mapper.Encode(r, Span<byte>(labels, i * 5, 5)) |> ignore)
    { Signals = SignalStore.OfArray(Array.init 8 float32, 2); RecordCount = 4; Samples = 1; Leads = 2; SamplingRate = 100.0
      LeadNames = [| "I"; "II" |]; EcgIds = records |> Array.map (fun r -> r.EcgId); Labels = labels; ClassNames = mapper.ClassNames
      StratFolds = [| 1; 2; 9; 10 |]; PatientIds = [| 1.0; 2.0; 3.0; 4.0 |]; Age = [| 50.0; nan; 70.0; 80.0 |]
      Sex = [| 0.0; 1.0; 0.0; 1.0 |]; Height = Array.create 4 nan; Weight = Array.create 4 nan; Site = Array.create 4 0.0
      Device = [| "a"; "b"; "c"; "d" |]; Scp = ScpAnnotations.FromRecords(db.Statements, records) }

let expectMessage<'E when 'E :> exn> (f: unit -> unit) (fragments: string list) =
    try f (); failtestf "expected %s" typeof<'E>.Name
    with :? 'E as e ->
        for fr in fragments do Expect.stringContains e.Message fr (sprintf "'%s' names %s" e.Message fr)

[<Tests>]
let tests =
    testList "LabelTask" [
        test "names parse case-insensitively, blank is superdiagnostic, an unknown name lists the accepted ones" {
            Expect.equal (LabelTask.Values |> Array.map (fun t -> t.Name)) [| "all"; "diagnostic"; "subdiagnostic"; "superdiagnostic"; "form"; "rhythm" |] "names"
            for t in LabelTask.Values do Expect.equal (LabelTask.Parse(t.Name.ToUpperInvariant())) t t.Name
            Expect.equal (LabelTask.Parse " ") LabelTask.Superdiagnostic "blank"
            Expect.equal (LabelTask.Parse null) LabelTask.Default "null"
            expectMessage<ArgumentException> (fun () -> LabelTask.Parse "rhythms" |> ignore)
                [ "'rhythms'"; "all, diagnostic, subdiagnostic, superdiagnostic, form, rhythm" ]
            Expect.isFalse (fst (LabelTask.TryParse "superclass")) "TryParse"
        }
        test "every task on the 400 sample rows equals the benchmark rules read independently (benchmark_task_labels.py)" {
            let db = PtbXlDatabase.Load(sampleFolder ())
            let scp = ScpAnnotations.FromRecords(db.Statements, db.Records)
            let ids = db.Records |> Array.map (fun r -> r.EcgId)
            for task in LabelTask.Values do
                let t = TaskLabeling.Compute(scp, task, 0)
                expectMatches task (t.Records |> Array.map (fun i -> ids.[i])) t.Labels t.ClassNames
        }
        test "ForTask on the preprocessed sample, in memory and read back from the npz, gives the same label sets" {
            use tmp = new TempFolder()
            let d = sampleDataset.Force()
            let path = Path.Combine(tmp.Path, "d.npz")
            ProcessedDatasetFile.Write(path, d)
            use back = ProcessedDatasetFile.Read path
            for task in LabelTask.Values do
                for source in [ d; back ] do
                    let v = source.ForTask task
                    expectMatches task v.EcgIds v.Labels v.ClassNames
                use owned = ProcessedDatasetFile.Read(path, task)
                let v = d.ForTask task
                Expect.equal (owned.EcgIds, owned.Labels, owned.ClassNames) (v.EcgIds, v.Labels, v.ClassNames) (task.Name + ": Read(path, task)")
        }
        test "superdiagnostic from the SCP codes is exactly the stored superclass labels of the labeled records" {
            let d = sampleDataset.Force()
            let v = d.ForTask LabelTask.Superdiagnostic
            Expect.equal v.ClassNames d.ClassNames "the five superclasses"
            let labeled = [| for i in 0 .. d.RecordCount - 1 do if d.LabelsOf(i).ToArray() |> Array.exists ((<>) 0uy) then yield i |]
            Expect.equal labeled.Length 390 "390 of 400 have a superclass"
            let expected = d.Subset labeled
            Expect.equal (v.EcgIds, v.Labels) (expected.EcgIds, expected.Labels) "records and labels"
            Expect.equal (v.Signals.ToArray()) (expected.Signals.ToArray()) "signals follow their records"
            Expect.isTrue (ProcessedDatasetFileTests.sameFloats v.Age expected.Age && v.StratFolds = expected.StratFolds) "metadata follows"
            Expect.isTrue (ProcessedDatasetFileTests.sameScp v.Scp expected.Scp) "codes follow"
        }
        test "ForTask drops the records without one of the task's labels and keeps everything aligned" {
            let d = small ()
            let superdiagnostic = d.ForTask LabelTask.Superdiagnostic
            Expect.equal superdiagnostic.EcgIds [| 11; 13; 14 |] "12 has only SR"
            Expect.equal superdiagnostic.ClassNames [| "MI"; "NORM"; "STTC" |] "classes that occur (CD, HYP do not)"
            Expect.equal superdiagnostic.Labels [| 0uy; 1uy; 0uy; 1uy; 0uy; 0uy; 1uy; 0uy; 1uy |] "multi-hot"
            Expect.equal (superdiagnostic.Signal(1).ToArray()) [| 4.0f; 5.0f |] "record 13's signal"
            Expect.equal (superdiagnostic.StratFolds, superdiagnostic.Device) ([| 1; 9; 10 |], [| "a"; "c"; "d" |]) "metadata"
            Expect.equal (superdiagnostic.Scp.Codes 1) [| { Code = "IMI"; Likelihood = 15.0 }; { Code = "LVOLT"; Likelihood = 0.0 } |] "codes follow"
            let rhythm = d.ForTask LabelTask.Rhythm
            Expect.equal (rhythm.EcgIds, rhythm.ClassNames) ([| 11; 12; 14 |], [| "AFIB"; "SR" |]) "rhythm keeps 12, drops 13"
            let form = d.ForTask LabelTask.Form
            Expect.equal (form.EcgIds, form.ClassNames) ([| 13; 14 |], [| "LVOLT"; "NDT" |]) "form"
            Expect.equal ((d.ForTask LabelTask.Subdiagnostic).ClassNames) [| "AMI"; "IMI"; "NORM"; "STTC" |] "subclasses"
            Expect.equal ((d.ForTask LabelTask.Diagnostic).ClassNames) [| "AMI"; "IMI"; "NDT"; "NORM" |] "diagnostic codes"
            Expect.equal ((d.ForTask LabelTask.All).RecordCount) 4 "every record has a code"
            // A view of a view: the codes travel, so another task can be derived from it.
            Expect.equal ((superdiagnostic.ForTask LabelTask.Rhythm).EcgIds) [| 11; 14 |] "rhythm of the superdiagnostic records"
        }
        test "the min-count rule keeps labels of more than minSamples records, except for diagnostic (as select_data)" {
            let sets = [| [| "A"; "B" |]; [| "A" |]; [| "B"; "C" |]; [| "C" |]; [| "A"; "D" |] |]
            let t = TaskLabeling.Select(LabelTask.Form, sets, 1)
            Expect.equal (t.ClassNames, t.Records) ([| "A"; "B"; "C" |], [| 0; 1; 2; 3; 4 |]) "D (1 record) dropped, record 4 keeps A"
            let t2 = TaskLabeling.Select(LabelTask.Form, sets, 2)
            Expect.equal (t2.ClassNames, t2.Records, t2.Labels) ([| "A" |], [| 0; 1; 4 |], [| 1uy; 1uy; 1uy |]) "only A has 3 records"
            let diagnostic = TaskLabeling.Select(LabelTask.Diagnostic, sets, 2)
            Expect.equal diagnostic.ClassNames [| "A"; "B"; "C"; "D" |] "the benchmark filters no diagnostic label"
            Expect.equal (TaskLabeling.Select(LabelTask.Form, sets, 0).ClassNames) [| "A"; "B"; "C"; "D" |] "0: every label that occurs"
            Expect.throwsT<ArgumentException> (fun () -> TaskLabeling.Select(LabelTask.Form, sets, -1) |> ignore) "negative refused"
            // Ordinal order, as Python's sorted: digits, then capitals, then '_'.
            Expect.equal (TaskLabeling.Select(LabelTask.All, [| [| "_AVB"; "NORM"; "1AVB"; "LAFB/LPFB" |] |], 0).ClassNames)
                [| "1AVB"; "LAFB/LPFB"; "NORM"; "_AVB" |] "sorted"
        }
        test "a file of the layout before SCP codes were stored opens: superdiagnostic works, other tasks say to preprocess again" {
            use tmp = new TempFolder()
            let path = Path.Combine(tmp.Path, "old.npz")
            // Scp = null, less the later signals_sha256, is exactly the arrays the writer wrote before this change.
            ProcessedDatasetFile.Write(path, { small () with Scp = null })
            do
                use zip = ZipFile.Open(path, ZipArchiveMode.Update)
                zip.GetEntry("signals_sha256.npy").Delete()
            do
                use zip = ZipFile.OpenRead path
                Expect.equal (zip.Entries |> Seq.map (fun e -> e.Name) |> Seq.sort |> List.ofSeq)
                    ([ "signals"; "ecg_ids"; "labels"; "class_names"; "lead_names"; "strat_fold"; "patient_id"; "age"; "sex"; "height"
                       "weight"; "site"; "device"; "sampling_rate" ] |> List.map (fun a -> a + ".npy") |> List.sort) "the old arrays only"
            Expect.isFalse (ProcessedDatasetFile.HasScpCodes path) "HasScpCodes"
            use old = ProcessedDatasetFile.Read path
            Expect.isFalse old.HasScpCodes "no codes"
            let v = old.ForTask LabelTask.Superdiagnostic
            Expect.equal (v.EcgIds, v.ClassNames) ([| 11; 13; 14 |], [| "MI"; "NORM"; "STTC" |]) "from the stored labels, the same rule"
            Expect.equal v.Labels ((small ()).ForTask LabelTask.Superdiagnostic).Labels "same labels as from the codes"
            for task in [ LabelTask.Form; LabelTask.Rhythm; LabelTask.All; LabelTask.Diagnostic; LabelTask.Subdiagnostic ] do
                expectMessage<InvalidOperationException> (fun () -> old.ForTask task |> ignore) [ task.Name; "ecg preprocess" ]
                expectMessage<InvalidOperationException> (fun () -> ProcessedDatasetFile.Read(path, task) |> ignore) [ task.Name; "ecg preprocess" ]
        }
        test "a code that scp_statements.csv lacks, or a malformed dict, is an error naming the file, record and column" {
            use tmp = new TempFolder()
            let source = sampleFolder ()
            copyPtbXl source tmp.Path [ "records100/00000/00001_lr"; "records100/00000/00002_lr"; "records100/00000/00003_lr" ]
            let csv = Path.Combine(tmp.Path, "ptbxl_database.csv")
            let lines = File.ReadAllLines csv |> Array.take 4
            lines.[2] <- lines.[2].Replace("'SBRAD': 0.0", "'SBRADX': 0.0")                   // ecg_id 2: unknown code
            lines.[3] <- lines.[3].Replace("{'NORM': 100.0, 'SR': 0.0}", "{'NORM': 100.0, SR}")  // ecg_id 3: malformed dict
            File.WriteAllLines(csv, lines)
            let db = PtbXlDatabase.Load tmp.Path
            Expect.equal (db.Records |> Array.map (fun r -> r.EcgId)) [| 1 |] "bad rows left out"
            let described = db.Errors |> Array.map (fun e -> e.File, e.Line, e.Key, e.Column)
            Expect.equal described [| "ptbxl_database.csv", 3, "ecg_id 2", "scp_codes"; "ptbxl_database.csv", 4, "ecg_id 3", "scp_codes" |] "where"
            Expect.stringContains (db.Errors.[0].ToString()) "code 'SBRADX' is not in scp_statements.csv" "what"
            let result = Preprocessing.Run(PreprocessingOptions.Create(tmp.Path, null))
            Expect.equal (result.Summary.MalformedRows, result.Summary.RecordsKept) (2, 1) "reported, the run goes on"
            Expect.isTrue (result.Summary.Failures |> Array.exists (fun f -> f.EcgId = 2 && f.Reason.Contains "SBRADX")) "failure names the record"
            // Building the table directly from such records names them too.
            let bad = { db.Records.[0] with EcgId = 77; ScpCodes = [| { Code = "NOPE"; Likelihood = 0.0 } |] }
            expectMessage<InvalidDataException> (fun () -> ScpAnnotations.FromRecords(db.Statements, [| bad |]) |> ignore)
                [ "ecg_id 77"; "scp_codes"; "'NOPE'" ]
        }
        test "damaged SCP arrays in an npz are errors naming the file and array" {
            use tmp = new TempFolder()
            let good = Path.Combine(tmp.Path, "d.npz")
            ProcessedDatasetFile.Write(good, small ())
            let rewrite (name: string) (change: ZipArchive -> unit) =
                let path = Path.Combine(tmp.Path, name)
                File.Copy(good, path, true)
                do
                    use zip = ZipFile.Open(path, ZipArchiveMode.Update)
                    change zip
                path
            let replace (array: string) (descr: string) (shape: int64[]) (data: byte[]) (zip: ZipArchive) =
                zip.GetEntry(array + ".npy").Delete()
                use s = zip.CreateEntry(array + ".npy").Open()
                s.Write(NpyFormat.HeaderBytes(descr, shape))
                s.Write(data)
            let ints (values: int[]) = values |> Array.collect BitConverter.GetBytes
            let outOfRange = rewrite "index.npz" (fun zip ->
                let m = (small ()).Scp.CodeIndex.Length
                replace "scp_code_index" "<i4" [| int64 m |] (ints (Array.create m 999)) zip)
            ProcessedDatasetFileTests.expectInvalid (fun () -> ProcessedDatasetFile.Read outOfRange |> ignore)
                [ "index.npz, array scp_code_index"; "value 999 at position 0 is not an index" ]
            let offsets = rewrite "offsets.npz" (replace "scp_offsets" "<i4" [| 4L |] (ints [| 0; 1; 2; 3 |]))
            ProcessedDatasetFileTests.expectInvalid (fun () -> ProcessedDatasetFile.Read offsets |> ignore)
                [ "offsets.npz, array scp_offsets"; "has 4 values (one more than records), expected 5" ]
            let partial = rewrite "partial.npz" (fun zip -> zip.GetEntry("scp_likelihood.npy").Delete())
            ProcessedDatasetFileTests.expectInvalid (fun () -> ProcessedDatasetFile.Read partial |> ignore)
                [ "partial.npz, array scp_likelihood"; "missing from the file" ]
        }
    ]
