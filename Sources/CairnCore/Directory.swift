import CairnWire
/// What the coordinator knows about one member.
public struct DirectoryEntry: Sendable, Codable {
    public var joined = false
    public var offered: UInt64 = 0
    /// Bytes the node reported holding for others, plus what was matched to it since.
    public var used: UInt64 = 0
    public var speed: UInt32 = 0
    public var publicKey: [UInt8] = []
    public var lastSeen: Instant? = nil
    /// When the node's current session began (its last `join`: a node joins at every
    /// start and every new coordinator session). A refused fetch counts only against a
    /// holder whose session spans the fetch.
    public var sessionStart: Instant? = nil
    public var seenThisSlot = false
    public var uptime: UptimeWindow
    public var reputation = Reputation()
    /// When the node last announced a lost disk (and got an amnesty for `missing` reports).
    public var amnestyFrom: Instant? = nil

    public init(slots: Int) { uptime = UptimeWindow(slots: slots) }

    public var free: UInt64 { offered > used ? offered - used : 0 }
}

/// Placement: the coordinator's choice of holders for the shards of one volume.
///
/// Rules: never the owner, never a node in `exclude` (the volume's current and recent
/// holders — so never two shards of one volume on one node), never an excluded node, only
/// nodes with room; among those, prefer uptime at or above the threshold, recently seen,
/// and a link speed close to the owner's. Candidates are a bounded random sample of the
/// directory, so a request costs O(sample), not O(members); a directory smaller than the
/// sample is considered whole.
public enum Placement {
    public struct Request: Sendable {
        public var owner: NodeID
        public var count: Int
        public var slotBytes: UInt64
        public var speed: UInt32
        public var exclude: [NodeID]
        public init(owner: NodeID, count: Int, slotBytes: UInt64, speed: UInt32, exclude: [NodeID]) {
            self.owner = owner
            self.count = count
            self.slotBytes = slotBytes
            self.speed = speed
            self.exclude = exclude
        }
    }

    /// Distance between two speeds in halvings (|log2 a − log2 b|, in whole bits).
    public static func speedDistance(_ a: UInt32, _ b: UInt32) -> Int {
        let la = 32 - max(a, 1).leadingZeroBitCount
        let lb = 32 - max(b, 1).leadingZeroBitCount
        return abs(la - lb)
    }

    public static func choose(_ request: Request, members: [NodeID], entries: [DirectoryEntry], now: Instant,
                              thresholdPermille: UInt16, recentWithin: Interval,
                              rng: inout Xoshiro256) -> [NodeID]
    {
        guard request.count > 0, !members.isEmpty else { return [] }
        let sample = min(ProtocolLimits.placementSampleMax, max(8 * request.count, 32), members.count)
        // (rank, node): lower is better; the random low bits break ties.
        var scored = [(UInt64, NodeID)]()
        scored.reserveCapacity(sample)
        var seen = [NodeID]()
        seen.reserveCapacity(sample)
        // Entries are read in place (a copied entry would retain and release its key).
        // A directory no larger than the sample is read whole (a draw with replacement
        // would miss a third of a small network's nodes each time); a larger one is sampled.
        let whole = members.count <= sample
        entries.withUnsafeBufferPointer { entries in
            for draw in 0..<sample {
                let node = whole ? members[draw] : members[rng.index(members.count)]
                if node == request.owner || seen.contains(node) || request.exclude.contains(node) { continue }
                seen.append(node)
                let i = node.index
                guard entries[i].joined, entries[i].reputation.standing != .excluded,
                      entries[i].free >= request.slotBytes
                else { continue }
                let lowUptime: UInt64 = entries[i].uptime.permille < thresholdPermille ? 1 : 0
                let stale: UInt64 = (entries[i].lastSeen.map { now - $0 > recentWithin } ?? true) ? 1 : 0
                let distance = UInt64(min(speedDistance(entries[i].speed, request.speed), 31))
                let rank = lowUptime << 62 | stale << 61 | distance << 56 | (rng.next() >> 8)
                scored.append((rank, node))
            }
        }
        scored.sort { $0.0 < $1.0 || ($0.0 == $1.0 && $0.1 < $1.1) }
        return scored.prefix(request.count).map(\.1)
    }
}
