module Ecg.Data.Tests.SyntheticPtbXlTests

open System
open System.IO
open System.Security.Cryptography
open Expecto
open Ecg.Data
open Ecg.Data.Tests.TestData

/// Every file under a folder as relative path -> bytes.
let private filesOf (folder: string) =
    Directory.GetFiles(folder, "*", SearchOption.AllDirectories)
    |> Array.map (fun f -> Path.GetRelativePath(folder, f).Replace('\\', '/'), File.ReadAllBytes f)
    |> Map.ofArray

let private generate (folder: string) count seed rates parallelism =
    SyntheticPtbXl.Generate({ SyntheticPtbXlOptions.Create(folder) with RecordCount = count; Seed = seed; SamplingRates = rates; MaxDegreeOfParallelism = parallelism })

/// ADC units of a record read back (gain 1000, baseline 0).
let private adc (r: WfdbRecord) = r.Signal |> Array.map (fun v -> int (Math.Round(float v * 1000.0)))

[<Tests>]
let wfdbWriterTests =
    testList "WfdbWriter" [
        test "reproduces PTB-XL's record 00001 (header and signal) byte for byte" {
            let path = Path.Combine(sampleFolder (), "records100/00000/00001_lr")
            let record = WfdbRecordReader().Read path
            let samples = record.Signal |> Array.map (fun v -> WfdbWriter.ToAdc(float v))
            use tmp = new TempFolder()
            let written = WfdbWriter.Write(tmp.Path, "00001_lr", 100, record.LeadNames, samples)
            Expect.equal (File.ReadAllBytes written.HeaderPath) (File.ReadAllBytes(path + ".hea")) "header bytes"
            Expect.equal (File.ReadAllBytes written.SignalPath) (File.ReadAllBytes(path + ".dat")) "signal bytes"
            Expect.equal written.SignalSha256 (Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path + ".dat")))) "sha-256"
            Expect.isEmpty (Directory.GetFiles(tmp.Path, "*.tmp")) "no temporary files left"
        }
        test "round trip through WfdbRecordReader (which checks size, initial values and checksums)" {
            let rng = Random(5)
            let leads = WfdbWriter.PtbXlLeadNames
            let samples = Array.init (500 * leads.Length) (fun _ -> int16 (rng.Next(-32767, 32768)))
            use tmp = new TempFolder()
            WfdbWriter.Write(tmp.Path, "r1", 500, leads, samples) |> ignore
            let back = WfdbRecordReader().Read(Path.Combine(tmp.Path, "r1"))
            Expect.equal (back.Samples, back.Leads, back.Header.SamplingFrequency) (500, 12, 500.0) "shape"
            Expect.equal back.LeadNames leads "lead names"
            Expect.equal back.Signal (samples |> Array.map (fun v -> float32 (float v / 1000.0))) "values"
        }
        test "checksum is the 16-bit sum written unsigned, as PTB-XL's headers" {
            Expect.equal (WfdbWriter.Checksum([| -1s; 0s; -2s; 0s |], 2, 0)) 65533 "negative sum"
            Expect.equal (WfdbWriter.Checksum([| 30000s; 30000s; 30000s |], 1, 0)) (90000 % 65536) "wraps"
            let text = WfdbWriter.FormatHeader("x", 100, [| "I" |], [| -5s; 2s |])
            Expect.equal text "x 1 100 2\nx.dat 16 1000.0(0)/mV 16 0 -5 65533 0 I\n" "header text"
        }
        test "bad input names the record" {
            Expect.throwsT<ArgumentException> (fun () -> WfdbWriter.FormatHeader("rec 1", 100, [| "I" |], [| 0s |]) |> ignore) "space in name"
            let message =
                try WfdbWriter.FormatHeader("r7", 100, [| "I"; "II" |], [| 0s; 1s; 2s |]) |> ignore; ""
                with :? ArgumentException as e -> e.Message
            Expect.stringContains message "record r7" "names the record"
        }
    ]

