using System.Diagnostics;
using Spectre.Console;

namespace Ecg.Cli;

/// <summary>
/// Progress for long work: a live bar with time left on a terminal; when output is redirected (CI, logs,
/// the FAKE targets), a plain line at most every few seconds, so logs stay readable.
/// </summary>
public sealed class ConsoleProgress
{
    private static readonly TimeSpan LineInterval = TimeSpan.FromSeconds(5);
    private readonly ProgressTask? bar;
    private readonly string title;
    private readonly Stopwatch sinceLine = Stopwatch.StartNew();
    private readonly object gate = new();

    private ConsoleProgress(string title, ProgressTask? bar)
    {
        this.title = title;
        this.bar = bar;
    }

    public static bool Interactive => AnsiConsole.Profile.Capabilities.Interactive && !Console.IsOutputRedirected;

    /// <summary>Runs <paramref name="work"/> with a progress reporter titled <paramref name="title"/>.</summary>
    public static T Run<T>(string title, Func<ConsoleProgress, T> work)
    {
        if (!Interactive)
        {
            AnsiConsole.WriteLine(title + "...");
            return work(new ConsoleProgress(title, null));
        }
        return AnsiConsole.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(),
                     new ElapsedTimeColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .Start(context => work(new ConsoleProgress(title, context.AddTask(Markup.Escape(title)))));
    }

    /// <summary>Runs short work under a spinner (or one line when redirected).</summary>
    public static T Status<T>(string message, Func<T> work)
    {
        if (!Interactive)
        {
            AnsiConsole.WriteLine(message + "...");
            return work();
        }
        return AnsiConsole.Status().Start(Markup.Escape(message), _ => work());
    }

    /// <summary>Reports <paramref name="done"/> of <paramref name="total"/>, with a short detail (rate, phase, ETA).</summary>
    public void Report(double done, double total, string detail, TimeSpan? eta = null)
    {
        lock (gate)
        {
            if (bar is not null)
            {
                bar.MaxValue = Math.Max(total, 1);
                bar.Value = Math.Min(done, bar.MaxValue);
                bar.Description = Markup.Escape($"{title} {detail}");
                return;
            }
            if (sinceLine.Elapsed < LineInterval && done < total) return;
            sinceLine.Restart();
            var left = eta is { } e ? $", {FormatDuration(e)} left" : "";
            AnsiConsole.WriteLine($"{title}: {done:N0}/{total:N0} {detail}{left}");
        }
    }

    public static string FormatDuration(TimeSpan t) =>
        t.TotalHours >= 1 ? $"{(int)t.TotalHours}h{t.Minutes:D2}m" : t.TotalMinutes >= 1 ? $"{t.Minutes}m{t.Seconds:D2}s" : $"{t.TotalSeconds:F0}s";
}
