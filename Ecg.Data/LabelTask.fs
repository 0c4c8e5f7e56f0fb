namespace Ecg.Data

open System
open System.Collections.Generic
open System.IO
open System.Runtime.InteropServices

/// The statement tasks of the PTB-XL benchmark (helme/ecg_ptbxl_benchmarking, code/utils/utils.py):
/// compute_label_aggregations gives each record a label set, select_data keeps the labels found in more than
/// min_samples records (0 in the benchmark's experiments) and the records left with at least one label.
/// Every code of a record's scp_codes dict counts, whatever its likelihood. On PTB-XL 1.0.3 (21,799 records)
/// the tasks have 71 (all), 44 (diagnostic), 23 (subdiagnostic), 5 (superdiagnostic), 19 (form) and 12 (rhythm) classes.
[<RequireQualifiedAccess>]
type LabelTask =
    /// diagnostic_class of the codes whose scp_statements row has diagnostic = 1: CD, HYP, MI, NORM, STTC.
    | Superdiagnostic
    /// diagnostic_subclass of the diagnostic codes (e.g. AMI, IMI, LVH, _AVB).
    | Subdiagnostic
    /// The diagnostic codes themselves.
    | Diagnostic
    /// The codes whose row has form = 1.
    | Form
    /// The codes whose row has rhythm = 1.
    | Rhythm
    /// Every code of the dict.
    | All

    /// The benchmark's name of the task (its `ctype`).
    member t.Name =
        match t with
        | LabelTask.Superdiagnostic -> "superdiagnostic"
        | LabelTask.Subdiagnostic -> "subdiagnostic"
        | LabelTask.Diagnostic -> "diagnostic"
        | LabelTask.Form -> "form"
        | LabelTask.Rhythm -> "rhythm"
        | LabelTask.All -> "all"

    override t.ToString() = t.Name

    /// Superdiagnostic: the five superclasses the project started with.
    static member Default = LabelTask.Superdiagnostic

    /// The six tasks in the benchmark's order (exp0 all, exp1 diagnostic, exp1.1 subdiagnostic,
    /// exp1.1.1 superdiagnostic, exp2 form, exp3 rhythm).
    static member Values =
        [| LabelTask.All; LabelTask.Diagnostic; LabelTask.Subdiagnostic; LabelTask.Superdiagnostic; LabelTask.Form; LabelTask.Rhythm |]

    /// The accepted names, for help texts: "all, diagnostic, subdiagnostic, superdiagnostic, form, rhythm".
    static member Names = String.Join(", ", LabelTask.Values |> Array.map (fun t -> t.Name))

    /// A task by its name, case-insensitive; blank gives Default.
    static member TryParse(name: string, [<Out>] task: byref<LabelTask>) : bool =
        let key = if isNull name then "" else name.Trim().ToLowerInvariant()
        if key = "" then
            task <- LabelTask.Default
            true
        else
            match LabelTask.Values |> Array.tryFind (fun t -> t.Name = key) with
            | Some t ->
                task <- t
                true
            | None -> false

    /// A task by its name (case-insensitive; blank gives Default); an unknown name raises ArgumentException listing the accepted ones.
    static member Parse(name: string) : LabelTask =
        match LabelTask.TryParse name with
        | true, t -> t
        | _ -> invalidArg "name" (sprintf "Unknown task '%s': use one of %s." name LabelTask.Names)

