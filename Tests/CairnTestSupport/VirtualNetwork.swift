/// Virtual time for state machines under test: a clock that moves only when told, timers
/// that fire in deadline order, and messages delivered in the order they were sent, each
/// at the instant it was sent (no latency, no reordering). Generic over who is addressed,
/// what is sent and what a timer is, so it knows nothing of any protocol: a harness pops
/// events with `next(until:)` and hands each to its state machine.
public struct VirtualNetwork<Address: Hashable, Message, Timer: Hashable, Time: Comparable> {
    public typealias Envelope = (from: Address, to: Address, message: Message)
    /// A message as it was taken off the wire, and when.
    public typealias Delivery = (at: Time, from: Address, to: Address, message: Message)

    public enum Event {
        case message(from: Address, to: Address, Message)
        /// `timer` of `owner` came due; the clock is at its deadline.
        case timer(owner: Address, Timer)
    }

    private struct TimerKey: Hashable {
        var owner: Address
        var timer: Timer
    }

    /// The virtual clock.
    public var now: Time
    /// Messages sent and not yet taken off the wire, oldest first.
    public var inbox: [Envelope] = []
    /// Every message taken off the wire, in order, whether its receiver got it or not: what
    /// a test reads to see who asked whom for what.
    public private(set) var history: [Delivery] = []
    private var timers: [TimerKey: (deadline: Time, order: UInt64)] = [:]
    private var setCount: UInt64 = 0

    public init(now: Time) { self.now = now }

    public mutating func send(from: Address, to: Address, _ message: Message) {
        inbox.append((from, to, message))
    }

    /// Sets `owner`'s `timer` to fire at `deadline`, replacing the deadline it had.
    public mutating func setTimer(_ timer: Timer, of owner: Address, at deadline: Time) {
        setCount += 1
        timers[TimerKey(owner: owner, timer: timer)] = (deadline, setCount)
    }

    /// Forgets every timer of `owner` (it stopped: a node that goes offline).
    public mutating func cancelTimers(of owner: Address) {
        timers = timers.filter { $0.key.owner != owner }
    }

    public func deadline(of timer: Timer, of owner: Address) -> Time? {
        timers[TimerKey(owner: owner, timer: timer)]?.deadline
    }

    /// What happens next, no later than `limit`: the oldest message on the wire (delivered
    /// now), else the earliest timer due by `limit` — the clock moves to its deadline and
    /// the timer is removed (ties fire in the order they were set). nil when nothing
    /// happens before `limit`; the clock is then at `limit` (it never goes back).
    public mutating func next(until limit: Time) -> Event? {
        if !inbox.isEmpty {
            let envelope = inbox.removeFirst()
            history.append((now, envelope.from, envelope.to, envelope.message))
            return .message(from: envelope.from, to: envelope.to, envelope.message)
        }
        let due = timers.filter { $0.value.deadline <= limit }
            .min { ($0.value.deadline, $0.value.order) < ($1.value.deadline, $1.value.order) }
        guard let (key, value) = due else {
            if now < limit { now = limit }
            return nil
        }
        timers[key] = nil
        if now < value.deadline { now = value.deadline }
        return .timer(owner: key.owner, key.timer)
    }

    /// Takes messages off the wire until none is left (timers do not fire).
    public mutating func nextMessage() -> Envelope? {
        guard !inbox.isEmpty else { return nil }
        let envelope = inbox.removeFirst()
        history.append((now, envelope.from, envelope.to, envelope.message))
        return envelope
    }
}
