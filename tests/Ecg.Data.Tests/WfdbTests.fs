module Ecg.Data.Tests.WfdbTests

open System
open System.IO
open Expecto
open Ecg.Data
open Ecg.Data.Tests.TestData

/// Writes a WFDB record (header + signal) from ADC values [sample][lead], encoded here independently of the reader.
let writeRecord (folder: string) (name: string) (format: int) (gainField: string) (adc: int[][]) =
    let nsamp = adc.Length
    let nsig = adc.[0].Length
    let flat = [| for row in adc do yield! row |]
    let bytes =
        match format with
        | 16 -> flat |> Array.collect (fun v -> [| byte (v &&& 0xFF); byte ((v >>> 8) &&& 0xFF) |])
        | 80 -> flat |> Array.map (fun v -> byte (v + 128))
        | 212 ->
            [| for p in 0 .. 2 .. flat.Length - 1 do
                let s0 = flat.[p] &&& 0xFFF
                let s1 = if p + 1 < flat.Length then flat.[p + 1] &&& 0xFFF else 0
                yield byte (s0 &&& 0xFF)
                yield byte ((s0 >>> 8) ||| ((s1 >>> 8) <<< 4))
                if p + 1 < flat.Length then yield byte (s1 &&& 0xFF) |]
        | _ -> failwith "format"
    File.WriteAllBytes(Path.Combine(folder, name + ".dat"), bytes)
    let lines =
        [ yield sprintf "%s %d 100 %d" name nsig nsamp
          for l in 0 .. nsig - 1 do
            let sum = adc |> Array.sumBy (fun row -> row.[l])
            yield sprintf "%s.dat %d %s 12 0 %d %d 0 L%d" name format gainField adc.[0].[l] (int (int16 (uint16 (sum &&& 0xFFFF)))) (l + 1) ]
    File.WriteAllText(Path.Combine(folder, name + ".hea"), String.Join("\n", lines) + "\n")

let expectWfdbError (f: unit -> unit) (fragments: string list) =
    try f (); failtest "expected a WfdbException"
    with :? WfdbException as e ->
        for fr in fragments do Expect.stringContains e.Message fr (sprintf "message '%s' names %s" e.Message fr)

