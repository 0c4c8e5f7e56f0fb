namespace Ecg.Model;

/// <summary>
/// Binary logistic regression with an L2 penalty on the coefficients (not the intercept), the objective of
/// scikit-learn's <c>LogisticRegression(C=c)</c>: 0.5 |w|^2 + C * sum of log losses. Fitted by Newton's method with
/// backtracking, which reaches the optimum to machine precision on the few features it is used for (one per ensemble
/// member), so the coefficients equal scikit-learn's to its solver's tolerance.
/// </summary>
public static class LogisticRegression
{
    /// <summary>Coefficients and intercept minimising the penalised log loss of <paramref name="x"/> (rows of features) against <paramref name="y"/>.</summary>
    public static LogisticModel Fit(IReadOnlyList<double[]> x, IReadOnlyList<bool> y, double c = 1.0)
    {
        if (x.Count == 0 || x.Count != y.Count) throw new ArgumentException($"{x.Count} rows of features against {y.Count} labels");
        if (!(c > 0) || double.IsInfinity(c)) throw new ArgumentOutOfRangeException(nameof(c), c, "C must be positive and finite");
        var features = x[0].Length;
        if (x.Any(row => row.Length != features || row.Any(v => !double.IsFinite(v))))
            throw new ArgumentException($"every row needs {features} finite features");
        // Without both outcomes the unpenalised intercept has no finite optimum.
        if (y.All(v => v) || y.All(v => !v)) throw new ArgumentException("the labels need both outcomes");

        var theta = new double[features + 1]; // coefficients, then the intercept
        var current = Objective(x, y, c, theta);
        for (int iteration = 0; iteration < 100; iteration++)
        {
            var (gradient, hessian) = Derivatives(x, y, c, theta);
            var step = Solve(hessian, gradient);
            // Backtracking keeps each step a descent; near the optimum the full Newton step is taken.
            var scale = 1.0;
            double[] next;
            double value;
            while (true)
            {
                next = theta.Select((t, i) => t - scale * step[i]).ToArray();
                value = Objective(x, y, c, next);
                if (value <= current || scale < 1e-10) break;
                scale /= 2;
            }
            var moved = step.Select((s, i) => Math.Abs(scale * s) / (1 + Math.Abs(theta[i]))).Max();
            (theta, current) = (next, value);
            if (moved < 1e-13) break;
        }
        return new LogisticModel(theta[..features], theta[features]);
    }

    private static double Objective(IReadOnlyList<double[]> x, IReadOnlyList<bool> y, double c, double[] theta)
    {
        var features = theta.Length - 1;
        double penalty = 0, loss = 0;
        for (int j = 0; j < features; j++) penalty += theta[j] * theta[j];
        for (int i = 0; i < x.Count; i++)
        {
            var z = Linear(x[i], theta);
            // log(1 + e^z) - y z, computed without overflow.
            loss += (z > 0 ? z + Math.Log(1 + Math.Exp(-z)) : Math.Log(1 + Math.Exp(z))) - (y[i] ? z : 0);
        }
        return 0.5 * penalty + c * loss;
    }

    private static (double[] Gradient, double[,] Hessian) Derivatives(IReadOnlyList<double[]> x, IReadOnlyList<bool> y, double c, double[] theta)
    {
        var n = theta.Length;
        var gradient = new double[n];
        var hessian = new double[n, n];
        for (int j = 0; j < n - 1; j++) { gradient[j] = theta[j]; hessian[j, j] = 1; }
        var row = new double[n];
        for (int i = 0; i < x.Count; i++)
        {
            Array.Copy(x[i], row, n - 1);
            row[n - 1] = 1;
            var p = 1 / (1 + Math.Exp(-Linear(x[i], theta)));
            var residual = c * (p - (y[i] ? 1 : 0));
            var curvature = c * p * (1 - p);
            for (int j = 0; j < n; j++)
            {
                gradient[j] += residual * row[j];
                for (int k = 0; k < n; k++) hessian[j, k] += curvature * row[j] * row[k];
            }
        }
        return (gradient, hessian);
    }

    private static double Linear(double[] features, double[] theta)
    {
        var z = theta[^1];
        for (int j = 0; j < features.Length; j++) z += theta[j] * features[j];
        return z;
    }

    /// <summary>Solves a x = b by Gaussian elimination with partial pivoting (a is small and positive definite here).</summary>
    private static double[] Solve(double[,] a, double[] b)
    {
        var n = b.Length;
        var m = (double[,])a.Clone();
        var v = (double[])b.Clone();
        for (int col = 0; col < n; col++)
        {
            var pivot = col;
            for (int r = col + 1; r < n; r++) if (Math.Abs(m[r, col]) > Math.Abs(m[pivot, col])) pivot = r;
            if (pivot != col)
            {
                for (int k = 0; k < n; k++) (m[col, k], m[pivot, k]) = (m[pivot, k], m[col, k]);
                (v[col], v[pivot]) = (v[pivot], v[col]);
            }
            for (int r = col + 1; r < n; r++)
            {
                var f = m[r, col] / m[col, col];
                for (int k = col; k < n; k++) m[r, k] -= f * m[col, k];
                v[r] -= f * v[col];
            }
        }
        var result = new double[n];
        for (int r = n - 1; r >= 0; r--)
        {
            var s = v[r];
            for (int k = r + 1; k < n; k++) s -= m[r, k] * result[k];
            result[r] = s / m[r, r];
        }
        return result;
    }
}

/// <summary>A fitted logistic regression: P(y) = sigmoid(coefficients . x + intercept).</summary>
public sealed record LogisticModel(double[] Coefficients, double Intercept)
{
    public double Probability(ReadOnlySpan<double> features)
    {
        var z = Intercept;
        for (int j = 0; j < Coefficients.Length; j++) z += Coefficients[j] * features[j];
        return 1 / (1 + Math.Exp(-z));
    }
}
