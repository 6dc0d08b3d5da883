import CairnWire
internal import CairnCrypto

/// What an owner and a holder agree on. Both sign `signingBytes`.
public struct ContractTerms: Hashable, Sendable {
    public var id: ContractID
    public var owner: NodeID
    public var holder: NodeID
    public var shard: ShardID
    public var bytes: UInt64
    public var start: Instant
    public var term: Interval
    public var grace: Interval

    public init(id: ContractID, owner: NodeID, holder: NodeID, shard: ShardID, bytes: UInt64,
                start: Instant, term: Interval, grace: Interval) {
        self.id = id
        self.owner = owner
        self.holder = holder
        self.shard = shard
        self.bytes = bytes
        self.start = start
        self.term = term
        self.grace = grace
    }

    public var end: Instant { start + term }

    static let domain: [UInt8] = Array("cairn-contract-v1".utf8)

    /// Domain-separated encoding that both parties sign.
    public var signingBytes: [UInt8] {
        var w = ByteWriter(capacity: 80)
        w.raw(Self.domain)
        encode(into: &w)
        return w.bytes
    }

    func encode(into w: inout ByteWriter) {
        w.u64(id.raw)
        w.u32(owner.raw)
        w.u32(holder.raw)
        shard.pack.write(into: &w)
        w.u8(shard.index)
        w.u64(bytes)
        w.i64(start.milliseconds)
        w.i64(term.milliseconds)
        w.i64(grace.milliseconds)
    }

    static func decode(from r: inout ByteReader) throws(DecodeError) -> ContractTerms {
        let at = r.offset
        let t = ContractTerms(
            id: ContractID(try r.u64()), owner: NodeID(try r.u32()), holder: NodeID(try r.u32()),
            shard: ShardID(pack: try PackID(reading: &r), index: try r.u8()), bytes: try r.u64(),
            start: Instant(milliseconds: try r.i64()), term: Interval(milliseconds: try r.i64()),
            grace: Interval(milliseconds: try r.i64()))
        guard t.term.milliseconds > 0, t.grace.milliseconds >= 0, t.owner != t.holder,
              Int(t.shard.index) < ProtocolLimits.shardsPerPackMax
        else { throw DecodeError(.badValue, "contract terms out of range", offset: at) }
        return t
    }
}

/// Why a challenge or fetch counted against a holder; also the adversary kinds.
public enum FaultKind: UInt8, Sendable, CaseIterable, Comparable {
    case badProof = 1, missing, earlyFree, refusedFetch

    public static func < (a: FaultKind, b: FaultKind) -> Bool { a.rawValue < b.rawValue }
}

/// A candidate holder offered by the coordinator.
public struct Candidate: Hashable, Sendable {
    public var node: NodeID
    public var publicKey: [UInt8]
    public init(node: NodeID, publicKey: [UInt8]) {
        self.node = node
        self.publicKey = publicKey
    }
}

/// A slot a blind repair re-creates: on which node, the root the shard must have, and the
/// coordinator's mandate the repairer shows that node.
public struct BlindRepairTarget: Hashable, Sendable {
    public var slot: UInt8
    public var node: NodeID
    public var publicKey: [UInt8]
    public var root: [UInt8]
    public var mandate: BlindRepairMandate
    public init(slot: UInt8, node: NodeID, publicKey: [UInt8], root: [UInt8], mandate: BlindRepairMandate) {
        self.slot = slot
        self.node = node
        self.publicKey = publicKey
        self.root = root
        self.mandate = mandate
    }
}

/// One pack of an owner's root record as the coordinator keeps it: enough for a restore to
/// find and check the pack's shards (`NodeID.coordinator` marks an empty slot).
public struct PackLocation: Hashable, Sendable {
    public let pack: PackID
    public let geometry: PackGeometry
    /// One per shard (`geometry.n`), by construction.
    public let holders: [NodeID]
    public let roots: [[UInt8]]
    public init(pack: PackID, geometry: PackGeometry, holders: [NodeID], roots: [[UInt8]]) {
        precondition(holders.count == geometry.n && roots.count == geometry.n,
                     "pack location of \(holders.count) holders, \(roots.count) roots for n=\(geometry.n)")
        self.pack = pack
        self.geometry = geometry
        self.holders = holders
        self.roots = roots
    }
    public var shardBytes: UInt64 { geometry.shardBytes }
}

/// Uptime of one node as the coordinator measured it.
public struct UptimeEntry: Hashable, Sendable {
    public var node: NodeID
    /// Answered probes per thousand over the window.
    public var permille: UInt16
    public var excluded: Bool
    public init(node: NodeID, permille: UInt16, excluded: Bool) {
        self.node = node
        self.permille = permille
        self.excluded = excluded
    }
}