/// Every record's scp_codes dict, stored compressed-row style, and the scp_statements columns the tasks read,
/// so that any task's labels come from a processed dataset alone. Record i's codes are
/// CodeIndex.[Offsets.[i] .. Offsets.[i+1] - 1] (indices into CodeNames, in the dict's order) with their
/// likelihoods at the same positions of Likelihood. The statement table is every row of scp_statements.csv
/// in file order; DiagnosticClass and DiagnosticSubclass are "" where the CSV cell is blank.
/// Arrays are shared, not copied: do not change them.
[<Sealed; AllowNullLiteral>]
type ScpAnnotations
    (codeNames: string[], isDiagnostic: bool[], isForm: bool[], isRhythm: bool[], diagnosticClass: string[],
     diagnosticSubclass: string[], offsets: int[], codeIndex: int[], likelihood: float32[]) =

    static let problem (codeNames: string[]) (isDiagnostic: bool[]) (isForm: bool[]) (isRhythm: bool[]) (diagnosticClass: string[])
                       (diagnosticSubclass: string[]) (offsets: int[]) (codeIndex: int[]) (likelihood: float32[]) : (string * string) option =
        let arrays : (string * obj) list =
            [ "scp_code_names", box codeNames; "scp_code_diagnostic", box isDiagnostic; "scp_code_form", box isForm
              "scp_code_rhythm", box isRhythm; "scp_code_diagnostic_class", box diagnosticClass
              "scp_code_diagnostic_subclass", box diagnosticSubclass; "scp_offsets", box offsets
              "scp_code_index", box codeIndex; "scp_likelihood", box likelihood ]
        let missing = arrays |> List.tryFind (fun (_, a) -> isNull a)
        if missing.IsSome then Some(fst missing.Value, "is null") else
        let k = codeNames.Length
        let duplicate = codeNames |> Array.countBy id |> Array.tryFind (fun (_, c) -> c > 1)
        let wrongLength =
            [ "scp_code_diagnostic", isDiagnostic.Length; "scp_code_form", isForm.Length; "scp_code_rhythm", isRhythm.Length
              "scp_code_diagnostic_class", diagnosticClass.Length; "scp_code_diagnostic_subclass", diagnosticSubclass.Length ]
            |> List.tryFind (fun (_, n) -> n <> k)
        if duplicate.IsSome then Some("scp_code_names", sprintf "names code '%s' twice" (fst duplicate.Value))
        elif wrongLength.IsSome then
            let name, n = wrongLength.Value
            Some(name, sprintf "has %d values, expected %d (scp_code_names has that many)" n k)
        elif offsets.Length = 0 then Some("scp_offsets", "is empty, expected one more value than records")
        elif offsets.[0] <> 0 then Some("scp_offsets", sprintf "starts at %d, expected 0" offsets.[0])
        elif offsets.[offsets.Length - 1] <> codeIndex.Length then
            Some("scp_offsets", sprintf "ends at %d, expected %d (scp_code_index has that many values)" offsets.[offsets.Length - 1] codeIndex.Length)
        elif likelihood.Length <> codeIndex.Length then
            Some("scp_likelihood", sprintf "has %d values, expected %d (scp_code_index has that many)" likelihood.Length codeIndex.Length)
        else
            match Seq.init (offsets.Length - 1) id |> Seq.tryFind (fun i -> offsets.[i + 1] < offsets.[i]) with
            | Some i -> Some("scp_offsets", sprintf "decreases at record %d (%d after %d)" i offsets.[i + 1] offsets.[i])
            | None ->
                match codeIndex |> Array.tryFindIndex (fun c -> c < 0 || c >= k) with
                | Some j -> Some("scp_code_index", sprintf "value %d at position %d is not an index into the %d scp_code_names" codeIndex.[j] j k)
                | None -> None

    do
        match problem codeNames isDiagnostic isForm isRhythm diagnosticClass diagnosticSubclass offsets codeIndex likelihood with
        | Some(name, message) -> invalidArg name (sprintf "%s %s" name message)
        | None -> ()

    /// Why the arrays do not make a valid table, as (array name, message), or None. ProcessedDatasetFile
    /// uses it to name the file's array at fault.
    static member internal Problem(codeNames, isDiagnostic, isForm, isRhythm, diagnosticClass, diagnosticSubclass, offsets, codeIndex, likelihood) =
        problem codeNames isDiagnostic isForm isRhythm diagnosticClass diagnosticSubclass offsets codeIndex likelihood

    /// The SCP codes of scp_statements.csv, in file order.
    member _.CodeNames = codeNames
    /// Per code: the row's diagnostic flag.
    member _.IsDiagnostic = isDiagnostic
    /// Per code: the row's form flag.
    member _.IsForm = isForm
    /// Per code: the row's rhythm flag.
    member _.IsRhythm = isRhythm
    /// Per code: diagnostic_class ("" when blank).
    member _.DiagnosticClass = diagnosticClass
    /// Per code: diagnostic_subclass ("" when blank).
    member _.DiagnosticSubclass = diagnosticSubclass
    /// RecordCount + 1 positions into CodeIndex and Likelihood.
    member _.Offsets = offsets
    /// Every record's codes one after another, as indices into CodeNames.
    member _.CodeIndex = codeIndex
    /// The likelihood (0-100) of each entry of CodeIndex.
    member _.Likelihood = likelihood
    member _.RecordCount = offsets.Length - 1

    /// One record's dict, in its order.
    member _.Codes(record: int) : ScpCodeLikelihood[] =
        if uint record >= uint (offsets.Length - 1) then
            raise (ArgumentOutOfRangeException("record", sprintf "record %d of %d" record (offsets.Length - 1)))
        [| for j in offsets.[record] .. offsets.[record + 1] - 1 -> { Code = codeNames.[codeIndex.[j]]; Likelihood = float likelihood.[j] } |]

    /// The records at the given indices, in that order (the statement table is shared).
    member s.Subset(indices: int[]) : ScpAnnotations =
        let newOffsets = Array.zeroCreate<int> (indices.Length + 1)
        for k in 0 .. indices.Length - 1 do
            let i = indices.[k]
            if uint i >= uint s.RecordCount then raise (ArgumentOutOfRangeException("indices", sprintf "record %d of %d" i s.RecordCount))
            newOffsets.[k + 1] <- newOffsets.[k] + (offsets.[i + 1] - offsets.[i])
        let newIndex = Array.zeroCreate<int> newOffsets.[indices.Length]
        let newLikelihood = Array.zeroCreate<float32> newIndex.Length
        indices |> Array.iteri (fun k i ->
            let n = offsets.[i + 1] - offsets.[i]
            Array.blit codeIndex offsets.[i] newIndex newOffsets.[k] n
            Array.blit likelihood offsets.[i] newLikelihood newOffsets.[k] n)
        ScpAnnotations(codeNames, isDiagnostic, isForm, isRhythm, diagnosticClass, diagnosticSubclass, newOffsets, newIndex, newLikelihood)

    /// The records' dicts over the statements of scp_statements.csv. A code that is not a statement raises
    /// InvalidDataException naming the record and column (PtbXlDatabase.Load already leaves such rows out).
    static member FromRecords(statements: ScpStatement[], records: PtbXlRecord[]) : ScpAnnotations =
        let indexOf = Dictionary<string, int>(StringComparer.Ordinal)
        statements |> Array.iteri (fun i s -> indexOf.[s.Code] <- i)
        let offsets = Array.zeroCreate<int> (records.Length + 1)
        let codes = ResizeArray<int>()
        let likelihoods = ResizeArray<float32>()
        records |> Array.iteri (fun r record ->
            for c in record.ScpCodes do
                match indexOf.TryGetValue c.Code with
                | true, i ->
                    codes.Add i
                    likelihoods.Add(float32 c.Likelihood)
                | _ ->
                    raise (InvalidDataException(sprintf "%s, ecg_id %d, column scp_codes: code '%s' is not in %s"
                                                    PtbXlDatabase.DatabaseFileName record.EcgId c.Code PtbXlDatabase.StatementsFileName))
            offsets.[r + 1] <- codes.Count)
        ScpAnnotations(statements |> Array.map (fun s -> s.Code), statements |> Array.map (fun s -> s.Diagnostic),
                       statements |> Array.map (fun s -> s.Form), statements |> Array.map (fun s -> s.Rhythm),
                       statements |> Array.map (fun s -> s.DiagnosticClass), statements |> Array.map (fun s -> s.DiagnosticSubclass),
                       offsets, codes.ToArray(), likelihoods.ToArray())

