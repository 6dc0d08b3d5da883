import CairnWire
/// A point on the network's time line, in milliseconds. Production maps it to the
/// continuous clock; the simulator starts it at zero and moves it event by event.
public struct Instant: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var milliseconds: Int64

    public init(milliseconds: Int64) { self.milliseconds = milliseconds }

    public static let zero = Instant(milliseconds: 0)

    public static func < (a: Instant, b: Instant) -> Bool { a.milliseconds < b.milliseconds }
    public static func + (a: Instant, d: Interval) -> Instant { Instant(milliseconds: a.milliseconds &+ d.milliseconds) }
    public static func - (a: Instant, b: Instant) -> Interval { Interval(milliseconds: a.milliseconds &- b.milliseconds) }

    public var description: String { "t+\(milliseconds)ms" }
}

/// A span of time in milliseconds (the unit of every interval in protocol parameters).
public struct Interval: Hashable, Comparable, Sendable, CustomStringConvertible {
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
