namespace Ecg.Data

open System
open System.Globalization
open System.IO
open System.Security.Cryptography
open System.Text

/// What WfdbWriter.Write put on disk: both files and their SHA-256 (lowercase hex, as SHA256SUMS.txt lists them).
[<CLIMutable>]
type WfdbWrittenRecord =
    { HeaderPath: string
      SignalPath: string
      HeaderSha256: string
      SignalSha256: string
      /// Bytes of both files together.
      Bytes: int64 }

/// Writes single-segment WFDB records exactly as PTB-XL stores them: a `.hea` header with LF line
/// endings and a format-16 `.dat` (little-endian int16, samples interleaved by lead), gain 1000 adu/mV,
/// baseline 0, ADC resolution 16, ADC zero 0, per-lead initial value and 16-bit checksum, block size 0.
/// Example signal line: `00001_lr.dat 16 1000.0(0)/mV 16 0 -119 1508 0 I`.
[<AbstractClass; Sealed>]
type WfdbWriter private () =

    /// PTB-XL's lead order.
    static member PtbXlLeadNames = [| "I"; "II"; "III"; "AVR"; "AVL"; "AVF"; "V1"; "V2"; "V3"; "V4"; "V5"; "V6" |]

    /// ADC units per mV in PTB-XL records.
    static member Gain = 1000.0

    /// WFDB's checksum of one lead: the sum of its samples modulo 2^16, written unsigned (0..65535) as PTB-XL's headers do.
    static member Checksum(samples: int16[], leads: int, lead: int) : int =
        if leads <= 0 || lead < 0 || lead >= leads then invalidArg "lead" (sprintf "lead %d is not among %d leads" lead leads)
        let mutable sum = 0L
        let mutable k = lead
        while k < samples.Length do
            sum <- sum + int64 samples.[k]
            k <- k + leads
        int (sum &&& 0xFFFFL)

    static member private Check(recordName: string, samplingFrequency: int, leadNames: string[], samples: int16[]) =
        if String.IsNullOrWhiteSpace recordName || recordName.IndexOfAny([| ' '; '/'; '\\'; '\t' |]) >= 0 then
            invalidArg "recordName" (sprintf "record name '%s' must be non-empty without spaces or slashes" recordName)
        if samplingFrequency <= 0 then invalidArg "samplingFrequency" (sprintf "record %s: sampling frequency %d must be positive" recordName samplingFrequency)
        if isNull leadNames || leadNames.Length = 0 then invalidArg "leadNames" (sprintf "record %s: no lead names" recordName)
        if isNull samples || samples.Length % leadNames.Length <> 0 then
            invalidArg "samples" (sprintf "record %s: %d values are not a whole number of %d-lead frames" recordName (if isNull samples then 0 else samples.Length) leadNames.Length)
        for l in leadNames do
            if String.IsNullOrWhiteSpace l || l.IndexOfAny([| '\n'; '\r' |]) >= 0 then invalidArg "leadNames" (sprintf "record %s: lead name '%s' is empty or holds a line break" recordName l)

    /// The header text; `samples` is (Samples, Leads) row-major in ADC units.
    static member FormatHeader(recordName: string, samplingFrequency: int, leadNames: string[], samples: int16[]) : string =
        WfdbWriter.Check(recordName, samplingFrequency, leadNames, samples)
        let leads = leadNames.Length
        let count = samples.Length / leads
        let b = StringBuilder(64 + 48 * leads)
        let inv = CultureInfo.InvariantCulture
        b.Append(recordName).Append(' ').Append(leads.ToString inv).Append(' ')
         .Append(samplingFrequency.ToString inv).Append(' ').Append(count.ToString inv).Append('\n') |> ignore
        for l in 0 .. leads - 1 do
            let initial = if count > 0 then int samples.[l] else 0
            b.Append(recordName).Append(".dat 16 1000.0(0)/mV 16 0 ")
             .Append(initial.ToString inv).Append(' ')
             .Append((WfdbWriter.Checksum(samples, leads, l)).ToString inv)
             .Append(" 0 ").Append(leadNames.[l]).Append('\n') |> ignore
        b.ToString()

    /// The format-16 signal bytes (little-endian int16, frame by frame).
    static member EncodeFormat16(samples: int16[]) : byte[] =
        let bytes = Array.zeroCreate<byte> (2 * samples.Length)
        for k in 0 .. samples.Length - 1 do
            let v = uint16 samples.[k]
            bytes.[2 * k] <- byte (v &&& 0xFFus)
            bytes.[2 * k + 1] <- byte (v >>> 8)
        bytes

    /// ADC units for a value in mV: round(mV * 1000), clamped to +-32767 (-32768 means "no sample" in format 16).
    static member ToAdc(millivolts: float) : int16 =
        if Double.IsNaN millivolts then -32768s
        else int16 (Math.Clamp(Math.Round(millivolts * WfdbWriter.Gain, MidpointRounding.ToEven), -32767.0, 32767.0))

    /// Writes `<directory>/<recordName>.hea` and `.dat`, the header last, so a header never names a signal
    /// file that is not complete. `samples` is (Samples, Leads) row-major in ADC units. With `atomic` each file
    /// is written durably and atomically (AtomicFile); without, it is written in place (for callers that write
    /// into a staging folder and move the whole folder, which saves a rename per file).
    static member Write(directory: string, recordName: string, samplingFrequency: int, leadNames: string[], samples: int16[], atomic: bool) : WfdbWrittenRecord =
        let header = Encoding.ASCII.GetBytes(WfdbWriter.FormatHeader(recordName, samplingFrequency, leadNames, samples))
        let signal = WfdbWriter.EncodeFormat16 samples
        Directory.CreateDirectory directory |> ignore
        let headerPath = Path.Combine(directory, recordName + ".hea")
        let signalPath = Path.Combine(directory, recordName + ".dat")
        let write (path: string) (bytes: byte[]) = if atomic then AtomicFile.WriteAllBytes(path, bytes) else File.WriteAllBytes(path, bytes)
        write signalPath signal
        write headerPath header
        { HeaderPath = headerPath; SignalPath = signalPath
          HeaderSha256 = Convert.ToHexStringLower(SHA256.HashData header)
          SignalSha256 = Convert.ToHexStringLower(SHA256.HashData signal)
          Bytes = int64 header.Length + int64 signal.Length }

    /// Writes the record atomically (see the overload).
    static member Write(directory: string, recordName: string, samplingFrequency: int, leadNames: string[], samples: int16[]) : WfdbWrittenRecord =
        WfdbWriter.Write(directory, recordName, samplingFrequency, leadNames, samples, true)
