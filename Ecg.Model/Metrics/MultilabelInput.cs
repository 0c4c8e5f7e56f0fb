namespace Ecg.Model.Metrics;

/// <summary>
/// Shape and value checks shared by the multilabel metrics. Inputs are row-major flat arrays
/// of N records x C classes; labels and predictions hold only 0 or 1.
/// </summary>
internal static class MultilabelInput
{
    /// <summary>Checks that <paramref name="length"/> is a whole number of rows of <paramref name="classes"/> and returns N.</summary>
    public static int Rows(int length, int classes, string parameter)
    {
        if (classes <= 0)
            throw new ArgumentOutOfRangeException(nameof(classes), classes, "classes must be positive.");
        if (length % classes != 0)
            throw new ArgumentException(
                $"{parameter} has {length} values, which is not a multiple of classes = {classes} (expected N x C, row-major).",
                parameter);
        return length / classes;
    }

    /// <summary>Checks two N x C arrays agree in shape and returns N.</summary>
    public static int Rows(int firstLength, string first, int secondLength, string second, int classes)
    {
        int rows = Rows(firstLength, classes, first);
        if (secondLength != firstLength)
            throw new ArgumentException(
                $"{second} has {secondLength} values but {first} has {firstLength}; both must be N x C with C = {classes}.",
                second);
        return rows;
    }

    /// <summary>Rejects any value other than 0 or 1, naming the record and class.</summary>
    public static void RequireBinary(ReadOnlySpan<byte> values, int classes, string parameter)
    {
        for (int i = 0; i < values.Length; i++)
        {
            if (values[i] > 1)
                throw new ArgumentException(
                    $"{parameter}[record {i / classes}, class {i % classes}] = {values[i]}; only 0 or 1 is allowed.",
                    parameter);
        }
    }

    /// <summary>Rejects NaN scores (scikit-learn raises on them too), naming the record and class.</summary>
    public static void RequireNotNaN(ReadOnlySpan<float> scores, int classes, string parameter)
    {
        for (int i = 0; i < scores.Length; i++)
        {
            if (float.IsNaN(scores[i]))
                throw new ArgumentException(
                    $"{parameter}[record {i / classes}, class {i % classes}] is NaN; scores must be numbers.",
                    parameter);
        }
    }

    /// <summary>Copies column <paramref name="column"/> of an N x C array.</summary>
    public static T[] Column<T>(T[] values, int classes, int column)
    {
        int rows = values.Length / classes;
        var result = new T[rows];
        for (int r = 0, i = column; r < rows; r++, i += classes)
            result[r] = values[i];
        return result;
    }
}
