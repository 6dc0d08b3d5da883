import CairnCore

/// Seeded mutations of byte strings, in the manner of libFuzzer's: flipped bits, random and
/// boundary bytes and integers (little-endian u16/u32/u64, as our formats write lengths),
/// inserted, deleted, repeated and spliced runs, and dictionary tokens. The same seed gives
/// the same mutations on every platform (`Xoshiro256`).
public struct Mutator {
    private var rng: Xoshiro256
    private let dictionary: [[UInt8]]
    /// No mutated input grows past this.
    public static let sizeMax = 1 << 16

    public init(seed: UInt64, dictionary: [[UInt8]] = []) {
        rng = Xoshiro256(seed: seed)
        self.dictionary = dictionary
    }

    private static let boundaries: [UInt64] = [0, 1, 2, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF, 0x1_0000,
                                               0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, 0x1_0000_0000, UInt64.max]

    /// `input` with one to four mutations; `other` is a second input to splice from.
    public mutating func mutate(_ input: [UInt8], other: [UInt8]) -> [UInt8] {
        var out = input
        for _ in 0...rng.index(4) { mutateOnce(&out, other: other) }
        if out.count > Self.sizeMax { out.removeLast(out.count - Self.sizeMax) }
        return out
    }

    private mutating func mutateOnce(_ b: inout [UInt8], other: [UInt8]) {
        let choice = rng.index(dictionary.isEmpty ? 10 : 12)
        if b.isEmpty, choice < 8 {
            b = rng.bytes(1 + rng.index(8))
            return
        }
        switch choice {
        case 0: b[rng.index(b.count)] ^= UInt8(1) << UInt8(rng.index(8))
        case 1: b[rng.index(b.count)] = UInt8(truncatingIfNeeded: rng.next())
        case 2, 3:
            // A boundary integer of 1, 2, 4 or 8 bytes, little-endian, or one off it.
            let width = [1, 2, 4, 8][rng.index(4)]
            var v = Self.boundaries[rng.index(Self.boundaries.count)]
            if rng.chance(numerator: 1, denominator: 3) { v = rng.chance(numerator: 1, denominator: 2) ? v &+ 1 : v &- 1 }
            let at = rng.index(b.count)
            for k in 0..<width where at + k < b.count { b[at + k] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(k))) }
        case 4: b.insert(contentsOf: rng.bytes(1 + rng.index(16)), at: rng.index(b.count + 1))
        case 5:
            let at = rng.index(b.count)
            b.removeSubrange(at..<min(b.count, at + 1 + rng.index(16)))
        case 6:
            // A run repeated somewhere else (a record twice, a count's worth of items).
            let at = rng.index(b.count)
            let run = Array(b[at..<min(b.count, at + 1 + rng.index(64))])
            b.insert(contentsOf: run, at: rng.index(b.count + 1))
        case 7: b.removeLast(rng.index(b.count) + 1)
        case 8, 9:
            // The front of one input and the back of another.
            guard !other.isEmpty else { return }
            b = Array(b[..<rng.index(b.count + 1)]) + Array(other[rng.index(other.count)...])
        default:
            let token = dictionary[rng.index(dictionary.count)]
            let at = rng.index(b.count + 1)
            if rng.chance(numerator: 1, denominator: 2) || at + token.count > b.count {
                b.insert(contentsOf: token, at: at)
            } else {
                b.replaceSubrange(at..<(at + token.count), with: token)
            }
        }
    }
}

extension Xoshiro256 {
    mutating func bytes(_ count: Int) -> [UInt8] { (0..<count).map { _ in UInt8(truncatingIfNeeded: next()) } }
}