/// One task's labels over a dataset's records, as the benchmark's select_data returns them.
[<CLIMutable>]
type TaskLabels =
    { Task: LabelTask
      /// The labels kept, in ordinal (Python sorted) order, as MultiLabelBinarizer orders its classes.
      ClassNames: string[]
      /// The dataset's records left with at least one label, in dataset order.
      Records: int[]
      /// Records.Length x ClassNames.Length multi-hot, row-major.
      Labels: byte[]
      /// A label is kept when more than MinSamples records have it (not applied to Diagnostic, as in the benchmark).
      MinSamples: int }

/// The benchmark's label rules (compute_label_aggregations, select_data) over ScpAnnotations.
[<AbstractClass; Sealed>]
type TaskLabeling private () =

    static let ordinal = StringComparer.Ordinal

    /// One record's label set for a task, before the min-count rule: distinct, in ordinal order.
    static member LabelSet(scp: ScpAnnotations, task: LabelTask, record: int) : string[] =
        if isNull scp then nullArg "scp"
        if uint record >= uint scp.RecordCount then raise (ArgumentOutOfRangeException("record", sprintf "record %d of %d" record scp.RecordCount))
        let set = SortedSet<string>(ordinal)
        for j in scp.Offsets.[record] .. scp.Offsets.[record + 1] - 1 do
            let c = scp.CodeIndex.[j]
            // As aggregate_*: a diagnostic code without a class (sub)class adds nothing (str(c) == 'nan').
            match task with
            | LabelTask.All -> set.Add scp.CodeNames.[c] |> ignore
            | LabelTask.Diagnostic -> if scp.IsDiagnostic.[c] then set.Add scp.CodeNames.[c] |> ignore
            | LabelTask.Subdiagnostic -> if scp.IsDiagnostic.[c] && scp.DiagnosticSubclass.[c] <> "" then set.Add scp.DiagnosticSubclass.[c] |> ignore
            | LabelTask.Superdiagnostic -> if scp.IsDiagnostic.[c] && scp.DiagnosticClass.[c] <> "" then set.Add scp.DiagnosticClass.[c] |> ignore
            | LabelTask.Form -> if scp.IsForm.[c] then set.Add scp.CodeNames.[c] |> ignore
            | LabelTask.Rhythm -> if scp.IsRhythm.[c] then set.Add scp.CodeNames.[c] |> ignore
        Seq.toArray set

    /// Every record's label set for a task (compute_label_aggregations).
    static member LabelSets(scp: ScpAnnotations, task: LabelTask) : string[][] =
        if isNull scp then nullArg "scp"
        Array.init scp.RecordCount (fun r -> TaskLabeling.LabelSet(scp, task, r))

    /// The label sets of a multi-hot matrix (records x classNames), e.g. a file's stored superclass labels.
    static member LabelSetsOf(labels: byte[], classNames: string[]) : string[][] =
        let classes = classNames.Length
        if classes = 0 then [||]
        else
            if labels.Length % classes <> 0 then invalidArg "labels" (sprintf "%d labels are not rows of %d classes" labels.Length classes)
            Array.init (labels.Length / classes) (fun r ->
                [| for c in 0 .. classes - 1 do if labels.[r * classes + c] <> 0uy then yield classNames.[c] |]
                |> Array.sortWith (fun a b -> String.CompareOrdinal(a, b)))

    /// select_data: labels of more than minSamples records are kept (every label for Diagnostic, which the
    /// benchmark does not filter), each record keeps its kept labels, records left without one are dropped,
    /// classes are the kept labels in ordinal order.
    static member Select(task: LabelTask, labelSets: string[][], minSamples: int) : TaskLabels =
        if isNull labelSets then nullArg "labelSets"
        if minSamples < 0 then invalidArg "minSamples" (sprintf "minSamples must be 0 or more, not %d" minSamples)
        let counts = Dictionary<string, int>(ordinal)
        for set in labelSets do
            for label in Seq.distinct set do
                counts.[label] <- (match counts.TryGetValue label with | true, n -> n + 1 | _ -> 1)
        let keep (label: string) = task = LabelTask.Diagnostic || counts.[label] > minSamples
        let classNames = counts.Keys |> Seq.filter keep |> Seq.sortWith (fun a b -> String.CompareOrdinal(a, b)) |> Seq.toArray
        let column = Dictionary<string, int>(ordinal)
        classNames |> Array.iteri (fun i c -> column.[c] <- i)
        let records = ResizeArray<int>()
        let labels = ResizeArray<byte>()
        let row = Array.zeroCreate<byte> classNames.Length
        labelSets |> Array.iteri (fun r set ->
            Array.Clear row
            let mutable any = false
            for label in set do
                match column.TryGetValue label with
                | true, c ->
                    row.[c] <- 1uy
                    any <- true
                | _ -> ()
            if any then
                records.Add r
                labels.AddRange row)
        { Task = task; ClassNames = classNames; Records = records.ToArray(); Labels = labels.ToArray(); MinSamples = minSamples }

    /// A task's labels from the codes: LabelSets then Select.
    static member Compute(scp: ScpAnnotations, task: LabelTask, minSamples: int) : TaskLabels =
        TaskLabeling.Select(task, TaskLabeling.LabelSets(scp, task), minSamples)
