namespace Ecg.Data

open System
open System.IO
open System.IO.Compression
open System.Runtime.InteropServices
open System.Text

/// Writes a NumPy `.npz`: a ZIP with one `<name>.npy` entry (NpyFormat 1.0, C order) per array, plain
/// dtypes only, so numpy.load opens it with allow_pickle=False. Arrays: `<f4` float32, `<f8` float64,
/// `<i4` int32, `|u1` uint8, `<U{n}` strings (n UTF-32 code units each, zero padded, null written as "").
/// The one npz writer of the solution (processed datasets, embeddings). Little-endian machines only.
[<Sealed>]
type NpzWriter(stream: Stream, compression: CompressionLevel) =
    // Written in chunks so the deflate stream never needs a second copy of a large array.
    static let chunkBytes = 1 <<< 20
    do if not BitConverter.IsLittleEndian then raise (PlatformNotSupportedException "the .npz writer assumes a little-endian machine")
    let zip = new ZipArchive(stream, ZipArchiveMode.Create, true)

    /// Opens the entry `<name>.npy` with its header written; the caller writes the data (e.g. record by record,
    /// which lets mapped or subset data stream without a copy) and disposes the stream before the next array.
    member _.OpenArray(name: string, descr: string, shape: int64[]) : Stream =
        let entry = zip.CreateEntry(name + ".npy", compression)
        let s = entry.Open()
        s.Write(NpyFormat.HeaderBytes(descr, shape))
        s

    /// One array from its raw little-endian bytes.
    member w.WriteBytes(name: string, descr: string, shape: int64[], data: ReadOnlySpan<byte>) : unit =
        use s = w.OpenArray(name, descr, shape)
        let mutable offset = 0
        while offset < data.Length do
            let n = min chunkBytes (data.Length - offset)
            s.Write(data.Slice(offset, n))
            offset <- offset + n

    member w.Write(name: string, shape: int64[], values: float32[]) = w.WriteBytes(name, "<f4", shape, MemoryMarshal.AsBytes(ReadOnlySpan<float32>(values)))
    member w.Write(name: string, shape: int64[], values: float[]) = w.WriteBytes(name, "<f8", shape, MemoryMarshal.AsBytes(ReadOnlySpan<float>(values)))
    member w.Write(name: string, shape: int64[], values: int[]) = w.WriteBytes(name, "<i4", shape, MemoryMarshal.AsBytes(ReadOnlySpan<int>(values)))
    member w.Write(name: string, shape: int64[], values: byte[]) = w.WriteBytes(name, "|u1", shape, ReadOnlySpan<byte>(values))

    /// Strings as `<U{n}`, n the longest value's UTF-32 length (at least 1, as NumPy writes empty strings).
    member w.Write(name: string, shape: int64[], values: string[]) =
        let values = values |> Array.map (fun v -> if isNull v then "" else v)
        let width = values |> Array.fold (fun m v -> max m (Encoding.UTF32.GetByteCount v / 4)) 1
        let bytes = Array.zeroCreate<byte> (values.Length * width * 4)
        values |> Array.iteri (fun i v -> Encoding.UTF32.GetBytes(v, 0, v.Length, bytes, i * width * 4) |> ignore)
        w.WriteBytes(name, sprintf "<U%d" width, shape, ReadOnlySpan<byte>(bytes))

    /// Finishes the ZIP (its central directory); the stream stays open for the caller to flush and close.
    interface IDisposable with
        member _.Dispose() = zip.Dispose()
