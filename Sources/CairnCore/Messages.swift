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
public struct RepairTarget: Hashable, Sendable {
    public var slot: UInt8
    public var node: NodeID
    public var publicKey: [UInt8]
    public var root: [UInt8]
    public var mandate: RepairMandate
    public init(slot: UInt8, node: NodeID, publicKey: [UInt8], root: [UInt8], mandate: RepairMandate) {
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

/// Every message of the node protocol. Typed, versioned (`ProtocolLimits.wireVersion`), bounded in
/// size; `encode()` and `Message.decode(_:)` are the bytes the real transport carries.
/// Shard payloads (`storeShard`, `fetchReply`) travel as a stream after the message; only
/// their length is in it.
///
/// The three cases that carry contract terms are `indirect` (boxed): they are rare, and
/// inline they made every message — and every action and simulator event around one —
/// 80 bytes instead of 48.
public enum Message: Hashable, Sendable {
    /// node → coordinator: join the directory. `fresh`: the node lost its disk and starts
    /// empty (what it held is gone; owners will find out by challenge).
    case join(offered: UInt64, speed: UInt32, publicKey: [UInt8], fresh: Bool)
    /// node → coordinator, periodically: I am up, using this many bytes for others.
    case heartbeat(used: UInt64)
    /// coordinator → node: an operator warning (1) or exclusion notice (2).
    case warning(level: UInt8)
    /// owner → coordinator: find `count` holders for a shard of `pack`, none of `exclude`.
    case matchRequest(request: UInt64, pack: PackID, shardBytes: UInt64, count: UInt8, speed: UInt32, exclude: [NodeID])
    /// coordinator → owner.
    case matchReply(request: UInt64, pack: PackID, candidates: [Candidate])
    /// owner → holder: proposed contract, signed by the owner; or repairer → holder, signed
    /// by the repairer in the owner's name under the coordinator's `mandate`.
    indirect case propose(terms: ContractTerms, ownerKey: [UInt8], ownerSignature: [UInt8], mandate: RepairMandate?)
    /// holder → owner: accepted, signed by the holder.
    case accept(contract: ContractID, holderSignature: [UInt8])
    /// holder → owner: refused (`ContractBook.Refusal`: 1 no space, 2 already holds that pack,
    /// 3 bad signature, 4 not for me, 5 no valid repair mandate, 6 start off the holder's clock).
    case reject(contract: ContractID, reason: UInt8)
    /// owner (or repairer) → holder: the shard follows; its pack's geometry and its root,
    /// which the holder checks the bytes against before it acknowledges.
    case storeShard(contract: ContractID, shard: ShardID, geometry: PackGeometry, root: [UInt8])
    /// holder → owner: stored.
    case storeAck(contract: ContractID)
    /// owner → holder: prove segment `segment` of `shard`.
    case challenge(id: UInt64, shard: ShardID, segment: UInt32)
    /// holder → owner: the segment and its Merkle path.
    case challengeReply(id: UInt64, segment: [UInt8], proof: [[UInt8]])
    /// holder → owner: I do not have it.
    case challengeMissing(id: UInt64)
    /// owner → holder: send me the shard (repair or restore).
    case fetch(request: UInt64, shard: ShardID)
    /// holder → owner: the shard follows (`bytes` long) or `ok == false`.
    case fetchReply(request: UInt64, shard: ShardID, ok: Bool, bytes: UInt64)
    /// owner → holder: the contract ended at `at`; keep the shard for the grace period
    /// from then (resent with the same instant until acknowledged).
    case release(contract: ContractID, at: Instant)
    /// holder → owner.
    case releaseAck(contract: ContractID)
    /// owner → coordinator.
    case uptimeQuery(request: UInt64, nodes: [NodeID])
    /// coordinator → owner.
    case uptimeReply(request: UInt64, entries: [UptimeEntry])
    /// owner → coordinator: a holder failed a check on a contract that began at `since`.
    case report(holder: NodeID, fault: FaultKind, since: Instant)
    /// owner → coordinator: who holds the shards of a pack and their roots (the replicated
    /// root record; `NodeID.coordinator` marks an empty slot).
    case rootRecord(PackLocation)
    /// coordinator → a holder of the pack, while its owner is away: rebuild these slots
    /// from any k of `sources` (one per slot, `NodeID.coordinator` = none) and place them.
    indirect case repairOrder(pack: PackID, owner: NodeID, geometry: PackGeometry, sources: [NodeID], targets: [RepairTarget])
    /// repairer → coordinator: one slot re-created under a contract signed on the owner's behalf.
    indirect case repairDone(terms: ContractTerms, ownerSignature: [UInt8], holderSignature: [UInt8])
    /// coordinator → owner, when it is back: adopt a contract made on its behalf.
    indirect case adopt(terms: ContractTerms, ownerSignature: [UInt8], holderSignature: [UInt8])
    /// restorer → coordinator: where are `owner`'s packs? (the page starting at `start`).
    case recordQuery(request: UInt64, owner: NodeID, start: UInt32)
    /// coordinator → restorer: packs `start..<start + packs.count` of `total`, in the order
    /// their records first arrived (at most `ProtocolLimits.locationsPerReplyMax`).
    indirect case recordReply(request: UInt64, start: UInt32, total: UInt32, packs: [PackLocation])

    /// The wire type byte.
    public var typeByte: UInt8 {
        switch self {
        case .join: 1
        case .heartbeat: 2
        case .warning: 3
        case .matchRequest: 4
        case .matchReply: 5
        case .propose: 6
        case .accept: 7
        case .reject: 8
        case .storeShard: 9
        case .storeAck: 10
        case .challenge: 11
        case .challengeReply: 12
        case .challengeMissing: 13
        case .fetch: 14
        case .fetchReply: 15
        case .release: 16
        case .releaseAck: 17
        case .uptimeQuery: 18
        case .uptimeReply: 19
        case .report: 20
        case .rootRecord: 21
        case .repairOrder: 22
        case .repairDone: 23
        case .adopt: 24
        case .recordQuery: 25
        case .recordReply: 26
        }
    }

    /// Shard payload bytes that follow the message on the stream (charged on the link).
    public var payloadBytes: UInt64 {
        switch self {
        case .storeShard(_, _, let geometry, _): geometry.shardBytes
        case .fetchReply(_, _, let ok, let bytes): ok ? bytes : 0
        default: 0
        }
    }

    /// Header: version u8, type u8, sent i64 (the sender's clock, UTC milliseconds, when the
    /// message finished leaving it), body length u32; then the body.
    public static let headerBytes = 14

    /// The bytes of this message as sent at `sent` by the sender's clock. Receivers refuse
    /// a message whose stamp is further from their own clock than their bound allows.
    public func encode(sent: Instant) -> [UInt8] {
        var body = ByteWriter(capacity: 64)
        switch self {
        case let .join(offered, speed, publicKey, fresh):
            body.u64(offered)
            body.u32(speed)
            body.blob(publicKey, max: ProtocolLimits.publicKeyBytesMax)
            body.bool(fresh)
        case let .heartbeat(used):
            body.u64(used)
        case let .warning(level):
            body.u8(level)
        case let .matchRequest(request, pack, shardBytes, count, speed, exclude):
            body.u64(request)
            pack.write(into: &body)
            body.u64(shardBytes)
            body.u8(count)
            body.u32(speed)
            Self.nodes(exclude, into: &body)
        case let .matchReply(request, pack, candidates):
            body.u64(request)
            pack.write(into: &body)
            precondition(candidates.count <= ProtocolLimits.nodesPerMessageMax, "matchReply of \(candidates.count)")
            body.u16(UInt16(candidates.count))
            for c in candidates {
                body.u32(c.node.raw)
                body.blob(c.publicKey, max: ProtocolLimits.publicKeyBytesMax)
            }
        case let .propose(terms, ownerKey, ownerSignature, mandate):
            terms.encode(into: &body)
            body.blob(ownerKey, max: ProtocolLimits.publicKeyBytesMax)
            body.blob(ownerSignature, max: ProtocolLimits.signatureBytesMax)
            body.bool(mandate != nil)
            mandate?.encode(into: &body)
        case let .accept(contract, holderSignature):
            body.u64(contract.raw)
            body.blob(holderSignature, max: ProtocolLimits.signatureBytesMax)
        case let .reject(contract, reason):
            body.u64(contract.raw)
            body.u8(reason)
        case let .storeShard(contract, shard, geometry, root):
            body.u64(contract.raw)
            Self.shard(shard, into: &body)
            geometry.write(into: &body)
            body.blob(root, max: MerkleTree.hashLength)
        case let .storeAck(contract):
            body.u64(contract.raw)
        case let .challenge(id, shard, segment):
            body.u64(id)
            Self.shard(shard, into: &body)
            body.u32(segment)
        case let .challengeReply(id, segment, proof):
            body.u64(id)
            body.blob(segment, max: Int(PackGeometry.segmentBytesMax))
            precondition(proof.count <= PackGeometry.proofDepthMax, "proof depth \(proof.count)")
            body.u8(UInt8(proof.count))
            for p in proof { body.blob(p, max: MerkleTree.hashLength) }
        case let .challengeMissing(id):
            body.u64(id)
        case let .fetch(request, shard):
            body.u64(request)
            Self.shard(shard, into: &body)
        case let .fetchReply(request, shard, ok, bytes):
            body.u64(request)
            Self.shard(shard, into: &body)
            body.bool(ok)
            body.u64(bytes)
        case let .release(contract, at):
            body.u64(contract.raw)
            body.i64(at.milliseconds)
        case let .releaseAck(contract):
            body.u64(contract.raw)
        case let .uptimeQuery(request, nodes):
            body.u64(request)
            Self.nodes(nodes, into: &body)
        case let .uptimeReply(request, entries):
            body.u64(request)
            precondition(entries.count <= ProtocolLimits.nodesPerMessageMax, "uptimeReply of \(entries.count)")
            body.u16(UInt16(entries.count))
            for e in entries {
                body.u32(e.node.raw)
                body.u16(e.permille)
                body.bool(e.excluded)
            }
        case let .report(holder, fault, since):
            body.u32(holder.raw)
            body.u8(fault.rawValue)
            body.i64(since.milliseconds)
        case let .rootRecord(location):
            Self.location(location, into: &body)
        case let .repairOrder(pack, owner, geometry, sources, targets):
            pack.write(into: &body)
            body.u32(owner.raw)
            geometry.write(into: &body)
            Self.nodes(sources, into: &body)
            precondition(targets.count <= ProtocolLimits.shardsPerPackMax, "\(targets.count) repair targets")
            body.u8(UInt8(targets.count))
            for t in targets {
                body.u8(t.slot)
                body.u32(t.node.raw)
                body.blob(t.publicKey, max: ProtocolLimits.publicKeyBytesMax)
                body.blob(t.root, max: MerkleTree.hashLength)
                t.mandate.encode(into: &body)
            }
        case let .repairDone(terms, ownerSignature, holderSignature), let .adopt(terms, ownerSignature, holderSignature):
            terms.encode(into: &body)
            body.blob(ownerSignature, max: ProtocolLimits.signatureBytesMax)
            body.blob(holderSignature, max: ProtocolLimits.signatureBytesMax)
        case let .recordQuery(request, owner, start):
            body.u64(request)
            body.u32(owner.raw)
            body.u32(start)
        case let .recordReply(request, start, total, packs):
            body.u64(request)
            body.u32(start)
            body.u32(total)
            precondition(packs.count <= ProtocolLimits.locationsPerReplyMax, "record reply of \(packs.count) packs")
            body.u8(UInt8(packs.count))
            for p in packs { Self.location(p, into: &body) }
        }
        var out = ByteWriter(capacity: Self.headerBytes + body.bytes.count)
        out.u8(ProtocolLimits.wireVersion)
        out.u8(typeByte)
        out.i64(sent.milliseconds)
        out.u32(UInt32(body.bytes.count))
        out.raw(body.bytes)
        precondition(out.bytes.count <= ProtocolLimits.messageBytesMax, "message of \(out.bytes.count) bytes")
        return out.bytes
    }

    private static func nodes(_ nodes: [NodeID], into w: inout ByteWriter) {
        precondition(nodes.count <= ProtocolLimits.nodesPerMessageMax, "\(nodes.count) nodes in one message")
        w.u16(UInt16(nodes.count))
        for n in nodes { w.u32(n.raw) }
    }

    private static func nodes(from r: inout ByteReader) throws(DecodeError) -> [NodeID] {
        let n = try r.shortCount(max: ProtocolLimits.nodesPerMessageMax, minElementBytes: 4)
        var out = [NodeID]()
        out.reserveCapacity(n)
        for _ in 0..<n { out.append(NodeID(try r.u32())) }
        return out
    }

    /// A pack's holders and roots: the body of a root record, and each entry of a record reply.
    private static func location(_ l: PackLocation, into w: inout ByteWriter) {
        precondition(l.holders.count <= ProtocolLimits.shardsPerPackMax && l.roots.count == l.holders.count,
                     "pack location of \(l.holders.count) slots, \(l.roots.count) roots")
        l.pack.write(into: &w)
        l.geometry.write(into: &w)
        nodes(l.holders, into: &w)
        for root in l.roots { w.blob(root, max: MerkleTree.hashLength) }
    }

    private static func location(from r: inout ByteReader) throws(DecodeError) -> PackLocation {
        let pack = try PackID(reading: &r)
        let geometry = try PackGeometry(reading: &r)
        let at = r.offset
        let holders = try nodes(from: &r)
        guard holders.count == geometry.n else {
            throw DecodeError(.badValue, "pack of \(holders.count) slots for n=\(geometry.n)", offset: at)
        }
        var roots = [[UInt8]]()
        roots.reserveCapacity(holders.count)
        for _ in holders {
            let rootAt = r.offset
            let root = try r.blob(max: MerkleTree.hashLength)
            guard root.count == MerkleTree.hashLength else { throw DecodeError(.badValue, "root of \(root.count) bytes", offset: rootAt) }
            roots.append(root)
        }
        return PackLocation(pack: pack, geometry: geometry, holders: holders, roots: roots)
    }

    private static func shard(_ s: ShardID, into w: inout ByteWriter) {
        s.pack.write(into: &w)
        w.u8(s.index)
    }

    private static func shard(from r: inout ByteReader) throws(DecodeError) -> ShardID {
        let pack = try PackID(reading: &r)
        let at = r.offset
        let index = try r.u8()
        guard Int(index) < ProtocolLimits.shardsPerPackMax else {
            throw DecodeError(.badValue, "shard index \(index)", offset: at)
        }
        return ShardID(pack: pack, index: index)
    }

    /// Decodes one message and its sender's stamp; throws on anything malformed, oversized
    /// or left over.
    public static func decode(_ bytes: [UInt8]) throws(DecodeError) -> (message: Message, sent: Instant) {
        guard bytes.count <= ProtocolLimits.messageBytesMax else {
            throw DecodeError(.tooLarge, "message of \(bytes.count) bytes, at most \(ProtocolLimits.messageBytesMax)", offset: 0)
        }
        var r = ByteReader(bytes)
        let version = try r.u8()
        guard version == ProtocolLimits.wireVersion else {
            throw DecodeError(.badVersion, "wire version \(version), this node speaks \(ProtocolLimits.wireVersion)", offset: 0)
        }
        let type = try r.u8()
        let sent = Instant(milliseconds: try r.i64())
        let length = Int(try r.u32())
        guard length == r.remaining else {
            throw DecodeError(length > r.remaining ? .truncated : .trailingBytes,
                              "body length \(length), \(r.remaining) bytes present", offset: 10)
        }
        let message: Message
        switch type {
        case 1:
            message = .join(offered: try r.u64(), speed: try r.u32(), publicKey: try r.blob(max: ProtocolLimits.publicKeyBytesMax),
                            fresh: try r.bool())
        case 2:
            message = .heartbeat(used: try r.u64())
        case 3:
            message = .warning(level: try r.u8())
        case 4:
            let request = try r.u64()
            let pack = try PackID(reading: &r)
            let shardBytes = try r.u64()
            let at = r.offset
            let count = try r.u8()
            guard count > 0, Int(count) <= ProtocolLimits.shardsPerPackMax else {
                throw DecodeError(.badValue, "match count \(count)", offset: at)
            }
            message = .matchRequest(request: request, pack: pack, shardBytes: shardBytes, count: count,
                                    speed: try r.u32(), exclude: try nodes(from: &r))
        case 5:
            let request = try r.u64()
            let pack = try PackID(reading: &r)
            let n = try r.shortCount(max: ProtocolLimits.nodesPerMessageMax, minElementBytes: 6)
            var candidates = [Candidate]()
            candidates.reserveCapacity(n)
            for _ in 0..<n {
                candidates.append(Candidate(node: NodeID(try r.u32()), publicKey: try r.blob(max: ProtocolLimits.publicKeyBytesMax)))
            }
            message = .matchReply(request: request, pack: pack, candidates: candidates)
        case 6:
            let terms = try ContractTerms.decode(from: &r)
            let ownerKey = try r.blob(max: ProtocolLimits.publicKeyBytesMax)
            let ownerSignature = try r.blob(max: ProtocolLimits.signatureBytesMax)
            let mandate = try r.bool() ? try RepairMandate.decode(from: &r) : nil
            message = .propose(terms: terms, ownerKey: ownerKey, ownerSignature: ownerSignature, mandate: mandate)
        case 7:
            message = .accept(contract: ContractID(try r.u64()), holderSignature: try r.blob(max: ProtocolLimits.signatureBytesMax))
        case 8:
            message = .reject(contract: ContractID(try r.u64()), reason: try r.u8())
        case 9:
            let contract = ContractID(try r.u64())
            let shard = try shard(from: &r)
            let geometryAt = r.offset
            let geometry = try PackGeometry(reading: &r)
            guard Int(shard.index) < geometry.n else {
                throw DecodeError(.badValue, "shard \(shard.index) of a \(geometry.n)-shard pack", offset: geometryAt)
            }
            let root = try r.blob(exactly: MerkleTree.hashLength)
            message = .storeShard(contract: contract, shard: shard, geometry: geometry, root: root)
        case 10:
            message = .storeAck(contract: ContractID(try r.u64()))
        case 11:
            message = .challenge(id: try r.u64(), shard: try shard(from: &r), segment: try r.u32())
        case 12:
            let id = try r.u64()
            let segment = try r.blob(max: Int(PackGeometry.segmentBytesMax))
            let at = r.offset
            let depth = Int(try r.u8())
            guard depth <= PackGeometry.proofDepthMax, depth * 2 <= r.remaining else {
                throw DecodeError(.badValue, "proof depth \(depth)", offset: at)
            }
            var proof = [[UInt8]]()
            proof.reserveCapacity(depth)
            for _ in 0..<depth { proof.append(try r.blob(max: MerkleTree.hashLength)) }
            message = .challengeReply(id: id, segment: segment, proof: proof)
        case 13:
            message = .challengeMissing(id: try r.u64())
        case 14:
            message = .fetch(request: try r.u64(), shard: try shard(from: &r))
        case 15:
            message = .fetchReply(request: try r.u64(), shard: try shard(from: &r), ok: try r.bool(), bytes: try r.u64())
        case 16:
            message = .release(contract: ContractID(try r.u64()), at: Instant(milliseconds: try r.i64()))
        case 17:
            message = .releaseAck(contract: ContractID(try r.u64()))
        case 18:
            message = .uptimeQuery(request: try r.u64(), nodes: try nodes(from: &r))
        case 19:
            let request = try r.u64()
            let n = try r.shortCount(max: ProtocolLimits.nodesPerMessageMax, minElementBytes: 7)
            var entries = [UptimeEntry]()
            entries.reserveCapacity(n)
            for _ in 0..<n {
                let node = NodeID(try r.u32())
                let at = r.offset
                let permille = try r.u16()
                guard permille <= 1000 else { throw DecodeError(.badValue, "uptime \(permille)‰", offset: at) }
                entries.append(UptimeEntry(node: node, permille: permille, excluded: try r.bool()))
            }
            message = .uptimeReply(request: request, entries: entries)
        case 20:
            let holder = NodeID(try r.u32())
            let at = r.offset
            let raw = try r.u8()
            guard let fault = FaultKind(rawValue: raw) else { throw DecodeError(.badValue, "fault kind \(raw)", offset: at) }
            message = .report(holder: holder, fault: fault, since: Instant(milliseconds: try r.i64()))
        case 21:
            message = .rootRecord(try location(from: &r))
        case 22:
            let pack = try PackID(reading: &r)
            let owner = NodeID(try r.u32())
            let geometry = try PackGeometry(reading: &r)
            let sourcesAt = r.offset
            let sources = try nodes(from: &r)
            guard sources.count == geometry.n else {
                throw DecodeError(.badValue, "repair order of \(sources.count) slots for n=\(geometry.n)", offset: sourcesAt)
            }
            let at = r.offset
            let n = Int(try r.u8())
            guard n <= sources.count, n * 19 <= r.remaining else { throw DecodeError(.badValue, "\(n) repair targets", offset: at) }
            var targets = [RepairTarget]()
            for _ in 0..<n {
                let slotAt = r.offset
                let slot = try r.u8()
                guard Int(slot) < sources.count else { throw DecodeError(.badValue, "target slot \(slot)", offset: slotAt) }
                let node = NodeID(try r.u32())
                let key = try r.blob(max: ProtocolLimits.publicKeyBytesMax)
                let rootAt = r.offset
                let root = try r.blob(max: MerkleTree.hashLength)
                guard root.count == MerkleTree.hashLength else { throw DecodeError(.badValue, "root of \(root.count) bytes", offset: rootAt) }
                targets.append(RepairTarget(slot: slot, node: node, publicKey: key, root: root,
                                            mandate: try RepairMandate.decode(from: &r)))
            }
            message = .repairOrder(pack: pack, owner: owner, geometry: geometry, sources: sources, targets: targets)
        case 23, 24:
            let terms = try ContractTerms.decode(from: &r)
            let ownerSignature = try r.blob(max: ProtocolLimits.signatureBytesMax)
            let holderSignature = try r.blob(max: ProtocolLimits.signatureBytesMax)
            message = type == 23 ? .repairDone(terms: terms, ownerSignature: ownerSignature, holderSignature: holderSignature)
                : .adopt(terms: terms, ownerSignature: ownerSignature, holderSignature: holderSignature)
        case 25:
            message = .recordQuery(request: try r.u64(), owner: NodeID(try r.u32()), start: try r.u32())
        case 26:
            let request = try r.u64()
            let start = try r.u32()
            let total = try r.u32()
            let at = r.offset
            let n = Int(try r.u8())
            guard n <= ProtocolLimits.locationsPerReplyMax, UInt64(start) + UInt64(n) <= UInt64(total) else {
                throw DecodeError(.badValue, "\(n) pack locations from \(start) of \(total)", offset: at)
            }
            var packs = [PackLocation]()
            for _ in 0..<n { packs.append(try location(from: &r)) }
            message = .recordReply(request: request, start: start, total: total, packs: packs)
        default:
            throw DecodeError(.unknownType, "message type \(type)", offset: 1)
        }
        guard r.remaining == 0 else {
            throw DecodeError(.trailingBytes, "\(r.remaining) bytes after the message", offset: r.offset)
        }
        return (message, sent)
    }
}
