namespace Ecg.Data

#nowarn "9" // NativePtr: the mapped view is read through a raw pointer (see MappedSegment)

open System
open System.Buffers
open System.Globalization
open System.IO
open System.IO.MemoryMappedFiles
open System.Runtime.InteropServices
open Microsoft.FSharp.NativeInterop

/// Up to 2^31-1 values of the mapped view as Memory<float32>: one MemoryManager covers one segment of
/// whole records, because a Span's length is an int. It holds its owner, so any Memory taken from it
/// keeps the mapping alive.
[<Sealed>]
type internal MappedSegment(owner: obj, pointer: nativeint, length: int) =
    inherit MemoryManager<float32>()
    member _.Owner = owner
    override _.GetSpan() = Span<float32>(NativePtr.toVoidPtr (NativePtr.ofNativeInt<float32> pointer), length)
    override _.Pin(elementIndex) =
        new MemoryHandle(NativePtr.toVoidPtr (NativePtr.add (NativePtr.ofNativeInt<float32> pointer) elementIndex))
    override _.Unpin() = ()
    override _.Dispose(_disposing) = ()

/// A read-only view of a whole file and the pointer to it, acquired once. Dispose gives both back at once;
/// without Dispose, the finalizer gives the pointer back and the SafeHandles of the view and the file then
/// unmap and close them. MappedSegments hold this object, so it is never finalized while a Memory taken from
/// the mapping can still be reached.
[<Sealed>]
type internal FileMapping(file: MemoryMappedFile, view: MemoryMappedViewAccessor) =
    let handle = view.SafeMemoryMappedViewHandle
    let pointer =
        let mutable p = NativePtr.nullPtr<byte>
        handle.AcquirePointer(&p)
        NativePtr.toNativeInt p + nativeint view.PointerOffset
    let mutable disposed = false
    member _.Pointer = pointer
    member _.IsDisposed = disposed
    member m.Dispose() =
        if not disposed then
            disposed <- true
            handle.ReleasePointer()
            view.Dispose()
            file.Dispose()
            GC.SuppressFinalize m
    override _.Finalize() = if not disposed then handle.ReleasePointer()

/// The signals of a dataset memory-mapped, read-only, from a plain `.npy` file: `<f4`, C order,
/// shape (records, samples, leads). Nothing is read until a record is used; the OS pages records in
/// and out, so memory does not grow with the file.
///
/// Lifetime: the dataset that holds this store is IDisposable, and Dispose unmaps the file at once.
/// Callers that never dispose (scripts, one-shot commands) are still safe: the mapping is released by the
/// garbage collector once nothing refers to the dataset or to Memory taken from it (see FileMapping).
/// That is less invasive than making every command, script and test dispose its dataset, for no gain in
/// processes that end after one stage. Do not use Memory from Record after disposing.
[<Sealed>]
type MappedSignals private (path: string, mapping: FileMapping, dataOffset: int64,
                            recordCount: int, samples: int, leads: int, recordsPerSegment: int) =
    inherit SignalStore(recordCount, samples * leads)
    let recordLength = samples * leads
    let segments : ReadOnlyMemory<float32>[] =
        let start = mapping.Pointer + nativeint dataOffset
        let count = if recordCount = 0 then 0 else (recordCount - 1) / recordsPerSegment + 1
        Array.init count (fun k ->
            let first = int64 k * int64 recordsPerSegment
            let records = min recordsPerSegment (recordCount - int first)
            let manager = new MappedSegment(mapping, start + nativeint (first * int64 recordLength * 4L), records * recordLength)
            Memory<float32>.op_Implicit manager.Memory)

    override _.FilePath = path
    /// Samples per lead, from the file's header.
    member _.Samples = samples

    override s.Record(index) =
        if mapping.IsDisposed then raise (ObjectDisposedException(path))
        s.CheckIndex index
        segments.[index / recordsPerSegment].Slice((index % recordsPerSegment) * recordLength, recordLength)

    override s.Subset(indices) = new IndexedSignals(s, indices) :> SignalStore

    override _.Dispose() = mapping.Dispose()

    /// Opens `path` after checking it against the dataset (`datasetName`, the `.npz`, with `records` records
    /// and `leads` leads): NPY magic and header, dtype <f4, C order, shape, and the exact file size.
    /// Errors name the file and the field; a missing file raises FileNotFoundException.
    static member Open(path: string, records: int, leads: int, datasetName: string) : MappedSignals =
        MappedSignals.Open(path, records, leads, datasetName, 0)

    /// `recordsPerSegment` > 0 cuts the view into smaller Memory segments (tests of the segment arithmetic).
    static member internal Open(path: string, records: int, leads: int, datasetName: string, recordsPerSegment: int) : MappedSignals =
        let name = Path.GetFileName path
        let fail (msg: string) : 'a = raise (InvalidDataException(sprintf "%s: %s" name msg))
        let number (v: int64) = v.ToString("N0", CultureInfo.InvariantCulture)
        if not (File.Exists path) then
            raise (FileNotFoundException(sprintf "%s names the signals file %s (array signals_file), which is not in %s"
                                                 datasetName name (Path.GetDirectoryName(Path.GetFullPath path)), path))
        let stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read ||| FileShare.Delete, 4096)
        try
            let header = NpyFormat.ReadHeader(stream, name)
            let dataOffset = stream.Position
            let shape = header.Shape
            let shapeText = NpyFormat.ShapeText shape
            if header.Descr <> "<f4" then fail (sprintf "dtype %s in header, expected <f4 (float32, little-endian)" header.Descr)
            if header.FortranOrder then fail "fortran_order True in header, expected C order (False)"
            if shape.Length <> 3 then fail (sprintf "shape %s in header, expected 3 dimensions (records, samples, leads)" shapeText)
            if shape.[0] <> int64 records then fail (sprintf "shape %s in header, but %s has %d records" shapeText datasetName records)
            if shape.[2] <> int64 leads then fail (sprintf "shape %s in header, but %s has %d leads (lead_names)" shapeText datasetName leads)
            if shape.[1] > int64 Int32.MaxValue || shape.[1] * shape.[2] > int64 Int32.MaxValue then fail (sprintf "shape %s in header: one record is too long" shapeText)
            let recordLength = int (shape.[1] * shape.[2])
            let needed = dataOffset + int64 records * int64 recordLength * 4L
            if stream.Length <> needed then
                fail (sprintf "file is %s bytes, header shape %s needs %s" (number stream.Length) shapeText (number needed))
            let perSegment =
                if recordsPerSegment > 0 then recordsPerSegment
                elif recordLength = 0 then Int32.MaxValue
                else Int32.MaxValue / recordLength
            let file = MemoryMappedFile.CreateFromFile(stream, null, 0L, MemoryMappedFileAccess.Read, HandleInheritability.None, false)
            try
                let view = file.CreateViewAccessor(0L, 0L, MemoryMappedFileAccess.Read)
                new MappedSignals(Path.GetFullPath path, new FileMapping(file, view), dataOffset, records, int shape.[1], leads, max 1 perSegment)
            with _ ->
                file.Dispose()
                reraise ()
        with _ ->
            stream.Dispose()
            reraise ()

