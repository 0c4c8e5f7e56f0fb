/// `ecg report` on a session trained on the sample: the page's sections, and links that resolve to files.
module Ecg.Cli.Tests.ReportTests

open System
open System.IO
open System.Net
open System.Text.RegularExpressions
open Expecto
open Ecg.Cli.Tests.EcgProcess

let private ecgIn folder arguments = runIn folder [ "PTBXL_DIR", ""; "ECG_ARTIFACTS", "" ] arguments
let private expectOk (r: Outcome) = Expect.equal r.ExitCode 0 (sprintf "exit code; output:\n%s\n%s" r.Output r.Error)

[<Tests>]
let tests =
    testSequenced <| testList "Report" [
        test "report of a one-epoch session: sections, embedded texts, relative links that resolve" {
            let work = Ecg.Tests.TestFolders.create "report"
            expectOk (ecgIn work [ "preprocess"; "--data"; sampleFolder () ])
            expectOk (ecgIn work [ "train"; "--epochs"; "1"; "--batch-size"; "64"; "--notes"; "report test" ])
            expectOk (ecgIn work [ "evaluate"; "--split"; "validation"; "--bootstrap"; "10" ])
            // A probe run naming session 1 and one naming another session: only the first is listed.
            let probes = Path.Combine(work, "artifacts", "probe_training_sessions")
            for (n, training) in [ 1, 1; 2, 7 ] do
                let folder = Path.Combine(probes, sprintf "session_%d" n)
                Directory.CreateDirectory(Path.Combine(folder, "age")) |> ignore
                File.WriteAllText(Path.Combine(folder, "probe_session.json"), sprintf "{\"probe_session\": %d, \"training_session\": %d}" n training)
                File.WriteAllText(Path.Combine(folder, "summary.txt"), sprintf "probe run %d summary" n)
                File.WriteAllText(Path.Combine(folder, "age", "probe.json"), "{}")
            let r = ecgIn work [ "report" ]
            expectOk r
            let page = Path.Combine(work, "artifacts", "training_sessions", "session_1", "report.html")
            Expect.stringContains r.Output page "says where"
            let html = File.ReadAllText page
            for section in [ "config"; "data"; "metrics"; "curves"; "classification"; "confusion"; "evaluations"; "feature-space"; "probes" ] do
                Expect.stringContains html (sprintf "id=\"%s\"" section) section
            Expect.stringContains html "<td>config.epochs</td><td>1</td>" "config table"
            Expect.stringContains html "report test" "notes"
            Expect.stringContains html "<td>400</td>" "records kept, from the preprocess report"
            Expect.stringContains html "Session 1, validation split" "the evaluation text"
            Expect.stringContains html "probe run 1 summary" "the probe run of this session"
            Expect.isFalse (html.Contains "probe run 2 summary") "not another session's probe run"
            Expect.isFalse (html.Contains "http://" || html.Contains "https://") "no network"
            let links =
                Regex.Matches(html, "(?:href|src)=\"([^\"#]+)\"") |> Seq.map (fun m -> WebUtility.HtmlDecode m.Groups.[1].Value) |> Seq.distinct |> Seq.toList
            for expected in [ "config.json"; "metrics.csv"; "Loss.html"; "AUC.html"; "evaluations/validation_best.txt"; "../../processed/ptbxl_100hz_report.txt"
                              "../../probe_training_sessions/session_1/age/probe.json" ] do
                Expect.contains links expected (sprintf "links %s" expected)
            for link in links do
                Expect.isFalse (Path.IsPathRooted link) (sprintf "%s is relative" link)
                let target = Path.Combine(Path.GetDirectoryName page, Uri.UnescapeDataString link)
                Expect.isTrue (File.Exists target) (sprintf "%s resolves to a file" link)

            let all = ecgIn work [ "report"; "--session"; "all" ]
            expectOk all
            let missing = ecgIn work [ "report"; "--session"; "5" ]
            Expect.equal missing.ExitCode 1 "unknown session"
            Expect.stringContains missing.Output "Training session '5' not found" "names the session"
            Expect.stringContains missing.Output "existing: 1" "lists the sessions"
        }
    ]
