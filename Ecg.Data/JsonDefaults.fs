namespace Ecg.Data

open System.Text.Json
open System.Text.Json.Serialization

/// The JSON options of every file the solution writes or reads (configs, session state, summaries,
/// thresholds): indented; NaN and infinities as the named literals "NaN", "Infinity", "-Infinity", which
/// System.Text.Json otherwise refuses (a session without validation records has NaN metrics; a class that is
/// never predicted has an infinite threshold). Both instances are read-only and shared.
[<AbstractClass; Sealed>]
type JsonDefaults private () =
    static let create (naming: JsonNamingPolicy) =
        let options =
            JsonSerializerOptions(WriteIndented = true, NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
                                  PropertyNamingPolicy = naming)
        options.MakeReadOnly(true)
        options
    static let snakeCase = create JsonNamingPolicy.SnakeCaseLower
    static let declaredNames = create null

    /// snake_case property names (`class_names`, `best_epoch`): the artifacts' JSON files.
    static member Options : JsonSerializerOptions = snakeCase

    /// Property names as declared (`RecordsKept`): the preprocessing report, whose readers expect them so.
    static member DeclaredNames : JsonSerializerOptions = declaredNames
