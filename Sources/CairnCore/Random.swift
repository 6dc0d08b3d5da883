import CairnWire
/// SplitMix64: expands one 64-bit seed into the state of `Xoshiro256`, and derives the
/// seeds of split streams. Fixed algorithm (Steele, Lea, Flood 2014).
public struct SplitMix64: Sendable {
    public private(set) var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// The one seeded generator the node core and the simulator use: xoshiro256**
/// (Blackman, Vigna), seeded through SplitMix64. The algorithm is fixed here, so a seed
/// replays identically on every Swift version and platform — unlike the standard library's
/// `shuffled(using:)` / `random(in:using:)`, whose algorithms are not promised.
///
/// Use `bounded`, `chance`, `shuffle` and `split` instead of the standard library helpers.
public struct Xoshiro256: RandomNumberGenerator, Sendable, Codable {
    private var s0: UInt64
    private var s1: UInt64
    private var s2: UInt64
    private var s3: UInt64

    public init(seed: UInt64) {
        var sm = SplitMix64(seed: seed)
        s0 = sm.next()
        s1 = sm.next()
        s2 = sm.next()
        s3 = sm.next()
        // SplitMix64 never yields four zero words in a row; the all-zero state would be stuck.
        precondition(s0 | s1 | s2 | s3 != 0, "xoshiro256** state is all zero for seed \(seed)")
    }

    @inline(__always)
    private static func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 &- k)) }

    @inline(__always)
    public mutating func next() -> UInt64 {
        let result = Self.rotl(s1 &* 5, 7) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = Self.rotl(s3, 45)
        return result
    }

    /// A uniform integer in `0..<bound` (Lemire's multiply-and-reject; no modulo bias).
    public mutating func bounded(_ bound: UInt64) -> UInt64 {
        precondition(bound > 0, "bounded(0)")
        var m = next().multipliedFullWidth(by: bound)
        if m.low < bound {
            let threshold = (0 &- bound) % bound
            while m.low < threshold {
                m = next().multipliedFullWidth(by: bound)
            }
        }
        return m.high
    }

    /// A uniform `Int` in `0..<bound`.
    public mutating func index(_ bound: Int) -> Int {
        precondition(bound > 0, "index(\(bound))")
        return Int(bounded(UInt64(bound)))
    }

    /// A uniform integer in `range` (inclusive).
    public mutating func integer(in range: ClosedRange<Int64>) -> Int64 {
        let width = UInt64(bitPattern: range.upperBound &- range.lowerBound)
        if width == UInt64.max { return Int64(bitPattern: next()) }
        return range.lowerBound &+ Int64(bitPattern: bounded(width + 1))
    }

    /// True with probability numerator/denominator.
    public mutating func chance(numerator: UInt64, denominator: UInt64) -> Bool {
        precondition(denominator > 0 && numerator <= denominator, "chance(\(numerator)/\(denominator))")
        if numerator == 0 { return false }
        if numerator == denominator { return true }
        return bounded(denominator) < numerator
    }

    /// True with probability `p` (0...1), resolved to 2^-53.
    public mutating func chance(_ p: Double) -> Bool {
        if p <= 0 { return false }
        if p >= 1 { return true }
        return unit() < p
    }

    /// A uniform double in [0, 1) with 53 random bits.
    public mutating func unit() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }

    /// Fisher–Yates, from the end, with `bounded`: a fixed algorithm.
    public mutating func shuffle<T>(_ array: inout [T]) {
        var i = array.count - 1
        while i > 0 {
            let j = Int(bounded(UInt64(i + 1)))
            if i != j { array.swapAt(i, j) }
            i -= 1
        }
    }

    /// An independent stream for `stream` (e.g. a node number) derived from this generator's
    /// current state, without advancing it. Splitting the same state with the same stream
    /// number always yields the same generator.
    public func split(_ stream: UInt64) -> Xoshiro256 {
        var sm = SplitMix64(seed: s0 ^ Self.rotl(s1, 17) ^ Self.rotl(s2, 31) ^ Self.rotl(s3, 47))
        let base = sm.next()
        var mix = SplitMix64(seed: base ^ (stream &* 0xD1B5_4A32_D192_ED03))
        return Xoshiro256(seed: mix.next())
    }
}
