/// TorchSharp's native library loads and trains on this platform (see Directory.Build.targets:
/// the GLIBCXX_3.4.32 requirement is made weak in the build output on Debian 12).
module Ecg.Model.Tests.TorchRuntimeTests

open Expecto
open TorchSharp
open Ecg.Model

[<Tests>]
let tests =
    testList "TorchRuntime" [
        test "a tensor can be created and summed on CPU" {
            use t = torch.arange(10L, dtype = torch.float32)
            Expect.equal (t.sum().item<float32>()) 45.0f "0 + 1 + ... + 9"
        }

        test "CrossLeadCnn trains on CPU: forward, backward and Adam steps lower the loss" {
            torch.manual_seed 7L |> ignore
            use model = new CrossLeadCnn(12, 5)
            model.``to``(Devices.Resolve "cpu") |> ignore
            use x = torch.randn(16L, 12L, 250L)
            // A target the network can learn: the sign of each of the first five leads' mean.
            use y = x.mean([| -1L |]).narrow(1L, 0L, 5L).gt(torch.tensor 0.0f).to_type torch.float32
            use optimizer = torch.optim.Adam(model.parameters(), lr = 1e-2)
            let step () =
                use scope = torch.NewDisposeScope()
                optimizer.zero_grad()
                let loss = torch.nn.functional.binary_cross_entropy_with_logits(model.forward x, y)
                loss.backward()
                optimizer.step() |> ignore
                loss.item<float32>()
            model.train()
            let first = step ()
            let losses = [ for _ in 1 .. 30 -> step () ]
            let last = List.last losses
            Expect.isTrue (System.Single.IsFinite first && System.Single.IsFinite last) "finite losses"
            Expect.isLessThan last (first * 0.7f) (sprintf "loss fell from %f to %f" first last)
        }

        test "device choice: cpu and auto work, nonsense is refused" {
            Expect.equal (Devices.Resolve "cpu").``type`` DeviceType.CPU "cpu"
            let auto = Devices.Resolve "auto"
            Expect.equal auto.``type`` (if torch.cuda.is_available() then DeviceType.CUDA else DeviceType.CPU) "auto"
            Expect.throwsT<System.ArgumentException> (fun () -> Devices.Resolve "tpu" |> ignore) "unknown device"
        }
    ]
