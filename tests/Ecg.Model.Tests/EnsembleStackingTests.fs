/// Stacking an ensemble: the logistic regression it rests on (against scikit-learn) and the per-class stack.
module Ecg.Model.Tests.EnsembleStackingTests

open Expecto
open Ecg.Data
open Ecg.Model
open Ecg.Model.Tests.TrainingFixtures

let private evaluation (probabilities: float32[]) (labels: byte[]) =
    let rows = labels.Length / 5
    Evaluation("validation", Array.init rows id, 5, classNames, probabilities, labels, Array.create 5 nan, nan)
        .WithProbabilities probabilities

/// Two members whose strengths differ by class (the first sees classes 0-2 well, the second 2-4), as probabilities.
let private draw (seed: int) rows =
    let rng = System.Random seed
    let labels = Array.init (rows * 5) (fun _ -> if rng.NextDouble() < 0.3 then 1uy else 0uy)
    let scores (strength: int -> float) =
        labels |> Array.mapi (fun i y ->
            let z = (if y = 1uy then strength (i % 5) else -strength (i % 5)) + 1.5 * (rng.NextDouble() * 2.0 - 1.0) - 0.5
            float32 (1.0 / (1.0 + exp -z)))
    let first = scores (fun c -> if c < 3 then 1.2 else 0.15)
    let second = scores (fun c -> if c >= 2 then 1.2 else 0.15)
    [| evaluation first labels; evaluation second labels |]

[<Tests>]
let tests =
    testList "EnsembleStacking" [
        test "logistic regression equals scikit-learn's LogisticRegression (L2, intercept unpenalised) at C = 1 and 0.1" {
            // Reference: scikit-learn 1.2.1, LogisticRegression(C=C, solver="newton-cg", tol=1e-12, max_iter=1000) on
            // i = 0..59, x1 = 2 sin(0.7 i), x2 = cos(1.3 i) + 0.05 i - 1.5, y = x1 + 0.5 x2 + sin(3.1 i) > 0.3 (28 positives).
            let x = Array.init 60 (fun i -> let i = float i in [| 2.0 * sin (0.7 * i); cos (1.3 * i) + 0.05 * i - 1.5 |])
            let y = Array.init 60 (fun i -> x.[i].[0] + 0.5 * x.[i].[1] + sin (3.1 * float i) > 0.3)
            Expect.equal (y |> Array.filter id |> Array.length) 28 "the fixture as in Python"
            for c, coefficients, intercept, probabilities in
                [ 1.0, [| 1.826980941924223; 0.8449153698397462 |], -0.4514247256225659, [| 0.2944470957931372; 0.7116494944669234; 0.7759973165172843 |]
                  0.1, [| 0.9476904698063452; 0.31281327209928445 |], -0.2718212892624114, [| 0.39454956593577745; 0.6409096749006346; 0.7088894689023437 |] ] do
                let model = LogisticRegression.Fit(x, y, c)
                for j in 0 .. 1 do Expect.floatClose { absolute = 1e-7; relative = 1e-7 } model.Coefficients.[j] coefficients.[j] (sprintf "C %g, coefficient %d" c j)
                Expect.floatClose { absolute = 1e-7; relative = 1e-7 } model.Intercept intercept (sprintf "C %g, intercept" c)
                for r in 0 .. 2 do Expect.floatClose { absolute = 1e-8; relative = 1e-7 } (model.Probability(x.[r])) probabilities.[r] (sprintf "C %g, row %d" c r)
            Expect.throws (fun () -> LogisticRegression.Fit(x, Array.create 60 true) |> ignore) "one outcome only: no finite intercept"
            Expect.throws (fun () -> LogisticRegression.Fit(x, y, 0.0) |> ignore) "C must be positive"
            Expect.throws (fun () -> LogisticRegression.Fit([| [| nan; 1.0 |] |], [| true |]) |> ignore) "finite features"
        }

        test "a stack weights each class's better member, beats the plain mean on records it was not fitted on, and is deterministic" {
            let validation, test = draw 11 1500, draw 12 1500
            let stack = EnsembleStacking.Fit validation
            for k in 0 .. 1 do Expect.isGreaterThan stack.Coefficients.[k].[0] (2.0 * stack.Coefficients.[k].[1]) (sprintf "class %d leans on the first member" k)
            for k in 3 .. 4 do Expect.isGreaterThan stack.Coefficients.[k].[1] (2.0 * stack.Coefficients.[k].[0]) (sprintf "class %d leans on the second member" k)
            let stacked = EnsembleStacking.Apply(stack, test)
            let mean = Ensemble.Mean(test, "0, 1", DataSplit.Test)
            Expect.isGreaterThan stacked.MacroAuc (mean.MacroAuc + 0.005) "per-class weights beat the plain mean on fresh records"
            Expect.isGreaterThan stacked.MacroAuc (test |> Array.map (fun e -> e.MacroAuc) |> Array.max) "and each member alone"
            // The stacked probability is the sigmoid of the class's linear function of the members' logits.
            let logit (p: float32) = let p = float p in log (p / (1.0 - p))
            let z = stack.Intercepts.[3] + stack.Coefficients.[3].[0] * logit test.[0].Probabilities.[3] + stack.Coefficients.[3].[1] * logit test.[1].Probabilities.[3]
            Expect.floatClose Accuracy.medium (float stacked.Probabilities.[3]) (1.0 / (1.0 + exp -z)) "record 0, class 3 by hand"
            let again = EnsembleStacking.Fit validation
            Expect.equal (again.Coefficients, again.Intercepts) (stack.Coefficients, stack.Intercepts) "deterministic"
            Expect.throwsT<UserError> (fun () -> EnsembleStacking.Apply(stack, [| test.[0] |]) |> ignore) "a stack of two applied to one member"
            let noPositive = validation |> Array.map (fun e ->
                let labels = e.Labels |> Array.mapi (fun i y -> if i % 5 = 2 then 0uy else y)
                Evaluation(e.Split, e.EcgIds, e.Classes, e.ClassNames, e.Probabilities, labels, e.AucPerClass, e.MacroAuc))
            let e = Expect.throwsC (fun () -> EnsembleStacking.Fit noPositive |> ignore) id
            Expect.stringContains e.Message "Class " "names the class"
            Expect.stringContains e.Message "no positive" "says what is missing"
        }
    ]
