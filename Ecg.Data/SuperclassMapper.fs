namespace Ecg.Data

open System
open System.Collections.Generic

/// The PTB-XL benchmark's diagnostic superclass labels: a code of a record's scp_codes counts when
/// scp_statements marks it diagnostic, whatever its likelihood; it maps to its diagnostic_class.
/// Classes are sorted alphabetically (CD, HYP, MI, NORM, STTC on the official file).
type SuperclassMapper(statements: ScpStatement[]) =
    let classOf = Dictionary<string, string>(StringComparer.Ordinal)
    do
        for s in statements do
            if s.Diagnostic && not (String.IsNullOrWhiteSpace s.DiagnosticClass) then classOf.[s.Code] <- s.DiagnosticClass
    let classNames = classOf.Values |> Seq.distinct |> Seq.sortWith (fun a b -> String.CompareOrdinal(a, b)) |> Seq.toArray
    let classIndex = Dictionary<string, int>(StringComparer.Ordinal)
    do classNames |> Array.iteri (fun i c -> classIndex.[c] <- i)

    /// The superclasses, sorted.
    member _.ClassNames = Array.copy classNames

    /// The record's superclasses, sorted; empty when it has none (the benchmark drops such records).
    member _.Superclasses(codes: ScpCodeLikelihood[]) : string[] =
        codes
        |> Array.choose (fun c -> match classOf.TryGetValue c.Code with | true, k -> Some k | _ -> None)
        |> Array.distinct
        |> Array.sortWith (fun a b -> String.CompareOrdinal(a, b))

    member m.Superclasses(record: PtbXlRecord) = m.Superclasses record.ScpCodes

    /// Writes the multi-hot label (ClassNames order) into destination; returns false when no class applies.
    member _.Encode(codes: ScpCodeLikelihood[], destination: Span<byte>) : bool =
        destination.Slice(0, classNames.Length).Clear()
        let mutable any = false
        for c in codes do
            match classOf.TryGetValue c.Code with
            | true, k ->
                destination.[classIndex.[k]] <- 1uy
                any <- true
            | _ -> ()
        any

    member m.Encode(record: PtbXlRecord, destination: Span<byte>) : bool = m.Encode(record.ScpCodes, destination)

    /// The mapper for a loaded database's statements.
    static member FromDatabase(database: PtbXlDatabase) = SuperclassMapper(database.Statements)
