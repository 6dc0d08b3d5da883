import CairnCore
import CairnCrypto
import CairnWire
import Testing

private func throughTheWire(_ message: Message, at now: Instant) throws -> Message {
    try throughTheWire(message.encode(sent: now))
}

private func throughTheWire(_ bytes: [UInt8]) throws -> Message {
    try Message.decode(bytes).message
}

/// A person's terabyte through one owner's core: 1 TiB in the engine's 16 MiB packs (3-of-5,
/// 64 KiB segments) appended to volumes, placed on holders, and challenged. The holders
/// are played by the test: they sign, store and answer with real segments and real paths.
@Test func aTebibyteOfSixteenMiBPacksNeedsFewContractsLittleStateAndEveryChallengeVerifies() throws {
    let packBytes: UInt64 = 16 << 20
    let geometry = PackGeometry(k: 3, n: 5, shardBytes: (packBytes + 2) / 3)
    let packs = Int((1 << 40) / packBytes)
    // 1 GiB of shard data per slot (a quarter of the default): more contracts, and more
    // holders than one uptime query may name, so its paging is exercised too.
    let capacity: UInt64 = 1 << 30
    let perVolume = Int(capacity / geometry.shardBytes)
    let me = NodeID(0)
    var core = NodeCore(me: me, params: NodeParams(k: 3, n: 5), offered: 1 << 44, speed: 100_000, reciprocityRatio: 1,
                        signer: DigestSigner(seed: [0]), verifier: DigestSigner(), coordinatorKey: [],
                        rng: Xoshiro256(seed: 7))

    // A few real shards, reused by every pack: each with its segments' tree.
    var rng = Xoshiro256(seed: 3)
    struct Shard { var bytes: [UInt8]; var levels: [[[UInt8]]] }
    var real = [Shard]()
    for _ in 0..<3 {
        var bytes = [UInt8](repeating: 0, count: Int(geometry.shardBytes))
        bytes.withUnsafeMutableBytes { raw in
            for i in stride(from: 0, to: raw.count - 8, by: 8) { raw.storeBytes(of: rng.next(), toByteOffset: i, as: UInt64.self) }
        }
        let leaves = bytes.withUnsafeBytes { MerkleTree.leafHashes(of: $0, segmentSize: Int(geometry.segmentBytes)) }
        real.append(Shard(bytes: bytes, levels: MerkleTree.levels(leaves: leaves)))
    }
    func shard(pack: Int, slot: Int) -> Int { (pack * 5 + slot) % real.count }
    let leafOf = real.map { SlotTree.leaf(root: $0.levels.last![0], geometry: geometry) }

    var volumes = [VolumeID]()
    var firstPack = [Int]()
    func key(_ n: UInt32) -> [UInt8] { withUnsafeBytes(of: n.bigEndian) { Array($0) } }
    var challenged = 0, verified = 0
    /// A holder's answer with a real 64 KiB segment, through the wire both ways.
    func answer(_ message: Message, id: UInt64, slot: SlotID, pack: UInt32, count: UInt32, selector: UInt32, from: NodeID,
                now: Instant) throws
    {
        let decoded = try throughTheWire(message, at: now)
        guard case let .challenge(_, wslot, wpack, wcount, wselector) = decoded, wslot == slot, wpack == pack, wcount == count, wselector == selector
        else {
            Issue.record("challenge did not round-trip")
            return
        }
        challenged += 1
        let v = Int(slot.volume.number)
        let s = real[shard(pack: firstPack[v] + Int(pack), slot: Int(slot.index))]
        let segment = Int(SegmentProof.segment(selector: selector, of: geometry))
        let start = segment * Int(geometry.segmentBytes)
        let leaves = (0..<Int(count)).map { leafOf[shard(pack: firstPack[v] + $0, slot: Int(slot.index))] }
        let proof = SegmentProof(
            segment: Array(s.bytes[start..<min(start + Int(geometry.segmentBytes), s.bytes.count)]),
            path: path(in: s.levels, index: segment), packRoot: s.levels.last![0], geometry: geometry,
            packPath: leafPath(leaves, index: Int(pack)))
        #expect(proof.segment.count == 65_536 || segment == Int(geometry.segments) - 1)
        let wire = Message.challengeReply(id: id, proof: proof).encode(sent: now)
        #expect(wire.count <= ProtocolLimits.messageBytesMax)
        let actions = core.onMessage(from: from, try throughTheWire(wire), sent: now, now: now)
        if !actions.contains(where: { if case .note(.fault) = $0 { true } else { false } }) { verified += 1 }
    }

    // Back up: append every pack, opening a volume whenever one is full.
    for p in 0..<packs {
        if p % perVolume == 0 {
            let id = VolumeID(owner: me, number: UInt32(volumes.count))
            try core.openVolume(id, k: 3, n: 5, capacity: capacity)
            volumes.append(id)
            firstPack.append(p)
        }
        let roots = (0..<5).map { real[shard(pack: p, slot: $0)].levels.last![0] }
        let appended = try core.appendPack(to: volumes.last!, geometry: geometry, roots: roots, now: .zero)
        #expect(appended.actions.isEmpty)
    }
    // One more pack than a volume holds is refused, not cut.
    let full = volumes[0]
    #expect(throws: VolumeError.full(full, capacity: capacity, wouldBe: UInt64(perVolume + 1) * geometry.shardBytes)) {
        try core.appendPack(to: full, geometry: geometry, roots: Array(repeating: leafOf[0], count: 5), now: .zero)
    }
    #expect(core.volumes.count == volumes.count)
    #expect(core.volumes.reduce(0) { $0 + Int($1.layout.packs) } == packs)

    // Place: the coordinator offers fresh holders, each accepts and stores what it is sent.
    var outbox = core.onStart(now: .zero).compactMap { if case let .send(to, m) = $0 { (to, m) } else { nil } }
    var nextHolder: UInt32 = 1
    var uptimeQueries = [[NodeID]]()
    func deliver(_ from: NodeID, _ m: Message) -> [(NodeID, Message)] {
        core.onMessage(from: from, m, sent: .zero, now: .zero).compactMap { if case let .send(to, m) = $0 { (to, m) } else { nil } }
    }
    while let (to, message) = outbox.popLast() {
        switch message {
        case let .matchRequest(request, volume, _, count, _, _):
            let candidates = (0..<Int(count)).map { _ in
                defer { nextHolder += 1 }
                return Candidate(node: NodeID(nextHolder), publicKey: DigestSigner(seed: key(nextHolder)).publicKey)
            }
            outbox += deliver(.coordinator, .matchReply(request: request, volume: volume, candidates: candidates))
        case let .propose(terms, _, _, _):
            let signer = DigestSigner(seed: key(to.raw))
            outbox += deliver(to, .accept(contract: terms.id, holderSignature: signer.sign(terms.signingBytes)))
        case let .storeSlot(contract, slot, from, extent, bytes):
            #expect(from == 0 && bytes == ProtocolLimits.slotStreamBytes(packs: extent.packs, shardBytes: extent.bytes)
                && extent.packs == core.volumes[Int(slot.volume.number)].layout.packs)
            outbox += deliver(to, .storeAck(contract: contract, packs: extent.packs))
        case let .challenge(id, slot, pack, count, selector):
            try answer(message, id: id, slot: slot, pack: pack, count: count, selector: selector, from: to, now: .zero)
        case let .uptimeQuery(_, nodes):
            uptimeQueries.append(nodes)
        default:
            break
        }
    }
    let contracts = core.book.owned.count
    #expect(contracts == volumes.count * 5)
    #expect(contracts <= 2_000, "\(contracts) contracts for a tebibyte")
    #expect(core.volumes.allSatisfy { v in v.slots.allSatisfy { $0.holder != nil && $0.stored.packs == v.layout.packs } })
    #expect(core.volumes.allSatisfy { !$0.localCopy }, "placed volumes still held locally")
    let state = core.ownerStateBytes
    #expect(state < 64 << 20, "owner state \(state) bytes")

    // Every slot is challenged once a day; every answer verifies.
    outbox = core.onTimer(.challenge, now: .zero + .days(1)).compactMap { if case let .send(to, m) = $0 { (to, m) } else { nil } }
    outbox += core.onTimer(.repair, now: .zero + .days(1)).compactMap { if case let .send(to, m) = $0 { (to, m) } else { nil } }
    while let (to, message) = outbox.popLast() {
        switch message {
        case let .challenge(id, slot, pack, count, selector):
            try answer(message, id: id, slot: slot, pack: pack, count: count, selector: selector, from: to, now: .zero + .days(1))
        case let .uptimeQuery(_, nodes):
            uptimeQueries.append(nodes)
        default:
            break
        }
    }
    #expect(challenged == contracts && verified == challenged, "\(verified) of \(challenged) challenges verified")
    // The uptime query names every holder, in pages no larger than a message allows.
    #expect(uptimeQueries.count >= 2 && uptimeQueries.allSatisfy { $0.count <= ProtocolLimits.nodesPerMessageMax })
    #expect(Set(uptimeQueries.flatMap { $0 }).count == contracts)
}
