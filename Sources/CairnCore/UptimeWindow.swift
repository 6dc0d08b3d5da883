import CairnWire
/// Uptime over a sliding window of probe slots: one bit per slot (answered or not), up to
/// `ProtocolLimits.uptimeSlotsMax` slots, in four words so a directory of 100,000 nodes stays small.
public struct UptimeWindow: Hashable, Sendable, Codable {
    private var w0: UInt64 = 0, w1: UInt64 = 0, w2: UInt64 = 0, w3: UInt64 = 0
    public let slots: Int
    public private(set) var filled: Int = 0
    public private(set) var answered: Int = 0
    private var head: Int = 0

    public init(slots: Int) {
        precondition(slots > 0 && slots <= ProtocolLimits.uptimeSlotsMax, "uptime window of \(slots) slots")
        self.slots = slots
    }

    private func bit(_ i: Int) -> Bool {
        let word: UInt64
        switch i >> 6 {
        case 0: word = w0
        case 1: word = w1
        case 2: word = w2
        default: word = w3
        }
        return word >> UInt64(i & 63) & 1 == 1
    }

    private mutating func set(_ i: Int, _ v: Bool) {
        let mask: UInt64 = 1 << UInt64(i & 63)
        switch i >> 6 {
        case 0: w0 = v ? w0 | mask : w0 & ~mask
        case 1: w1 = v ? w1 | mask : w1 & ~mask
        case 2: w2 = v ? w2 | mask : w2 & ~mask
        default: w3 = v ? w3 | mask : w3 & ~mask
        }
    }

    /// Closes one probe slot.
    public mutating func record(answered probe: Bool) {
        if filled == slots {
            if bit(head) { answered -= 1 }
        } else {
            filled += 1
        }
        set(head, probe)
        if probe { answered += 1 }
        head = (head + 1) % slots
        assert(answered >= 0 && answered <= filled)
    }

    /// Whether each of the last `n` closed slots was answered (each closed one, when fewer
    /// than `n` have closed).
    public func answeredLast(_ n: Int) -> Bool {
        let m = min(n, filled)
        guard m > 0 else { return true }
        for j in 1...m where !bit((head - j + slots) % slots) { return false }
        return true
    }

    /// Answered probes per thousand; 1000 before any slot closed (a new node is given credit).
    public var permille: UInt16 {
        filled == 0 ? 1000 : UInt16(answered * 1000 / filled)
    }
}
