import CairnWire
internal import CairnCrypto

/// Owner side of challenges: which are outstanding, and the verdict on each answer.
/// A challenge names a random segment; the answer must carry that segment and a Merkle
/// path to the root the owner kept. A holder that dropped a fraction f of a shard fails
/// with probability ≥ f.
public struct ChallengeScheduler: Sendable, Codable {
    public struct Outstanding: Hashable, Sendable, Codable {
        public var contract: ContractID
        public var holder: NodeID
        public var slot: SlotID
        /// The pack asked for, among the first `packs` of the slot, whose tree has root `root`.
        public var pack: UInt32
        public var packs: UInt32
        /// Picks the segment within the pack (`SegmentProof.segment(selector:of:)`).
        public var selector: UInt32
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
    /// Most challenges outstanding at once; the oldest is forgotten past it.
    private var bound = ProtocolLimits.outstandingChallengesMax

    private enum CodingKeys: String, CodingKey { case outstanding, nextID }

    public init() {}

    /// A scheduler with a lower bound on outstanding challenges (tests reach it quickly).
    public init(bound: Int) {
        precondition(bound > 0, "bound \(bound)")
        self.bound = bound
    }

    /// Picks a random pack of what the holder acknowledged (`extent`) and a random segment
    /// selector, and records the challenge; returns the message to send.
    public mutating func issue(contract: ContractID, holder: NodeID, slot: SlotID, extent: SlotExtent,
                               audit: Bool, now: Instant, timeout: Interval, rng: inout Xoshiro256) -> Message
    {
        var none = SettledChallenges()
        return issue(contract: contract, holder: holder, slot: slot, extent: extent, audit: audit, now: now,
                     timeout: timeout, rng: &rng, settled: &none, knownPass: { _ in false })!
    }

    /// `issue` for a shell that may already know the answer (`knownPass`): a challenge it
    /// vouches for is drawn exactly as any other (same id, pack and selector, so the
    /// generator's stream and every later challenge are unchanged) but neither recorded
    /// nor sent — the same end state as recording it, sending it and taking its pass, which
    /// only removes the record again. `settled` remembers such challenges for the rest of
    /// one tick, so that the bound on outstanding challenges evicts exactly what it would
    /// have evicted had they been recorded until their passes arrived.
    public mutating func issue(contract: ContractID, holder: NodeID, slot: SlotID, extent: SlotExtent,
                               audit: Bool, now: Instant, timeout: Interval, rng: inout Xoshiro256,
                               settled: inout SettledChallenges, knownPass: (KnownChallenge) -> Bool) -> Message?
    {
        issue(contract: contract, holder: holder, slot: slot, packs: extent.packs, root: { extent.root }, audit: audit,
              now: now, timeout: timeout, rng: &rng, settled: &settled, knownPass: knownPass)
    }

    /// `issue` with the extent's root read only when the challenge is recorded: a challenge
    /// settled by `knownPass` never touches it (a retain of every slot's root, a cold heap
    /// object, across the call to `knownPass` was a tenth of the simulator's challenge tick).
    mutating func issue(contract: ContractID, holder: NodeID, slot: SlotID, packs: UInt32,
                        root: () -> [UInt8], audit: Bool, now: Instant, timeout: Interval, rng: inout Xoshiro256,
                        settled: inout SettledChallenges, knownPass: (KnownChallenge) -> Bool) -> Message?
    {
        precondition(packs > 0, "challenge of an empty slot")
        let id = nextID
        nextID += 1
        let pack = UInt32(rng.bounded(UInt64(packs)))
        let selector = UInt32(truncatingIfNeeded: rng.next())
        if outstanding.count + settled.pending >= bound {
            // The oldest of the recorded and the vouched-for (ids only grow: a vouched-for
            // one is older than every recorded one issued after it).
            let oldest = outstanding.keys.min()
            if let first = settled.first, oldest.map({ first < $0 }) ?? true {
                settled.evictFirst()
            } else if let oldest {
                outstanding[oldest] = nil
            }
        }
        if knownPass(KnownChallenge(id: id, holder: holder, slot: slot, pack: pack, packs: packs, audit: audit)) {
            settled.add(id)
            return nil
        }
        outstanding[id] = Outstanding(contract: contract, holder: holder, slot: slot, pack: pack, packs: packs,
                                      selector: selector, root: root(), deadline: now + timeout, audit: audit)
        return .challenge(id: id, slot: slot, pack: pack, packs: packs, selector: selector)
    }

