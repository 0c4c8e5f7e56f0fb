/// Datasets for the training tests: a small synthetic one (learnable, seconds to train) and the real
/// 400-record PTB-XL sample read by a minimal WFDB format-16 reader that lives only here in the tests
/// (the product's reader belongs to Ecg.Data).
module Ecg.Model.Tests.TrainingFixtures

open System
open System.IO
open System.Globalization
open Ecg.Data

let classNames = [| "CD"; "HYP"; "MI"; "NORM"; "STTC" |]
let leadNames = [| "I"; "II"; "III"; "AVR"; "AVL"; "AVF"; "V1"; "V2"; "V3"; "V4"; "V5"; "V6" |]

let private datasetOf (signals: float32[]) records samples rate (ecgIds: int[]) (labels: byte[]) (folds: int[]) =
    { Signals = SignalStore.OfArray(signals, samples * 12); RecordCount = records; Samples = samples; Leads = 12; SamplingRate = rate
      LeadNames = leadNames; EcgIds = ecgIds; Labels = labels; ClassNames = classNames; StratFolds = folds
      PatientIds = Array.create records nan; Age = Array.create records nan; Sex = Array.create records nan
      Height = Array.create records nan; Weight = Array.create records nan; Site = Array.create records nan
      Device = Array.create records ""; Scp = null }

/// Noise plus, for each positive class c, an offset on lead c: learnable from any crop. Folds cycle 1..10.
let synthetic (records: int) (samples: int) (seed: int) : ProcessedDataset =
    let random = Random seed
    let labels = Array.init (records * 5) (fun _ -> if random.NextDouble() < 0.4 then 1uy else 0uy)
    let signals = Array.zeroCreate<float32> (records * samples * 12)
    for r in 0 .. records - 1 do
        for t in 0 .. samples - 1 do
            for l in 0 .. 11 do
                let offset = if l < 5 && labels.[r * 5 + l] = 1uy then 0.8 else 0.0
                signals.[(r * samples + t) * 12 + l] <- float32 (offset + 0.3 * (random.NextDouble() - 0.5))
    datasetOf signals records samples 100.0 (Array.init records (fun i -> i + 1)) labels (Array.init records (fun i -> i % 10 + 1))

/// The shared sample folder: PTBXL_SAMPLE_DIR, else ../shared/ptbxl-sample beside the repository.
let sampleFolder () =
    match Environment.GetEnvironmentVariable "PTBXL_SAMPLE_DIR" with
    | null | "" -> Path.GetFullPath(Path.Combine(__SOURCE_DIRECTORY__, "..", "..", "..", "shared", "ptbxl-sample"))
    | dir -> dir

/// Splits one CSV line with double-quoted fields (PTB-XL quotes scp_codes and some reports).
let private splitCsv (line: string) =
    let fields = Collections.Generic.List<string>()
    let field = Text.StringBuilder()
    let mutable quoted = false
    let mutable i = 0
    while i < line.Length do
        let ch = line.[i]
        if quoted then
            if ch = '"' && i + 1 < line.Length && line.[i + 1] = '"' then field.Append '"' |> ignore; i <- i + 1
            elif ch = '"' then quoted <- false
            else field.Append ch |> ignore
        elif ch = '"' then quoted <- true
        elif ch = ',' then fields.Add(field.ToString()); field.Clear() |> ignore
        else field.Append ch |> ignore
        i <- i + 1
    fields.Add(field.ToString())
    fields.ToArray()

/// The 400-record sample at 100 Hz with benchmark superclass labels; records without a superclass dropped.
let ptbxlSample () : ProcessedDataset =
    let folder = sampleFolder ()
    let database = Path.Combine(folder, "ptbxl_database.csv")
    if not (File.Exists database) then
        failwithf "PTB-XL sample not found at '%s': set PTBXL_SAMPLE_DIR to the 400-record sample folder." folder
    let statements = File.ReadAllLines(Path.Combine(folder, "scp_statements.csv"))
    let header = splitCsv statements.[0]
    let col name = Array.IndexOf(header, name)
    let superclassOf =
        statements.[1..] |> Array.map splitCsv
        |> Array.filter (fun f -> f.[col "diagnostic"].StartsWith "1")
        |> Array.map (fun f -> f.[0], f.[col "diagnostic_class"]) |> dict
    let lines = File.ReadAllLines database
    let dbHeader = splitCsv lines.[0]
    let dcol name = Array.IndexOf(dbHeader, name)
    let rows =
        [| for line in lines.[1..] do
             let f = splitCsv line
             // scp_codes is a Python dict literal: {'NORM': 100.0, 'SR': 0.0}
             let codes =
                 f.[dcol "scp_codes"].Trim('{', '}').Split(',', StringSplitOptions.RemoveEmptyEntries)
                 |> Array.map (fun kv -> kv.Split(':').[0].Trim().Trim('\''))
             let classes = codes |> Array.choose (fun c -> match superclassOf.TryGetValue c with | true, s -> Some s | _ -> None) |> Set.ofArray
             if not classes.IsEmpty then
                 yield int (float (f.[dcol "ecg_id"])), int (float (f.[dcol "strat_fold"])), f.[dcol "filename_lr"], classes |]
    let samples = 1000
    let signals = Array.zeroCreate<float32> (rows.Length * samples * 12)
    rows |> Array.iteri (fun r (_, _, file, _) ->
        let headerLines = File.ReadAllLines(Path.Combine(folder, file + ".hea"))
        // Signal lines: "<file> 16 1000.0(0)/mV 16 0 <initial> <checksum> 0 <lead>": gain and baseline per lead.
        let gains, baselines =
            headerLines.[1..12] |> Array.map (fun l ->
                let gainField = l.Split(' ').[2]
                let gain = float (gainField.Split('(', '/').[0])
                let baseline = if gainField.Contains "(" then float (gainField.Split('(', ')').[1]) else 0.0
                gain, baseline) |> Array.unzip
        let bytes = File.ReadAllBytes(Path.Combine(folder, file + ".dat"))
        if bytes.Length <> samples * 12 * 2 then failwithf "%s.dat: %d bytes, expected %d" file bytes.Length (samples * 24)
        for t in 0 .. samples - 1 do
            for l in 0 .. 11 do
                let adu = float (BitConverter.ToInt16(bytes, (t * 12 + l) * 2))
                signals.[(r * samples + t) * 12 + l] <- float32 ((adu - baselines.[l]) / gains.[l]))
    let labels = rows |> Array.collect (fun (_, _, _, classes) -> classNames |> Array.map (fun c -> if classes.Contains c then 1uy else 0uy))
    datasetOf signals rows.Length samples 100.0 (rows |> Array.map (fun (id, _, _, _) -> id)) labels (rows |> Array.map (fun (_, fold, _, _) -> fold))

/// A fresh temporary artifacts folder.
let temporaryArtifacts () = Ecg.Tests.TestFolders.create "training"

/// A config with some of its config.json fields (snake_case names) changed, as a session file would hold them.
let modify (config: Ecg.Model.TrainingConfig) (changes: (string * obj) list) =
    let node = System.Text.Json.Nodes.JsonNode.Parse(config.ToJson()).AsObject()
    for name, value in changes do node.[name] <- System.Text.Json.Nodes.JsonValue.Create(value)
    Ecg.Model.TrainingConfig.FromJson(node.ToJsonString())
