using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Ecg.Data;
using Ecg.Model;

namespace Ecg.Model;

/// <summary>
/// One self-contained HTML page per training session, <c>training_sessions/session_N/report.html</c>: it embeds the
/// session's text outputs (config, data summary, metrics, reports, evaluations, feature-space and probe summaries) and
/// links or frames its charts by relative path, so the artifacts folder can be moved and the page needs no network.
/// </summary>
public static class SessionPage
{
    /// <summary>Writes the page for <paramref name="session"/> (atomically) and returns its path.</summary>
    public static string Write(ArtifactLayout layout, TrainingSession session)
    {
        var path = session.Paths.ReportPage;
        AtomicFile.WriteAllText(path, Build(layout, session));
        return path;
    }

    /// <summary>
    /// The Report stage: writes the page of session "N", "latest" or every session ("all"), yielding each path as it is
    /// written; a <see cref="UserError"/> listing the sessions when there is no such one.
    /// </summary>
    public static IEnumerable<string> WriteEach(ArtifactLayout layout, string choice, CancellationToken cancel = default)
    {
        var numbers = choice.Trim().Equals("all", StringComparison.OrdinalIgnoreCase)
            ? layout.TrainingSessionNumbers()
            : new[] { layout.ResolveTrainingSession(choice) };
        if (numbers.Length == 0) layout.ResolveTrainingSession("latest"); // throws: no session yet
        foreach (var number in numbers)
        {
            cancel.ThrowIfCancellationRequested();
            yield return Write(layout, TrainingSession.Open(layout.TrainingSessionFolder(number)));
        }
    }

    /// <summary>The page's HTML.</summary>
    public static string Build(ArtifactLayout layout, TrainingSession session)
    {
        var page = new Page(session.Folder);
        var m = session.Manifest;
        page.Raw($"<h1>Training session {session.Number}</h1>");
        page.Raw($"<p>{H(m.Config.Model)}, {H(m.Config.Preset)} preset, created {m.CreatedUtc.ToString("u", CultureInfo.InvariantCulture)}; " +
                 $"ecg {H(m.ToolVersion)}, TorchSharp {H(m.TorchSharpVersion)}, {H(m.DotNetVersion)}. Folder: <code>{H(session.Folder)}</code></p>");
        page.Raw("<nav>" + string.Join(" · ", new[] { "headline", "config", "data", "metrics", "curves", "classification", "confusion", "evaluations", "feature-space", "probes", "files" }
            .Select(id => $"<a href=\"#{id}\">{id}</a>")) + "</nav>");

        Headline(page, session);
        Config(page, session);
        Data(page, layout, session);
        Metrics(page, session);
        Curves(page, session.Paths);
        Classification(page, session.Paths);
        Confusion(page, session.Paths);
        Evaluations(page, session.Paths);
        FeatureSpace(page, layout, session);
        Probes(page, layout, session);
        Files(page, session.Paths);
        return page.ToHtml($"Training session {session.Number}");
    }

    /// <summary>The figures a reader looks for first: macro AUC and Fmax of the reported split, AUC per class, ROC and PR curves.</summary>
    private static void Headline(Page page, TrainingSession session)
    {
        page.Section("headline", "Headline");
        var h = TrainingReport.ReadHeadline(session);
        if (h is null) { page.Missing("No headline.json yet: training has not finished (it is written with the final reports)."); return; }
        string f(double v) => double.IsNaN(v) ? "n/a" : v.ToString("0.0000", CultureInfo.InvariantCulture);
        page.Raw($"<p class=\"headline\">{H(h.Split)} split ({h.Records} records), best weights (epoch {h.BestEpoch}), {H(session.Manifest.Config.Task)} task: " +
                 $"<b>macro AUC {f(h.MacroAuc)}</b>, <b>Fmax {f(h.Fmax)}</b> (threshold {f(h.FmaxThreshold)})</p>");
        page.Table(new[] { "class", "ROC AUC" }, h.ClassNames.Select((c, i) => new[] { c, f(h.AucPerClass[i]) }));
        foreach (var chart in new[] { "ROC", "PR" }.Select(session.Paths.Curve))
            if (File.Exists(chart)) page.Frame(chart);
    }

