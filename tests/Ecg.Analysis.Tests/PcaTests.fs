module Ecg.Analysis.Tests.PcaTests

open Expecto
open Ecg.Analysis
open Ecg.Analysis.Tests.TestData

let close9 = { absolute = 1e-9; relative = 1e-9 }

let expectRows (actual: float[][]) (expected: float[][]) what =
    Array.iteri2 (fun i (a: float[]) (e: float[]) ->
        Array.iteri2 (fun j x y -> Expect.floatClose close9 x y (sprintf "%s [%d, %d]" what i j)) a e) actual expected

[<Tests>]
let tests =
    testList "Pca" [
        test "projection, components and variance equal scikit-learn's" {
            // sklearn 1.2.1: PCA(n_components=2, svd_solver="full").fit_transform(blobs(300, 6, 3, 3.0, 1.0, 13))
            let p = Pca.fit 2 (blobs 300 6 3 3.0 1.0 13UL)
            expectRows p.Projection.[0..2]
                [| [| -0.8531519918411222; 3.9986918288530533 |]
                   [| -3.0641623806533866; -4.136812299749139 |]
                   [| 7.04211422376266; 0.9390939144590285 |] |] "projection"
            expectRows p.Projection.[297..299]
                [| [| -3.399933068848222; 3.117286927886573 |]
                   [| -4.553335716177764; -2.810055916023664 |]
                   [| 4.014537814526495; -2.703684692048588 |] |] "projection"
            expectRows p.Components
                [| [| -0.12014487566992435; -0.32756640347586724; -0.21258666997122896; 0.08677174747691452; 0.2625708127293172; -0.869827339221501 |]
                   [| -0.8625641657829975; 0.39760517508944154; 0.20703118068722529; -0.19758404704693502; -0.05021854010779828; -0.11605997352414807 |] |] "components"
            expectRows [| p.ExplainedVarianceRatio; p.ExplainedVariance |]
                [| [| 0.5335531494278505; 0.347490809350946 |]; [| 18.231702331954533; 11.873885490077322 |] |] "variance"
        }
        test "Transform of the fitted rows equals the projection" {
            let data = blobs 50 8 2 1.0 1.0 3UL
            let p = Pca.fit 3 data
            expectRows (p.Transform data) p.Projection "transform"
        }
        test "wide data (N < D) works" {
            let p = Pca.fit 2 (blobs 5 10 2 1.0 1.0 4UL)
            Expect.equal p.Projection.Length 5 "rows"
            Expect.isLessThanOrEqual (Array.sum p.ExplainedVarianceRatio) (1.0 + 1e-12) "ratio"
        }
        test "rejects too many components" {
            Expect.throwsT<System.ArgumentException> (fun () -> Pca.fit 7 (blobs 20 6 1 1.0 1.0 1UL) |> ignore) "components"
        }
    ]
