import CairnCore

// Most tests deliver a message the instant it was sent, by a clock that agrees with the
// receiver's; the clock-skew tests call the stamped entry points directly.
extension NodeCore {
    mutating func onMessage(from: NodeID, _ message: Message, now: Instant) -> [NodeAction] {
        onMessage(from: from, message, sent: now, now: now)
    }
}

extension CoordinatorCore {
    mutating func onMessage(from: NodeID, _ message: Message, now: Instant) -> [CoordinatorAction] {
        onMessage(from: from, message, sent: now, now: now)
    }
}

extension RestoreSession {
    mutating func onMessage(from: NodeID, _ message: Message, now: Instant) -> [RestoreAction] {
        onMessage(from: from, message, sent: now, now: now)
    }
}
