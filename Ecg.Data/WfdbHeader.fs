namespace Ecg.Data

open System
open System.Globalization
open System.IO

/// A WFDB record could not be read. Message names file, record, lead and field where known.
type WfdbException(message: string, file: string, record: string, lead: string, field: string) =
    inherit Exception(message)
    /// The file (name only) that is wrong.
    member _.File = file
    member _.Record = record
    /// The lead concerned, or "" for record-level problems.
    member _.Lead = lead
    /// The header field or check that failed (e.g. "checksum", "initial value", "file size").
    member _.Field = field

    static member internal Raise(file: string, record: string, lead: string, field: string, detail: string) : 'T =
        let where = if String.IsNullOrEmpty lead then sprintf "%s, record %s" file record else sprintf "%s, record %s, lead %s" file record lead
        raise (WfdbException(sprintf "%s: %s" where detail, file, record, lead, field))

/// One signal line of a WFDB header, e.g. `00001_lr.dat 16 1000.0(0)/mV 16 0 -119 1508 0 I`.
[<CLIMutable>]
type WfdbSignalSpec =
    { FileName: string
      /// Storage format: 16, 212 or 80 are supported.
      Format: int
      /// Byte offset of the first sample in the file (the `+offset` suffix of the format field; usually 0).
      ByteOffset: int
      /// ADC units per physical unit (WFDB default 200 when absent or 0).
      Gain: float
      /// ADC value of 0 physical units; equals AdcZero when the header gives none (as wfdb does).
      Baseline: int
      Units: string
      AdcResolution: int
      AdcZero: int
      /// The first sample's ADC value.
      InitialValue: int
      /// 16-bit sum of all samples as the header writes it (signed or unsigned).
      Checksum: int
      BlockSize: int
      /// The lead name (signal description).
      Description: string }

/// A parsed WFDB `.hea` header (single-segment records).
[<CLIMutable>]
type WfdbHeader =
    { RecordName: string
      SignalCount: int
      SamplingFrequency: float
      /// Samples per signal; 0 when the header does not say (then derived from the file size).
      SampleCount: int
      Signals: WfdbSignalSpec[] }
    member h.LeadNames = h.Signals |> Array.map (fun s -> s.Description)

