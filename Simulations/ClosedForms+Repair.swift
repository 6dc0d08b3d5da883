import Foundation

/// The birth–death Markov chain of one pack with repair: the state is the number i of live
/// shards, k − 1 (lost, absorbing) … n. Each live shard's holder fails for good at rate λ,
/// so i → i − 1 at rate iλ; each missing shard is repaired independently at rate μ while
/// the pack is below the repair trigger r (r = n: whenever one is missing), so
/// i → i + 1 at rate (n − i)μ for i < r, and 0 from r on.
public struct RepairChain: Sendable, Equatable {
    public var k: Int, n: Int
    /// Per holder per day, and per missing shard per day.
    public var failureRate: Double, repairRate: Double
    public var trigger: Int

    public init(k: Int, n: Int, failureRate: Double, repairRate: Double, trigger: Int? = nil) {
        precondition(k >= 1 && k <= n && failureRate > 0 && repairRate >= 0)
        self.k = k
        self.n = n
        self.failureRate = failureRate
        self.repairRate = repairRate
        self.trigger = trigger ?? n
    }

    /// States k…n as indices 0…n − k.
    var size: Int { n - k + 1 }
    func down(_ i: Int) -> Double { Double(i) * failureRate }
    func up(_ i: Int) -> Double { i < n && i < trigger ? Double(n - i) * repairRate : 0 }

    /// Mean days until the pack is lost, from `start` live shards: the absorption times τ
    /// solve −Q τ = 1 over the transient states (Q the generator restricted to them), a
    /// tridiagonal system solved by elimination (Thomas' algorithm).
    public func meanTimeToLoss(from start: Int) -> Double {
        precondition(start >= k && start <= n)
        let m = size
        // Row j (state i = k + j): (down + up)·τ_j − down·τ_{j−1} − up·τ_{j+1} = 1.
        var lower = [Double](repeating: 0, count: m), diag = lower, upper = lower, rhs = [Double](repeating: 1, count: m)
        for j in 0..<m {
            let i = k + j
            diag[j] = down(i) + up(i)
            if j > 0 { lower[j] = -down(i) }
            if j < m - 1 { upper[j] = -up(i) }
        }
        for j in 1..<max(m, 1) {
            let w = lower[j] / diag[j - 1]
            diag[j] -= w * upper[j - 1]
            rhs[j] -= w * rhs[j - 1]
        }
        var tau = [Double](repeating: 0, count: m)
        tau[m - 1] = rhs[m - 1] / diag[m - 1]
        for j in stride(from: m - 2, through: 0, by: -1) { tau[j] = (rhs[j] - upper[j] * tau[j + 1]) / diag[j] }
        return tau[start - k]
    }

    /// P[lost within `days`] from `start` live shards: 1 − Σ_j [e^(Qt)]_(start, j), by
    /// uniformization: e^(Qτ) = Σ_m Poisson(m; Λτ)·P^m with P = I + Q/Λ (sub-stochastic),
    /// Λ the largest exit rate; the horizon is cut into steps of Λτ ≤ 1 so the series
    /// needs few terms and no weight underflows.
    public func lossProbability(from start: Int, days: Double) -> Double {
        precondition(start >= k && start <= n && days >= 0)
        let m = size
        let exitMax = (k...n).map { down($0) + up($0) }.max()!
        let steps = max(1, Int((exitMax * days).rounded(.up)))
        let tau = days / Double(steps)
        let lt = exitMax * tau
        var v = [Double](repeating: 0, count: m)
        v[start - k] = 1
        for _ in 0..<steps {
            var term = v, sum = [Double](repeating: 0, count: m)
            var weight = exp(-lt)
            var order = 0
            repeat {
                for j in 0..<m { sum[j] += weight * term[j] }
                // term ← term · P (row vector times P).
                var next = [Double](repeating: 0, count: m)
                for j in 0..<m {
                    let i = k + j
                    next[j] += term[j] * (1 - (down(i) + up(i)) / exitMax)
                    if j > 0 { next[j - 1] += term[j] * down(i) / exitMax }
                    if j < m - 1 { next[j + 1] += term[j] * up(i) / exitMax }
                }
                term = next
                order += 1
                weight *= lt / Double(order)
            } while weight > 1e-18 || Double(order) < lt
            v = sum
        }
        return min(1, max(0, 1 - v.reduce(0, +)))
    }
}
