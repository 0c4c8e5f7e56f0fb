module Ecg.Data.Tests.JsonDefaultsTests

open System
open System.Text.Json
open Expecto
open Ecg.Data

[<CLIMutable>]
type Scores = { BestEpoch: int; ValidationAuc: float; Threshold: float }

[<Tests>]
let tests =
    testList "JsonDefaults" [
        test "snake_case names, indented, NaN and infinities written and read as named literals" {
            let scores = { BestEpoch = 3; ValidationAuc = nan; Threshold = infinity }
            let json = JsonSerializer.Serialize(scores, JsonDefaults.Options)
            Expect.stringContains json "\"best_epoch\": 3" "snake_case, indented"
            Expect.stringContains json "\"validation_auc\": \"NaN\"" "NaN"
            Expect.stringContains json "\"threshold\": \"Infinity\"" "Infinity"
            let back = JsonSerializer.Deserialize<Scores>(json, JsonDefaults.Options)
            Expect.equal back.BestEpoch 3 "round trip"
            Expect.isTrue (Double.IsNaN back.ValidationAuc && Double.IsPositiveInfinity back.Threshold) "literals read back"
        }

        test "DeclaredNames keeps the property names; both are shared and read-only" {
            let json = JsonSerializer.Serialize({ BestEpoch = 1; ValidationAuc = 0.5; Threshold = -infinity }, JsonDefaults.DeclaredNames)
            Expect.stringContains json "\"BestEpoch\": 1" "declared name"
            Expect.stringContains json "\"Threshold\": \"-Infinity\"" "-Infinity"
            Expect.isTrue (obj.ReferenceEquals(JsonDefaults.Options, JsonDefaults.Options)) "one instance"
            Expect.isTrue JsonDefaults.Options.IsReadOnly "read-only"
            Expect.throwsT<InvalidOperationException> (fun () -> JsonDefaults.Options.WriteIndented <- false) "cannot be changed by one caller for all"
        }
    ]
