namespace Ecg.Analysis

open System
open System.Globalization
open System.IO
open System.Numerics
open System.Text
open System.Text.Json
open Ecg.Data
open Ecg.Model.Metrics

/// scikit-learn 1.2.1 `classification_report(y_true, y_pred, labels=range(C), target_names=names)` for
/// single-label (multiclass or binary) predictions: per-class precision, recall, F1 and support, then
/// "accuracy" (when every label occurs in y_true or y_pred; otherwise sklearn prints "micro avg" instead),
/// "macro avg" and "weighted avg". Per-class counts equal one-vs-rest counts, so the scores come from
/// Ecg.Model.Metrics on one-hot rows (zero_division 0, as sklearn's default).
[<AllowNullLiteral>]
type MulticlassReport private (classes: ReportRow[], micro: ReportRow, microIsAccuracy: bool, macro: ReportRow, weighted: ReportRow,
                               confusion: int[][]) =
    /// Python's format(x, ".Nf") (0.625 -> "0.62"), as sklearn's report prints.
    static let formatFixed (value: float) (digits: int) = PythonFormat.Fixed(value, digits)

    /// Per-class rows in class order.
    member _.Classes = classes
    /// Fraction of correct predictions (sklearn's "accuracy" entry; micro-averaged precision).
    member _.Accuracy = micro.Precision
    /// The micro average; equal to accuracy when MicroIsAccuracy.
    member _.MicroAverage = micro
    /// sklearn prints "accuracy" when every label occurs in y_true or y_pred, else "micro avg".
    member _.MicroIsAccuracy = microIsAccuracy
    member _.MacroAverage = macro
    member _.WeightedAverage = weighted
    /// confusion_matrix(y_true, y_pred, labels=range(C)): rows true class, columns predicted class.
    member _.Confusion = confusion

    /// `trueClasses` and `predictedClasses` hold class indices 0 .. classNames.Length - 1.
    static member Compute(trueClasses: int[], predictedClasses: int[], classNames: string[]) =
        if isNull trueClasses then nullArg "trueClasses"
        if isNull predictedClasses then nullArg "predictedClasses"
        if trueClasses.Length <> predictedClasses.Length then
            invalidArg "predictedClasses" (sprintf "%d predictions for %d true classes" predictedClasses.Length trueClasses.Length)
        let c = classNames.Length
        let check name (values: int[]) =
            values |> Array.iteri (fun i v -> if v < 0 || v >= c then invalidArg name (sprintf "%s[%d] = %d is not a class index 0..%d" name i v (c - 1)))
        check "trueClasses" trueClasses
        check "predictedClasses" predictedClasses
        let oneHot (values: int[]) =
            let m = Array.zeroCreate<byte> (values.Length * c)
            values |> Array.iteri (fun i v -> m.[i * c + v] <- 1uy)
            m
        let y, p = oneHot trueClasses, oneHot predictedClasses
        let counts = MultilabelConfusion.PerClass(y, p, c)
        let row name (s: PrfScores) support = ReportRow(name, s.Precision, s.Recall, s.F1, support)
        let total = int64 trueClasses.Length
        let rows = counts |> Array.mapi (fun k b -> row classNames.[k] (PrecisionRecallF1.Of b) b.ActualPositives)
        let present = Collections.Generic.HashSet<int>(Seq.append trueClasses predictedClasses)
        let confusion = Array.init c (fun _ -> Array.zeroCreate<int> c)
        Array.iter2 (fun t q -> confusion.[t].[q] <- confusion.[t].[q] + 1) trueClasses predictedClasses
        MulticlassReport(rows, row "micro avg" (PrecisionRecallF1.Micro(y, p, c)) total, present.Count = c,
                         row "macro avg" (PrecisionRecallF1.Macro(y, p, c)) total, row "weighted avg" (PrecisionRecallF1.Weighted(y, p, c)) total,
                         confusion)

    /// The report as sklearn's classification_report(..., digits=digits) prints it.
    member _.ToText(digits: int) =
        let width = max (max (classes |> Array.map (fun r -> r.Name.Length) |> Array.fold max 0) "weighted avg".Length) digits
        let b = StringBuilder()
        b.Append(String(' ', width)).Append(' ') |> ignore
        for h in [ "precision"; "recall"; "f1-score"; "support" ] do b.Append(' ').Append(h.PadLeft 9) |> ignore
        b.Append("\n\n") |> ignore
        let line (name: string) (values: string list) (support: int64) =
            b.Append(name.PadLeft width).Append(' ') |> ignore
            for v in values do b.Append(' ').Append(v.PadLeft 9) |> ignore
            b.Append(' ').Append(support.ToString(CultureInfo.InvariantCulture).PadLeft 9).Append('\n') |> ignore
        let scores (r: ReportRow) = [ formatFixed r.Precision digits; formatFixed r.Recall digits; formatFixed r.F1 digits ]
        for r in classes do line r.Name (scores r) r.Support
        b.Append('\n') |> ignore
        if microIsAccuracy then line "accuracy" [ ""; ""; formatFixed micro.F1 digits ] micro.Support
        else line micro.Name (scores micro) micro.Support
        for r in [ macro; weighted ] do line r.Name (scores r) r.Support
        b.ToString()

    member r.ToText() = r.ToText 2

    /// JSON shaped like classification_report(..., output_dict=True) ("accuracy" is a number).
    member _.ToJson() =
        use stream = new MemoryStream()
        do
            use w = new Utf8JsonWriter(stream, JsonWriterOptions(Indented = true))
            w.WriteStartObject()
            let write (r: ReportRow) =
                w.WriteStartObject r.Name
                w.WriteNumber("precision", r.Precision)
                w.WriteNumber("recall", r.Recall)
                w.WriteNumber("f1-score", r.F1)
                w.WriteNumber("support", r.Support)
                w.WriteEndObject()
            for r in classes do write r
            if microIsAccuracy then w.WriteNumber("accuracy", micro.Precision) else write micro
            write macro
            write weighted
            w.WriteEndObject()
        Encoding.UTF8.GetString(stream.ToArray())

    /// CSV: name,precision,recall,f1-score,support (accuracy as a row with its value in every score column).
    member _.ToCsv() =
        let b = StringBuilder("name,precision,recall,f1-score,support\n")
        let r2 (v: float) = v.ToString("R", CultureInfo.InvariantCulture)
        for r in Array.append classes [| (if microIsAccuracy then ReportRow("accuracy", micro.Precision, micro.Recall, micro.F1, micro.Support) else micro); macro; weighted |] do
            let name = if r.Name.IndexOfAny([| ','; '"' |]) >= 0 then "\"" + r.Name.Replace("\"", "\"\"") + "\"" else r.Name
            b.Append(name).Append(',').Append(r2 r.Precision).Append(',').Append(r2 r.Recall).Append(',').Append(r2 r.F1).Append(',')
             .Append(r.Support.ToString(CultureInfo.InvariantCulture)).Append('\n') |> ignore
        b.ToString()
