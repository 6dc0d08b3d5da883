import Foundation

/// Storj's durability table (Storj Labs, "Storj: A Decentralized Cloud Storage Network
/// Framework", v3, §3.4 Redundancy; github.com/storj/whitepaper, storjv3.tex): the
/// probability that a file coded (k, n) survives one month in which each node leaves with
/// probability p (the "monthly churn"), no repair. The whitepaper computes it with a
/// Poisson approximation; the exact answer is binomial. Both are here so the table can
/// say where they part.
extension ClosedForms {
    /// P[X > m] for X ~ Poisson(mean), summed term by term from m + 1 upwards (not as
    /// 1 − CDF, which cancels to nothing for the tiny tails of wide codes).
    public static func poissonAbove(_ m: Int, mean: Double) -> Double {
        guard mean > 0 else { return 0 }
        guard m >= 0 else { return 1 }
        // log of the first term, e^(−λ) λ^(m+1) / (m+1)!.
        var logTerm = -mean
        for i in 1...(m + 1) { logTerm += log(mean) - log(Double(i)) }
        var term = exp(logTerm), sum = 0.0, i = m + 1
        while term > sum * 1e-17 || Double(i) < mean {
            sum += term
            i += 1
            term *= mean / Double(i)
            if i > m + 10_000 { break }
        }
        return min(1, sum)
    }

    /// P[X > m] for X ~ Binomial(n, p), summed over the tail itself (exact for tiny tails).
    public static func binomialAbove(_ m: Int, n: Int, p: Double) -> Double {
        guard m < n else { return 0 }
        var sum = 0.0
        for i in max(m + 1, 0)...n { sum += choose(n, i) * pow(p, Double(i)) * pow(1 - p, Double(n - i)) }
        return min(1, sum)
    }

    /// Exact: a pack is lost when more than n − k of its n holders left, each with
    /// probability `churn` independently: P[Binomial(n, churn) > n − k].
    public static func storjLossExact(k: Int, n: Int, churn: Double) -> Double {
        binomialAbove(n - k, n: n, p: churn)
    }

    /// The whitepaper's approximation: the number of pieces lost is Poisson with mean
    /// λ = churn · n, so loss = P[Poisson(λ) > n − k] (its durability P(D) is the CDF up to
    /// n − k). It ignores that at most n pieces can be lost, and it overstates the spread
    /// (variance np instead of np(1 − p)), so it overstates loss.
    public static func storjLossPoisson(k: Int, n: Int, churn: Double) -> Double {
        poissonAbove(n - k, mean: churn * Double(n))
    }

    /// The per-day departure rate equivalent to a fraction `churn` leaving per `days`:
    /// e^(−λ·days) = 1 − churn.
    public static func departureRate(churn: Double, perDays days: Double) -> Double {
        -log(1 - churn) / days
    }

    /// One row of the table: a code, a horizon in months of no repair (churn compounds:
    /// a node is still there after m months with probability (1 − churn)^m), both losses.
    public struct StorjRow: Sendable {
        public var k: Int, n: Int, months: Int
        /// The fraction of holders still there after `months`.
        public var left: Double
        public var exact: Double, poisson: Double
    }

    /// The rows `cairn simulate --validate` prints: (20, 40) and (4, 8), 10% a month, after
    /// 1 month (the whitepaper's table) and after the months the simulated cell runs.
    public static func storjTable(churn: Double = 0.1, months: [Int] = [1, 3, 6]) -> [StorjRow] {
        var rows = [StorjRow]()
        for (k, n) in [(20, 40), (4, 8)] {
            for m in months {
                let gone = 1 - pow(1 - churn, Double(m))
                rows.append(StorjRow(k: k, n: n, months: m, left: 1 - gone, exact: storjLossExact(k: k, n: n, churn: gone),
                                     poisson: storjLossPoisson(k: k, n: n, churn: gone)))
            }
        }
        return rows
    }

    /// The table as text: loss and durability ("nines" as the whitepaper gives them) both
    /// ways, and how far the approximation is off.
    public static func storjTableText(_ rows: [StorjRow] = storjTable()) -> String {
        var lines = ["Storj v3 whitepaper §3.4, monthly churn 10% (compounded over the months), no repair: pack loss, exact binomial vs Poisson approximation",
                     " k   n  months  left     exact loss     Poisson loss   Poisson/exact  P(D) exact            P(D) Poisson"]
        for r in rows {
            lines.append(String(format: "%2d  %2d  %6d  %.4f  %13.6e  %13.6e  %13.3f  %.15f%%  %.15f%%", r.k, r.n, r.months, r.left,
                                r.exact, r.poisson, r.exact > 0 ? r.poisson / r.exact : .infinity,
                                100 * (1 - r.exact), 100 * (1 - r.poisson)))
        }
        return lines.joined(separator: "\n")
    }
}
