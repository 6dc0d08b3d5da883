/// The seeded source of test data: SplitMix64 (Steele, Lea, Flood 2014), each output
/// written as 8 little-endian bytes. Its algorithm never changes, unlike the standard
/// library's generators, so a seed gives the same bytes on every platform and Swift
/// version; the FastCDC vectors were made with it (seed 0).
///
/// Named apart from the node core's `SplitMix64` (which seeds `Xoshiro256`), so a test
/// that imports both never sees two types of one name.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// `count` bytes: successive outputs in little-endian order, the last one truncated.
    public mutating func bytes(_ count: Int) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            var i = 0
            while i < count {
                let word = next()
                for j in 0..<min(8, count - i) { buffer[i + j] = UInt8(truncatingIfNeeded: word >> (8 * UInt64(j))) }
                i += 8
            }
            initialized = count
        }
    }

    /// A value in `range`, without modulo bias worth caring about in tests.
    public mutating func int(in range: ClosedRange<Int>) -> Int {
        range.lowerBound + Int(next() % UInt64(range.upperBound - range.lowerBound + 1))
    }
}
