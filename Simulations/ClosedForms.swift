import Foundation

/// What theory says about the simple models the validation scenarios write down, computed
/// exactly (binomial sums term by term, no Poisson or normal approximation), so that
/// `cairn simulate --validate` can compare the simulator with an answer it did not make.
public enum ClosedForms {
    /// C(n, i) as a Double, built by the multiplicative formula (exact for the n ≤ 64 here).
    public static func choose(_ n: Int, _ i: Int) -> Double {
        guard i >= 0, i <= n else { return 0 }
        let i = min(i, n - i)
        var c = 1.0
        for j in 0..<i { c = c * Double(n - j) / Double(j + 1) }
        return c.rounded()
    }

    /// P[X ≥ k] for X ~ Binomial(n, p): a pack of n shards on independent holders, each
    /// there with probability p, can be rebuilt from any k.
    public static func binomialAtLeast(_ k: Int, n: Int, p: Double) -> Double {
        guard k > 0 else { return 1 }
        guard k <= n else { return 0 }
        var sum = 0.0
        for i in k...n { sum += choose(n, i) * pow(p, Double(i)) * pow(1 - p, Double(n - i)) }
        return min(1, max(0, sum))
    }

    /// Pack availability with exponential sessions (means `onHours`, `offHours`): each
    /// holder is online with probability on / (on + off), independently.
    public static func availability(k: Int, n: Int, onHours: Double, offHours: Double) -> Double {
        binomialAtLeast(k, n: n, p: onHours / (onHours + offHours))
    }

    /// The fraction of packs lost after `days` when each holder fails for good at rate
    /// `perDay` and nothing is repaired: a shard survives with probability e^(−λt).
    public static func lossWithoutRepair(k: Int, n: Int, perDay: Double, days: Double) -> Double {
        1 - binomialAtLeast(k, n: n, p: exp(-perDay * days))
    }

    /// Standard normal quantile for the two-sided intervals the validation prints
    /// (Acklam's rational approximation, relative error below 1.2e-9).
    public static func normalQuantile(_ q: Double) -> Double {
        precondition(q > 0 && q < 1)
        let a = [-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
                 1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00]
        let b = [-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                 6.680131188771972e+01, -1.328068155288572e+01]
        let c = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                 -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00]
        let d = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00]
        let low = 0.02425
        if q < low {
            let t = (-2 * log(q)).squareRoot()
            return (((((c[0] * t + c[1]) * t + c[2]) * t + c[3]) * t + c[4]) * t + c[5]) /
                ((((d[0] * t + d[1]) * t + d[2]) * t + d[3]) * t + 1)
        }
        if q > 1 - low { return -normalQuantile(1 - q) }
        let u = q - 0.5, r = u * u
        return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * u /
            (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
    }
}
