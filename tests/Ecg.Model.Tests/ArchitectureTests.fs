module Ecg.Model.Tests.ArchitectureTests

open System
open Expecto
open TorchSharp
open Ecg.Model.Architectures

/// Trainable parameters of the PTB-XL benchmark's PyTorch modules (helme/ecg_ptbxl_benchmarking,
/// code/models/{xresnet1d,inception1d,resnet1d,basic_conv1d}.py with fastai v1's bn_drop_lin), built
/// as its training script builds them for 12 leads and 5 classes (kernel_size 5, inception kernel 40,
/// lin_ftrs_head [128], ps_head 0.5): a Python re-implementation of those modules run under torch 1.13.1
/// (Debian python3-torch), counting sum(p.numel() for p in model.parameters()).
let benchmarkParameterCounts =
    [ "xresnet1d18", 364_933L
      "xresnet1d34", 694_661L
      "xresnet1d50", 953_989L
      "xresnet1d101", 1_872_261L
      "xresnet1d152", 2_790_533L
      "inception1d", 507_653L
      "resnet1d_wang", 473_349L ]
    |> Map.ofList

let private build name : torch.nn.Module<torch.Tensor, torch.Tensor> =
    match name with
    | "xresnet1d18" -> new XResNet1d(XResNet1dVariant.XResNet1d18, 12, 5)
    | "xresnet1d34" -> new XResNet1d(XResNet1dVariant.XResNet1d34, 12, 5)
    | "xresnet1d50" -> new XResNet1d(XResNet1dVariant.XResNet1d50, 12, 5)
    | "xresnet1d101" -> new XResNet1d(XResNet1dVariant.XResNet1d101, 12, 5)
    | "xresnet1d152" -> new XResNet1d(XResNet1dVariant.XResNet1d152, 12, 5)
    | "inception1d" -> new Inception1d(12, 5)
    | "resnet1d_wang" -> new ResNet1dWang(12, 5)
    | other -> failwithf "unknown architecture %s" other

let private parameterCount (model: torch.nn.Module) =
    model.parameters() |> Seq.sumBy (fun p -> p.numel())

/// Fills every convolution, linear and BatchNorm layer from its own flat element index, so that a
/// PyTorch module of the same topology gets identical weights whatever its parameter names or order.
let private fillDeterministic (model: torch.nn.Module) =
    use _ = torch.no_grad()
    let indexOf (t: torch.Tensor) = torch.arange(t.numel().ToScalar(), dtype = torch.float64)
    for struct (_, m) in model.named_modules() do
        let weightAndBias (w: torch.Tensor) (b: torch.Tensor) =
            let fanIn = float (w.numel() / w.shape[0])
            use j = indexOf w
            use values = (torch.sin(j * 0.37 + 0.11) * sqrt (3.0 / fanIn)).view(w.shape)
            w.copy_(values) |> ignore
            if not (isNull b) then
                use k = indexOf b
                use bias = torch.cos(k * 0.7) * 0.05
                b.copy_(bias) |> ignore
        match m with
        | :? TorchSharp.Modules.Conv1d as c -> weightAndBias c.weight c.bias
        | :? TorchSharp.Modules.Linear as l -> weightAndBias l.weight l.bias
        | :? TorchSharp.Modules.BatchNorm1d as bn ->
            use c = indexOf bn.weight
            use gamma = torch.sin(c * 0.3) * 0.2 + 1.0
            use beta = torch.cos(c * 0.5) * 0.1
            use mean = torch.sin(c * 0.9) * 0.05
            use cosine = torch.cos(c * 0.2)
            use variance = cosine * cosine * 0.3 + 1.0
            bn.weight.copy_(gamma) |> ignore
            bn.bias.copy_(beta) |> ignore
            bn.running_mean.copy_(mean) |> ignore
            bn.running_var.copy_(variance) |> ignore
        | _ -> ()

