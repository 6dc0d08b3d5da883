import CairnWire

/// The owner's pending proposals ordered by deadline (`NodeCore.expireProposals`). An entry
/// may outlive its proposal (accepted, abandoned, or replaced by a later one): the reader
/// checks each against the slot and drops those that no longer match, so the index never
/// has to follow every change of a slot.
struct ProposalDeadlines: Sendable {
    struct Entry: Sendable {
        var due: Instant
        var volume: VolumeID
        var slot: Int
        var contract: ContractID
    }

    /// Sorted by `due`, ties in insertion order.
    private var entries: [Entry] = []
    private var head = 0
    /// Built from the slots before first use (a core read from a checkpoint has none).
    private(set) var stale = true

    var first: Entry? { head < entries.count ? entries[head] : nil }

    mutating func add(_ e: Entry) {
        // Proposals are made at the current time, so a new one nearly always goes last.
        var i = entries.count
        while i > head, entries[i - 1].due > e.due { i -= 1 }
        entries.insert(e, at: i)
    }

    mutating func removeFirst() {
        head += 1
        compact()
    }

    /// Removes and returns the entries due by `now`, earliest first.
    mutating func takeDue(by now: Instant) -> ArraySlice<Entry> {
        var end = head
        while end < entries.count, entries[end].due <= now { end += 1 }
        let due = entries[head..<end]
        head = end
        defer { compact() }
        return due
    }

    /// Every pending proposal of `volumes`, from their slots.
    mutating func rebuild(from volumes: [OwnedVolume], timeout: Interval) {
        entries = []
        head = 0
        for v in volumes {
            for s in v.slots.indices {
                guard case let .proposing(_, contract, _, since)? = v.slots[s].replacement else { continue }
                entries.append(Entry(due: since + timeout, volume: v.id, slot: s, contract: contract))
            }
        }
        entries.sort { $0.due < $1.due }
        stale = false
    }

    private mutating func compact() {
        if head > 64, head * 2 > entries.count {
            entries.removeFirst(head)
            head = 0
        }
    }
}
