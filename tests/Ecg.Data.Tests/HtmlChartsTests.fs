module Ecg.Data.Tests.HtmlChartsTests

open System.IO
open Expecto
open Ecg.Data
open Ecg.Data.Tests.TestData
open Ecg.Tests

[<Tests>]
let tests =
    testList "HtmlCharts" [
        test "a line page: one local plotly.js, the traces' names and values, title and axis titles" {
            use tmp = new TempFolder()
            HtmlCharts.EnsurePlotly tmp.Path
            let plotly = Path.Combine(tmp.Path, HtmlCharts.PlotlyFileName)
            Expect.isGreaterThan (FileInfo plotly).Length 1_000_000L "plotly.min.js copied from Plotly.NET"
            let stamp = File.GetLastWriteTimeUtc plotly
            HtmlCharts.EnsurePlotly tmp.Path
            Expect.equal (File.GetLastWriteTimeUtc plotly) stamp "copied once"
            let page = Path.Combine(tmp.Path, "Loss.html")
            HtmlCharts.WritePage(page, "Loss per epoch", "epoch", "binary cross-entropy",
                                 [ HtmlCharts.Line("train", [| 1.0; 2.0; 3.0 |], [| 0.9; 0.5; 0.25 |])
                                   HtmlCharts.Line("validation", [| 1.0; 2.0; 3.0 |], [| 0.8; nan; 0.4 |], 3.0) ], false, HtmlCharts.PlotlyFileName)
            let html = File.ReadAllText page
            Expect.stringContains html "<script src=\"plotly.min.js\"></script>" "loads the local plotly.js by relative path"
            Expect.isFalse (html.Contains "http://" || html.Contains "https://") "needs no network"
            Expect.stringContains html "<title>Loss per epoch</title>" "page title"
            let traces, layout = ChartPages.read page
            Expect.equal (traces |> Array.map ChartPages.name) [| "train"; "validation" |] "trace names"
            Expect.equal (ChartPages.numbers traces.[0] "y") [| 0.9; 0.5; 0.25 |] "train values"
            let validation = ChartPages.numbers traces.[1] "y"
            Expect.isTrue (System.Double.IsNaN validation.[1]) "NaN kept (plotly draws a gap)"
            Expect.equal (ChartPages.numbers traces.[1] "x") [| 1.0; 2.0; 3.0 |] "epochs"
            Expect.equal (traces.[0].GetProperty("mode").GetString()) "lines+markers" "lines with markers"
            Expect.equal (traces.[1].GetProperty("line").GetProperty("width").GetDouble()) 3.0 "line width"
            Expect.equal (ChartPages.title layout) "Loss per epoch" "chart title"
            Expect.equal (ChartPages.axisTitle layout "xaxis") "epoch" "x axis"
            Expect.equal (ChartPages.axisTitle layout "yaxis") "binary cross-entropy" "y axis"
        }

        test "the same chart gives a byte-identical page (no fresh GUID per run); another chart another div id" {
            let page (values: float[]) =
                HtmlCharts.PageHtml("AUC", "epoch", "AUC", [ HtmlCharts.Line("validation", [| 1.0; 2.0 |], values) ], false, HtmlCharts.PlotlyFileName)
            let first, again, other = page [| 0.8; 0.9 |], page [| 0.8; 0.9 |], page [| 0.8; 0.91 |]
            Expect.equal again first "same inputs, same page"
            let divId (html: string) = System.Text.RegularExpressions.Regex.Match(html, "<div id=\"([^\"]+)\"").Groups.[1].Value
            let id = divId first
            Expect.stringStarts id "chart" "a hash id, not a GUID"
            Expect.stringContains first (sprintf "Plotly.newPlot('%s'" id) "the script draws into that div"
            Expect.stringContains first (sprintf "renderPlotly_%s()" id) "and names its render function after it"
            Expect.notEqual (divId other) id "a different chart, a different id"
        }

        test "a count heatmap: counts, row and column names, first row on top, counts in the cells" {
            use tmp = new TempFolder()
            let page = Path.Combine(tmp.Path, "confusion_matrices", "CD.html")
            HtmlCharts.WritePage(page, "CD: test set", "predicted", "true",
                                 [ HtmlCharts.CountHeatmap([| [| 50L; 3L |]; [| 7L; 20L |] |], [| "predicted 0"; "predicted 1" |], [| "true 0"; "true 1" |]) ],
                                 true, "../" + HtmlCharts.PlotlyFileName)
            Expect.stringContains (File.ReadAllText page) "<script src=\"../plotly.min.js\"></script>" "plotly.js one folder up"
            let traces, layout = ChartPages.read page
            let heatmap = traces |> Array.exactlyOne
            Expect.equal (heatmap.GetProperty("type").GetString()) "heatmap" "heatmap"
            let z = heatmap.GetProperty("z").EnumerateArray() |> Seq.map (fun row -> row.EnumerateArray() |> Seq.map (fun v -> v.GetInt64()) |> Seq.toArray) |> Seq.toArray
            Expect.equal z [| [| 50L; 3L |]; [| 7L; 20L |] |] "counts, rows true class"
            Expect.equal (heatmap.GetProperty("y").EnumerateArray() |> Seq.map (fun v -> v.GetString()) |> Seq.toArray) [| "true 0"; "true 1" |] "row names"
            Expect.equal (heatmap.GetProperty("texttemplate").GetString()) "%{z}" "counts written in the cells"
            Expect.equal (layout.GetProperty("yaxis").GetProperty("autorange").GetString()) "reversed" "first row on top"
            Expect.equal (ChartPages.title layout) "CD: test set" "title"
        }

        test "markers: WebGL scatter with one hover text per point; index links; safe file names" {
            use tmp = new TempFolder()
            let page = Path.Combine(tmp.Path, "pca_clusters.html")
            HtmlCharts.WritePage(page, "PCA by cluster", "pca 1", "pca 2",
                                 [ HtmlCharts.Markers("cluster 0 (2)", [| 0.5; -1.0 |], [| 2.0; 3.0 |], [| "ecg_id 1"; "ecg_id 9" |]) ], false, HtmlCharts.PlotlyFileName)
            let traces, _ = ChartPages.read page
            let t = traces |> Array.exactlyOne
            Expect.equal (t.GetProperty("type").GetString()) "scattergl" "WebGL scatter"
            Expect.equal (ChartPages.numbers t "x") [| 0.5; -1.0 |] "x"
            Expect.equal (t.GetProperty("text").EnumerateArray() |> Seq.map (fun v -> v.GetString()) |> Seq.toArray) [| "ecg_id 1"; "ecg_id 9" |] "hover texts"
            Expect.stringContains (t.GetProperty("hovertemplate").GetString()) "%{text}" "hover shows the text"
            let index = Path.Combine(tmp.Path, "index.html")
            HtmlCharts.WriteIndex(index, "Feature space", [ "pca_clusters.html", "PCA <by> cluster" ])
            Expect.stringContains (File.ReadAllText index) "<li><a href=\"pca_clusters.html\">PCA &lt;by&gt; cluster</a></li>" "link, caption encoded"
            Expect.equal (HtmlCharts.SafeFileName "left bundle/branch") "left_bundle_branch" "spaces and separators"
        }
    ]
