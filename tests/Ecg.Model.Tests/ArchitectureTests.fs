module Ecg.Model.Tests.ArchitectureTests

open System
open Expecto
open TorchSharp
open Ecg.Model.Architectures

/// Trainable parameters of the PTB-XL benchmark's PyTorch modules (helme/ecg_ptbxl_benchmarking,
/// code/models/{xresnet1d,inception1d,resnet1d,basic_conv1d,rnn1d}.py with fastai v1's bn_drop_lin), built
/// as its training script builds them (kernel_size 5, inception kernel 40, lin_ftrs_head [128], ps_head 0.5;
/// RNN1d with hidden 256, 2 layers), for (12 leads, 5 classes), (1 lead, 5 classes) and (12 leads, 71 classes):
/// sum(p.numel() for p in model.parameters()) of the re-implementation in reference_architectures.py (beside this
/// file), run under torch 1.13.1 (Debian python3-torch). The 12-lead/5-class values of the first seven were cited
/// here before that script was committed; it reproduces them.
let benchmarkParameterCounts =
    [ "xresnet1d18", (364_933L, 363_173L, 373_447L)
      "xresnet1d34", (694_661L, 692_901L, 703_175L)
      "xresnet1d50", (953_989L, 952_229L, 962_503L)
      "xresnet1d101", (1_872_261L, 1_870_501L, 1_880_775L)
      "xresnet1d152", (2_790_533L, 2_788_773L, 2_799_047L)
      "inception1d", (507_653L, 505_541L, 516_167L)
      "resnet1d_wang", (473_349L, 463_493L, 481_863L)
      "fcn_wang", (309_765L, 298_501L, 318_279L)
      "lstm", (903_685L, 892_421L, 912_199L)
      "lstm_bidir", (2_330_629L, 2_308_101L, 2_339_143L) ]

/// The (leads, classes) pairs of the reference counts, in the order of the tuples above.
let private referenceShapes = [ (12, 5); (1, 5); (12, 71) ]

let private build name (leads: int) (classes: int) : torch.nn.Module<torch.Tensor, torch.Tensor> =
    match name with
    | "xresnet1d18" -> new XResNet1d(XResNet1dVariant.XResNet1d18, leads, classes)
    | "xresnet1d34" -> new XResNet1d(XResNet1dVariant.XResNet1d34, leads, classes)
    | "xresnet1d50" -> new XResNet1d(XResNet1dVariant.XResNet1d50, leads, classes)
    | "xresnet1d101" -> new XResNet1d(XResNet1dVariant.XResNet1d101, leads, classes)
    | "xresnet1d152" -> new XResNet1d(XResNet1dVariant.XResNet1d152, leads, classes)
    | "inception1d" -> new Inception1d(leads, classes)
    | "resnet1d_wang" -> new ResNet1dWang(leads, classes)
    | "fcn_wang" -> new FcnWang(leads, classes)
    | "lstm" -> new Lstm1d(leads, classes, bidirectional = false)
    | "lstm_bidir" -> new Lstm1d(leads, classes, bidirectional = true)
    | other -> failwithf "unknown architecture %s" other

let private parameterCount (model: torch.nn.Module) =
    model.parameters() |> Seq.sumBy (fun p -> p.numel())

/// Fills every convolution, linear, BatchNorm and LSTM layer from its own flat element index, so that a
/// PyTorch module of the same topology gets identical weights whatever its parameter names or order
/// (fill_deterministic in reference_architectures.py does the same).
let private fillDeterministic (model: torch.nn.Module) =
    use _ = torch.no_grad()
    let indexOf (t: torch.Tensor) = torch.arange(t.numel().ToScalar(), dtype = torch.float64)
    let fillBias (b: torch.Tensor) =
        use k = indexOf b
        use bias = torch.cos(k * 0.7) * 0.05
        b.copy_(bias) |> ignore
    let fillWeight (w: torch.Tensor) =
        let fanIn = float (w.numel() / w.shape[0])
        use j = indexOf w
        use values = (torch.sin(j * 0.37 + 0.11) * sqrt (3.0 / fanIn)).view(w.shape)
        w.copy_(values) |> ignore
    for struct (_, m) in model.named_modules() do
        let weightAndBias (w: torch.Tensor) (b: torch.Tensor) =
            fillWeight w
            if not (isNull b) then fillBias b
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
        | :? TorchSharp.Modules.LSTM as lstm ->
            // weight_ih/weight_hh (4H, fan-in) like a linear weight, bias_ih/bias_hh like a bias.
            for struct (name, p) in lstm.named_parameters() do
                if name.StartsWith "weight" then fillWeight p else fillBias p
        | _ -> ()