    private static void Config(Page page, TrainingSession session)
    {
        page.Section("config", "Configuration");
        using var json = JsonDocument.Parse(File.ReadAllText(session.ConfigPath));
        var rows = new List<string[]>();
        Flatten(json.RootElement, "", rows);
        page.Table(new[] { "setting", "value" }, rows);
        page.Link(session.Paths.Config);
        if (File.Exists(session.NotesPath) && File.ReadAllText(session.NotesPath).Trim() is { Length: > 0 } notes)
            page.Raw($"<h3>Notes</h3><pre>{H(notes)}</pre>");
    }

    private static void Flatten(JsonElement element, string prefix, List<string[]> rows)
    {
        if (element.ValueKind == JsonValueKind.Object)
            foreach (var p in element.EnumerateObject()) Flatten(p.Value, prefix.Length == 0 ? p.Name : prefix + "." + p.Name, rows);
        else if (element.ValueKind == JsonValueKind.Array && element.EnumerateArray().All(e => e.ValueKind != JsonValueKind.Object))
            rows.Add(new[] { prefix, string.Join(", ", element.EnumerateArray().Select(e => e.ToString())) });
        else rows.Add(new[] { prefix, element.ValueKind == JsonValueKind.Null ? "(none)" : element.ToString() });
    }

    /// <summary>The preprocess report beside the dataset the session read, or beside a file of that name under processed/.</summary>
    private static void Data(Page page, ArtifactLayout layout, TrainingSession session)
    {
        page.Section("data", "Data");
        var m = session.Manifest;
        page.Raw($"<p>{m.TrainRecords} train, {m.ValidationRecords} validation, {m.TestRecords} test records ({H(m.Split)} split: folds " +
                 $"{string.Join(",", m.TrainFolds)} / {string.Join(",", m.ValidationFolds)} / {string.Join(",", m.TestFolds)}); " +
                 $"{m.Samples} samples x {m.LeadNames.Length} leads at {m.SamplingRate.ToString(CultureInfo.InvariantCulture)} Hz; classes {H(string.Join(", ", m.ClassNames))}.</p>");
        if (m.DataFile is null) { page.Missing("The session was trained on data from memory: no dataset file or preprocess report."); return; }
        var candidates = new[] { m.DataFile, Path.Combine(layout.ProcessedFolder, Path.GetFileName(m.DataFile)) };
        var found = candidates.Select(c => Preprocessing.ReportPaths(c).ToValueTuple()).FirstOrDefault(r => File.Exists(r.Item1) || File.Exists(r.Item2));
        page.Raw($"<p>Dataset: <code>{H(m.DataFile)}</code> (SHA-256 {H(m.DataSha256 ?? "-")})</p>");
        if (found == default) { page.Missing($"No preprocess report (<npz stem>_report.json/.txt) beside {m.DataFile}."); return; }
        var (jsonPath, textPath) = found;
        if (File.Exists(jsonPath))
        {
            using var json = JsonDocument.Parse(File.ReadAllText(jsonPath));
            var r = json.RootElement;
            string field(string name) => r.TryGetProperty(name, out var v) ? v.ToString() : "-";
            page.Table(new[] { "records in CSV", "kept", "outside the chosen folds", "malformed rows", "failed" },
                new[] { new[] { field("RecordsInCsv"), field("RecordsKept"), field("OutsideFolds"), field("MalformedRows"), field("Failed") } });
            if (r.TryGetProperty("Tasks", out var tasks) && tasks.ValueKind == JsonValueKind.Array)
                page.Table(new[] { "task", "records", "classes" }, tasks.EnumerateArray().Select(t => new[]
                {
                    t.GetProperty("Task").ToString(), t.GetProperty("Records").ToString(), t.GetProperty("ClassNames").GetArrayLength().ToString(CultureInfo.InvariantCulture),
                }));
            page.Link(jsonPath);
        }
        if (File.Exists(textPath)) { page.Pre(File.ReadAllText(textPath)); page.Link(textPath); }
    }