[<Tests>]
let tests =
    testList "Wfdb" [
        test "header with two signal lines parses gain, baseline, units, ADC fields and lead" {
            let h = WfdbHeaderParser.Parse("r 2 100 1000\nr.dat 16 1000.0(0)/mV 16 0 -119 1508 0 I\nr.dat 16 200/uV 12 5 -55 -723 0 aVR lead\n", "r.hea")
            let a, b = h.Signals.[0], h.Signals.[1]
            Expect.equal (a.FileName, a.Format, a.Gain, a.Baseline, a.Units, a.AdcResolution, a.AdcZero, a.InitialValue, a.Checksum, a.BlockSize, a.Description)
                         ("r.dat", 16, 1000.0, 0, "mV", 16, 0, -119, 1508, 0, "I") "first signal"
            Expect.equal (b.Gain, b.Baseline, b.Units, b.AdcZero, b.Checksum, b.Description) (200.0, 5, "uV", 5, -723, "aVR lead") "baseline defaults to ADC zero"
        }
        test "a record line claiming more signals than lines names the file and field" {
            expectWfdbError (fun () -> WfdbHeaderParser.Parse("r 3 100 10\nr.dat 16 200 12 0 0 0 0 I\n", "r.hea") |> ignore) [ "r.hea"; "record r"; "3 signals" ]
        }
        test "real record 00001_lr: shape, first values in mV and lead names (values from its header's initial values)" {
            let reader = WfdbRecordReader()
            let r = reader.Read(Path.Combine(sampleFolder (), "records100/00000/00001_lr"))
            Expect.equal (r.Samples, r.Leads) (1000, 12) "shape"
            Expect.equal r.LeadNames [| "I"; "II"; "III"; "AVR"; "AVL"; "AVF"; "V1"; "V2"; "V3"; "V4"; "V5"; "V6" |] "leads"
            // Header initial values -119 -55 64 86 -91 4 -69 -31 0 -26 -39 -79 at gain 1000, baseline 0.
            let first = Array.init 12 (fun l -> r.At(0, l))
            Expect.equal first ([| -119; -55; 64; 86; -91; 4; -69; -31; 0; -26; -39; -79 |] |> Array.map (fun v -> float32 (float v / 1000.0))) "first sample"
        }
        test "every sample record (100 Hz and 500 Hz) reads with matching sizes, initial values and checksums" {
            let reader = WfdbRecordReader()
            for folder, samples in [ Path.Combine(sampleFolder (), "records100"), 1000; Path.Combine(sample500Folder (), "records500"), 5000 ] do
                let headers = Directory.GetFiles(folder, "*.hea", SearchOption.AllDirectories)
                Expect.isGreaterThanOrEqual headers.Length 100 "records found"
                let dest = Array.zeroCreate<float32> (samples * 12)
                for h in headers do
                    let header = reader.Read(h, Span<float32>(dest))
                    Expect.equal header.SampleCount samples h
        }
        testList "synthetic formats" [
            for format in [ 16; 212; 80 ] do
                test (sprintf "format %d round-trips ADC values to (adu - baseline) / gain" format) {
                    use tmp = new TempFolder()
                    let rng = Random(format)
                    let lo, hi = match format with 16 -> -32767, 32767 | 212 -> -2047, 2047 | _ -> -127, 127
                    // 7 samples x 3 leads: an odd total exercises format 212's half-filled last triple.
                    let adc = Array.init 7 (fun _ -> Array.init 3 (fun _ -> rng.Next(lo, hi + 1)))
                    writeRecord tmp.Path "syn" format "250(10)/mV" adc
                    let r = WfdbRecordReader().Read(Path.Combine(tmp.Path, "syn"))
                    let expected = [| for row in adc do for v in row -> float32 (float (v - 10) / 250.0) |]
                    Expect.equal (r.Samples, r.Leads) (7, 3) "shape"
                    Expect.equal r.Signal expected "values"
                }
            test "format 212 hand-computed bytes 01 F0 FF FF 87 00 are 1, -1, 2047 and -2048 (no sample -> NaN)" {
                use tmp = new TempFolder()
                File.WriteAllBytes(Path.Combine(tmp.Path, "h.dat"), [| 0x01uy; 0xF0uy; 0xFFuy; 0xFFuy; 0x87uy; 0x00uy |])
                // checksums: lead 1: 1 + 2047 = 2048, lead 2: -1 + -2048 = -2049
                File.WriteAllText(Path.Combine(tmp.Path, "h.hea"), "h 2 100 2\nh.dat 212 1(0)/mV 12 0 1 2048 0 A\nh.dat 212 1(0)/mV 12 0 -1 -2049 0 B\n")
                let r = WfdbRecordReader().Read(Path.Combine(tmp.Path, "h"))
                Expect.equal r.Signal.[0..2] [| 1.0f; -1.0f; 2047.0f |] "values"
                Expect.isTrue (Single.IsNaN r.Signal.[3]) "-2048 is WFDB's no-sample value"
            }
        ]
        testList "damaged records name file, record, lead and field" [
            let setup (tmp: TempFolder) =
                writeRecord tmp.Path "bad" 16 "1000(0)/mV" (Array.init 10 (fun t -> [| t; -t; 3 * t + 1 |]))
                Path.Combine(tmp.Path, "bad")
            test "wrong checksum" {
                use tmp = new TempFolder()
                let p = setup tmp
                let text = File.ReadAllText(p + ".hea").Replace(" 0 -45 0 L2", " 0 1234 0 L2")
                File.WriteAllText(p + ".hea", text)
                expectWfdbError (fun () -> WfdbRecordReader().Read p |> ignore) [ "bad.dat"; "record bad"; "lead L2"; "checksum 1234 in header, -45 in signal" ]
            }
            test "wrong initial value" {
                use tmp = new TempFolder()
                let p = setup tmp
                File.WriteAllText(p + ".hea", File.ReadAllText(p + ".hea").Replace("12 0 1 145 0 L3", "12 0 7 145 0 L3"))
                expectWfdbError (fun () -> WfdbRecordReader().Read p |> ignore) [ "bad.dat"; "lead L3"; "initial value 7 in header, 1 in signal" ]
            }
            test "truncated signal file" {
                use tmp = new TempFolder()
                let p = setup tmp
                let bytes = File.ReadAllBytes(p + ".dat")
                File.WriteAllBytes(p + ".dat", bytes.[0 .. bytes.Length - 7])
                expectWfdbError (fun () -> WfdbRecordReader().Read p |> ignore) [ "bad.dat"; "record bad"; "file has 54 bytes"; "need 60" ]
            }
            test "missing signal file" {
                use tmp = new TempFolder()
                let p = setup tmp
                File.Delete(p + ".dat")
                expectWfdbError (fun () -> WfdbRecordReader().Read p |> ignore) [ "bad.dat"; "record bad"; "not found" ]
            }
            test "unsupported format" {
                use tmp = new TempFolder()
                let p = setup tmp
                File.WriteAllText(p + ".hea", File.ReadAllText(p + ".hea").Replace(".dat 16 ", ".dat 310 "))
                expectWfdbError (fun () -> WfdbRecordReader().Read p |> ignore) [ "bad.dat"; "format 310" ]
            }
        ]
        test "benchmark reads the sample and reports a positive rate" {
            let r = WfdbBenchmark.Run(Path.Combine(sampleFolder (), "records100"), 1)
            Expect.equal r.Records 400 "records"
            Expect.isGreaterThan r.RecordsPerSecond 0.0 "rate"
        }
    ]
