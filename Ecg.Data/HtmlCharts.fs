namespace Ecg.Data

open System
open System.IO
open System.Net
open System.Security.Cryptography
open System.Text
open System.Text.RegularExpressions
open Plotly.NET
open Plotly.NET.LayoutObjects
open Plotly.NET.TraceObjects

/// The solution's charts: built with Plotly.NET's chart API and written as HTML pages that work offline.
/// Each page holds one chart (GenericChart.toChartHTML: its div and script) in one page template that loads
/// plotly.js by a relative path from one plotly.min.js beside the pages (EnsurePlotly), so no page needs
/// the network and a folder of pages carries one copy of plotly.js, not one per page.
///
/// It lives in Ecg.Data, the lowest layer, because the training loop in Ecg.Model (C#) writes charts as well
/// as Ecg.Analysis: Plotly.NET's builders are F# methods with optional arguments and F# function values,
/// awkward from C#, so this F# type wraps the few chart kinds used (lines, markers, count heatmaps) in plain
/// methods that C# and F# call alike.
[<AbstractClass; Sealed>]
type HtmlCharts private () =

    /// Page layout: the chart fills the width and most of the window's height.
    static let pageTemplate =
        String.concat "\n"
            [ "<!DOCTYPE html>"
              "<html><head><meta charset=\"utf-8\"/>"
              "<title>[TITLE]</title>"
              "<script src=\"[PLOTLY]\"></script>"
              "<style>.chart > div > div { width: 100%; height: 90vh; }</style>"
              "</head><body>"
              "<div class=\"chart\">[CHART]</div>"
              "</body></html>"
              "" ]

    /// ColorBrewer's sequential blues, light for few to dark for many (plotly.js's own "Blues" runs the other way).
    static let chartGuid = Regex("id=\"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\"", RegexOptions.Compiled)

    /// Plotly.NET names a chart's div (and its render function) by a fresh GUID, so the same chart gave a different
    /// page each run; the id becomes a hash of the chart's own HTML, so equal inputs write byte-identical pages.
    static let stableIds (html: string) =
        let m = chartGuid.Match html
        if not m.Success then html
        else
            let guid = m.Groups.[1].Value
            let compact = guid.Replace("-", "")
            let neutral = html.Replace(guid, "").Replace(compact, "")
            let id = "chart" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes neutral)).Substring(0, 24)
            html.Replace(guid, id).Replace(compact, id)

    static let countColors =
        StyleParam.Colorscale.Custom [ 0.0, Color.fromString "#f7fbff"; 0.5, Color.fromString "#6baed6"; 1.0, Color.fromString "#08306b" ]

    /// plotly.js as Plotly.NET embeds it (its file name carries the plotly.js version).
    static let plotlyResource () =
        let assembly = typeof<GenericChart>.Assembly
        match assembly.GetManifestResourceNames() |> Array.filter (fun n -> n.StartsWith "Plotly.NET.plotly-" && n.EndsWith ".min.js") with
        | [| name |] -> assembly, name
        | found -> invalidOp (sprintf "Plotly.NET %O embeds %d plotly-*.min.js resources, expected one." (assembly.GetName().Version) found.Length)

    /// The file every page loads plotly.js from (relative to the page).
    static member PlotlyFileName = "plotly.min.js"

    /// Writes plotly.min.js into `folder` once.
    static member EnsurePlotly(folder: string) : unit =
        let target = Path.Combine(folder, HtmlCharts.PlotlyFileName)
        if not (File.Exists target) then
            let assembly, name = plotlyResource ()
            AtomicFile.Write(target, fun path ->
                use source = assembly.GetManifestResourceStream name
                use file = File.Create path
                source.CopyTo file)

    /// A line with markers; NaN values are gaps.
    static member Line(name: string, x: float[], y: float[], width: float) : GenericChart =
        Chart.Line(x = x, y = y, Name = name, ShowMarkers = true, LineWidth = width, UseDefaults = false)

    /// A line of plotly's default width.
    static member Line(name: string, x: float[], y: float[]) : GenericChart = HtmlCharts.Line(name, x, y, 2.0)

    /// A scatter of markers (WebGL, for thousands of points); `hover` is one text per point, shown with the
    /// trace's name.
    static member Markers(name: string, x: float[], y: float[], hover: string[]) : GenericChart =
        Chart.Point(x = x, y = y, Name = name, MultiText = hover, UseWebGL = true,
                    Marker = Marker.init (Size = 6, Opacity = 0.75), UseDefaults = false)
        |> GenericChart.mapTrace (Trace2DStyle.Scatter(HoverTemplate = "%{text}<extra>%{fullData.name}</extra>"))

    /// A heatmap of counts, rows `rowNames` (counts.[row]) and columns `columnNames`, each count written in its cell.
    static member CountHeatmap(counts: int64[][], columnNames: string[], rowNames: string[]) : GenericChart =
        Chart.Heatmap(zData = counts, colNames = columnNames, rowNames = rowNames, ColorScale = countColors,
                      UseDefaults = false)
        |> GenericChart.mapTrace (Trace2DStyle.Heatmap(TextTemplate = "%{z}"))

    /// The page of `traces` drawn together under `title`; `plotlyPath` is plotly.min.js relative to the page.
    /// `reverseY` puts the first row at the top (matrices).
    static member PageHtml(title: string, xTitle: string, yTitle: string, traces: seq<GenericChart>, reverseY: bool, plotlyPath: string) : string =
        let yAxis =
            if reverseY then LinearAxis.init (Title = Title.init (Text = yTitle), AutoRange = StyleParam.AutoRange.Reversed)
            else LinearAxis.init (Title = Title.init (Text = yTitle))
        let chart =
            Chart.combine traces
            |> Chart.withTitle title
            |> Chart.withXAxis (LinearAxis.init (Title = Title.init (Text = xTitle)))
            |> Chart.withYAxis yAxis
            |> Chart.withLegendStyle (ItemSizing = StyleParam.TraceItemSizing.Constant)
            |> Chart.withConfigStyle (Responsive = true)
            // The page template loads plotly.js itself; the chart must not embed or fetch it.
            |> Chart.withDisplayOptionsStyle (PlotlyJSReference = PlotlyJSReference.NoReference)
        pageTemplate
            .Replace("[TITLE]", WebUtility.HtmlEncode title)
            .Replace("[PLOTLY]", WebUtility.HtmlEncode plotlyPath)
            .Replace("[CHART]", stableIds (GenericChart.toChartHTML chart))

    /// Writes PageHtml to `path` (atomically).
    static member WritePage(path: string, title: string, xTitle: string, yTitle: string, traces: seq<GenericChart>, reverseY: bool, plotlyPath: string) : unit =
        AtomicFile.WriteAllText(path, HtmlCharts.PageHtml(title, xTitle, yTitle, traces, reverseY, plotlyPath))

    /// An index page linking the given (file, caption) pairs (paths relative to the index).
    static member WriteIndex(path: string, title: string, links: seq<string * string>) : unit =
        let b = StringBuilder()
        b.AppendLine("<!DOCTYPE html>").AppendLine("<html><head><meta charset=\"utf-8\"/>")
         .Append("<title>").Append(WebUtility.HtmlEncode title).AppendLine("</title></head><body>")
         .Append("<h1>").Append(WebUtility.HtmlEncode title).AppendLine("</h1><ul>") |> ignore
        for file, caption in links do
            b.Append("<li><a href=\"").Append(WebUtility.HtmlEncode file).Append("\">").Append(WebUtility.HtmlEncode caption).AppendLine("</a></li>") |> ignore
        b.AppendLine("</ul></body></html>") |> ignore
        AtomicFile.WriteAllText(path, b.ToString())

    /// A name safe as a file name: invalid characters and spaces become '_'.
    static member SafeFileName(name: string) : string =
        String.Concat(name |> Seq.map (fun ch -> if Array.contains ch (Path.GetInvalidFileNameChars()) || ch = ' ' then '_' else ch))
