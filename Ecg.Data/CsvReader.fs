namespace Ecg.Data

open System
open System.Collections.Generic
open System.IO
open System.Text

/// One CSV row: its fields and the 1-based line number in the file where the row starts
/// (rows may span lines when a quoted field holds a newline).
[<CLIMutable>]
type CsvRow = { Line: int; Fields: string[] }

/// RFC 4180 CSV reading: quoted fields may hold commas, doubled quotes and newlines.
/// Written here because Deedle's reader infers column types (wrongly on PTB-XL) and we need line numbers for errors.
[<AbstractClass; Sealed>]
type CsvReader private () =

    /// Parses CSV text into rows (header included). A quote left open at the end of the text is an error naming the line.
    static member Parse(text: string, fileName: string) : CsvRow[] =
        let rows = ResizeArray<CsvRow>()
        let fields = ResizeArray<string>()
        let field = StringBuilder()
        let mutable line = 1
        let mutable rowStart = 1
        let mutable inQuotes = false
        let mutable quoteOpenedAt = 0
        let mutable i = 0
        let mutable rowHasContent = false
        let endRow () =
            fields.Add(field.ToString())
            field.Clear() |> ignore
            // A completely empty line (e.g. the file's trailing newline) is not a row.
            if rowHasContent || fields.Count > 1 || fields.[0].Length > 0 then
                rows.Add { Line = rowStart; Fields = fields.ToArray() }
            fields.Clear()
            rowHasContent <- false
        let n = text.Length
        while i < n do
            let c = text.[i]
            if inQuotes then
                if c = '"' then
                    if i + 1 < n && text.[i + 1] = '"' then
                        field.Append('"') |> ignore
                        i <- i + 1
                    else inQuotes <- false
                else
                    if c = '\n' then line <- line + 1
                    field.Append(c) |> ignore
            else
                match c with
                | '"' ->
                    inQuotes <- true
                    quoteOpenedAt <- line
                    rowHasContent <- true
                | ',' ->
                    fields.Add(field.ToString())
                    field.Clear() |> ignore
                    rowHasContent <- true
                | '\r' when i + 1 < n && text.[i + 1] = '\n' -> ()
                | '\n' | '\r' ->
                    endRow ()
                    line <- line + 1
                    rowStart <- line
                | _ -> field.Append(c) |> ignore
            i <- i + 1
        if inQuotes then
            raise (InvalidDataException(sprintf "%s, line %d: quoted field opened here is never closed" fileName quoteOpenedAt))
        if field.Length > 0 || fields.Count > 0 || rowHasContent then endRow ()
        rows.ToArray()

    /// Reads and parses a CSV file (UTF-8).
    static member ReadFile(path: string) : CsvRow[] =
        CsvReader.Parse(File.ReadAllText(path, Encoding.UTF8), Path.GetFileName path)
