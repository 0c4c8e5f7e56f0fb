module Ecg.Data.Tests.PreprocessingTests

open System
open System.IO
open Expecto
open Ecg.Data
open Ecg.Data.Tests.TestData

[<Tests>]
let tests =
    testList "Preprocessing" [
        test "the 400-record sample: all 400 kept (10 without a superclass), none failed; signals and labels as read directly" {
            let folder = sampleFolder ()
            use tmp = new TempFolder()
            let output = Path.Combine(tmp.Path, "ptbxl_100hz.npz")
            let progress = ResizeArray<PreprocessingProgress>()
            let result = Preprocessing.Run({ PreprocessingOptions.Create(folder, output) with SamplingRate = 100 }, Action<_>(progress.Add))
            let s = result.Summary
            Expect.equal (s.RecordsInCsv, s.DroppedWithoutSuperclass, s.RecordsRead, s.RecordsKept, s.Failed) (400, 0, 400, 400, 0) "counts"
            // Per task, as benchmark_task_labels.py counts them on the sample (see LabelTaskTests).
            Expect.equal (s.Tasks |> Array.map (fun t -> t.Task, t.Records, t.ClassNames.Length))
                [| "all", 400, 53; "diagnostic", 390, 32; "subdiagnostic", 390, 21; "superdiagnostic", 390, 5; "form", 98, 17; "rhythm", 382, 8 |] "tasks"
            let d = result.Dataset
            Expect.equal (d.RecordCount, d.Samples, d.Leads, d.SamplingRate) (400, 1000, 12, 100.0) "shape"
            Expect.equal d.ClassNames [| "CD"; "HYP"; "MI"; "NORM"; "STTC" |] "classes"
            // Record 00001 read on its own equals its slot.
            let one = WfdbRecordReader().Read(Path.Combine(folder, "records100/00000/00001_lr"))
            Expect.equal (d.Signal(0).ToArray()) one.Signal "first record's signal"
            Expect.equal (d.LabelsOf(0).ToArray()) [| 0uy; 0uy; 0uy; 1uy; 0uy |] "record 1 is NORM"
            Expect.equal progress.[progress.Count - 1].RecordsDone 400 "progress reaches the end"
            let back = ProcessedDatasetFile.Read output
            Expect.isTrue (ProcessedDatasetFileTests.equalDatasets d back) "file holds the dataset"
            let json, txt = Preprocessing.ReportPaths output
            Expect.isTrue (File.Exists json && File.Exists txt) "reports written"
            Expect.stringContains (File.ReadAllText txt) "records kept:                400" "readable report"
            Expect.stringContains (File.ReadAllText txt) "  superdiagnostic     390 records,   5 classes" "per task"
            Expect.isTrue (back.HasScpCodes && ProcessedDatasetFile.HasScpCodes output) "the file holds the SCP codes"
        }
        test "folds filter and 500 Hz records" {
            let r = Preprocessing.Run({ PreprocessingOptions.Create(sample500Folder (), null) with SamplingRate = 500; Folds = [| 1 .. 10 |] })
            // The 500 Hz sample has records for ids 1-100 only: the other CSV rows fail as missing files.
            Expect.equal (r.Dataset.Samples, r.Dataset.Leads) (5000, 12) "shape"
            Expect.isTrue (r.Dataset.EcgIds |> Array.forall (fun id -> id <= 100)) "ids"
            Expect.equal r.Dataset.RecordCount 100 "all 100 records read"
            Expect.isTrue (r.Summary.Failures |> Array.forall (fun f -> f.EcgId > 100 && f.Reason.Contains "not found")) "failures are the missing files"
            let only9 = Preprocessing.Run({ PreprocessingOptions.Create(sampleFolder (), null) with Folds = [| 9 |] })
            Expect.isTrue (only9.Dataset.StratFolds |> Array.forall ((=) 9)) "fold 9 only"
            Expect.equal only9.Summary.OutsideFolds (400 - 70) "fold 9 has 70 rows"
        }
        test "MaxRecords reads only the first N rows of the chosen folds" {
            let all = Preprocessing.Run(PreprocessingOptions.Create(sampleFolder (), null))
            let first = Preprocessing.Run({ PreprocessingOptions.Create(sampleFolder (), null) with MaxRecords = 50 })
            // 50 CSV rows in, all kept, and they are the first ones.
            Expect.equal first.Summary.RecordsRead 50 "50 rows considered"
            Expect.sequenceEqual first.Dataset.EcgIds (Array.truncate first.Dataset.RecordCount all.Dataset.EcgIds) "the first records, in order"
            Expect.sequenceEqual (first.Dataset.Signals.ToArray()) (Array.truncate (int first.Dataset.Signals.Length) (all.Dataset.Signals.ToArray())) "same signals"
            let fold9 = Preprocessing.Run({ PreprocessingOptions.Create(sampleFolder (), null) with Folds = [| 9 |]; MaxRecords = 10 })
            Expect.isTrue (fold9.Dataset.StratFolds |> Array.forall ((=) 9)) "within the fold filter"
            Expect.equal fold9.Summary.RecordsRead 10 "10 rows of fold 9"
            Expect.throws (fun () -> Preprocessing.Run({ PreprocessingOptions.Create(sampleFolder (), null) with MaxRecords = -1 }) |> ignore) "negative refused"
        }
        test "damaged copies: each bad record is reported with its reason and the run goes on" {
            let source = sampleFolder ()
            use tmp = new TempFolder()
            let ids = [ 1 .. 20 ]
            let rel id = sprintf "records100/00000/%05d_lr" id
            copyPtbXl source tmp.Path (ids |> List.map rel)
            let csv = Path.Combine(tmp.Path, "ptbxl_database.csv")
            let lines = File.ReadAllLines csv |> Array.take 21
            lines.[6] <- lines.[6].Replace("\"{'NORM': 100.0, 'SR': 0.0}\"", "\"{'NORM' 100.0}\"")    // ecg_id 6: malformed row
            File.WriteAllLines(csv, lines)
            let path id = Path.Combine(tmp.Path, rel id)
            let dat2 = File.ReadAllBytes(path 2 + ".dat")
            File.WriteAllBytes(path 2 + ".dat", dat2.[0 .. dat2.Length - 101])                          // truncated
            let h3 = File.ReadAllLines(path 3 + ".hea")
            h3.[2] <- h3.[2].Replace("1000.0(0)/mV", "1e3x(0)/mV")                                        // edited header: bad gain, lead II
            File.WriteAllLines(path 3 + ".hea", h3)
            File.WriteAllText(path 7 + ".hea", File.ReadAllText(path 7 + ".hea").Replace("_lr 12 100 1000", "_lr 12 100 900"))  // other length
            let h4 = File.ReadAllLines(path 4 + ".hea")
            let f = h4.[1].Split(' ')
            f.[6] <- string ((int f.[6] + 1) % 65536)                                                    // wrong checksum, lead I
            h4.[1] <- String.Join(" ", f)
            File.WriteAllLines(path 4 + ".hea", h4)
            File.Delete(path 5 + ".dat")                                                                 // missing file
            let result = Preprocessing.Run(PreprocessingOptions.Create(tmp.Path, Path.Combine(tmp.Path, "out.npz")))
            let s = result.Summary
            let reason id = s.Failures |> Array.filter (fun x -> x.EcgId = id) |> Array.map (fun x -> x.Reason) |> String.concat " | "
            Expect.stringContains (reason 2) "file has 23900 bytes" "truncated"
            Expect.stringContains (reason 3) "00003_lr.hea, record 00003_lr, lead II: gain '1e3x' is not a number" "edited header"
            Expect.stringContains (reason 7) "900 samples per lead, other records have 1000" "other length"
            Expect.stringContains (reason 4) "lead I: checksum" "checksum"
            Expect.stringContains (reason 5) "not found" "missing"
            Expect.stringContains (reason 6) "line 7 (ecg_id 6), column scp_codes" "malformed row"
            Expect.equal (s.RecordsInCsv, s.MalformedRows, s.Failed) (20, 1, 6) "counts"
            let db = PtbXlDatabase.Load tmp.Path
            let mapper = SuperclassMapper.FromDatabase db
            let expectedKept = db.Records |> Array.filter (fun r -> not (List.contains r.EcgId [ 2; 3; 4; 5; 7 ])) |> Array.map (fun r -> r.EcgId)
            Expect.equal result.Dataset.EcgIds expectedKept "kept records"
            let superdiagnostic = expectedKept |> Array.filter (fun id -> mapper.Superclasses(db.Records |> Array.find (fun r -> r.EcgId = id)).Length > 0)
            Expect.equal (result.Dataset.ForTask(LabelTask.Superdiagnostic).EcgIds) superdiagnostic "the superdiagnostic task's records"
            Expect.equal (s.RecordsKept + s.Failed) s.RecordsInCsv "every row accounted for"
            Expect.equal (ProcessedDatasetFile.Read(Path.Combine(tmp.Path, "out.npz"))).RecordCount s.RecordsKept "file written"
        }
    ]
