module Ecg.Data.Tests.PtbXlDatabaseTests

open System
open System.IO
open Expecto
open Deedle
open Ecg.Data
open Ecg.Data.Tests.TestData

[<Tests>]
let tests =
    testList "PtbXlDatabase" [
        test "CSV reader keeps quoted commas, doubled quotes and newlines, and the starting line of each row" {
            let rows = CsvReader.Parse("a,b\n1,\"x, \"\"y\"\"\nz\"\n2,\n", "t.csv")
            Expect.equal (rows |> Array.map (fun r -> r.Line)) [| 1; 2; 4 |] "lines"
            Expect.equal rows.[1].Fields [| "1"; "x, \"y\"\nz" |] "quoted field"
            Expect.equal rows.[2].Fields [| "2"; "" |] "empty last field"
        }
        test "scp_codes dict literals parse in order; bad ones are errors" {
            match ScpCodesLiteral.TryParse "{'NORM': 100.0, 'LVOLT': 0.0, 'SR': 0.0}" with
            | Result.Ok codes -> Expect.equal codes [| { Code = "NORM"; Likelihood = 100.0 }; { Code = "LVOLT"; Likelihood = 0.0 }; { Code = "SR"; Likelihood = 0.0 } |] "codes"
            | Result.Error e -> failtest e
            Expect.equal (ScpCodesLiteral.TryParse "{}") (Result.Ok [||]) "empty dict"
            for bad in [ "NORM: 100"; "{'NORM' 100.0}"; "{'NORM': abc}"; "{'NORM: 1.0}" ] do
                Expect.isError (ScpCodesLiteral.TryParse bad) bad
        }
        test "the sample loads 400 records and 71 statements without errors, with explicit types" {
            let db = PtbXlDatabase.Load(sampleFolder ())
            Expect.equal db.Records.Length 400 "records"
            Expect.equal db.Statements.Length 71 "statements"
            Expect.isEmpty db.Errors "no malformed rows"
            let r = db.Records.[0]
            // Row 1 of ptbxl_database.csv: 1,15709.0,56.0,1,,63.0,2.0,0.0,CS-12   E,1984-11-09 09:17:34,...,3,records100/00000/00001_lr,...
            Expect.equal (r.EcgId, r.PatientId, r.Age, r.Sex, r.Weight, r.Nurse, r.Site, r.Device, r.StratFold, r.FilenameLr, r.FilenameHr)
                         (1, 15709.0, 56.0, 1.0, 63.0, 2.0, 0.0, "CS-12   E", 3, "records100/00000/00001_lr", "records500/00000/00001_hr") "fields"
            Expect.isTrue (Double.IsNaN r.Height) "blank height is NaN"
            Expect.equal r.RecordingDate (Nullable(DateTime(1984, 11, 9, 9, 17, 34))) "date"
            Expect.equal (r.ScpCodes |> Array.map (fun c -> c.Code)) [| "NORM"; "LVOLT"; "SR" |] "codes"
            Expect.equal (r.SecondOpinion, r.ValidatedByHuman) (false, true) "flags"
            let ndt = db.Statements |> Array.find (fun s -> s.Code = "NDT")
            Expect.equal (ndt.Diagnostic, ndt.Form, ndt.Rhythm, ndt.DiagnosticClass) (true, true, false, "STTC") "statement flags"
        }
        test "frames are indexed by ecg_id / code with the declared column types" {
            let db = PtbXlDatabase.Load(sampleFolder ())
            let f = db.ToFrame()
            Expect.equal f.RowCount 400 "rows"
            Expect.equal (f.RowKeys |> Seq.head) 1 "index"
            let types = Seq.zip f.ColumnKeys f.ColumnTypes |> Map.ofSeq
            for c in [ "patient_id"; "age"; "sex"; "height"; "weight"; "site" ] do Expect.equal types.[c] typeof<float> c
            Expect.equal types.["strat_fold"] typeof<int> "strat_fold"
            Expect.equal types.["recording_date"] typeof<DateTime> "recording_date"
            Expect.equal types.["device"] typeof<string> "device"
            Expect.equal (f.GetColumn<float>("age").[1]) 56.0 "age of 1"
            Expect.isFalse (f.GetColumn<float>("height").ContainsKey 1 && not (Double.IsNaN(f.GetColumn<float>("height").TryGet(1).ValueOrDefault))) "missing height"
            let s = db.StatementsFrame()
            Expect.equal s.RowCount 71 "statements"
            Expect.equal (s.GetColumn<string>("diagnostic_class").["NDT"]) "STTC" "class by code"
            Expect.equal (Seq.zip s.ColumnKeys s.ColumnTypes |> Map.ofSeq).["diagnostic"] typeof<bool> "flag type"
        }
        test "malformed rows are reported with file, line and column, the others still load" {
            use tmp = new TempFolder()
            let lines = File.ReadAllLines(Path.Combine(sampleFolder (), "ptbxl_database.csv"))
            let header, rows = lines.[0], lines.[1..6]
            let edited =
                [| header
                   rows.[0]
                   rows.[1].Replace("\"{'NORM': 80.0, 'SBRAD': 0.0}\"", "\"{'NORM': 80.0 'SBRAD'}\"")  // line 3: bad dict
                   // line 4: a report with a newline inside quotes (one row over two lines)
                   rows.[2].Replace("sinusrhythmus normales ekg", "\"sinusrhythmus\nnormales ekg\"")
                   rows.[3].Replace(",records100/00000/00004_lr,", ",,")                                  // line 6: no filename_lr
                   rows.[4].Replace(",4,records100/00000/00005_lr", ",four,records100/00000/00005_lr")     // line 7: bad fold
                   rows.[5] |]
            File.WriteAllText(Path.Combine(tmp.Path, "ptbxl_database.csv"), String.Join("\n", edited) + "\n")
            let records, errors = PtbXlDatabase.ReadRecords(Path.Combine(tmp.Path, "ptbxl_database.csv"))
            Expect.equal (records |> Array.map (fun r -> r.EcgId)) [| 1; 3; 6 |] "well-formed rows kept"
            let described = errors |> Array.map (fun e -> e.Line, e.Column, e.Key)
            Expect.equal described [| 3, "scp_codes", "ecg_id 2"; 6, "filename_lr", "ecg_id 4"; 7, "strat_fold", "ecg_id 5" |] "errors"
            Expect.stringContains (errors.[0].ToString()) "ptbxl_database.csv, line 3 (ecg_id 2), column scp_codes" "readable"
        }
    ]
