import CairnWire
/// Where a contract sits among the volumes this node owns.
struct SlotRef: Hashable, Sendable {
    var volume: Int
    var slot: Int
}

/// One slot (shard index) of a volume this node owns.
public struct OwnedSlot: Hashable, Sendable {
    public enum Pending: Hashable, Sendable { case proposing, accepted, storing }

    // Every slot of every volume is read on each repair tick and uptime reply: keep it small.
    public var holder: NodeID? = nil
    /// The holder looks unhealthy (uptime, exclusion, refused fetches).
    public var unhealthy = false
    /// The holder proved it lost the data.
    public var failed = false
    /// The holder said it does not have the shard (never ask it again).
    public var noData = false
    public var contract: ContractID? = nil
    /// When `contract`'s term ends, kept here so that the uptime check of every slot (each
    /// repair tick) does not look the contract up in the book.
    public var contractEnd: Instant? = nil
    /// A replacement being placed.
    public var pending: Pending? = nil
    public var pendingHolder: NodeID? = nil
    public var fetchMisses = 0
    public var pendingContract: ContractID? = nil
    public var pendingKey: [UInt8] = []
    public var pendingSince = Instant.zero
    /// What the holder acknowledged: the first `stored.packs` packs (challenged against
    /// `stored.root`).
    public var stored = SlotExtent.empty
    /// Packs appended since, being sent to the holder under the same contract.
    public var appending: SlotExtent? = nil
    public var appendingSince = Instant.zero
    /// What is being sent to `pendingHolder` (a whole slot).
    public var pendingExtent = SlotExtent.empty

    var health: RepairPlanner.Health {
        guard holder != nil else { return .empty }
        if failed { return .failed }
        return unhealthy ? .unhealthy : .healthy
    }
}

/// A released holder that still keeps shard `index` of a volume during its grace period.
public struct GraceSource: Hashable, Sendable {
    public var index: UInt8
    public var holder: NodeID
    /// What it was given of the slot (its fetch is checked against it).
    public var extent: SlotExtent
}

/// A prefix of a slot: its first `packs` packs, `bytes` long, whose tree has root `root`.
/// What a holder acknowledged, or what is on its way to one.
public struct SlotExtent: Hashable, Sendable {
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
public struct OwnedVolume: Hashable, Sendable {
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
