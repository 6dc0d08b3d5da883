import CairnCore

/// A node's timer, due at `time`, waiting in a `TimerLane`.
struct TimerInFlight {
    var time: Int64
    /// Its place among events due at the same instant (`EventQueue.reserveSeq`).
    var seq: UInt64
    var node: UInt32
    var epoch: UInt32
}

/// Node timers of one kind, kept beside the event queue instead of in it.
///
/// A node re-arms its heartbeat, challenge and repair timers a fixed interval after they
/// fire, so with exact clocks each kind comes due in the order it was armed: a first-in,
/// first-out list keeps them in (due time, sequence) order for free, where the heap spent a
/// push, a pop and a payload slot on each (the heartbeat alone is a third of a run's
/// events). A timer that would land before the lane's last one (a jittered first arm, a
/// drifting clock) goes to the queue instead. The loop takes whichever of the queue and the
/// lanes comes first (`Simulation.nextEvent`), so events run in exactly the order of one
/// queue and the trace is the same.
struct TimerLane {
    private var items: [TimerInFlight] = []
    private var head = 0

    var first: TimerInFlight? { head < items.count ? items[head] : nil }

    /// Whether a timer due at `time` may join at the back and keep the lane in order.
    func accepts(_ time: Int64) -> Bool {
        head == items.count || items[items.count - 1].time <= time
    }

    mutating func append(_ timer: TimerInFlight) {
        assert(accepts(timer.time), "timer lane out of order")
        items.append(timer)
    }

    mutating func removeFirst() {
        head += 1
        // Drop the taken prefix now and then (amortised: at most once per its length).
        if head == items.count {
            items.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 1024, head * 2 >= items.count {
            items.removeFirst(head)
            head = 0
        }
    }
}