    private static void Metrics(Page page, TrainingSession session)
    {
        page.Section("metrics", "Metrics per epoch");
        if (!File.Exists(session.MetricsPath)) { page.Missing("No metrics.csv: no epoch has completed."); return; }
        var lines = File.ReadAllLines(session.MetricsPath).Where(l => l.Length > 0).ToArray();
        var rows = lines.Skip(1).Select(l => l.Split(',').Select(Round).ToArray()).ToList();
        page.Table(lines[0].Split(','), rows);
        page.Link(session.MetricsPath);
        if (File.Exists(session.LogPath)) page.Link(session.LogPath);
    }

    private static string Round(string value) =>
        double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && value.Contains('.') || value.Contains('E')
            ? v.ToString("G5", CultureInfo.InvariantCulture) : value;

    private static void Curves(Page page, SessionPaths paths)
    {
        page.Section("curves", "Training curves");
        var any = false;
        foreach (var chart in new[] { "Loss", "Accuracy", "AUC" }.Select(paths.Curve))
            if (File.Exists(chart)) { page.Frame(chart); any = true; }
        if (!any) page.Missing("No Loss.html / Accuracy.html / AUC.html yet.");
    }

    private static void Classification(Page page, SessionPaths paths)
    {
        page.Section("classification", "Classification report and thresholds");
        var any = false;
        foreach (var file in new[] { paths.ClassificationReport, paths.Thresholds })
            if (File.Exists(file)) { page.Raw($"<h3>{H(Path.GetFileName(file))}</h3>"); page.Pre(File.ReadAllText(file)); page.Link(file); any = true; }
        if (File.Exists(paths.Predictions)) { page.Link(paths.Predictions); any = true; }
        if (!any) page.Missing("No classification_report.txt, thresholds.json or predictions.csv.");
    }

    private static void Confusion(Page page, SessionPaths paths)
    {
        page.Section("confusion", "Confusion matrices");
        var files = Page.FilesIn(paths.ConfusionMatricesFolder, "*.html");
        if (files.Length == 0) { page.Missing("No confusion_matrices/ folder."); return; }
        page.LinkList(files);
    }

    private static void Evaluations(Page page, SessionPaths paths)
    {
        page.Section("evaluations", "Evaluations (ecg evaluate)");
        var files = Page.FilesIn(paths.EvaluationsFolder, "*.txt");
        if (files.Length == 0) { page.Missing("No evaluations yet (ecg evaluate --session N)."); return; }
        foreach (var file in files) { page.Raw($"<h3>{H(Path.GetFileName(file))}</h3>"); page.Pre(File.ReadAllText(file)); page.Link(file); }
    }

    private static void FeatureSpace(Page page, ArtifactLayout layout, TrainingSession session)
    {
        page.Section("feature-space", "Feature space");
        var folder = layout.FeatureSpace(session.Number);
        if (!Directory.Exists(folder)) { page.Missing($"No feature-space run for this session ({folder})."); return; }
        var summary = Path.Combine(folder, "summary.txt");
        if (File.Exists(summary)) page.Pre(File.ReadAllText(summary));
        page.LinkList(Directory.GetFiles(folder, "summary.*").Concat(Directory.GetFiles(folder, "*.html", SearchOption.AllDirectories)).Order(StringComparer.Ordinal).ToArray());
    }

    /// <summary>Probe runs whose probe_session.json names this training session.</summary>
    private static void Probes(Page page, ArtifactLayout layout, TrainingSession session)
    {
        page.Section("probes", "Linear probes");
        var root = layout.ProbeSessions;
        var runs = Directory.Exists(root)
            ? Directory.GetDirectories(root, NumberedFolders.Prefix + "*").Where(d => ProbesSession(d) == session.Number).Order(StringComparer.Ordinal).ToArray()
            : Array.Empty<string>();
        if (runs.Length == 0) { page.Missing("No probe run references this session."); return; }
        foreach (var run in runs)
        {
            page.Raw($"<h3>{H(Path.GetFileName(run))}</h3>");
            var summary = Path.Combine(run, "summary.txt");
            if (File.Exists(summary)) page.Pre(File.ReadAllText(summary));
            page.LinkList(Directory.GetFiles(run, "*", SearchOption.AllDirectories)
                .Where(f => f.EndsWith(".txt") || f.EndsWith(".json") || f.EndsWith(".html") || f.EndsWith(".csv"))
                .Where(f => Path.GetFileName(f) != "plotly.min.js").Order(StringComparer.Ordinal).ToArray());
        }
    }

