namespace Ecg.Data

open System
open System.IO
open System.Runtime.InteropServices

/// A WFDB record read into memory: Signal is (Samples, Leads) row-major in physical units (mV for PTB-XL),
/// as wfdb's rdsamp returns it.
[<CLIMutable>]
type WfdbRecord =
    { Header: WfdbHeader
      Samples: int
      Leads: int
      Signal: float32[] }
    member r.LeadNames = r.Header.LeadNames
    /// The value of one lead at one sample.
    member r.At(sample: int, lead: int) = r.Signal.[sample * r.Leads + lead]

/// Reads WFDB records (formats 16, 212 and 80) and checks them: file size against the header,
/// each lead's first sample against the header's initial value and each lead's 16-bit checksum.
/// Keeps one growing byte buffer, so reading many records allocates almost nothing besides the
/// parsed header; not thread-safe (use one reader per thread).
type WfdbRecordReader() =
    let mutable bytes: byte[] = Array.zeroCreate (64 * 1024)
    let mutable decoded: int[] = Array.zeroCreate 0
    let mutable sums: int64[] = Array.zeroCreate 16
    let mutable tables: float32[][] = Array.zeroCreate 16
    let tableCache = Collections.Generic.Dictionary<struct (int * int * float), float32[]>()

    static let headerPathOf (recordPath: string) =
        if recordPath.EndsWith(".hea", StringComparison.OrdinalIgnoreCase) then recordPath else recordPath + ".hea"

    /// Bytes that `count` samples take in the given format.
    static member BytesFor(format: int, count: int64) : int64 =
        match format with
        | 16 -> 2L * count
        | 80 -> count
        | 212 -> (3L * count + 1L) / 2L
        | _ -> invalidArg "format" (sprintf "WFDB format %d is not supported (16, 212 and 80 are)" format)

    /// The ADC value WFDB uses for "no sample" in a format (read as NaN).
    static member InvalidSampleValue(format: int) =
        match format with
        | 16 -> -32768
        | 212 -> -2048
        | 80 -> -128
        | _ -> Int32.MinValue

    /// Index of ADC value 0 in a conversion table: tables cover every value the format can store.
    static member private TableBias(format: int) =
        match format with
        | 16 -> 32768
        | 212 -> 2048
        | _ -> 128

    /// physical value by (adu + bias), NaN at the format's "no sample" value; cached per reader.
    member private _.TableFor(format: int, baseline: int, gain: float) : float32[] =
        let key = struct (format, baseline, gain)
        match tableCache.TryGetValue key with
        | true, t -> t
        | _ ->
            let bias = WfdbRecordReader.TableBias format
            let invalid = WfdbRecordReader.InvalidSampleValue format
            let t = Array.init (2 * bias) (fun i -> let v = i - bias in if v = invalid then Single.NaN else float32 (float (v - baseline) / gain))
            if tableCache.Count > 64 then tableCache.Clear()
            tableCache.[key] <- t
            t

    /// Parses the record's `.hea` file (the path may be given with or without the extension).
    member _.ReadHeader(recordPath: string) : WfdbHeader =
        let path = headerPathOf recordPath
        if not (File.Exists path) then
            raise (WfdbException(sprintf "%s, record %s: header file not found (%s)" (Path.GetFileName path) (Path.GetFileNameWithoutExtension path) path,
                                 Path.GetFileName path, Path.GetFileNameWithoutExtension path, "", "file"))
        // Read through the reusable buffer: File.ReadAllText's stream and decoder cost more than the parse.
        use handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read)
        let length = int (RandomAccess.GetLength handle)
        if bytes.Length < length then bytes <- Array.zeroCreate (max length (bytes.Length * 2))
        let mutable got = 0
        let mutable r = 1
        while got < length && r > 0 do
            r <- RandomAccess.Read(handle, Span<byte>(bytes, got, length - got), int64 got)
            got <- got + r
        WfdbHeaderParser.Parse(Text.Encoding.UTF8.GetString(bytes, 0, got), Path.GetFileName path)

    /// Reads the record's signal file (found beside the header at `recordPath`) into `destination`,
    /// (Samples, Leads) row-major, physical units: (adu - baseline) / gain. Returns the samples per lead.
    member this.ReadSignal(header: WfdbHeader, recordPath: string, destination: Span<float32>) : int =
        let record = header.RecordName
        let nsig = header.SignalCount
        if nsig = 0 then 0 else
        let first = header.Signals.[0]
        for s in header.Signals do
            if s.FileName <> first.FileName || s.Format <> first.Format || s.ByteOffset <> first.ByteOffset then
                WfdbException.Raise(s.FileName, record, s.Description, "file", "signals stored in several files or formats are not supported")
        let file = first.FileName
        let format = first.Format
        if format <> 16 && format <> 212 && format <> 80 then
            WfdbException.Raise(file, record, first.Description, "format", sprintf "WFDB format %d is not supported (16, 212 and 80 are)" format)
        let datPath = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(headerPathOf recordPath)), file)
        let handle =
            try File.OpenHandle(datPath, FileMode.Open, FileAccess.Read, FileShare.Read)
            with :? FileNotFoundException | :? DirectoryNotFoundException ->
                WfdbException.Raise(file, record, "", "file", sprintf "signal file not found (%s)" datPath)
        use handle = handle
        let length = RandomAccess.GetLength handle
        let offset = int64 first.ByteOffset
        let nsamp =
            if header.SampleCount > 0 then header.SampleCount
            else
                // No sample count in the header: as many whole frames as the file holds.
                let count = match format with 16 -> (length - offset) / 2L | 80 -> length - offset | _ -> (length - offset) * 2L / 3L
                int (count / int64 nsig)
        let n = nsamp * nsig
        let expected = offset + WfdbRecordReader.BytesFor(format, int64 n)
        if length <> expected then
            WfdbException.Raise(file, record, "", "file size",
                sprintf "file has %d bytes, header's %d samples x %d leads in format %d need %d" length nsamp nsig format expected)
        if destination.Length < n then
            invalidArg "destination" (sprintf "destination holds %d values, record %s needs %d" destination.Length record n)
        let dataBytes = int (expected - offset)
        if bytes.Length < dataBytes then bytes <- Array.zeroCreate (max dataBytes (bytes.Length * 2))
        let mutable got = 0
        while got < dataBytes do
            let r = RandomAccess.Read(handle, Span<byte>(bytes, got, dataBytes - got), offset + int64 got)
            if r = 0 then WfdbException.Raise(file, record, "", "file size", sprintf "file ended after %d of %d bytes" got dataBytes)
            got <- got + r
        if sums.Length < nsig then
            sums <- Array.zeroCreate nsig
        for l in 0 .. nsig - 1 do sums.[l] <- 0L
        // Conversion goes through a lookup table per (format, baseline, gain): exactly
        // float32((adu - baseline) / gain) as wfdb computes it, without a division per sample.
        let bias = WfdbRecordReader.TableBias format
        if tables.Length < nsig then tables <- Array.zeroCreate nsig
        for l in 0 .. nsig - 1 do tables.[l] <- this.TableFor(format, header.Signals.[l].Baseline, header.Signals.[l].Gain)
        if format = 16 then
            if not BitConverter.IsLittleEndian then raise (PlatformNotSupportedException "WFDB format 16 reading assumes a little-endian machine")
            let adu = MemoryMarshal.Cast<byte, int16>(ReadOnlySpan<byte>(bytes, 0, dataBytes))
            // Initial values first, so a wrong header is reported as such rather than as a checksum error.
            if nsamp > 0 then
                for l in 0 .. nsig - 1 do
                    if int adu.[l] <> header.Signals.[l].InitialValue then
                        WfdbException.Raise(file, record, header.Signals.[l].Description, "initial value",
                            sprintf "initial value %d in header, %d in signal" header.Signals.[l].InitialValue adu.[l])
            let mutable k = 0
            for _ in 0 .. nsamp - 1 do
                for l in 0 .. nsig - 1 do
                    let v = int adu.[k]
                    sums.[l] <- sums.[l] + int64 v
                    destination.[k] <- tables.[l].[v + bias]
                    k <- k + 1
        else
            if decoded.Length < n then decoded <- Array.zeroCreate n
            if format = 80 then
                // Offset binary: stored byte b is sample b - 128.
                for k in 0 .. n - 1 do decoded.[k] <- int bytes.[k] - 128
            else
                // Format 212: two 12-bit two's-complement samples in three bytes; the middle byte holds
                // the high nibbles (low nibble: first sample, high nibble: second sample).
                let mutable k = 0
                let mutable p = 0
                while k < n do
                    let b1 = int bytes.[p + 1]
                    let s0 = int bytes.[p] ||| ((b1 &&& 0x0F) <<< 8)
                    decoded.[k] <- if s0 >= 2048 then s0 - 4096 else s0
                    k <- k + 1
                    if k < n then
                        let s1 = int bytes.[p + 2] ||| ((b1 &&& 0xF0) <<< 4)
                        decoded.[k] <- if s1 >= 2048 then s1 - 4096 else s1
                        k <- k + 1
                    p <- p + 3
            if nsamp > 0 then
                for l in 0 .. nsig - 1 do
                    if decoded.[l] <> header.Signals.[l].InitialValue then
                        WfdbException.Raise(file, record, header.Signals.[l].Description, "initial value",
                            sprintf "initial value %d in header, %d in signal" header.Signals.[l].InitialValue decoded.[l])
            let mutable k = 0
            for _ in 0 .. nsamp - 1 do
                for l in 0 .. nsig - 1 do
                    let v = decoded.[k]
                    sums.[l] <- sums.[l] + int64 v
                    destination.[k] <- tables.[l].[v + bias]
                    k <- k + 1
        for l in 0 .. nsig - 1 do
            let spec = header.Signals.[l]
            // Headers write the 16-bit sum signed or unsigned; compare modulo 2^16 and show it the header's way.
            if (sums.[l] - int64 spec.Checksum) % 65536L <> 0L then
                let actual = if spec.Checksum > 32767 then int (sums.[l] &&& 0xFFFFL) else int (int16 (uint16 (sums.[l] &&& 0xFFFFL)))
                WfdbException.Raise(file, record, spec.Description, "checksum", sprintf "checksum %d in header, %d in signal" spec.Checksum actual)
        nsamp

    /// Reads header and signal into `destination`; returns the header. The caller sizes destination
    /// from the header (SampleCount * SignalCount) or knows it (e.g. a slice of a dataset's Signals array).
    member this.Read(recordPath: string, destination: Span<float32>) : WfdbHeader =
        let header = this.ReadHeader recordPath
        this.ReadSignal(header, recordPath, destination) |> ignore
        header

    /// Reads a record into a new array.
    member this.Read(recordPath: string) : WfdbRecord =
        let header = this.ReadHeader recordPath
        let nsamp =
            if header.SampleCount > 0 || header.SignalCount = 0 then header.SampleCount
            else
                // Unknown length: size the array from the file.
                let s = header.Signals.[0]
                let dat = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(headerPathOf recordPath)), s.FileName)
                let len = if File.Exists dat then FileInfo(dat).Length - int64 s.ByteOffset else 0L
                let count = match s.Format with 16 -> len / 2L | 80 -> len | _ -> len * 2L / 3L
                int (count / int64 header.SignalCount)
        let signal = Array.zeroCreate<float32> (nsamp * header.SignalCount)
        let samples = this.ReadSignal(header, recordPath, Span<float32>(signal))
        { Header = header; Samples = samples; Leads = header.SignalCount; Signal = signal }
