import CairnWire
internal import CairnCrypto

/// Owner side of challenges: which are outstanding, and the verdict on each answer.
/// A challenge names a random segment; the answer must carry that segment and a Merkle
/// path to the root the owner kept. A holder that dropped a fraction f of a shard fails
/// with probability ≥ f.
public struct ChallengeScheduler: Sendable {
    public struct Outstanding: Hashable, Sendable {
        public var contract: ContractID
        public var holder: NodeID
        public var shard: ShardID
        public var segment: UInt32
        public var segments: UInt32
        public var root: [UInt8]
        public var deadline: Instant
        /// An audit of a released contract still in its grace period.
        public var audit: Bool
    }

    public enum Verdict: Hashable, Sendable {
        case pass(Outstanding)
        case fail(Outstanding, FaultKind)
        /// Unknown or already timed-out challenge: ignored.
        case stale
    }

    public private(set) var outstanding: [UInt64: Outstanding] = [:]
    private var nextID: UInt64 = 1

    public init() {}

    /// Picks a random segment and records the challenge; returns the message to send.
    public mutating func issue(contract: ContractID, holder: NodeID, shard: ShardID, segments: UInt32, root: [UInt8],
                               audit: Bool, now: Instant, timeout: Interval, rng: inout Xoshiro256) -> Message
    {
        precondition(segments > 0, "challenge of a shard with no segments")
        let id = nextID
        nextID += 1
        let segment = UInt32(rng.bounded(UInt64(segments)))
        if outstanding.count >= ProtocolLimits.outstandingChallengesMax, let oldest = outstanding.keys.min() {
            outstanding[oldest] = nil
        }
        outstanding[id] = Outstanding(contract: contract, holder: holder, shard: shard, segment: segment,
                                      segments: segments, root: root, deadline: now + timeout, audit: audit)
        return .challenge(id: id, shard: shard, segment: segment)
    }

    public mutating func onReply(id: UInt64, from: NodeID, segment: [UInt8], proof: [[UInt8]]) -> Verdict {
        guard let o = outstanding[id], o.holder == from else { return .stale }
        outstanding[id] = nil
        let ok = MerkleProof(segmentIndex: Int(o.segment), segmentCount: Int(o.segments), siblings: proof)
            .verify(segment: segment, root: o.root)
        return ok ? .pass(o) : .fail(o, o.audit ? .earlyFree : .badProof)
    }

    public mutating func onMissing(id: UInt64, from: NodeID) -> Verdict {
        guard let o = outstanding[id], o.holder == from else { return .stale }
        outstanding[id] = nil
        return .fail(o, o.audit ? .earlyFree : .missing)
    }

    /// Removes and returns challenges past their deadline (no answer: the holder was
    /// unreachable; uptime, not this, judges that), in id order.
    public mutating func sweep(now: Instant) -> [Outstanding] {
        let due = outstanding.filter { $0.value.deadline <= now }.keys.sorted()
        return due.map { outstanding.removeValue(forKey: $0)! }
    }
}

/// Decides, for one pack, whether to repair and which slots, from each slot's health.
public enum RepairPlanner {
    public enum Health: Hashable, Sendable {
        /// Stored on a holder in good standing.
        case healthy
        /// Stored, but the holder is unhealthy (low uptime, excluded, refuses fetches):
        /// the data may still be fetched.
        case unhealthy
        /// The holder proved it does not have the data.
        case failed
        /// Nothing placed.
        case empty
    }

    public enum Decision: Hashable, Sendable {
        case keep
        /// Re-create these slots (in order) on new holders.
        case repair([Int])
        /// Fewer than k shards can ever be fetched and no copy is at hand.
        case lost
    }

    /// The trigger for a pack of geometry `g` on a network that repairs its n-shard packs
    /// at `trigger`: the same distance below the pack's own n, and always above its k.
    public static func trigger(for g: PackGeometry, n: Int, trigger: Int) -> Int {
        min(g.n, max(g.k + 1, g.n - (n - trigger)))
    }

    /// `trigger`: repair when fewer than this many slots are healthy (k < trigger ≤ n).
    /// `haveData`: the owner still has the pack locally (initial upload) or rebuilt it.
    /// `extraSources`: shard indices no slot supplies that can still be had (fetched
    /// already, or kept by a released holder during its grace period).
    /// `slots` may be any random-access collection (the owner plans every pack on every
    /// uptime reply, from healths on the stack).
    public static func decide<Slots: RandomAccessCollection<Health>>(_ slots: Slots, k: Int, trigger: Int, haveData: Bool,
                                                                     extraSources: Int = 0)
        -> Decision where Slots.Index == Int
    {
        precondition(k > 0 && k <= slots.count && trigger <= slots.count, "k=\(k) trigger=\(trigger) n=\(slots.count)")
        let healthy = slots.count { $0 == .healthy }
        let fetchable = slots.count { $0 == .healthy || $0 == .unhealthy }
        precondition(extraSources >= 0 && fetchable + extraSources <= 64, "extraSources \(extraSources)")
        if !haveData && fetchable + extraSources < k { return .lost }
        if haveData || healthy < trigger {
            let replace = slots.indices.filter { slots[$0] != .healthy }
            return replace.isEmpty ? .keep : .repair(replace)
        }
        return .keep
    }
}