    private static int? ProbesSession(string probeFolder)
    {
        var file = Path.Combine(probeFolder, "probe_session.json");
        if (!File.Exists(file)) return null;
        try
        {
            using var json = JsonDocument.Parse(File.ReadAllText(file));
            return json.RootElement.TryGetProperty("training_session", out var n) && n.TryGetInt32(out var number) ? number : null;
        }
        catch (JsonException) { return null; }
    }

    private static void Files(Page page, SessionPaths paths)
    {
        page.Section("files", "Other files");
        var weights = Page.FilesIn(paths.WeightsFolder, "*.bin");
        page.Raw($"<p>{weights.Length} weight file(s) in weights/ (best.bin = best validation macro AUC).</p>");
        page.LinkList(weights);
    }

    private static string H(string text) => WebUtility.HtmlEncode(text);

    /// <summary>HTML being assembled, with links relative to the session folder.</summary>
    private sealed class Page(string folder)
    {
        private readonly StringBuilder body = new();

        public static string[] FilesIn(string directory, string pattern) =>
            Directory.Exists(directory) ? Directory.GetFiles(directory, pattern).Order(StringComparer.Ordinal).ToArray() : Array.Empty<string>();

        /// <summary>A relative URL from the session folder, '/'-separated, each segment escaped.</summary>
        public string Href(string path)
        {
            var relative = Path.IsPathRooted(path) ? Path.GetRelativePath(folder, path) : path;
            return string.Join("/", relative.Split(Path.DirectorySeparatorChar).Select(Uri.EscapeDataString));
        }

        public void Raw(string html) => body.AppendLine(html);
        public void Section(string id, string title) => body.AppendLine($"<h2 id=\"{id}\">{H(title)}</h2>");
        public void Missing(string text) => body.AppendLine($"<p class=\"missing\">{H(text)}</p>");
        public void Pre(string text) => body.AppendLine($"<pre>{H(text.TrimEnd())}</pre>");
        public void Link(string path) => body.AppendLine($"<p><a href=\"{Href(path)}\">{H(Href(path))}</a></p>");
        public void LinkList(IEnumerable<string> paths) =>
            body.AppendLine("<ul>" + string.Concat(paths.Select(p => $"<li><a href=\"{Href(p)}\">{H(Href(p))}</a></li>")) + "</ul>");
        public void Frame(string path) =>
            body.AppendLine($"<div class=\"chart\"><iframe src=\"{Href(path)}\" title=\"{H(path)}\"></iframe><a href=\"{Href(path)}\">{H(path)}</a></div>");

        public void Table(IReadOnlyList<string> header, IEnumerable<string[]> rows)
        {
            body.Append("<table><thead><tr>").Append(string.Concat(header.Select(h => $"<th>{H(h)}</th>"))).AppendLine("</tr></thead><tbody>");
            foreach (var row in rows) body.Append("<tr>").Append(string.Concat(row.Select(c => $"<td>{H(c)}</td>"))).AppendLine("</tr>");
            body.AppendLine("</tbody></table>");
        }

        public string ToHtml(string title) =>
            "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"/><title>" + H(title) + "</title>\n<style>" +
            "body{font-family:sans-serif;margin:1.5em;max-width:1400px} table{border-collapse:collapse;font-size:0.9em} " +
            "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right} th{background:#f0f0f0} pre{background:#f7f7f7;padding:0.6em;overflow-x:auto} " +
            ".missing{color:#777;font-style:italic} .chart iframe{width:100%;height:480px;border:1px solid #ddd} nav a{margin-right:0.3em}" +
            "</style></head><body>\n" + body + "</body></html>\n";
    }
}
