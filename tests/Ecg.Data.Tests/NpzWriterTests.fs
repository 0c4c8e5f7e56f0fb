module Ecg.Data.Tests.NpzWriterTests

open System
open System.IO
open System.IO.Compression
open System.Runtime.InteropServices
open System.Text
open Expecto
open FsCheck
open FsCheck.FSharp
open Ecg.Data

/// Reads one array of an npz the plain way (ZIP entry, NPY header, raw bytes), independent of the writer.
let private readEntry (zip: ZipArchive) (name: string) =
    use s = zip.GetEntry(name + ".npy").Open()
    let header = NpyFormat.ReadHeader(s, name)
    use rest = new MemoryStream()
    s.CopyTo rest
    header, rest.ToArray()

let private decodeStrings (header: NpyHeader) (bytes: byte[]) =
    let width = int (header.Descr.Substring 2)
    Array.init (int header.ElementCount) (fun i -> Encoding.UTF32.GetString(bytes, i * width * 4, width * 4).TrimEnd('\000'))

let private sameBits (a: float[]) (b: float[]) =
    a.Length = b.Length && Array.forall2 (fun (x: float) y -> BitConverter.DoubleToInt64Bits x = BitConverter.DoubleToInt64Bits y) a b

type private Arrays = { Singles: float32[]; Doubles: float[]; Ints: int[]; Bytes: byte[]; Strings: string[] }

let private genArrays =
    gen {
        let! singles = ArbMap.defaults |> ArbMap.generate<float32[]>
        let! doubles = ArbMap.defaults |> ArbMap.generate<float[]>
        let! ints = ArbMap.defaults |> ArbMap.generate<int[]>
        let! bytes = ArbMap.defaults |> ArbMap.generate<byte[]>
        let! strings = Gen.arrayOf (Gen.elements [ ""; "NORM"; "CS-12   E"; "Ünïcode ✓"; "𝔼CG" ])
        return { Singles = singles; Doubles = doubles; Ints = ints; Bytes = bytes; Strings = strings }
    }

[<Tests>]
let tests =
    testList "NpzWriter" [
        testProperty "reading what was written returns every array, dtype and shape" <|
            Prop.forAll (Arb.fromGen genArrays) (fun a ->
                use memory = new MemoryStream()
                do
                    use npz = new NpzWriter(memory, CompressionLevel.Fastest)
                    npz.Write("f4", [| int64 a.Singles.Length |], a.Singles)
                    npz.Write("f8", [| 1L; int64 a.Doubles.Length |], a.Doubles)
                    npz.Write("i4", [| int64 a.Ints.Length |], a.Ints)
                    npz.Write("u1", [| int64 a.Bytes.Length |], a.Bytes)
                    npz.Write("s", [| int64 a.Strings.Length |], a.Strings)
                    npz.Write("scalar", [||], [| 2.5 |])
                memory.Position <- 0L
                use zip = new ZipArchive(memory, ZipArchiveMode.Read)
                let h4, b4 = readEntry zip "f4"
                let h8, b8 = readEntry zip "f8"
                let hi, bi = readEntry zip "i4"
                let hu, bu = readEntry zip "u1"
                let hs, bs = readEntry zip "s"
                let hScalar, bScalar = readEntry zip "scalar"
                h4.Descr = "<f4" && h4.Shape = [| int64 a.Singles.Length |]
                && MemoryMarshal.Cast<byte, int>(ReadOnlySpan b4).ToArray() = (a.Singles |> Array.map BitConverter.SingleToInt32Bits)
                && h8.Descr = "<f8" && h8.Shape = [| 1L; int64 a.Doubles.Length |] && sameBits (MemoryMarshal.Cast<byte, float>(ReadOnlySpan b8).ToArray()) a.Doubles
                && hi.Descr = "<i4" && MemoryMarshal.Cast<byte, int>(ReadOnlySpan bi).ToArray() = a.Ints
                && hu.Descr = "|u1" && bu = a.Bytes
                && hs.Descr.StartsWith "<U" && decodeStrings hs bs = a.Strings
                && hScalar.Shape = [||] && BitConverter.ToDouble(bScalar, 0) = 2.5
                && zip.Entries.Count = 6)

        test "strings: width of the longest in UTF-32 code units, at least 1; null is written as an empty string" {
            use memory = new MemoryStream()
            do
                use npz = new NpzWriter(memory, CompressionLevel.NoCompression)
                npz.Write("names", [| 3L |], [| "CD"; null; "𝔼CG!" |])
                npz.Write("empty", [| 1L |], [| "" |])
            memory.Position <- 0L
            use zip = new ZipArchive(memory, ZipArchiveMode.Read)
            let h, b = readEntry zip "names"
            Expect.equal h.Descr "<U4" "'𝔼CG!' is 4 code points"
            Expect.equal (decodeStrings h b) [| "CD"; ""; "𝔼CG!" |] "values"
            Expect.equal (fst (readEntry zip "empty")).Descr "<U1" "NumPy writes '' as <U1"
        }

        test "OpenArray streams an array in pieces: the same entry as one Write" {
            let values = Array.init 5000 float32
            let write (streamed: bool) =
                use memory = new MemoryStream()
                do
                    use npz = new NpzWriter(memory, CompressionLevel.Fastest)
                    if streamed then
                        use s = npz.OpenArray("signals", "<f4", [| 50L; 100L |])
                        for r in 0 .. 49 do s.Write(MemoryMarshal.AsBytes(ReadOnlySpan(values, r * 100, 100)))
                    else npz.Write("signals", [| 50L; 100L |], values)
                memory.Position <- 0L
                use zip = new ZipArchive(memory, ZipArchiveMode.Read)
                let h, b = readEntry zip "signals"
                h.Shape, b
            Expect.equal (write true) (write false) "same header and data"
        }
    ]
