/// A point on the network's time line: UTC milliseconds since 1970-01-01T00:00:00Z, as each
/// machine's clock tells it. Contract starts and ends, releases and mandate expiries are
/// instants one machine names and another compares with its own clock, so clocks must
/// roughly agree: every message carries its sender's instant, and a receiver refuses one
/// further than its bound (`maxClockSkew`) from its own clock (`Instant.within`). The
/// simulator starts at zero and can give each node an offset and a drift.
public struct Instant: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public var milliseconds: Int64

    public init(milliseconds: Int64) { self.milliseconds = milliseconds }

    public static let zero = Instant(milliseconds: 0)

    public static func < (a: Instant, b: Instant) -> Bool { a.milliseconds < b.milliseconds }
    public static func + (a: Instant, d: Interval) -> Instant { Instant(milliseconds: a.milliseconds &+ d.milliseconds) }
    public static func - (a: Instant, d: Interval) -> Instant { Instant(milliseconds: a.milliseconds &- d.milliseconds) }
    public static func - (a: Instant, b: Instant) -> Interval { Interval(milliseconds: a.milliseconds &- b.milliseconds) }

    public var description: String { "t+\(milliseconds)ms" }

    /// Whether two clocks' readings are at most `bound` apart.
    public func within(_ bound: Interval, of other: Instant) -> Bool {
        let d = milliseconds.subtractingReportingOverflow(other.milliseconds)
        return !d.overflow && d.partialValue.magnitude <= bound.milliseconds.magnitude
    }
}

/// A span of time in milliseconds (the unit of every interval in protocol parameters).
public struct Interval: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public var milliseconds: Int64

    public init(milliseconds: Int64) { self.milliseconds = milliseconds }

    public static func seconds(_ s: Int64) -> Interval { Interval(milliseconds: s * 1000) }
    public static func minutes(_ m: Int64) -> Interval { Interval(milliseconds: m * 60_000) }
    public static func hours(_ h: Int64) -> Interval { Interval(milliseconds: h * 3_600_000) }
    public static func days(_ d: Int64) -> Interval { Interval(milliseconds: d * 86_400_000) }
    public static let zero = Interval(milliseconds: 0)

    public static func < (a: Interval, b: Interval) -> Bool { a.milliseconds < b.milliseconds }
    public static func + (a: Interval, b: Interval) -> Interval { Interval(milliseconds: a.milliseconds + b.milliseconds) }
    public static func * (a: Interval, n: Int64) -> Interval { Interval(milliseconds: a.milliseconds * n) }

    public var hours: Double { Double(milliseconds) / 3_600_000 }
    public var description: String { "\(milliseconds)ms" }
}