/// Logits of the benchmark's PyTorch modules (reference_architectures.py, float64, eval mode) with the
/// weights of fillDeterministic, for the 2 x 12 x 250 input of deterministicSignal. The first four were cited
/// here before that script was committed; it reproduces them to every printed digit.
let benchmarkLogits =
    [ "xresnet1d18", [ 0.253224; -0.118426; 0.109916; -0.065782; -0.069698; 0.253926; -0.118949; 0.110232; -0.065874; -0.069836 ]
      "xresnet1d50", [ 0.363308; -0.24722; 0.250274; -0.209916; 0.070213; 0.363101; -0.246963; 0.249982; -0.209605; 0.0699 ]
      "inception1d", [ 577.551917; -589.353718; 568.585426; -516.237077; 435.155285; 680.726833; -694.305367; 669.490091; -607.495607; 511.703788 ]
      "resnet1d_wang", [ 0.014764; 0.084604; -0.046416; 0.035178; -0.109685; 0.015261; 0.084172; -0.046074; 0.034944; -0.109571 ]
      "fcn_wang", [ 0.055543; 0.041758; -0.003882; -0.004684; -0.074706; 0.051281; 0.046894; -0.009606; 0.00131; -0.080639 ]
      "lstm", [ -0.021754; 0.12299; -0.084542; 0.070927; -0.141073; -0.021927; 0.123154; -0.084688; 0.071047; -0.14116 ]
      "lstm_bidir", [ -0.020697; 0.121729; -0.083145; 0.069472; -0.139642; -0.02073; 0.121747; -0.083147; 0.069459; -0.139613 ] ]

let private deterministicSignal () =
    use i = torch.arange((2L * 12L * 250L).ToScalar(), dtype = torch.float64)
    use a = torch.sin(i * 0.013)
    use b = torch.cos(i * 0.071) * 0.5
    (a + b).view(2L, 12L, 250L)

/// Shapes are checked on the cheaper members of each family; xresnet1d101 gets its own test.
let private shapeChecked = [ "xresnet1d18"; "xresnet1d50"; "xresnet1d101"; "inception1d"; "resnet1d_wang"; "fcn_wang"; "lstm"; "lstm_bidir" ]

/// torch 1.13's nn.LSTM(12, 256, num_layers=2, bidirectional=...).named_parameters() as reference_architectures.py
/// prints them: (name, shape) in torch's order.
let torchLstmLayout bidirectional =
    let directions = if bidirectional then [ ""; "_reverse" ] else [ "" ]
    [ for layer in [ 0; 1 ] do
        let inputs = if layer = 0 then 12L else 256L * int64 directions.Length
        for suffix in directions do
            $"weight_ih_l{layer}{suffix}", [| 1024L; inputs |]
            $"weight_hh_l{layer}{suffix}", [| 1024L; 256L |]
            $"bias_ih_l{layer}{suffix}", [| 1024L |]
            $"bias_hh_l{layer}{suffix}", [| 1024L |] ]

let private assertEmbedding (model: torch.nn.Module<torch.Tensor, torch.Tensor>) (x: torch.Tensor) label =
    let network = box model :?> IEcgNetwork
    Expect.equal network.EmbeddingSize 128 $"{label}: embedding size"
    use embedding = network.Embed x
    Expect.sequenceEqual embedding.shape [| x.shape[0]; 128L |] $"{label}: embedding shape"
    // The embedding is the activation after ReLU.
    Expect.isTrue (embedding.min().ToSingle() >= 0.0f) $"{label}: embedding is non-negative"

