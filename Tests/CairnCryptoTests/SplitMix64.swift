// The seeded test-data generator (same as CairnDataTests' TestSupport).
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// `count` bytes: successive outputs in little-endian order, the last one truncated.
    mutating func bytes(_ count: Int) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            var i = 0
            while i < count {
                var word = next().littleEndian
                withUnsafeBytes(of: &word) { w in
                    for j in 0..<min(8, count - i) { buffer[i + j] = w[j] }
                }
                i += 8
            }
            initialized = count
        }
    }

    /// A value in `range`, without modulo bias worth caring about in tests.
    mutating func int(in range: ClosedRange<Int>) -> Int {
        range.lowerBound + Int(next() % UInt64(range.upperBound - range.lowerBound + 1))
    }
}
