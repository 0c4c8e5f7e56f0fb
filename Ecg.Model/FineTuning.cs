using System.Globalization;
using Ecg.Data;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Ecg.Model;

/// <summary>
/// Where a fine-tuned session's initial weights came from (config.json's <c>initialized_from</c>): the source session,
/// the weights file and its SHA-256, and exactly which tensors were copied and which kept their fresh initialisation.
/// </summary>
public sealed record InitializationRecord
{
    /// <summary>The source session's folder (full path) and number.</summary>
    public required string SourceFolder { get; init; }
    public required int SourceNumber { get; init; }
    /// <summary>The weights choice as text: "best", "7" or "9-12".</summary>
    public required string Weights { get; init; }
    /// <summary>What the weights file holds, e.g. "best weights, epoch 3" (<see cref="Checkpoint.Describe"/>).</summary>
    public required string WeightsDescription { get; init; }
    public required string WeightsFile { get; init; }
    public required string WeightsSha256 { get; init; }
    /// <summary>True when the source's task, classes and leads are the new session's: every tensor is copied.</summary>
    public required bool SameTask { get; init; }
    /// <summary>Parameters and buffers copied from the source.</summary>
    public required int CopiedTensors { get; init; }
    /// <summary>State-dict names of the tensors that kept the new model's fresh initialisation, in state-dict order.</summary>
    public required string[] ReinitialisedTensors { get; init; }
    /// <summary>State-dict names of the classification head (trained alone while the backbone is frozen).</summary>
    public required string[] HeadTensors { get; init; }
}

/// <summary>
/// Fine-tuning (`ecg train --init-from SESSION[:WEIGHTS]`): a new session starts from another session's weights.
/// The source weights are loaded, verified (<see cref="Checkpoint.LoadWeights(nn.Module, TrainingSession, string)"/>),
/// into a model built from the source's own config, leads and classes; then every tensor of the new model is copied
/// from it when the two sessions share task, classes and leads. Otherwise everything but the classification head is
/// copied (the head: the last Linear layer whose output width is the new class count), and so is nothing whose shape
/// differs (the first convolution when the lead count differs). The architecture must be the same.
/// </summary>
public static class FineTuning
{
    /// <summary>What `--init-from` accepts.</summary>
    public const string Accepted = "SESSION[:WEIGHTS], SESSION a number or latest, WEIGHTS " + WeightsChoice.Accepted + " (default best)";