    public mutating func onReply(id: UInt64, from: NodeID, proof: SegmentProof) -> Verdict {
        guard let o = outstanding[id], o.holder == from else { return .stale }
        outstanding[id] = nil
        let ok = proof.verify(pack: o.pack, packs: o.packs, selector: o.selector, slotRoot: o.root)
        return ok ? .pass(o) : .fail(o, o.audit ? .earlyFree : .badProof)
    }

    /// The verdict on challenge `id` when the shell already knows that `from` holds what
    /// was asked and would answer with a proof that checks: `.pass`, without the proof
    /// (the simulator's shortcut for honest holders of synthetic data; a real owner only
    /// ever judges a proof it received, through `onReply`).
    public mutating func onKnownPass(id: UInt64, from: NodeID) -> Verdict {
        guard let o = outstanding[id], o.holder == from else { return .stale }
        outstanding[id] = nil
        return .pass(o)
    }

    public mutating func onMissing(id: UInt64, from: NodeID) -> Verdict {
        guard let o = outstanding[id], o.holder == from else { return .stale }
        outstanding[id] = nil
        return .fail(o, o.audit ? .earlyFree : .missing)
    }

    /// Removes and returns challenges past their deadline (no answer: the holder was
    /// unreachable; uptime, not this, judges that), in id order.
    public mutating func sweep(now: Instant) -> [Outstanding] {
        // The ids only, not a filtered copy of the dictionary (this runs on every challenge tick).
        var due = [UInt64]()
        for (id, o) in outstanding where o.deadline <= now { due.append(id) }
        due.sort()
        return due.map { outstanding.removeValue(forKey: $0)! }
    }
}

/// A challenge about to be sent, as a shell that may already know its answer sees it.
public struct KnownChallenge: Sendable {
    public var id: UInt64
    public var holder: NodeID
    public var slot: SlotID
    public var pack: UInt32
    public var packs: UInt32
    public var audit: Bool
}

/// The challenges of one tick a shell vouched for, oldest first, as far as the bound on
/// outstanding challenges is concerned (`ChallengeScheduler.issue(…settled:knownPass:)`).
public struct SettledChallenges: Sendable {
    private var ids: [UInt64] = []
    private var evicted = 0

    public init() {}

    var pending: Int { ids.count - evicted }
    var first: UInt64? { evicted < ids.count ? ids[evicted] : nil }
    mutating func evictFirst() { evicted += 1 }
    mutating func add(_ id: UInt64) { ids.append(id) }
}

/// Decides, for one volume, whether to repair and which slots, from each slot's health.
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

    /// The trigger for a volume of layout `g` on a network that repairs its n-shard volumes
    /// at `trigger`: the same distance below the volume's own n, and always above its k.
    public static func trigger(for g: VolumeLayout, n: Int, trigger: Int) -> Int {
        min(g.n, max(g.k + 1, g.n - (n - trigger)))
    }

    /// `trigger`: repair when fewer than this many slots are healthy (k < trigger ≤ n).
    /// `haveData`: the owner still has the volume locally (initial upload) or rebuilt it.
    /// `extraSources`: shard indices no slot supplies that can still be had (fetched
    /// already, or kept by a released holder during its grace period).
    /// `slots` may be any random-access collection (the owner plans every volume on every
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
