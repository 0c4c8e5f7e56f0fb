namespace Ecg.Analysis

open System
open Ecg.Data

/// The projection choices users make on the command line (`--neighbours`, `--tsne-gradient`), parsed once into
/// the enums; a bad value is a one-line UserError listing what is accepted.
[<AbstractClass; Sealed>]
type ProjectionChoices =
    static member NeighbourSearchNames : string[] = [| "auto"; "exact"; "approximate" |]
    static member TsneGradientNames : string[] = [| "auto"; "barnes-hut"; "interpolation" |]

    static member private Parse<'T>(text: string, option: string, names: string[], values: 'T[]) : 'T =
        let wanted = (if isNull text then "" else text.Trim().ToLowerInvariant())
        match Array.tryFindIndex ((=) wanted) names with
        | Some i -> values.[i]
        | None -> raise (UserError(sprintf "%s '%s': use one of %s." option text (String.Join(", ", names))))

    /// auto (exact below 4,096 rows, NN-descent above), exact or approximate.
    static member ParseNeighbourSearch(text: string) =
        ProjectionChoices.Parse(text, "--neighbours", ProjectionChoices.NeighbourSearchNames,
                                [| NeighbourSearch.Automatic; NeighbourSearch.Exact; NeighbourSearch.Approximate |])

    /// auto (interpolation from 10,000 rows, Barnes-Hut below), barnes-hut or interpolation.
    static member ParseTsneGradient(text: string) =
        ProjectionChoices.Parse(text, "--tsne-gradient", ProjectionChoices.TsneGradientNames,
                                [| TsneGradient.Automatic; TsneGradient.BarnesHut; TsneGradient.Interpolation |])