    /// <summary>Splits "3", "latest:best" or "3:9-12" into the session choice and the weights choice.</summary>
    public static (string Session, WeightsChoice Weights) Parse(string text, string option = "--init-from")
    {
        var t = (text ?? "").Trim();
        int colon = t.IndexOf(':');
        var session = (colon < 0 ? t : t[..colon]).Trim();
        if (session.Length == 0 || !(session.Equals("latest", StringComparison.OrdinalIgnoreCase)
                                     || int.TryParse(session, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n >= 1))
            throw new UserError($"{option} '{text}': use {Accepted}.");
        var weights = colon < 0 ? WeightsChoice.Best : WeightsChoice.Parse(t[(colon + 1)..], option + " weights");
        return (session, weights);
    }

    /// <summary>Opens the source session of an `--init-from` text in a layout (a UserError listing the sessions when there is no such one).</summary>
    public static (TrainingSession Session, WeightsChoice Weights) OpenSource(ArtifactLayout layout, string initFrom)
    {
        var (session, weights) = Parse(initFrom);
        return (TrainingSession.Open(layout, session), weights);
    }

    /// <summary>
    /// State-dict names of the classification head: the weight and bias of the last Linear layer (module order) whose
    /// output width is <paramref name="classes"/>. Every architecture ends in one (CrossLeadCnn's classifier, BenchmarkHead's).
    /// </summary>
    public static string[] HeadTensorNames(nn.Module model, int classes)
    {
        var head = model.named_modules().LastOrDefault(m => m.module is Linear linear && linear.weight is { } w && w.shape[0] == classes);
        if (head.module is null)
            throw new InvalidOperationException($"{model.GetName()} has no Linear layer with {classes} outputs: cannot tell its classification head.");
        return head.module.named_parameters().Select(p => head.name + "." + p.name)
                   .Concat(head.module.named_buffers().Select(b => head.name + "." + b.name)).ToArray();
    }

    /// <summary>
    /// Loads the source weights into a model built from the source's config and copies them into <paramref name="model"/>
    /// (a fresh network of the new session's config, <paramref name="leadNames"/> and <paramref name="classNames"/>),
    /// by the rules of <see cref="FineTuning"/>. Returns what was done; tensors not copied keep their fresh values.
    /// </summary>
    public static InitializationRecord Initialise(nn.Module<Tensor, Tensor> model, TrainingConfig config, string[] classNames, string[] leadNames,
                                                  TrainingSession source, WeightsChoice weights)
    {
        var sourceConfig = source.Manifest.Config;
        if (!string.Equals(sourceConfig.Model, config.Model, StringComparison.Ordinal))
            throw new UserError($"--init-from: session {source.Number} ('{source.Folder}') is a {sourceConfig.Model} network and this session a {config.Model}: " +
                                $"fine-tuning copies weights between the same architecture (drop --model, or use --model {sourceConfig.Model}).");
        var path = Path.GetFullPath(source.WeightsPath(weights));
        var state = source.LoadState();
        using var sourceModel = ModelFactory.Create(sourceConfig, source.Manifest.LeadNames.Length, source.Manifest.ClassNames.Length);
        try { Checkpoint.LoadWeights(sourceModel, source, state, path); }
        catch (FileNotFoundException)
        {
            throw new UserError($"--init-from: session {source.Number} ('{source.Folder}') has no {(weights.Epoch is int e ? $"epoch {e}" : weights.IsBest ? "best" : $"averaged {weights}")} weights ('{path}')" +
                                (state.LastCompletedEpoch == 0 ? ": it has no completed epoch." : $"; it has completed {state.LastCompletedEpoch} epoch(s)."));
        }
        catch (InvalidDataException e) { throw new UserError("--init-from: " + e.Message); }
        catch (CheckpointDamagedException e)
        {
            throw new CheckpointDamagedException($"--init-from: cannot start from session {source.Number}'s {weights} weights: {e.Message}", e.FilePath, e.Epoch, e);
        }

        // A pretrained (contrastive) source has no trained classifier to keep: its head starts afresh.
        bool sameTask = sourceConfig.Objective == TrainingObjective.Supervised && sourceConfig.Task == config.Task && source.Manifest.ClassNames.SequenceEqual(classNames)
                        && source.Manifest.LeadNames.SequenceEqual(leadNames);
        var head = HeadTensorNames(model, classNames.Length);
        var from = sourceModel.state_dict();
        var reinitialised = new List<string>();
        int copied = 0;
        using (no_grad())
        {
            foreach (var (name, tensor) in model.state_dict())
            {
                bool take = (sameTask || !head.Contains(name)) && from.TryGetValue(name, out var value) && value.shape.SequenceEqual(tensor.shape);
                if (take) { tensor.copy_(from[name]); copied++; }
                else reinitialised.Add(name);
            }
        }
        return new InitializationRecord
        {
            SourceFolder = source.Folder, SourceNumber = source.Number, Weights = weights.ToString(),
            WeightsDescription = Checkpoint.Describe(source, state, path), WeightsFile = path, WeightsSha256 = TrainingSession.Sha256(path),
            SameTask = sameTask, CopiedTensors = copied, ReinitialisedTensors = reinitialised.ToArray(), HeadTensors = head,
        };
    }

    /// <summary>
    /// Re-applies a session's recorded initialisation to its fresh model (epoch 0, also after a run stopped in epoch 1):
    /// the source file must still be the one recorded, so that the session's start is what config.json says.
    /// </summary>
    internal static void Reapply(nn.Module<Tensor, Tensor> model, SessionManifest manifest, InitializationRecord record)
    {
        TrainingSession source;
        try { source = TrainingSession.Open(record.SourceFolder); }
        catch (FileNotFoundException e)
        {
            throw new UserError($"This session starts from session {record.SourceNumber}'s weights ({record.WeightsFile}), which is gone: {e.Message}");
        }
        var again = Initialise(model, manifest.Config, manifest.ClassNames, manifest.LeadNames, source, WeightsChoice.Parse(record.Weights));
        if (again.WeightsSha256 != record.WeightsSha256 || !again.ReinitialisedTensors.SequenceEqual(record.ReinitialisedTensors))
            throw new InvalidDataException(
                $"This session starts from '{record.WeightsFile}' with SHA-256 {record.WeightsSha256[..12]}..., but that file now has " +
                $"{again.WeightsSha256[..12]}... (the source session's {record.Weights} weights changed since): start a new session from it instead.");
    }

    /// <summary>
    /// Freezes (or unfreezes) the backbone for one epoch: while frozen only <paramref name="trainable"/> (the head and any
    /// reinitialised tensor) take gradients, and the BatchNorm layers with no trainable parameter are put in eval mode
    /// so that their running statistics stay the copied ones too (call after model.train()). Depends only on
    /// <paramref name="frozen"/>, so a resumed run is in the same state as an uninterrupted one.
    /// </summary>
    internal static void SetFrozen(nn.Module model, IReadOnlySet<string> trainable, bool frozen)
    {
        foreach (var (name, parameter) in model.named_parameters())
            parameter.requires_grad = !frozen || trainable.Contains(name);
        if (!frozen) return;
        foreach (var (name, module) in model.named_modules())
            if (module is BatchNorm1d && !module.named_parameters().Any(p => trainable.Contains(name + "." + p.name)))
                module.eval();
    }

    /// <summary>The names that train while the backbone is frozen: the head's and the reinitialised parameters.</summary>
    internal static IReadOnlySet<string> TrainableWhileFrozen(InitializationRecord record) =>
        record.HeadTensors.Concat(record.ReinitialisedTensors).ToHashSet(StringComparer.Ordinal);
}
