module Ecg.Analysis.Tests.MulticlassReportTests

open Expecto
open Ecg.Analysis

let private close (actual: float) (expected: float) what = Expect.floatClose Accuracy.veryHigh actual expected what

[<Tests>]
let tests =
    testList "MulticlassReport" [
        test "four buckets: text, values and confusion equal sklearn 1.2.1" {
            // /usr/bin/python3 (scikit-learn 1.2.1):
            // classification_report(y, p, labels=[0,1,2,3], target_names=names, digits=2 | output_dict=True)
            // confusion_matrix(y, p, labels=[0,1,2,3]).tolist()
            let y = [| 0; 0; 0; 1; 1; 1; 1; 1; 2; 2; 2; 3; 3; 0; 1; 2; 1; 1; 0; 3 |]
            let p = [| 0; 1; 0; 1; 1; 2; 1; 0; 2; 2; 3; 3; 0; 0; 1; 2; 1; 3; 0; 3 |]
            let names = [| "[2, 25)"; "[25, 50)"; "[50, 75)"; ">= 75" |]
            let r = MulticlassReport.Compute(y, p, names)
            Expect.equal (r.ToText 2)
                ("              precision    recall  f1-score   support\n\n     [2, 25)       0.67      0.80      0.73         5\n    [25, 50)       0.83      0.62      0.71         8\n    [50, 75)       0.75      0.75      0.75         4\n       >= 75       0.50      0.67      0.57         3\n\n    accuracy                           0.70        20\n   macro avg       0.69      0.71      0.69        20\nweighted avg       0.72      0.70      0.70        20\n")
                "text (0.625 prints as 0.62: half to even on the exact binary value)"
            let expected =
                [ 0.6666666666666666, 0.8, 0.7272727272727272, 5L
                  0.8333333333333334, 0.625, 0.7142857142857143, 8L
                  0.75, 0.75, 0.75, 4L
                  0.5, 0.6666666666666666, 0.5714285714285715, 3L ]
            List.iteri2 (fun k (row: Ecg.Model.Metrics.ReportRow) (pr, rc, f1, s) ->
                close row.Precision pr (sprintf "precision %d" k)
                close row.Recall rc (sprintf "recall %d" k)
                close row.F1 f1 (sprintf "f1 %d" k)
                Expect.equal row.Support s (sprintf "support %d" k)) (List.ofArray r.Classes) expected
            Expect.isTrue r.MicroIsAccuracy "every label occurs: accuracy row"
            close r.Accuracy 0.7 "accuracy"
            close r.MacroAverage.Precision 0.6875 "macro precision"
            close r.MacroAverage.Recall 0.7104166666666666 "macro recall"
            close r.MacroAverage.F1 0.6907467532467533 "macro f1"
            close r.WeightedAverage.Precision 0.725 "weighted precision"
            close r.WeightedAverage.Recall 0.7 "weighted recall"
            close r.WeightedAverage.F1 0.7032467532467532 "weighted f1"
            Expect.equal r.Confusion [| [| 4; 1; 0; 0 |]; [| 1; 5; 1; 1 |]; [| 0; 0; 3; 1 |]; [| 1; 0; 0; 2 |] |] "confusion"
            let json = System.Text.Json.JsonDocument.Parse(r.ToJson()).RootElement
            close (json.GetProperty("accuracy").GetDouble()) 0.7 "json accuracy"
            close (json.GetProperty("macro avg").GetProperty("f1-score").GetDouble()) 0.6907467532467533 "json macro f1"
        }

        test "a label absent from truth and predictions gives sklearn's micro avg row and zero scores" {
            // classification_report(y2, p2, labels=[0,1,2,3], target_names=["a","b","c","d"], digits=4)
            let y = [| 0; 1; 1; 2; 0; 2; 1; 0 |]
            let p = [| 0; 1; 2; 2; 1; 2; 1; 1 |]
            let r = MulticlassReport.Compute(y, p, [| "a"; "b"; "c"; "d" |])
            Expect.equal (r.ToText 4)
                ("              precision    recall  f1-score   support\n\n           a     1.0000    0.3333    0.5000         3\n           b     0.5000    0.6667    0.5714         3\n           c     0.6667    1.0000    0.8000         2\n           d     0.0000    0.0000    0.0000         0\n\n   micro avg     0.6250    0.6250    0.6250         8\n   macro avg     0.5417    0.5000    0.4679         8\nweighted avg     0.7292    0.6250    0.6018         8\n")
                "text"
            Expect.isFalse r.MicroIsAccuracy "micro avg, not accuracy"
            close r.MacroAverage.F1 0.4678571428571429 "macro f1"
            close r.WeightedAverage.F1 0.6017857142857144 "weighted f1"
        }

        test "class indices out of range are rejected with the position" {
            let e = Expect.throwsC (fun () -> MulticlassReport.Compute([| 0; 4 |], [| 0; 0 |], [| "a"; "b" |]) |> ignore) id
            Expect.stringContains e.Message "trueClasses[1] = 4" "message names the entry"
        }
    ]
