using Ecg.Data;

namespace Ecg.Model;

/// <summary>
/// The data a config trains and evaluates on, from a processed dataset as read from its file (every readable record,
/// every lead, the SCP codes): the records and labels of its task (<see cref="LabelTask"/>), then its leads. Every
/// stage that puts records through a session's network takes this view, so a session always sees its own task and leads.
/// </summary>
public static class TrainingData
{
    public static ProcessedDataset For(ProcessedDataset dataset, TrainingConfig config)
    {
        var task = LabelTask.TryParse(config.Task, out var parsed) ? parsed
            : throw new UserError($"Task '{config.Task}': use one of {LabelTask.Names}.");
        ProcessedDataset view;
        try { view = dataset.ForTask(task); }
        catch (InvalidOperationException e) { throw new UserError(e.Message); }
        return view.ForLeads(config.Leads);
    }

    /// <summary>The session's own view: the task and leads its config.json records.</summary>
    public static ProcessedDataset For(ProcessedDataset dataset, TrainingSession session) => For(dataset, session.Manifest.Config);
}