/// Logits of the benchmark's PyTorch modules (same Python re-implementation as above, float64, eval
/// mode) with the weights of fillDeterministic, for the 2 x 12 x 250 input of deterministicSignal.
let benchmarkLogits =
    [ "xresnet1d18", [ 0.253224; -0.118426; 0.109916; -0.065782; -0.069698; 0.253926; -0.118949; 0.110232; -0.065874; -0.069836 ]
      "xresnet1d50", [ 0.363308; -0.24722; 0.250274; -0.209916; 0.070213; 0.363101; -0.246963; 0.249982; -0.209605; 0.0699 ]
      "inception1d", [ 577.551917; -589.353718; 568.585426; -516.237077; 435.155285; 680.726833; -694.305367; 669.490091; -607.495607; 511.703788 ]
      "resnet1d_wang", [ 0.014764; 0.084604; -0.046416; 0.035178; -0.109685; 0.015261; 0.084172; -0.046074; 0.034944; -0.109571 ] ]

let private deterministicSignal () =
    use i = torch.arange((2L * 12L * 250L).ToScalar(), dtype = torch.float64)
    use a = torch.sin(i * 0.013)
    use b = torch.cos(i * 0.071) * 0.5
    (a + b).view(2L, 12L, 250L)

/// Shapes are checked on the cheaper members of each family; xresnet1d101 gets its own test.
let private shapeChecked = [ "xresnet1d18"; "xresnet1d50"; "xresnet1d101"; "inception1d"; "resnet1d_wang" ]

[<Tests>]
let tests =
    testList "Architectures" [
        testList "parameter count equals the benchmark's PyTorch modules" [
            for KeyValue(name, expected) in benchmarkParameterCounts ->
                test name {
                    use model = build name
                    Expect.equal (parameterCount model) expected "trainable parameters"
                }
        ]

        testList "shapes: logits (batch, 5) and 128-d embeddings for 2.5 s, 10 s and odd lengths" [
            for name in shapeChecked ->
                test name {
                    use model = build name
                    model.eval()
                    let network = box model :?> IEcgNetwork
                    Expect.equal network.EmbeddingSize 128 "embedding size"
                    use _ = torch.no_grad()
                    for length in [ 250L; 1000L; 333L ] do
                        use x = torch.randn(2L, 12L, length)
                        use logits = model.forward x
                        use embedding = network.Embed x
                        Expect.sequenceEqual logits.shape [| 2L; 5L |] $"logits at T={length}"
                        Expect.sequenceEqual embedding.shape [| 2L; 128L |] $"embedding at T={length}"
                        // The embedding is the activation after ReLU.
                        Expect.isTrue (embedding.min().ToSingle() >= 0.0f) "embedding is non-negative"
                }
        ]

        testList "same logits as the benchmark's PyTorch modules for the same weights" [
            for (name, expected) in benchmarkLogits ->
                test name {
                    use model = build name
                    model.``to``(torch.float64) |> ignore
                    fillDeterministic model
                    model.eval()
                    use _ = torch.no_grad()
                    use x = deterministicSignal ()
                    use logits = model.forward x
                    let actual = logits.flatten().data<float>().ToArray()
                    Expect.equal actual.Length expected.Length "logit count"
                    for a, e in Seq.zip actual expected do
                        Expect.isTrue (abs (a - e) <= 1e-5 + 1e-5 * abs e) $"logit {a} vs PyTorch {e}"
                }
        ]

        test "backward pass reaches every parameter (xresnet1d18, inception1d, resnet1d_wang)" {
            for name in [ "xresnet1d18"; "inception1d"; "resnet1d_wang" ] do
                use model = build name
                model.train()
                use x = torch.randn(4L, 12L, 250L)
                use logits = model.forward x
                use target = torch.ones(4L, 5L)
                use loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, target)
                loss.backward()
                for struct (pname, p) in model.named_parameters() do
                    Expect.isNotNull (box p.grad) $"{name}: gradient of {pname}"
        }

        test "XResNet1d: last BatchNorm of every block starts at zero, others at one (fastai init_cnn)" {
            use model = new XResNet1d(XResNet1dVariant.XResNet1d50, 12, 5)
            let norms =
                model.named_modules()
                |> Seq.choose (fun struct (n, m) -> match m with :? TorchSharp.Modules.BatchNorm1d as bn -> Some(n, bn) | _ -> None)
                |> Seq.toList
            // 3 stem + 16 blocks x 3 + 1 projection + 2 head.
            Expect.equal norms.Length 54 "BatchNorm layers"
            let zeroed = norms |> List.filter (fun (_, bn) -> bn.weight.abs().max().ToSingle() = 0.0f)
            Expect.equal zeroed.Length 16 "one zero-initialised BatchNorm per block"
            for (n, _) in zeroed do Expect.stringEnds n "convs.2.norm" "zeroed BatchNorm is the block's last"
            for (_, bn) in norms do Expect.equal (bn.bias.abs().max().ToSingle()) 0.0f "biases zero"
            BenchmarkInitialisation.ApplyWeightInit model
            for (_, bn) in norms do Expect.equal (bn.weight.min().ToSingle()) 1.0f "weight_init resets BatchNorm weights to one"
        }

        test "Inception1d: branch kernels 39, 19, 9 from kernel size 40" {
            use model = new Inception1d(12, 5)
            Expect.sequenceEqual model.KernelSizes [ 39L; 19L; 9L ] "kernel sizes"
        }

        test "BenchmarkHead: layer order BN, Dropout, Linear, ReLU, BN, Dropout, Linear; max pool first" {
            use head = new BenchmarkHead(4L, 3)
            head.eval()
            let names = head.named_children() |> Seq.map (fun struct (n, _) -> n) |> Set.ofSeq
            Expect.equal names (Set.ofList [ "poolNorm"; "poolDropout"; "hidden"; "hiddenNorm"; "hiddenDropout"; "classifier" ]) "layers"
            let dropouts =
                head.named_children()
                |> Seq.choose (fun struct (n, m) -> match m with :? TorchSharp.Modules.Dropout as d -> Some(n, d) | _ -> None)
                |> Map.ofSeq
            Expect.equal dropouts.Count 2 "two dropouts"
            // Embedding equals ReLU(Linear(BN_eval([max, mean]))) computed by hand.
            use features = torch.randn(2L, 4L, 7L)
            use embedding = head.Embed features
            let hidden = head.named_children() |> Seq.pick (fun struct (n, m) -> if n = "hidden" then Some(m :?> TorchSharp.Modules.Linear) else None)
            let norm = head.named_children() |> Seq.pick (fun struct (n, m) -> if n = "poolNorm" then Some(m :?> TorchSharp.Modules.BatchNorm1d) else None)
            use pooled = torch.cat([| features.amax([| -1L |]); features.mean([| -1L |]) |], 1L)
            use normalised = (pooled - norm.running_mean) / torch.sqrt(norm.running_var + 1e-5)
            use expected = torch.nn.functional.relu(hidden.forward normalised)
            Expect.isTrue (torch.allclose(embedding, expected, 1e-5, 1e-5)) "embedding"
        }

        test "a wrong input shape fails naming the shape" {
            use model = new ResNet1dWang(12, 5)
            use x = torch.randn(2L, 250L, 12L)
            Expect.throwsT<ArgumentException> (fun () -> model.forward x |> ignore) "leads in the wrong dimension"
        }
    ]

