/// Reads back what an HtmlCharts page draws: the traces and layout its Plotly.newPlot call gets, so chart
/// tests check the data and titles in the page, not only that a file exists.
/// Compiled into each test program that checks charts (linked, not copied).
module Ecg.Tests.ChartPages

open System.IO
open System.Text.Json
open System.Text.RegularExpressions

let private variable (html: string) (name: string) =
    let m = Regex.Match(html, sprintf @"var %s = (.*?);\r?\n" name)
    if not m.Success then failwithf "the page has no 'var %s = ...;' line" name
    JsonDocument.Parse(m.Groups.[1].Value).RootElement

/// The page's traces (`data`) and `layout`.
let read (path: string) : JsonElement[] * JsonElement =
    let html = File.ReadAllText path
    (variable html "data").EnumerateArray() |> Seq.toArray, variable html "layout"

/// A trace's `name`.
let name (trace: JsonElement) = trace.GetProperty("name").GetString()

/// A numeric array of a trace (`x`, `y`); Plotly.NET writes NaN as the string "NaN".
let numbers (trace: JsonElement) (key: string) =
    trace.GetProperty(key).EnumerateArray()
    |> Seq.map (fun v -> if v.ValueKind = JsonValueKind.String && v.GetString() = "NaN" then nan else v.GetDouble())
    |> Seq.toArray

/// The layout's title text.
let title (layout: JsonElement) = layout.GetProperty("title").GetProperty("text").GetString()

/// An axis title ("xaxis" or "yaxis").
let axisTitle (layout: JsonElement) (axis: string) = layout.GetProperty(axis).GetProperty("title").GetProperty("text").GetString()
