import CairnWire

/// Answers a shell already knows, given to the owner's core without the messages that
/// would carry them. The simulator uses this for probes that change nothing: a challenge
/// to an honest holder that holds the slot, online for the whole round trip, passes, so
/// the simulator need not deliver the challenge, build the proof and check it (two events
/// and eight hashes each, half of a run's work). The verdict takes the same path as a
/// checked reply's (`onVerdict`), at the instant the reply would have arrived, so the
/// owner's state is the same as after the full exchange. Production never calls it.
extension NodeCore {
    /// Holder `from` answered challenge `id` with a proof the shell knows checks.
    public mutating func onKnownChallengePass(id: UInt64, from: NodeID, now: Instant, into actions: inout [NodeAction]) {
        onVerdict(challenges.onKnownPass(id: id, from: from), now: now, into: &actions)
    }
}

extension NodeCore {
    /// Holder side: whether a challenge for the first `packs` packs of `slot` would be
    /// answered from this node's records (`onHolderMessage`), with no held contract changing
    /// state before `through` (no heartbeat frees one, `ContractBook.expire`). It changes
    /// nothing: `mutating` only so that a shell in another module reaches the core in place
    /// (called as a plain method from there, or read through `book`, the core is copied —
    /// measured at a tenth of a run's time).
    public mutating func answersChallenge(slot: SlotID, packs: UInt32, steadyThrough through: Instant) -> Bool {
        book.storedPacks(slot) >= packs && book.nextExpiry.map { $0 > through } ?? true
    }
}

extension NodeCore {
    /// Holder side: when this node may free its shard of `slot` (`Contract.keptUntil`),
    /// nil when it holds none. It changes nothing: `mutating` for the reason
    /// `answersChallenge` is (the simulator's checker asks for every copy at every sample,
    /// and read through `book` the whole book was copied each time: a tenth of churn.json).
    public mutating func heldKeptUntil(_ slot: SlotID) -> Instant? {
        book.heldKeptUntil(slot)
    }
}
