/// The receiver's memory of which datagram counters it has accepted (RFC 6479): a ring of
/// 64-bit blocks covering the `size` counters up to the highest seen, plus one spare block
/// so that moving forward clears whole blocks. Constant memory, constant time per datagram.
struct ReplayWindow: Sendable {
    /// Counters accepted behind the highest one seen.
    static let size: UInt64 = 2048
    private static let blockBits: UInt64 = 64
    private static let blockCount = Int(size / blockBits) + 1

    private var blocks = [UInt64](repeating: 0, count: blockCount)
    /// The highest counter accepted so far; nil before the first.
    private(set) var highest: UInt64?

    enum Verdict: Equatable { case fresh, replayed, tooOld }

    /// Whether `counter` may still be accepted. Does not change the window: only a datagram
    /// whose tag verified is `accept`ed, so a forgery cannot move it.
    func check(_ counter: UInt64) -> Verdict {
        guard let highest, counter <= highest else { return .fresh }
        if highest - counter >= Self.size { return .tooOld }
        return blocks[Self.block(counter)] & Self.bit(counter) != 0 ? .replayed : .fresh
    }

    /// Records an authenticated `counter` (one `check` found fresh).
    mutating func accept(_ counter: UInt64) {
        if let highest {
            if counter > highest {
                // Clear the blocks the window moves into (at most all of them).
                let moved = counter / Self.blockBits - highest / Self.blockBits
                let clear = Int(min(moved, UInt64(Self.blockCount)))
                var index = Self.block(highest)
                for _ in 0..<clear {
                    index = (index + 1) % Self.blockCount
                    blocks[index] = 0
                }
                self.highest = counter
            }
        } else {
            highest = counter
        }
        blocks[Self.block(counter)] |= Self.bit(counter)
    }

    private static func block(_ counter: UInt64) -> Int { Int((counter / blockBits) % UInt64(blockCount)) }
    private static func bit(_ counter: UInt64) -> UInt64 { 1 << (counter % blockBits) }
}