/// Every name `--model` accepts builds a network the training loop and the embedding stage can use.
[<Tests>]
let factoryTests =
    testList "ModelFactory" [
        test "every model name builds a network with logits (2, 5) and 128-d embeddings" {
            for name in Ecg.Model.ModelFactory.Names |> Seq.filter (fun n -> n <> "xresnet1d152" && n <> "xresnet1d101") do
                let config = Ecg.Model.TrainingConfig(Model = name)
                use model = Ecg.Model.ModelFactory.Create(config, 12, 5)
                model.eval()
                use x = torch.randn(2L, 12L, 250L)
                use logits = model.forward x
                Expect.sequenceEqual logits.shape [| 2L; 5L |] name
                match box model with
                | :? IEcgNetwork as network ->
                    use embedded = network.Embed x
                    Expect.sequenceEqual embedded.shape [| 2L; int64 network.EmbeddingSize |] name
                    Expect.equal network.EmbeddingSize 128 name
                | _ -> failtestf "%s does not expose embeddings" name
        }

        test "an unknown model name is refused with the list of known ones" {
            let config = Ecg.Model.TrainingConfig(Model = "transformer")
            let e = Expect.throwsC (fun () -> Ecg.Model.ModelFactory.Create(config, 12, 5) |> ignore) id
            Expect.stringContains e.Message "xresnet1d101" "lists the known models"
        }
    ]