/// Parses WFDB header text (https://physionet.org/physiotools/wag/header-5.htm).
[<AbstractClass; Sealed>]
type WfdbHeaderParser private () =

    static member private Int(text: string, file, record, lead, field) =
        match Int32.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture) with
        | true, v -> v
        | _ -> WfdbException.Raise(file, record, lead, field, sprintf "%s '%s' is not an integer" field text)

    static member private Float(text: string, file, record, lead, field) =
        match Double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture) with
        | true, v -> v
        | _ -> WfdbException.Raise(file, record, lead, field, sprintf "%s '%s' is not a number" field text)

    static member private ParseSignal(line: string, file: string, record: string, index: int) : WfdbSignalSpec =
        let parts = line.Split([| ' '; '\t' |], StringSplitOptions.RemoveEmptyEntries)
        let lead0 = "#" + string (index + 1)
        if parts.Length < 2 then WfdbException.Raise(file, record, lead0, "format", "signal line has no format field")
        // The description (lead name) is the rest of the line after field 9 and may hold spaces.
        let lead = if parts.Length >= 9 then String.Join(" ", parts, 8, parts.Length - 8) else lead0
        // Format field: format[xsamples][:skew][+offset]
        let fmtField = parts.[1]
        let plus = fmtField.IndexOf '+'
        let offset = if plus >= 0 then WfdbHeaderParser.Int(fmtField.Substring(plus + 1), file, record, lead, "byte offset") else 0
        let fmtNoOffset = if plus >= 0 then fmtField.Substring(0, plus) else fmtField
        let colon = fmtNoOffset.IndexOf ':'
        if colon >= 0 && WfdbHeaderParser.Int(fmtNoOffset.Substring(colon + 1), file, record, lead, "skew") <> 0 then
            WfdbException.Raise(file, record, lead, "skew", "skewed signals are not supported")
        let fmtNoSkew = if colon >= 0 then fmtNoOffset.Substring(0, colon) else fmtNoOffset
        let x = fmtNoSkew.IndexOf 'x'
        if x >= 0 && WfdbHeaderParser.Int(fmtNoSkew.Substring(x + 1), file, record, lead, "samples per frame") > 1 then
            WfdbException.Raise(file, record, lead, "samples per frame", "multi-frequency records (samples per frame > 1) are not supported")
        let format = WfdbHeaderParser.Int((if x >= 0 then fmtNoSkew.Substring(0, x) else fmtNoSkew), file, record, lead, "format")
        let opt i = if parts.Length > i then Some parts.[i] else None
        // Gain field: gain[(baseline)][/units]
        let gain, baselineText, units =
            match opt 2 with
            | None -> 0.0, None, "mV"
            | Some g ->
                let slash = g.IndexOf '/'
                let units = if slash >= 0 then g.Substring(slash + 1) else "mV"
                let g = if slash >= 0 then g.Substring(0, slash) else g
                let paren = g.IndexOf '('
                if paren >= 0 then
                    if not (g.EndsWith ")") then WfdbException.Raise(file, record, lead, "baseline", sprintf "gain field '%s' has an unclosed '('" parts.[2])
                    WfdbHeaderParser.Float(g.Substring(0, paren), file, record, lead, "gain"), Some(g.Substring(paren + 1, g.Length - paren - 2)), units
                else WfdbHeaderParser.Float(g, file, record, lead, "gain"), None, units
        let intOr i dflt field = match opt i with Some t -> WfdbHeaderParser.Int(t, file, record, lead, field) | None -> dflt
        let adcRes = intOr 3 0 "ADC resolution"
        let adcZero = intOr 4 0 "ADC zero"
        let baseline = match baselineText with Some t -> WfdbHeaderParser.Int(t, file, record, lead, "baseline") | None -> adcZero
        if Double.IsNaN gain || gain < 0.0 then WfdbException.Raise(file, record, lead, "gain", sprintf "gain %g is negative" gain)
        { FileName = parts.[0]; Format = format; ByteOffset = offset
          Gain = (if gain = 0.0 then 200.0 else gain); Baseline = baseline; Units = units
          AdcResolution = adcRes; AdcZero = adcZero
          InitialValue = intOr 5 0 "initial value"; Checksum = intOr 6 0 "checksum"; BlockSize = intOr 7 0 "block size"
          Description = lead }

    /// Parses header text; `fileName` is used in error messages.
    static member Parse(text: string, fileName: string) : WfdbHeader =
        let lines =
            text.Split('\n')
            |> Array.map (fun l -> l.TrimEnd('\r'))
            |> Array.filter (fun l -> l.Trim().Length > 0 && not (l.TrimStart().StartsWith "#"))
        let recordGuess = Path.GetFileNameWithoutExtension fileName
        if lines.Length = 0 then WfdbException.Raise(fileName, recordGuess, "", "record line", "header is empty")
        let rec0 = lines.[0].Split([| ' '; '\t' |], StringSplitOptions.RemoveEmptyEntries)
        let name = rec0.[0]
        if name.Contains "/" then WfdbException.Raise(fileName, name, "", "segments", "multi-segment records are not supported")
        if rec0.Length < 2 then WfdbException.Raise(fileName, name, "", "number of signals", "record line has no number of signals")
        let nsig = WfdbHeaderParser.Int(rec0.[1], fileName, name, "", "number of signals")
        // fs field: freq[/counterfreq[(basecounter)]]
        let fs =
            if rec0.Length > 2 then
                let f = rec0.[2]
                let cut = f.IndexOfAny([| '/'; '(' |])
                WfdbHeaderParser.Float((if cut >= 0 then f.Substring(0, cut) else f), fileName, name, "", "sampling frequency")
            else 250.0
        let nsamp = if rec0.Length > 3 then WfdbHeaderParser.Int(rec0.[3], fileName, name, "", "number of samples") else 0
        if nsig < 0 || nsamp < 0 then WfdbException.Raise(fileName, name, "", "record line", "negative number of signals or samples")
        if lines.Length - 1 < nsig then
            WfdbException.Raise(fileName, name, "", "signal lines", sprintf "record line says %d signals, header has %d signal lines" nsig (lines.Length - 1))
        let signals = Array.init nsig (fun i -> WfdbHeaderParser.ParseSignal(lines.[i + 1], fileName, name, i))
        { RecordName = name; SignalCount = nsig; SamplingFrequency = fs; SampleCount = nsamp; Signals = signals }

    /// Reads and parses a `.hea` file.
    static member ReadFile(path: string) : WfdbHeader =
        WfdbHeaderParser.Parse(File.ReadAllText path, Path.GetFileName path)
