module Ecg.Data.Tests.SplitMix64Tests

open Expecto
open Ecg.Data

/// The first five outputs of Vigna's reference splitmix64.c for four seeds (reference/splitmix64.c, run by
/// reference/shared_helpers_reference.sh).
let private reference =
    [ 0UL, [| 16294208416658607535UL; 7960286522194355700UL; 487617019471545679UL; 17909611376780542444UL; 1961750202426094747UL |]
      1UL, [| 10451216379200822465UL; 13757245211066428519UL; 17911839290282890590UL; 8196980753821780235UL; 8195237237126968761UL |]
      1234567UL, [| 6457827717110365317UL; 3203168211198807973UL; 9817491932198370423UL; 4593380528125082431UL; 16408922859458223821UL |]
      18446744073709551615UL, [| 16490336266968443936UL; 16834447057089888969UL; 4048727598324417001UL; 7862637804313477842UL; 13015481187462834606UL |] ]

[<Tests>]
let tests =
    testList "SplitMix64" [
        test "NextUInt64 and Output(seed, n) give the reference outputs" {
            for seed, outputs in reference do
                let rng = SplitMix64 seed
                Expect.equal (Array.init 5 (fun _ -> rng.NextUInt64())) outputs (sprintf "stream of seed %d" seed)
                Expect.equal (Array.init 5 (fun i -> SplitMix64.Output(seed, uint64 (i + 1)))) outputs (sprintf "Output(%d, n)" seed)
        }

        testProperty "Mix(a, b) is the (b + 1)-th output of a generator seeded with a" <| fun (a: uint64) (b: byte) ->
            let rng = SplitMix64 a
            let mutable last = 0UL
            for _ in 0 .. int b do last <- rng.NextUInt64()
            SplitMix64.Mix(a, uint64 b) = last

        test "doubles are in [0, 1), Below(n) in [0, n), and the same seed gives the same stream" {
            let a, b = SplitMix64 42UL, SplitMix64 42UL
            for _ in 1 .. 1000 do
                let x = a.NextDouble()
                Expect.isTrue (x >= 0.0 && x < 1.0) "NextDouble in [0, 1)"
                Expect.equal x (b.NextDouble()) "same seed, same stream"
                let k = a.Below 7
                Expect.isTrue (k >= 0 && k < 7) "Below 7"
                b.Below 7 |> ignore
        }
    ]
