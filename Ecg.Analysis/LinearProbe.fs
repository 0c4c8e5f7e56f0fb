namespace Ecg.Analysis

open System
open TorchSharp

/// How a probe reads its one linear layer: "softmax" (one logit per bucket, cross-entropy), "sigmoid"
/// (one logit, binary cross-entropy) or "regression" (one output, mean squared error on the standardised target).
[<RequireQualifiedAccess>]
module ProbeKind =
    [<Literal>]
    let Softmax = "softmax"
    [<Literal>]
    let Sigmoid = "sigmoid"
    [<Literal>]
    let Regression = "regression"

/// Adam on one linear layer for a fixed number of epochs, mini-batches shuffled by System.Random(Seed).
[<CLIMutable>]
type ProbeTrainingOptions =
    { Epochs: int
      BatchSize: int
      LearningRate: float
      WeightDecay: float
      Seed: int }
    static member Default = { Epochs = 100; BatchSize = 256; LearningRate = 1e-2; WeightDecay = 0.0; Seed = 0 }

/// One epoch of probe training (epoch 0: before the first step). Score: accuracy for classifiers,
/// mean absolute error in target units for regression; NaN without validation records.
[<CLIMutable>]
type ProbeEpoch =
    { Epoch: int
      TrainLoss: float
      TrainScore: float
      ValidationLoss: float
      ValidationScore: float }

/// A trained probe as plain numbers: outputs = (clip(x, FeatureLow, FeatureHigh) - FeatureMean) / FeatureStd * W^T + b;
/// regression outputs are in standardised target units (times TargetStd plus TargetMean gives the target).
/// The clip to the training rows' range matters for ReLU embeddings: a unit that fires on one training record
/// has a tiny standard deviation, and a new record where it fires strongly would otherwise sit thousands of
/// deviations out and throw the prediction far off (seen: an age of -5,882 years on the sample).
[<CLIMutable>]
type ProbeModel =
    { Kind: string
      Inputs: int
      Outputs: int
      /// (Outputs, Inputs) row-major, as torch's Linear.weight.
      Weight: float32[]
      Bias: float32[]
      FeatureMean: float[]
      FeatureStd: float[]
      /// Smallest and largest value of each feature on the training rows; inputs are clipped to them.
      FeatureLow: float[]
      FeatureHigh: float[]
      TargetMean: float
      TargetStd: float }

    /// Raw outputs (logits, or standardised regression values), (rows, Outputs).
    member m.Evaluate(rows: float[][]) : float[][] =
        rows |> Array.map (fun x ->
            Array.init m.Outputs (fun o ->
                let mutable s = float m.Bias.[o]
                for j in 0 .. m.Inputs - 1 do
                    let v = min m.FeatureHigh.[j] (max m.FeatureLow.[j] x.[j])
                    s <- s + (v - m.FeatureMean.[j]) / m.FeatureStd.[j] * float m.Weight.[o * m.Inputs + j]
                s))

    /// Predicted class per row (softmax: argmax, sigmoid: logit >= 0 i.e. probability >= 0.5).
    member m.PredictClasses(rows: float[][]) : int[] =
        m.Evaluate rows |> Array.map (fun o ->
            if m.Kind = ProbeKind.Sigmoid then (if o.[0] >= 0.0 then 1 else 0)
            else Array.findIndex ((=) (Array.max o)) o)

    /// Predicted target value per row (regression probes).
    member m.PredictValues(rows: float[][]) : float[] =
        m.Evaluate rows |> Array.map (fun o -> o.[0] * m.TargetStd + m.TargetMean)

[<CLIMutable>]
type ProbeFit =
    { Model: ProbeModel
      History: ProbeEpoch[]
      /// Epoch whose weights the model holds: best validation accuracy (classifiers; earliest on ties) or lowest
      /// validation MAE (regression); the last epoch when there are no validation records.
      BestEpoch: int
      Selection: string }

