namespace Ecg.Data

open System
open System.IO

/// What the Preprocess stage did: rebuilt the dataset (Result) or found it up to date (Result = None).
[<CLIMutable>]
type PreprocessingStageResult =
    { OutputPath: string
      ReportTextPath: string
      /// None when the output was up to date and nothing was read.
      Result: PreprocessingResult option }
    member r.UpToDate = r.Result.IsNone

/// The Preprocess stage (`ecg preprocess`, the Preprocess target): checks the folder, skips the work when the
/// dataset is up to date, else runs Preprocessing and writes the dataset and its report.
[<AbstractClass; Sealed>]
type PreprocessingStage private () =

    /// The output and its report exist and are newer than both PTB-XL CSV files, the signals file the output names
    /// exists, and its signals are on disk when that is asked for. (The WFDB files are not compared: PTB-XL's
    /// releases change them only together with the CSV files, and statting 21,799 records costs more than it saves.)
    static member IsUpToDate(outputPath: string, ptbXlFolder: string, signalsOnDisk: bool) =
        let _, report = Preprocessing.ReportPaths outputPath
        if not (File.Exists outputPath) || not (File.Exists report) then false
        else
            let signals =
                try Some(ProcessedDatasetFile.SignalsFileOf outputPath)
                with
                | :? IOException | :? InvalidDataException -> None
            match signals with
            | None -> false
            | Some s when (if isNull s then signalsOnDisk else not (File.Exists s)) -> false
            | Some _ ->
                let built = File.GetLastWriteTimeUtc outputPath
                [ "ptbxl_database.csv"; "scp_statements.csv" ]
                |> List.forall (fun f -> File.GetLastWriteTimeUtc(Path.Combine(ptbXlFolder, f)) < built)

    /// Runs the stage: a UserError when the folder is not PTB-XL; nothing read when the output is up to date and
    /// `force` is false.
    static member Run(options: PreprocessingOptions, force: bool, progress: Action<PreprocessingProgress>) : PreprocessingStageResult =
        if not (DataSource.LooksLikePtbXl options.PtbXlFolder) then
            raise (UserError(sprintf "%s is not a PTB-XL folder: it lacks ptbxl_database.csv or scp_statements.csv." options.PtbXlFolder))
        let output = Path.GetFullPath options.OutputPath
        let _, reportText = Preprocessing.ReportPaths output
        if not force && PreprocessingStage.IsUpToDate(output, options.PtbXlFolder, options.SignalsOnDisk) then
            { OutputPath = output; ReportTextPath = reportText; Result = None }
        else
            Directory.CreateDirectory(Path.GetDirectoryName output) |> ignore
            let result = Preprocessing.Run({ options with OutputPath = output }, progress)
            if result.Summary.RecordsKept = 0 then
                raise (UserError(sprintf "No record of %s could be kept; see %s." options.PtbXlFolder reportText))
            { OutputPath = output; ReportTextPath = reportText; Result = Some result }
