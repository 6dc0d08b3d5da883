import CairnWire
/// The coordinator's record of faults against one node: warned first, then excluded from
/// new contracts.
public struct Reputation: Hashable, Sendable, Codable {
    public enum Standing: UInt8, Sendable, Comparable, Codable {
        case good = 0, warned = 1, excluded = 2
        public static func < (a: Standing, b: Standing) -> Bool { a.rawValue < b.rawValue }
    }

    public private(set) var strikes: Int = 0
    public private(set) var standing: Standing = .good
    public private(set) var firstFault: Instant? = nil

    public init() {}

    /// Records a fault; returns the new standing when it changed.
    public mutating func onFault(_ fault: FaultKind, now: Instant, warnAt: Int, excludeAt: Int) -> Standing? {
        precondition(warnAt > 0 && excludeAt >= warnAt, "reputation thresholds \(warnAt)/\(excludeAt)")
        strikes += 1
        if firstFault == nil { firstFault = now }
        let next: Standing = strikes >= excludeAt ? .excluded : strikes >= warnAt ? .warned : .good
        guard next > standing else { return nil }
        standing = next
        return next
    }
}
