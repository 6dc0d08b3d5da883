import Foundation

/// A holder that dropped a fraction of every shard, against the challenges that look for it
/// (`ChallengeScheduler.issue`): each challenge picks one pack of the slot uniformly
/// (`rng.bounded(packs)`) and a 32-bit selector uniformly (`rng.next()`, truncated); the
/// segment asked for is `selector % segments` (`SegmentProof.segment`). Every pack misses
/// the same segments, so the pack drawn does not matter, and draws are independent between
/// challenges: the number of challenges up to the first failed one is geometric.
extension ClosedForms {
    /// The probability that one challenge asks for one of the first `dropped` of
    /// `segments` segments: #{x < 2³² : x mod S < m} / 2³² = (m⌊2³²/S⌋ + min(m, 2³² mod S)) / 2³².
    /// Exactly m/S when S divides 2³² (any power of two); otherwise off by under S/2³².
    public static func dropperHitProbability(segments: Int, dropped: Int) -> Double {
        precondition(segments > 0 && dropped >= 0 && dropped <= segments)
        let all: UInt64 = 1 << 32, s = UInt64(segments), m = UInt64(dropped)
        return Double(m * (all / s) + min(m, all % s)) / Double(all)
    }

    /// P[a dropper passes its first c challenges] = (1 − q)^c, q the hit probability.
    public static func dropperSurvival(challenges c: Int, hit q: Double) -> Double {
        pow(1 - q, Double(c))
    }

    /// Mean hours from a dropper's store to its first failed challenge, challenges every
    /// I hours: the owner's challenge timer starts at a uniform offset in [0, I) from the
    /// owner's start and then ticks every I, so the first challenge after any store comes
    /// U ~ Uniform(0, I) later; the G-th fails, G ~ Geometric(q) on 1, 2, …; detection =
    /// U + (G − 1)·I, mean I/2 + I(1 − q)/q (variance I²/12 + I²(1 − q)/q²).
    public static func dropperDetectionHours(intervalHours i: Double, hit q: Double) -> Double {
        i / 2 + i * (1 - q) / q
    }

    /// P[detection ≤ t hours] for that law: Σ over g of P[G = g]·P[U ≤ t − (g − 1)I].
    public static func dropperDetectedBy(hours t: Double, intervalHours i: Double, hit q: Double) -> Double {
        guard t > 0 else { return 0 }
        var sum = 0.0, g = 1
        while Double(g - 1) * i < t {
            let u = min(1, (t - Double(g - 1) * i) / i)
            sum += pow(1 - q, Double(g - 1)) * q * u
            g += 1
        }
        return sum
    }
}
