import CairnWire
/// Where a contract sits among the volumes this node owns.
struct SlotRef: Hashable, Sendable, Codable {
    var volume: Int
    var slot: Int
}

/// One slot (shard index) of a volume this node owns: who keeps it now and in what
/// condition, how far that holder has come, and the new holder being brought in, if any.
/// Each state is an enum carrying its own data; the flags below are read-only views.
public struct OwnedSlot: Hashable, Sendable, Codable {
    /// What the current holder proved about its copy.
    public enum Proof: Hashable, Sendable, Codable {
        /// Nothing against it.
        case none
        /// It proved it lost data (a failed challenge, a slot that did not verify).
        case failed
        /// It said it has nothing: never ask it again.
        case empty
    }

    /// A new holder for the slot, from proposal to acknowledged upload. Indirect: the slot
    /// keeps one pointer (nil nearly always) where the largest case took 48 bytes.
    public indirect enum Replacement: Hashable, Sendable, Codable {
        /// Proposed; waiting for its signature, checked against `key`.
        case proposing(holder: NodeID, contract: ContractID, key: [UInt8], since: Instant)
        /// Both signed; waiting for the data to be at hand (a rebuild from k slots).
        case accepted(holder: NodeID, contract: ContractID, since: Instant)
        /// The slot (`extent`) is on its way.
        case storing(holder: NodeID, contract: ContractID, extent: SlotExtent, since: Instant)

        public var holder: NodeID {
            switch self { case let .proposing(h, _, _, _), let .accepted(h, _, _), let .storing(h, _, _, _): h }
        }
        public var contract: ContractID {
            switch self { case let .proposing(_, c, _, _), let .accepted(_, c, _), let .storing(_, c, _, _): c }
        }
        public var since: Instant {
            switch self { case let .proposing(_, _, _, t), let .accepted(_, _, t), let .storing(_, _, _, t): t }
        }
    }

    /// Packs appended since the holder's last acknowledgement, on their way to it.
    public struct Append: Hashable, Sendable, Codable {
        public var extent: SlotExtent
        public var since: Instant
    }

    /// The kinds of `Replacement`, for comparisons.
    public enum Pending: Hashable, Sendable, Codable { case proposing, accepted, storing }

    // Every slot of every volume is read on each repair tick and uptime reply: keep it small.
    public var holder: NodeID? = nil
    /// The holder looks unhealthy (uptime, exclusion, refused fetches): replace it, but its
    /// slot may still be fetched. Judged apart from what it proved (`proof`).
    public var unhealthy = false
    public var proof = Proof.none
    public var contract: ContractID? = nil
    /// When `contract`'s term ends, kept here so that the uptime check of every slot (each
    /// repair tick) does not look the contract up in the book.
    public var contractEnd: Instant? = nil
    public var fetchMisses = 0
    /// The holder refused (or never answered) the renewal in place of the slot's current
    /// contract: that renewal goes through the coordinator to another holder instead. (An
    /// optional, so checkpoints from before it read; `true` or nil.)
    public var renewalRefused: Bool? = nil
    /// What the holder acknowledged: the first `stored.packs` packs (challenged against
    /// `stored.root`).
    public var stored = SlotExtent.empty
    public var append: Append? = nil
    public var replacement: Replacement? = nil

    public init(holder: NodeID? = nil, contract: ContractID? = nil, contractEnd: Instant? = nil,
                stored: SlotExtent = .empty)
    {
        self.holder = holder
        self.contract = contract
        self.contractEnd = contractEnd
        self.stored = stored
    }

    public var failed: Bool { proof != .none }
    public var noData: Bool { proof == .empty }
    public var appending: SlotExtent? { append?.extent }
    public var pending: Pending? {
        switch replacement {
        case nil: nil
        case .proposing: .proposing
        case .accepted: .accepted
        case .storing: .storing
        }
    }
    public var pendingHolder: NodeID? { replacement?.holder }
    public var pendingContract: ContractID? { replacement?.contract }
    /// The key the proposed holder's signature must check against.
    public var pendingKey: [UInt8] { if case let .proposing(_, _, key, _) = replacement { key } else { [] } }
    /// What is on its way to the new holder (a whole slot), once it is.
    public var pendingExtent: SlotExtent { if case let .storing(_, _, extent, _) = replacement { extent } else { .empty } }

