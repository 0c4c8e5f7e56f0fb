module Ecg.Model.Tests.S4dTests

open System
open System.Numerics
open Expecto
open TorchSharp
open Ecg.Model.Architectures

/// The state-space layer's output by its definition: the zero-order-hold recurrence, mode by mode, in float64
/// complex arithmetic: s_n[k] = exp(Δ A_n) s_n[k-1] + (exp(Δ A_n) - 1) / A_n u[k], y[k] = 2 Re(Σ_n C_n s_n[k]) + D u[k].
let private recurrence (c: float32[]) (d: float32[]) (channels: int) (modes: int) (u: float32[]) (batch: int) (length: int) =
    let y = Array.zeroCreate<float> (batch * channels * length)
    for b in 0 .. batch - 1 do
        for h in 0 .. channels - 1 do
            let step = S4dConvolution.Step(h, channels)
            let state = Array.create modes Complex.Zero
            for k in 0 .. length - 1 do
                let input = float u.[(b * channels + h) * length + k]
                let mutable sum = Complex.Zero
                for n in 0 .. modes - 1 do
                    let a = Complex(-0.5, Math.PI * float n)
                    let decay = Complex.Exp(a * step)
                    state.[n] <- decay * state.[n] + (decay - Complex.One) / a * input
                    sum <- sum + Complex(float c.[(h * modes + n) * 2], float c.[(h * modes + n) * 2 + 1]) * state.[n]
                y.[(b * channels + h) * length + k] <- 2.0 * sum.Real + float d.[h] * input
    y

[<Tests>]
let tests =
    testSequenced <| testList "S4d" [
        test "the FFT convolution equals the state-space recurrence it discretises" {
            torch.manual_seed 11L |> ignore
            use layer = new S4dConvolution(3, 4)
            let parameters = layer.named_parameters() |> Seq.map (fun struct (name, p) -> name, p.data<float32>().ToArray()) |> dict
            Expect.equal (parameters.Keys |> Seq.sort |> List.ofSeq) [ "c"; "d" ] "only C and D train (A and the step are fixed)"
            for length in [ 1; 20; 257 ] do
                use u = torch.randn(2L, 3L, int64 length)
                use y = layer.forward u
                let expected = recurrence parameters.["c"] parameters.["d"] 3 4 (u.data<float32>().ToArray()) 2 length
                let actual = y.data<float32>().ToArray()
                let scale = expected |> Array.map abs |> Array.max
                let worst = Array.map2 (fun (a: float32) e -> abs (float a - e)) actual expected |> Array.max
                Expect.isLessThan (worst / scale) 1e-4 (sprintf "length %d: largest difference %g of %g" length worst scale)
        }

        test "the network trains end to end on any length: gradients reach C, D and every layer; the input is checked" {
            torch.manual_seed 12L |> ignore
            use network = new S4dNetwork(12, 5)
            network.train()
            use x = torch.randn(4L, 12L, 250L)
            use loss = network.forward(x).square().mean()
            loss.backward()
            for struct (name, p) in network.named_parameters() do
                Expect.isTrue (p.grad.abs().sum().item<float32>() > 0.0f) (sprintf "%s has a gradient" name)
            network.eval()
            for length in [ 1L; 1000L ] do
                use y = network.forward(torch.randn(2L, 12L, length))
                Expect.sequenceEqual y.shape [| 2L; 5L |] (sprintf "%d samples" length)
            Expect.throwsC (fun () -> network.forward(torch.randn(2L, 250L, 12L)) |> ignore)
                           (fun e -> Expect.stringContains e.Message "S4dNetwork: input has 250 leads" "names the network and the shape")
        }
    ]
