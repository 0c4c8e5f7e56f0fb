namespace Ecg.Data

open System
open Deedle

/// A ProcessedDataset's per-record metadata as a Deedle frame for scripts.
[<AbstractClass; Sealed>]
type ProcessedDatasetFrame private () =
    /// Frame indexed by ecg_id: strat_fold (int), patient_id, age, sex, height, weight, site (float, NaN
    /// = missing), device (string, blank = missing) and one 0/1 int column per class (CD, HYP, ...).
    static member Metadata(dataset: ProcessedDataset) : Frame<int, string> =
        let ids = dataset.EcgIds
        let num (values: float[]) = Series(ids, values) :> ISeries<int>
        let classes = dataset.ClassNames
        let classColumns =
            classes |> Array.mapi (fun c name ->
                name, (Series(ids, Array.init dataset.RecordCount (fun i -> int dataset.Labels.[i * classes.Length + c])) :> ISeries<int>))
        Frame.ofColumns
            ([ "strat_fold", (Series(ids, dataset.StratFolds) :> ISeries<int>)
               "patient_id", num dataset.PatientIds
               "age", num dataset.Age
               "sex", num dataset.Sex
               "height", num dataset.Height
               "weight", num dataset.Weight
               "site", num dataset.Site
               "device", (Series.ofOptionalObservations (Array.map2 (fun id (d: string) -> id, (if String.IsNullOrEmpty d then None else Some d)) ids dataset.Device) :> ISeries<int>) ]
             @ List.ofArray classColumns)