    /// Whether the owner asks for a new holder for this slot now: it has none, or the
    /// volume is being repaired and this one needs replacing, or its contract's term ends
    /// by `renewBy` (a renewal, whatever the planner says: slots placed at different
    /// times end at different times, and one lapsing alone is no repair).
    public func wantsHolder(repairing: Bool, renewBy: Instant) -> Bool {
        guard replacement == nil else { return false }
        if holder == nil { return true }
        if repairing && (failed || unhealthy) { return true }
        return contractEnd.map { $0 <= renewBy } ?? false
    }

    /// Whether the owner proposes this slot's renewal to its own holder (which keeps the
    /// shard, so nothing moves): the term ends by `renewBy`, the holder is in good standing
    /// with every pack acknowledged and none on its way, and it has not refused before.
    public func renewsInPlace(renewBy: Instant, now: Instant) -> Bool {
        guard replacement == nil, holder != nil, contract != nil, let end = contractEnd, end <= renewBy, now < end,
              !failed, !unhealthy, append == nil, stored.packs > 0, renewalRefused != true
        else { return false }
        return true
    }

    public var health: RepairPlanner.Health {
        guard holder != nil else { return .empty }
        if failed { return .failed }
        return unhealthy ? .unhealthy : .healthy
    }
}

/// A released holder that still keeps shard `index` of a volume during its grace period.
public struct GraceSource: Hashable, Sendable, Codable {
    public var index: UInt8
    public var holder: NodeID
    /// What it was given of the slot (its fetch is checked against it).
    public var extent: SlotExtent
}

/// A prefix of a slot: its first `packs` packs, `bytes` long, whose tree has root `root`.
/// What a holder acknowledged, or what is on its way to one.
public struct SlotExtent: Hashable, Sendable, Codable {
    public var packs: UInt32
    public var bytes: UInt64
    public var root: [UInt8]
    public static let empty = SlotExtent(packs: 0, bytes: 0, root: [])
    public init(packs: UInt32, bytes: UInt64, root: [UInt8]) {
        self.packs = packs
        self.bytes = bytes
        self.root = root
    }
}

/// A volume this node owns: each slot's tree (for the roots it challenges against), where
/// each slot lives and how far each holder has caught up with the packs appended.
public struct OwnedVolume: Hashable, Sendable, Codable {
    public let id: VolumeID
    public internal(set) var layout: VolumeLayout
    /// Bytes each slot may hold: the contracts reserve this much on each holder.
    public let capacity: UInt64
    /// Packs may still be appended (until `close` or until one more would not fit).
    public internal(set) var open = true
    /// Each slot's tree over the packs appended, and its root (kept beside it: read by
    /// every challenge and every upload).
    var trees: [SlotTree]
    public internal(set) var roots: [[UInt8]]
    public var slotBytes: UInt64 { layout.slotBytes }
    public var slots: [OwnedSlot]
    /// Packs from this one on are still in the owner's local pack store (0: all of them,
    /// as after a backup; `layout.packs`: none, every slot has every pack).
    public var localFrom: UInt32 = 0
    /// The owner still has the whole volume locally from the initial upload.
    public var localCopy: Bool { localFrom == 0 }
    /// Shards fetched for a rebuild (bit per slot); ≥ k means rebuilt data is at hand.
    public var fetchedMask: UInt64 = 0
    /// The rebuilt data covers packs below this (the fewest any fetched slot had).
    public var fetchedPacks: UInt32 = UInt32.max
    public var fetchRequests: [UInt64: Int] = [:]
    /// Fetches from holders released in good faith that still owe their grace period: a
    /// last resort when the slots' holders cannot supply k shards.
    public var graceRequests: [UInt64: GraceSource] = [:]
    /// Grace holders that answered they no longer have the shard (not asked again).
    public var graceRefused: [NodeID] = []
    public var fetchDeadline: Instant? = nil
    /// When the fetch round that ends at `fetchDeadline` was sent: a report of a refused
    /// fetch names it, so the coordinator can check the holder was up across it.
    public var fetchSent: Instant? = nil
    public var matchRequested: Instant? = nil
    public var repairing = false
    public var lost = false
    /// Holders released recently (never place this volume there again while they keep it).
    public var recentHolders: [NodeID] = []

    init(id: VolumeID, k: Int, n: Int, capacity: UInt64) {
        self.id = id
        layout = VolumeLayout(k: k, n: n)
        self.capacity = capacity
        trees = Array(repeating: SlotTree(), count: n)
        roots = Array(repeating: SlotTree().root, count: n)
        slots = Array(repeating: OwnedSlot(), count: n)
    }

    /// Everything appended so far, in slot `s`.
    func extent(_ s: Int) -> SlotExtent {
        SlotExtent(packs: layout.packs, bytes: layout.slotBytes, root: roots[s])
    }
}
