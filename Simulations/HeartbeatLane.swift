import CairnCore

/// A heartbeat sent to the coordinator and not yet delivered.
struct HeartbeatInFlight {
    var time: Int64
    /// Its place among events due at the same instant (`EventQueue.reserveSeq`).
    var seq: UInt64
    var from: NodeID
    /// The sender's clock when it left.
    var sent: Int64
    var used: UInt64
}

/// Heartbeats in flight, kept beside the event queue instead of in it. Every node sends
/// one to the coordinator each uptime slot — a third of a run's events once challenges are
/// settled — and each is in flight for a few dozen milliseconds, so only a handful are
/// ever on their way: a short list ordered by (due time, sequence) is cheaper than the
/// heap and its payload slab. The loop takes the lane's first heartbeat whenever it comes
/// before the queue's next event (`Simulation.nextEvent`), so events run in exactly the
/// order of one queue (the trace is the same).
struct HeartbeatLane {
    private(set) var items: [HeartbeatInFlight] = []

    var first: HeartbeatInFlight? { items.first }

    mutating func add(_ h: HeartbeatInFlight) {
        // Sequences only grow, so a heartbeat goes after every one due no later.
        var i = items.count
        while i > 0, items[i - 1].time > h.time { i -= 1 }
        items.insert(h, at: i)
    }

    mutating func removeFirst() {
        items.removeFirst()
    }
}