[<Tests>]
let tests =
    testList "Architectures" [
        testList "parameter count equals the benchmark's PyTorch modules (12/5, 1/5, 12/71 leads/classes)" [
            for (name, (c12x5, c1x5, c12x71)) in benchmarkParameterCounts ->
                test name {
                    for (leads, classes), expected in List.zip referenceShapes [ c12x5; c1x5; c12x71 ] do
                        use model = build name leads classes
                        Expect.equal (parameterCount model) expected $"trainable parameters, {leads} leads, {classes} classes"
                }
        ]

        testList "shapes: logits (batch, classes) and 128-d embeddings for several leads, classes and lengths" [
            for name in shapeChecked ->
                test name {
                    for (leads, classes) in referenceShapes do
                        use model = build name leads classes
                        model.eval()
                        use _ = torch.no_grad()
                        // 2.5 s, 10 s and an odd length for the 12-lead 5-class network; 2.5 s for the others.
                        let lengths = if (leads, classes) = (12, 5) then [ 250L; 1000L; 333L ] else [ 250L ]
                        for length in lengths do
                            use x = torch.randn(2L, int64 leads, length)
                            use logits = model.forward x
                            let label = $"{leads} leads, {classes} classes, T={length}"
                            Expect.sequenceEqual logits.shape [| 2L; int64 classes |] $"{label}: logits"
                            assertEmbedding model x label
                }
        ]

        testList "same logits as the benchmark's PyTorch modules for the same weights" [
            for (name, expected) in benchmarkLogits ->
                test name {
                    use model = build name 12 5
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

        test "backward pass reaches every parameter (xresnet1d18, inception1d, resnet1d_wang, fcn_wang)" {
            for name in [ "xresnet1d18"; "inception1d"; "resnet1d_wang"; "fcn_wang" ] do
                use model = build name 12 5
                model.train()
                use x = torch.randn(4L, 12L, 250L)
                use logits = model.forward x
                use target = torch.ones(4L, 5L)
                use loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, target)
                loss.backward()
                for struct (pname, p) in model.named_parameters() do
                    Expect.isNotNull (box p.grad) $"{name}: gradient of {pname}"
        }

        test "LSTM: parameter names and shapes are torch's (weight_ih_l0, ..., _reverse)" {
            for bidirectional in [ false; true ] do
                use model = new Lstm1d(12, 5, bidirectional = bidirectional)
                let layout =
                    model.named_parameters()
                    |> Seq.choose (fun struct (n, p) -> if n.StartsWith "lstm." then Some(n.Substring 5, p.shape) else None)
                    |> Seq.toList
                Expect.sequenceEqual layout (torchLstmLayout bidirectional) $"bidirectional={bidirectional}, in torch's order"
        }

        test "LSTM: forward and backward on batch 2, 12 x 250 on CPU, gradients everywhere" {
            for bidirectional in [ false; true ] do
                use model = new Lstm1d(12, 5, bidirectional = bidirectional)
                model.train()
                let clock = Diagnostics.Stopwatch.StartNew()
                use x = torch.randn(2L, 12L, 250L)
                use logits = model.forward x
                use target = torch.ones(2L, 5L)
                use loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, target)
                loss.backward()
                clock.Stop()
                for struct (pname, p) in model.named_parameters() do
                    Expect.isNotNull (box p.grad) $"bidirectional={bidirectional}: gradient of {pname}"
                    Expect.isTrue (p.grad.abs().sum().ToDouble() > 0.0) $"bidirectional={bidirectional}: non-zero gradient of {pname}"
                // Both directions together took 0.47 s on the quiet 2-core build machine; 10 s would mean something is badly off.
                Expect.isLessThan clock.Elapsed.TotalSeconds 10.0 $"bidirectional={bidirectional}: forward + backward time"
        }

        test "LSTM head pools [mean, max, last step] of the LSTM outputs (rnn1d.py's AdaptiveConcatPoolRNN)" {
            use head = new BenchmarkHead(4L, 3, pooling = HeadPooling.MeanMaxLast)
            head.eval()
            Expect.equal head.PooledFeatures 12L "3C features"
            use features = torch.randn(2L, 4L, 7L)
            use embedding = head.Embed features
            let child name = head.named_children() |> Seq.pick (fun struct (n, m) -> if n = name then Some m else None)
            let hidden = child "hidden" :?> TorchSharp.Modules.Linear
            let norm = child "poolNorm" :?> TorchSharp.Modules.BatchNorm1d
            use last = features.select(-1, -1L)
            use pooled = torch.cat([| features.mean([| -1L |]); features.amax([| -1L |]); last |], 1L)
            use normalised = (pooled - norm.running_mean) / torch.sqrt(norm.running_var + 1e-5)
            use expected = torch.nn.functional.relu(hidden.forward normalised)
            Expect.isTrue (torch.allclose(embedding, expected, 1e-5, 1e-5)) "embedding"
        }

        test "FcnWang: kernels 8, 5, 3 with padding (k-1)/2 shorten the sequence by one" {
            use model = new FcnWang(12, 5)
            let convs =
                model.modules() |> Seq.choose (function :? TorchSharp.Modules.Conv1d as c -> Some c | _ -> None) |> Seq.toList
            Expect.sequenceEqual (convs |> List.map (fun c -> c.weight.shape[2])) [ 8L; 5L; 3L ] "kernels"
            Expect.isTrue (convs |> List.forall (fun c -> isNull c.bias)) "no conv bias before BatchNorm"
            use x = torch.randn(1L, 12L, 2L)
            use _ = torch.no_grad()
            model.eval()
            use logits = model.forward x
            Expect.sequenceEqual logits.shape [| 1L; 5L |] "two samples are enough"
            use tooShort = torch.randn(1L, 12L, 1L)
            Expect.throwsT<ArgumentException> (fun () -> model.forward tooShort |> ignore) "one sample is not"
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

/// Names that existing sessions' config.json files store: they must keep resolving.
let private namesInExistingSessions =
    [ "cross-lead-cnn"; "xresnet1d18"; "xresnet1d34"; "xresnet1d50"; "xresnet1d101"; "xresnet1d152"; "inception1d"; "resnet1d-wang" ]

/// Every name `--model` accepts builds a network the training loop and the embedding stage can use.
[<Tests>]
let factoryTests =
    testList "ModelFactory" [
        test "every model name builds a network with logits (2, classes) and 128-d embeddings" {
            for name in Ecg.Model.ModelFactory.Names |> Seq.filter (fun n -> n <> "xresnet1d152" && n <> "xresnet1d101") do
                for leads, classes in [ 12, 5; 1, 71 ] do
                    let config = Ecg.Model.TrainingConfig(Model = name)
                    use model = Ecg.Model.ModelFactory.Create(config, leads, classes)
                    model.eval()
                    use x = torch.randn(2L, int64 leads, 250L)
                    use logits = model.forward x
                    Expect.sequenceEqual logits.shape [| 2L; int64 classes |] name
                    match box model with
                    | :? IEcgNetwork as network ->
                        use embedded = network.Embed x
                        Expect.sequenceEqual embedded.shape [| 2L; int64 network.EmbeddingSize |] name
                        Expect.equal network.EmbeddingSize 128 name
                    | _ -> failtestf "%s does not expose embeddings" name
        }

        test "one list: factory names are Architecture.All's, unique, and include every stored and new name" {
            let names = Architecture.All |> Seq.map (fun a -> a.Name) |> Seq.toList
            Expect.sequenceEqual Ecg.Model.ModelFactory.Names names "ModelFactory.Names"
            Expect.equal (List.distinct names) names "no name twice"
            for name in namesInExistingSessions @ [ "fcn-wang"; "lstm"; "lstm-bidir" ] do
                Expect.isTrue (fst (Architecture.TryParse name)) $"{name} resolves"
                Expect.equal (Architecture.Parse(name).Name) name "round trip"
            Expect.equal (Ecg.Model.TrainingConfig().Model) Ecg.Model.ModelFactory.CrossLeadCnn "default model"
            Expect.equal Architecture.CrossLeadCnn.Name Ecg.Model.ModelFactory.CrossLeadCnn "default model's name"
        }

        test "each name builds its own network type" {
            let typeOf name =
                use model = Architecture.Parse(name).Create(12, 5)
                model.GetType().Name
            Expect.equal (typeOf "fcn-wang") "FcnWang" "fcn-wang"
            Expect.equal (typeOf "lstm") "Lstm1d" "lstm"
            Expect.equal (typeOf "resnet1d-wang") "ResNet1dWang" "resnet1d-wang"
            use bidirectional = Architecture.Parse("lstm-bidir").Create(12, 5)
            Expect.isTrue (bidirectional :?> Lstm1d).Bidirectional "lstm-bidir is bidirectional"
            use unidirectional = Architecture.Parse("lstm").Create(12, 5)
            Expect.isFalse (unidirectional :?> Lstm1d).Bidirectional "lstm is not"
            use keras = Architecture.CrossLeadCnn.Create(12, 5, Ecg.Model.LayerSettings.Keras)
            let norm = keras.modules() |> Seq.pick (function :? TorchSharp.Modules.BatchNorm1d as bn -> Some bn | _ -> None)
            Expect.floatClose Accuracy.high norm.eps 1e-3 "the cross-lead CNN gets the layer settings"
        }

        test "an unknown model name is refused in one line listing every accepted name" {
            let config = Ecg.Model.TrainingConfig(Model = "transformer")
            let e = Expect.throwsC (fun () -> Ecg.Model.ModelFactory.Create(config, 12, 5) |> ignore) id
            Expect.isTrue (e :? ArgumentException) "ArgumentException"
            Expect.stringContains e.Message "'transformer'" "names the bad name"
            for a in Architecture.All do Expect.stringContains e.Message a.Name "lists every accepted name"
            Expect.isFalse (e.Message.Contains '\n') "one line"
            let validation = Expect.throwsC (fun () -> config.Validate() |> ignore) id
            Expect.stringContains validation.Message "transformer" "config validation names it too"
            Expect.stringContains validation.Message "lstm-bidir" "and lists the accepted names"
        }

        test "a near miss gets a hint: the benchmark's spelling resnet1d_wang, or another case" {
            let hint name = (Expect.throwsC (fun () -> Architecture.Parse name |> ignore) id).Message
            Expect.stringContains (hint "resnet1d_wang") "Did you mean 'resnet1d-wang'?" "underscore"
            Expect.stringContains (hint "LSTM_bidir") "Did you mean 'lstm-bidir'?" "case and underscore"
            Expect.isFalse ((hint "alexnet").Contains "Did you mean") "no hint without a near name"
            Expect.throwsT<ArgumentException> (fun () -> Architecture.Parse null |> ignore) "null"
        }

        test "help list: one line per model, name then description" {
            let lines = Architecture.HelpList.Split(Environment.NewLine)
            Expect.equal lines.Length Architecture.All.Count "one line each"
            for line, a in Seq.zip lines Architecture.All do
                Expect.stringStarts line a.Name "name first"
                Expect.stringEnds line a.Description "description last"
                Expect.isFalse (String.IsNullOrWhiteSpace a.Description) $"{a.Name} has a description"
        }

        test "leads and classes must be positive" {
            Expect.throwsT<ArgumentOutOfRangeException> (fun () -> Architecture.Lstm.Create(0, 5) |> ignore) "no leads"
            Expect.throwsT<ArgumentOutOfRangeException> (fun () -> Architecture.FcnWang.Create(12, 0) |> ignore) "no classes"
        }
    ]
