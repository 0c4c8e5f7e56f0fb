namespace Ecg.Analysis

open System
open System.Collections.Generic
open System.IO
open System.Net
open System.Text
open System.Text.Json

/// Self-contained HTML chart pages, written the way Ecg.Model.SessionCharts writes the training charts:
/// plain Plotly figures (JSON) over one plotly.min.js, copied from Plotly.NET's assembly into the output
/// folder and loaded by relative path, so no page needs the network.
module HtmlCharts =
    [<Literal>]
    let PlotlyFileName = "plotly.min.js"

    let private plotlyResource = "Plotly.NET.plotly-2.28.0.min.js"

    /// Writes plotly.min.js into `folder` once.
    let ensurePlotly (folder: string) =
        let target = Path.Combine(folder, PlotlyFileName)
        if not (File.Exists target) then
            let assembly = typeof<Plotly.NET.GenericChart>.Assembly
            use source = assembly.GetManifestResourceStream plotlyResource
            if isNull source then
                invalidOp (sprintf "Plotly.NET %O no longer embeds '%s'." (assembly.GetName().Version) plotlyResource)
            Ecg.Model.AtomicFile.Write(target, fun path ->
                use file = File.Create path
                source.CopyTo file)

    /// JSON has no NaN: a missing value becomes null, which Plotly draws as a gap.
    let private finite (values: float[]) = values |> Array.map (fun v -> if Double.IsFinite v then Nullable v else Nullable())

    let private dict (pairs: (string * obj) list) =
        let d = Dictionary<string, obj>()
        for k, v in pairs do d.[k] <- v
        d

    /// A scatter trace of markers; `hover` is one text per point.
    let markers (name: string) (xs: float[]) (ys: float[]) (hover: string[]) : obj =
        dict [ "type", box "scattergl"; "mode", box "markers"; "name", box name
               "x", box (finite xs); "y", box (finite ys); "text", box hover
               "hovertemplate", box "%{text}<extra>%{fullData.name}</extra>"
               "marker", box (dict [ "size", box 6; "opacity", box 0.75 ]) ] :> obj

    /// A line trace with markers.
    let line (name: string) (xs: float[]) (ys: float[]) : obj =
        dict [ "type", box "scatter"; "mode", box "lines+markers"; "name", box name; "x", box (finite xs); "y", box (finite ys) ] :> obj

    /// A heatmap of counts with the counts written in the cells.
    let countHeatmap (z: int[][]) (columnNames: string[]) (rowNames: string[]) : obj =
        dict [ "type", box "heatmap"; "z", box z; "x", box columnNames; "y", box rowNames
               "text", box (z |> Array.map (Array.map string)); "texttemplate", box "%{text}"; "colorscale", box "Blues" ] :> obj

    /// Writes one page: `traces` drawn under `title`; `plotlyPath` is plotly.min.js relative to the page.
    let writePage (path: string) (title: string) (xTitle: string) (yTitle: string) (traces: obj seq) (reverseY: bool) (plotlyPath: string) =
        let axis (text: string) (reverse: bool) =
            dict [ "title", box (dict [ "text", box text ]); "autorange", (if reverse then box "reversed" else box true) ]
        let layout = dict [ "title", box (dict [ "text", box title ]); "xaxis", box (axis xTitle false); "yaxis", box (axis yTitle reverseY)
                            "legend", box (dict [ "itemsizing", box "constant" ]) ]
        let figure = JsonSerializer.Serialize(dict [ "data", box (Seq.toArray traces); "layout", box layout ])
        let html =
            StringBuilder()
                .AppendLine("<!DOCTYPE html>")
                .AppendLine("<html><head><meta charset=\"utf-8\"/>")
                .Append("<title>").Append(WebUtility.HtmlEncode title).AppendLine("</title>")
                .Append("<script src=\"").Append(plotlyPath).AppendLine("\"></script>")
                .AppendLine("</head><body>")
                .AppendLine("<div id=\"chart\" style=\"width:100%;height:90vh;\"></div>")
                .Append("<script>const figure = ").Append(figure).AppendLine(";")
                .AppendLine("Plotly.newPlot('chart', figure.data, figure.layout, {responsive: true});</script>")
                .AppendLine("</body></html>")
        Ecg.Model.AtomicFile.WriteAllText(path, html.ToString())

    /// An index page linking the given (file, caption) pairs (paths relative to the index).
    let writeIndex (path: string) (title: string) (links: (string * string) seq) =
        let b = StringBuilder()
        b.AppendLine("<!DOCTYPE html>").AppendLine("<html><head><meta charset=\"utf-8\"/>")
         .Append("<title>").Append(WebUtility.HtmlEncode title).AppendLine("</title></head><body>")
         .Append("<h1>").Append(WebUtility.HtmlEncode title).AppendLine("</h1><ul>") |> ignore
        for file, caption in links do
            b.Append("<li><a href=\"").Append(WebUtility.HtmlEncode file).Append("\">").Append(WebUtility.HtmlEncode caption).AppendLine("</a></li>") |> ignore
        b.AppendLine("</ul></body></html>") |> ignore
        Ecg.Model.AtomicFile.WriteAllText(path, b.ToString())

    /// A name safe as a file name: invalid characters and spaces become '_'.
    let safeFileName (name: string) =
        String.Concat(name |> Seq.map (fun ch -> if Array.contains ch (Path.GetInvalidFileNameChars()) || ch = ' ' then '_' else ch))