/// Writes records one after another into a temporary `.npy` (`<f4`, C order, (records, samples, leads))
/// beside the file it will become. Memory stays flat: each record goes to the file as it comes, so a failed
/// record is simply never written. Finish rewrites the header with the final record count, in place (the
/// header is reserved for the largest count), and flushes to disk; the caller then renames TempPath.
/// Dispose deletes the temporary file unless it was moved.
[<Sealed; AllowNullLiteral>]
type NpySignalWriter(finalPath: string, samples: int, leads: int) =
    let full = Path.GetFullPath finalPath
    let temp = AtomicFile.TemporaryPathFor full
    let recordLength = samples * leads
    let shapeOf (n: int) = [| int64 n; int64 samples; int64 leads |]
    let headerLength = (NpyFormat.HeaderBytes("<f4", shapeOf Int32.MaxValue)).Length
    let stream =
        Directory.CreateDirectory(Path.GetDirectoryName full) |> ignore
        new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 <<< 20)
    do stream.Write(NpyFormat.HeaderBytes("<f4", shapeOf 0, headerLength))
    let mutable count = 0
    let mutable finished = false

    /// The temporary file (a dot file in the final file's folder).
    member _.TempPath = temp
    /// The `.npy` it is meant to become.
    member _.FinalPath = full
    /// Records written so far.
    member _.Count = count

    member _.Append(record: ReadOnlySpan<float32>) =
        if finished then invalidOp "the signals file is finished"
        if record.Length <> recordLength then
            invalidArg "record" (sprintf "a record of %d values, expected %d x %d" record.Length samples leads)
        stream.Write(MemoryMarshal.AsBytes record)
        count <- count + 1

    /// Writes the header with the final shape, flushes the file to disk and closes it. Returns TempPath.
    member _.Finish() : string =
        if not finished then
            finished <- true
            stream.Position <- 0L
            stream.Write(NpyFormat.HeaderBytes("<f4", shapeOf count, headerLength))
            stream.Flush(true)
            stream.Dispose()
        temp

    interface IDisposable with
        member _.Dispose() =
            stream.Dispose()
            try File.Delete temp with _ -> ()