/// Training of one linear layer on frozen features with TorchSharp. Features are standardised with the
/// training rows' mean and standard deviation first, so one learning rate suits every embedding scale.
module LinearProbe =
    let private floats (values: float32[]) (shape: int64[]) = torch.tensor(values, ReadOnlySpan<int64>(shape))
    let private longs (values: int64[]) (shape: int64[]) = torch.tensor(values, ReadOnlySpan<int64>(shape))

    let private standardiser (rows: float[][]) =
        let d = rows.[0].Length
        let mean = Array.init d (fun j -> rows |> Array.averageBy (fun r -> r.[j]))
        let std = Array.init d (fun j ->
            let s = sqrt (rows |> Array.averageBy (fun r -> (r.[j] - mean.[j]) ** 2.0))
            if s > 1e-8 then s else 1.0)
        let low = Array.init d (fun j -> rows |> Array.minBy (fun r -> r.[j]) |> fun r -> r.[j])
        let high = Array.init d (fun j -> rows |> Array.maxBy (fun r -> r.[j]) |> fun r -> r.[j])
        mean, std, low, high

    /// Standardised features, each clipped to its training range first (see ProbeModel).
    let private toTensor (rows: float[][]) (mean: float[]) (std: float[]) (low: float[]) (high: float[]) =
        let d = mean.Length
        let values = Array.zeroCreate<float32> (rows.Length * d)
        rows |> Array.iteri (fun i r ->
            for j in 0 .. d - 1 do values.[i * d + j] <- float32 ((min high.[j] (max low.[j] r.[j]) - mean.[j]) / std.[j]))
        floats (values) [| int64 rows.Length; int64 d |]

    /// Trains a probe of `kind` on (trainRows, trainTargets) and selects the epoch on the validation rows.
    /// Targets: class indices for softmax (0 .. classes-1), 0/1 for sigmoid, values for regression.
    let train (kind: string) (classes: int) (options: ProbeTrainingOptions)
              (trainRows: float[][]) (trainTargets: float[]) (validationRows: float[][]) (validationTargets: float[]) : ProbeFit =
        if trainRows.Length = 0 then invalidArg "trainRows" "a probe needs at least one training record"
        if trainTargets.Length <> trainRows.Length then invalidArg "trainTargets" (sprintf "%d targets for %d rows" trainTargets.Length trainRows.Length)
        if validationTargets.Length <> validationRows.Length then invalidArg "validationTargets" (sprintf "%d targets for %d rows" validationTargets.Length validationRows.Length)
        if options.Epochs < 1 || options.BatchSize < 1 || not (options.LearningRate > 0.0) then
            invalidArg "options" (sprintf "Epochs (%d) and BatchSize (%d) must be >= 1 and LearningRate (%g) > 0" options.Epochs options.BatchSize options.LearningRate)
        let outputs =
            match kind with
            | ProbeKind.Softmax ->
                if classes < 2 then invalidArg "classes" "a softmax probe needs at least 2 classes"
                for t in Array.append trainTargets validationTargets do
                    if t <> Math.Round t || t < 0.0 || t >= float classes then invalidArg "trainTargets" (sprintf "target %g is not a class index 0..%d" t (classes - 1))
                classes
            | ProbeKind.Sigmoid ->
                for t in Array.append trainTargets validationTargets do
                    if t <> 0.0 && t <> 1.0 then invalidArg "trainTargets" (sprintf "target %g is not 0 or 1" t)
                1
            | ProbeKind.Regression -> 1
            | other -> invalidArg "kind" (sprintf "Unknown probe kind '%s': use softmax, sigmoid or regression." other)
        FeatureMatrix.Validate(trainRows, "trainRows") |> ignore
        if validationRows.Length > 0 then FeatureMatrix.Validate(validationRows, "validationRows") |> ignore
        let d = trainRows.[0].Length
        let featureMean, featureStd, featureLow, featureHigh = standardiser trainRows
        let targetMean, targetStd =
            if kind = ProbeKind.Regression then
                let m = Array.average trainTargets
                let s = sqrt (trainTargets |> Array.averageBy (fun t -> (t - m) ** 2.0))
                m, (if s > 1e-12 then s else 1.0)
            else 0.0, 1.0
        let targetTensor (targets: float[]) =
            match kind with
            | ProbeKind.Softmax -> longs (targets |> Array.map int64) [| int64 targets.Length |]
            | ProbeKind.Sigmoid -> floats (targets |> Array.map float32) [| int64 targets.Length; 1L |]
            | _ -> floats (targets |> Array.map (fun t -> float32 ((t - targetMean) / targetStd))) [| int64 targets.Length; 1L |]
        let lossOf (output: torch.Tensor) (target: torch.Tensor) =
            match kind with
            | ProbeKind.Softmax -> torch.nn.functional.cross_entropy(output, target)
            | ProbeKind.Sigmoid -> torch.nn.functional.binary_cross_entropy_with_logits(output, target)
            | _ -> torch.nn.functional.mse_loss(output, target)
        /// Accuracy, or mean absolute error in target units.
        let scoreOf (output: torch.Tensor) (targets: float[]) =
            let values = output.data<float32>().ToArray()
            if kind = ProbeKind.Regression then
                Array.mapi (fun i t -> abs (float values.[i] * targetStd + targetMean - t)) targets |> Array.average
            else
                let predicted i =
                    if kind = ProbeKind.Sigmoid then (if values.[i] >= 0.0f then 1.0 else 0.0)
                    else
                        let row = values.[i * outputs .. (i + 1) * outputs - 1]
                        float (Array.findIndex ((=) (Array.max row)) row)
                (targets |> Array.mapi (fun i t -> if predicted i = t then 1.0 else 0.0) |> Array.average)
        let better score best = if kind = ProbeKind.Regression then score < best else score > best

        torch.manual_seed(int64 options.Seed) |> ignore
        use layer = torch.nn.Linear(int64 d, int64 outputs)
        use optimizer = torch.optim.Adam(layer.parameters(), options.LearningRate, weight_decay = options.WeightDecay)
        use xTrain = toTensor trainRows featureMean featureStd featureLow featureHigh
        use yTrain = targetTensor trainTargets
        use xValidation = if validationRows.Length > 0 then toTensor validationRows featureMean featureStd featureLow featureHigh else null
        use yValidation = if validationRows.Length > 0 then targetTensor validationTargets else null
        let evaluate epoch =
            use _ = torch.no_grad()
            use scope = torch.NewDisposeScope()
            let trainOut = layer.forward xTrain
            let trainLoss = (lossOf trainOut yTrain).item<float32>() |> float
            let validationLoss, validationScore =
                if isNull xValidation then Double.NaN, Double.NaN
                else
                    let out = layer.forward xValidation
                    (lossOf out yValidation).item<float32>() |> float, scoreOf out validationTargets
            { Epoch = epoch; TrainLoss = trainLoss; TrainScore = scoreOf trainOut trainTargets
              ValidationLoss = validationLoss; ValidationScore = validationScore }
        let snapshot () =
            layer.weight.data<float32>().ToArray(), layer.bias.data<float32>().ToArray()
        let random = Random(options.Seed)
        let order = Array.init trainRows.Length id
        let history = Collections.Generic.List<ProbeEpoch>()
        history.Add(evaluate 0)
        let mutable best = (0, snapshot ())
        let mutable bestScore = Double.NaN
        for epoch in 1 .. options.Epochs do
            random.Shuffle order
            let mutable offset = 0
            while offset < order.Length do
                use scope = torch.NewDisposeScope()
                let count = min options.BatchSize (order.Length - offset)
                use index = longs (order.[offset .. offset + count - 1] |> Array.map int64) [| int64 count |]
                let x = xTrain.index_select(0L, index)
                let y = yTrain.index_select(0L, index)
                optimizer.zero_grad()
                let loss = lossOf (layer.forward x) y
                loss.backward()
                optimizer.step() |> ignore
                offset <- offset + count
            let metrics = evaluate epoch
            history.Add metrics
            if isNull xValidation then best <- (epoch, snapshot ())
            elif Double.IsNaN bestScore || better metrics.ValidationScore bestScore then
                bestScore <- metrics.ValidationScore
                best <- (epoch, snapshot ())
        let bestEpoch, (weight, bias) = best
        { Model = { Kind = kind; Inputs = d; Outputs = outputs; Weight = weight; Bias = bias; FeatureMean = featureMean
                    FeatureStd = featureStd; FeatureLow = featureLow; FeatureHigh = featureHigh; TargetMean = targetMean; TargetStd = targetStd }
          History = history.ToArray()
          BestEpoch = bestEpoch
          Selection =
            if isNull xValidation then "last epoch (no validation records)"
            elif kind = ProbeKind.Regression then "lowest validation mean absolute error"
            else "highest validation accuracy (earliest on ties)" }

    /// Saves the model's layer in TorchSharp's format (torch.nn.Linear(Inputs, Outputs).load(path) reads it).
    let saveWeights (model: ProbeModel) (path: string) =
        use layer = torch.nn.Linear(int64 model.Inputs, int64 model.Outputs)
        do
            use _ = torch.no_grad()
            use w = floats (model.Weight) [| int64 model.Outputs; int64 model.Inputs |]
            use b = floats (model.Bias) [| int64 model.Outputs |]
            layer.weight.copy_(w) |> ignore
            layer.bias.copy_(b) |> ignore
        Ecg.Data.AtomicFile.Write(path, fun temporary -> layer.save(temporary) |> ignore)
