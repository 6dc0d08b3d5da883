import CairnWire
/// Where a contract sits among the packs this node owns.
struct SlotRef: Hashable, Sendable {
    var pack: Int
    var slot: Int
}

/// One slot (shard index) of a pack this node owns.
public struct OwnedSlot: Hashable, Sendable {
    public enum Pending: Hashable, Sendable { case proposing, accepted, storing }

    // Stored properties are ordered so that they pack into 88 bytes: every slot of every
    // pack is read on each repair tick and uptime reply.
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

    var health: RepairPlanner.Health {
        guard holder != nil else { return .empty }
        if failed { return .failed }
        return unhealthy ? .unhealthy : .healthy
    }
}

/// A released holder that still keeps shard `index` of a pack during its grace period.
public struct GraceSource: Hashable, Sendable {
    public var index: UInt8
    public var holder: NodeID
}

/// A pack this node owns: the roots it keeps for challenges and where each shard lives.
public struct OwnedPack: Hashable, Sendable {
    public let id: PackID
    public let geometry: PackGeometry
    public let roots: [[UInt8]]
    public var shardBytes: UInt64 { geometry.shardBytes }
    public var slots: [OwnedSlot]
    /// The owner still has the pack from the initial upload.
    public var localCopy = true
    /// Shards fetched for a rebuild (bit per slot); ≥ k means rebuilt data is at hand.
    public var fetchedMask: UInt64 = 0
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
    /// Holders released recently (never place this pack there again while they keep it).
    public var recentHolders: [NodeID] = []
}