[<Tests>]
let syntheticTests =
    testList "SyntheticPtbXl" [
        test "same seed gives a byte-identical folder whatever the parallelism; 100 Hz files do not depend on 500 Hz being asked" {
            use a = new TempFolder()
            use b = new TempFolder()
            use c = new TempFolder()
            generate a.Path 30 42L [| 100; 500 |] 1 |> ignore
            generate b.Path 30 42L [| 500; 100 |] 4 |> ignore
            generate c.Path 30 42L [| 100 |] 3 |> ignore
            let fa, fb, fc = filesOf a.Path, filesOf b.Path, filesOf c.Path
            Expect.equal (fa |> Map.toList |> List.map fst) (fb |> Map.toList |> List.map fst) "same files"
            for KeyValue(k, v) in fa do Expect.isTrue (v = fb.[k]) (sprintf "%s identical" k)
            for KeyValue(k, v) in fc do
                if k.StartsWith "records" || k = "ptbxl_database.csv" then Expect.isTrue (v = fa.[k]) (sprintf "%s identical without 500 Hz" k)
            Expect.isTrue (fa.ContainsKey "records500/00000/00030_hr.dat" && not (fc.ContainsKey "records500/00000/00030_hr.dat")) "500 Hz only when asked"
            use d = new TempFolder()
            generate d.Path 30 43L [| 100 |] 2 |> ignore
            Expect.isFalse ((filesOf d.Path).["ptbxl_database.csv"] = fc.["ptbxl_database.csv"]) "another seed, another database"
        }
        test "PTB-XL layout: CSV readable without errors, every record passes the reader's checks, limb leads exact, SHA256SUMS right" {
            use tmp = new TempFolder()
            let result = generate tmp.Path 60 7L [| 100; 500 |] 2
            let db = PtbXlDatabase.Load tmp.Path
            Expect.isEmpty db.Errors "no row errors"
            Expect.equal db.Records.Length 60 "records"
            Expect.equal (File.ReadAllLines(Path.Combine(tmp.Path, "ptbxl_database.csv")).[0].Split(',').Length) 28 "28 columns"
            Expect.equal (SuperclassMapper.FromDatabase db).ClassNames [| "CD"; "HYP"; "MI"; "NORM"; "STTC" |] "superclasses"
            let r1 = db.Records.[0]
            Expect.equal (r1.EcgId, r1.FilenameLr, r1.FilenameHr) (1, "records100/00000/00001_lr", "records500/00000/00001_hr") "file names"
            Expect.isTrue (db.Records |> Array.forall (fun r -> r.StratFold >= 1 && r.StratFold <= 10 && r.RecordingDate.HasValue)) "folds and dates"
            let reader = WfdbRecordReader()
            for r in db.Records do
                for rate, path in [ 100, r.FilenameLr; 500, r.FilenameHr ] do
                    let record = reader.Read(Path.Combine(tmp.Path, path))
                    Expect.equal (record.Samples, record.Leads, record.Header.SamplingFrequency) (10 * rate, 12, float rate) path
                    let a = adc record
                    for s in 0 .. record.Samples - 1 do
                        let v l = a.[s * 12 + l]
                        let i, ii = v 0, v 1
                        if v 2 <> ii - i || 2 * v 3 <> -(i + ii) || 2 * v 4 <> 2 * i - ii || 2 * v 5 <> 2 * ii - i then
                            failtestf "%s sample %d: III/aVR/aVL/aVF do not follow from I and II" path s
            // SHA256SUMS: every file but itself, sorted, with the right hashes.
            let lines = File.ReadAllLines(Path.Combine(tmp.Path, "SHA256SUMS.txt"))
            let listed = lines |> Array.map (fun l -> l.Substring(65))
            Expect.equal listed (Array.sortWith (fun a b -> String.CompareOrdinal(a, b)) listed) "sorted"
            let onDisk = filesOf tmp.Path |> Map.remove "SHA256SUMS.txt"
            Expect.equal (Set.ofArray listed) (onDisk |> Map.toSeq |> Seq.map fst |> Set.ofSeq) "lists every file"
            for l in lines do
                Expect.equal (l.Substring(0, 64)) (Convert.ToHexStringLower(SHA256.HashData onDisk.[l.Substring 65])) l
            Expect.equal result.Files (onDisk.Count + 1) "file count"
            Expect.stringContains (File.ReadAllText(Path.Combine(tmp.Path, "README.md"))) "NOT real patient data" "README says synthetic"
        }
        test "CSV header and value formats as PTB-XL's" {
            let real = File.ReadAllLines(Path.Combine(sampleFolder (), "ptbxl_database.csv"))
            Expect.equal SyntheticPtbXl.DatabaseHeader real.[0] "header line"
            let realStatements = File.ReadAllLines(Path.Combine(sampleFolder (), "scp_statements.csv"))
            let ours = SyntheticPtbXl.ScpStatementsCsv.TrimEnd('\n').Split('\n')
            Expect.equal ours.[0] realStatements.[0] "statements header"
            for row in ours.[1..] do Expect.contains realStatements row "statement rows are PTB-XL's, verbatim"
            let plans = SyntheticPtbXl.Plan(300, 1L)
            let line = SyntheticPtbXl.CsvLine plans.[0]
            Expect.isMatch line """^1,\d+\.0,\d+\.0,[01],(\d+\.0)?,(\d+\.0)?,(\d+\.0)?,\d\.0,[^,]+,\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,[^,]+,"\{'[A-Z_]+': \d+\.0(, '[A-Z_]+': \d+\.0)*\}",""" "row format"
            Expect.stringEnds line ",records100/00000/00001_lr,records500/00000/00001_hr" "file names"
        }
        test "label and metadata frequencies are PTB-XL-like at full size" {
            let plans = SyntheticPtbXl.Plan(21799, 1L)
            let n = float plans.Length
            let frac f = float (plans |> Array.filter f |> Array.length) / n
            let labeled = plans |> Array.filter (fun p -> p.DiagnosticCodes.Length > 0)
            let lfrac f = float (labeled |> Array.filter f |> Array.length) / float labeled.Length
            let near name actual expected tol = Expect.isLessThan (abs (actual - expected)) tol (sprintf "%s: %.3f, expected about %.2f" name actual expected)
            near "unlabeled" (1.0 - float labeled.Length / n) 0.02 0.005
            near "NORM" (lfrac (fun p -> p.Norm)) 0.44 0.02
            near "MI" (lfrac (fun p -> not (isNull p.MiCode))) 0.25 0.02
            near "STTC" (lfrac (fun p -> not (isNull p.SttcCode))) 0.24 0.02
            near "CD" (lfrac (fun p -> not (isNull p.CdCode))) 0.22 0.02
            near "HYP" (lfrac (fun p -> not (isNull p.HypCode))) 0.12 0.02
            near "2+ classes" (lfrac (fun p -> p.DiagnosticCodes.Length >= 2)) 0.25 0.04
            near "NORM combined" (lfrac (fun p -> p.Norm && p.DiagnosticCodes.Length >= 2)) 0.04 0.02
            near "female" (frac (fun p -> p.Sex = 1)) 0.48 0.02
            near "height missing" (frac (fun p -> Double.IsNaN p.Height)) 0.68 0.02
            near "weight missing" (frac (fun p -> Double.IsNaN p.Weight)) 0.57 0.02
            near "mean age" (plans |> Array.averageBy (fun p -> float p.Age)) 62.0 2.0
            let patients = plans |> Array.map (fun p -> p.PatientId) |> Array.distinct |> Array.length
            Expect.isTrue (patients > 17000 && patients < 20500) (sprintf "%d patients for 21,799 records (PTB-XL: 18,869)" patients)
            // A patient's records share a fold, so patient-wise splits stay clean.
            let folds = plans |> Array.groupBy (fun p -> p.PatientId) |> Array.forall (fun (_, ps) -> ps |> Array.map (fun p -> p.StratFold) |> Array.distinct |> Array.length = 1)
            Expect.isTrue folds "one fold per patient"
            for f in 1 .. 10 do near (sprintf "fold %d" f) (frac (fun p -> p.StratFold = f)) 0.1 0.015
        }
        test "labels change the waves as documented" {
            let basePlan = { (SyntheticPtbXl.Plan(50, 3L) |> Array.find (fun p -> p.Norm && p.DiagnosticCodes.Length = 1 && isNull p.FormCode)) with Age = 60; Sex = 0 }
            let wavesOf (plan: SyntheticRecordPlan) = SyntheticEcgModel.waves plan (SplitMix64 9UL) 0.85
            let norm = wavesOf basePlan
            let variant f = wavesOf (f { basePlan with Norm = false })
            let qrsSigma (ws: HeartWave[]) = ws |> Array.filter (fun w -> abs w.Offset < 0.01) |> Array.map (fun w -> w.Sigma) |> Array.max
            Expect.isGreaterThan (qrsSigma (variant (fun p -> { p with CdCode = "CLBBB" }))) (2.0 * qrsSigma norm) "CLBBB widens QRS"
            // ST level in lead II (X/2 + Y*sqrt3/2) of the ST wave, and T in lead I.
            let st (ws: HeartWave[]) = let w = ws.[ws.Length - 3] in 0.5 * w.X + 0.866 * w.Y
            let tLeadI (ws: HeartWave[]) = ws.[ws.Length - 1].X
            Expect.isLessThan (st (variant (fun p -> { p with SttcCode = "ISC_" }))) -0.02 "ISC_ depresses ST"
            Expect.isLessThan (tLeadI (variant (fun p -> { p with SttcCode = "ISC_" }))) 0.0 "ISC_ inverts T in lead I"
            let imi = variant (fun p -> { p with MiCode = "IMI" })
            Expect.isGreaterThan imi.Length norm.Length "IMI adds a Q wave"
            Expect.isLessThan (imi |> Array.filter (fun w -> w.Offset < 0.0 && w.Offset > -0.025) |> Array.map (fun w -> w.Y) |> Array.min) -0.3 "IMI's Q points away from inferior leads"
            let r (ws: HeartWave[]) = ws |> Array.find (fun w -> w.Offset = 0.0)
            let lvh = variant (fun p -> { p with HypCode = "LVH" })
            Expect.isGreaterThan (sqrt ((r lvh).X ** 2.0 + (r lvh).Z ** 2.0)) (1.4 * sqrt ((r norm).X ** 2.0 + (r norm).Z ** 2.0)) "LVH enlarges horizontal QRS forces"
        }
        test "the project's preprocessing reads 200 generated records with no failures" {
            use tmp = new TempFolder()
            let g = generate tmp.Path 200 11L [| 100 |] 0
            let result = Preprocessing.Run({ PreprocessingOptions.Create(tmp.Path, Path.Combine(tmp.Path, "synthetic.npz")) with SamplingRate = 100 })
            let s = result.Summary
            Expect.equal s.Failed 0 (sprintf "no failures: %A" s.Failures)
            Expect.equal s.RecordsKept 200 "every record kept"
            let superdiagnostic = s.Tasks |> Array.find (fun t -> t.Task = "superdiagnostic")
            Expect.equal superdiagnostic.Records (200 - g.RecordsWithoutSuperclass) "the superdiagnostic task leaves out the unlabeled ones"
            let d = result.Dataset
            Expect.equal d.ClassNames g.ClassNames "classes"
            let counts = Array.init d.ClassNames.Length (fun c -> Seq.sum (seq { for i in 0 .. d.RecordCount - 1 -> int d.Labels.[i * d.ClassNames.Length + c] }))
            Expect.equal counts g.ClassCounts "class counts"
            // Learnable: LVH records have larger precordial QRS; amplitude falls with age.
            let precordialRange i =
                let x = d.Signal(i).ToArray()
                seq { 6 .. 11 } |> Seq.averageBy (fun l -> let v = Array.init d.Samples (fun s -> x.[s * 12 + l]) in float (Array.max v - Array.min v))
            let withClass c = [| for i in 0 .. d.RecordCount - 1 do if d.Labels.[i * 5 + c] = 1uy then yield i |]
            let hyp = withClass 1 |> Array.averageBy precordialRange
            let normOnly = withClass 3 |> Array.filter (fun i -> d.LabelsOf(i).ToArray() |> Array.sumBy int = 1) |> Array.averageBy precordialRange
            Expect.isGreaterThan hyp (1.3 * normOnly) "HYP has taller precordial QRS than NORM"
            let ages = Array.init d.RecordCount (fun i -> d.Age.[i]) |> Array.map (fun a -> if a = 300.0 then 90.0 else a)
            let amps = Array.init d.RecordCount precordialRange
            let corr =
                let ma, mb = Array.average ages, Array.average amps
                let cov = Array.map2 (fun a b -> (a - ma) * (b - mb)) ages amps |> Array.sum
                cov / sqrt ((ages |> Array.sumBy (fun a -> (a - ma) ** 2.0)) * (amps |> Array.sumBy (fun b -> (b - mb) ** 2.0)))
            Expect.isLessThan corr -0.1 (sprintf "amplitude falls with age (r = %.2f)" corr)
        }
        test "refuses a non-empty folder unless Overwrite" {
            use tmp = new TempFolder()
            File.WriteAllText(Path.Combine(tmp.Path, "keep.txt"), "x")
            Expect.throwsT<IOException> (fun () -> generate tmp.Path 3 1L [| 100 |] 1 |> ignore) "non-empty"
            let r = SyntheticPtbXl.Generate({ SyntheticPtbXlOptions.Create(tmp.Path) with RecordCount = 3; Overwrite = true })
            Expect.equal r.RecordCount 3 "overwritten"
            Expect.throwsT<ArgumentException> (fun () -> SyntheticPtbXl.Generate({ SyntheticPtbXlOptions.Create(tmp.Path) with SamplingRates = [| 250 |]; Overwrite = true }) |> ignore) "250 Hz"
        }
    ]
