import CairnCore
import CairnCrypto
import CairnWire
import Testing

/// The path of leaf `index` in the tree over `leaves` (the engine's promote-the-odd-node
/// rule), as a real holder computes it from the leaves it keeps.
func leafPath(_ leaves: [[UInt8]], index: Int) -> [[UInt8]] {
    path(in: MerkleTree.levels(leaves: leaves), index: index)
}

/// The path of leaf `index` in a tree given level by level (`MerkleTree.levels`).
func path(in levels: [[[UInt8]]], index: Int) -> [[UInt8]] {
    var path = [[UInt8]]()
    var i = index
    for level in levels.dropLast() {
        if i ^ 1 < level.count { path.append(level[i ^ 1]) }
        i /= 2
    }
    return path
}

/// Real packs with real shards of different lengths in one slot of a volume.
struct RealSlot {
    var shards: [[UInt8]] = []
    var geometries: [PackGeometry] = []
    var roots: [[UInt8]] = []
    var leaves: [[UInt8]] = []

    init(packs: Int, rng: inout Xoshiro256) {
        for p in 0..<packs {
            let length: Int = 3 * 65_536 + 1_000 * p + 17
            let geometry = PackGeometry(k: 3, n: 5, shardBytes: UInt64(length))
            var shard = [UInt8]()
            for _ in 0..<Int(geometry.shardBytes) { shard.append(UInt8(truncatingIfNeeded: rng.next())) }
            let root = MerkleTree.root(of: shard, segmentSize: Int(geometry.segmentBytes))
            shards.append(shard)
            geometries.append(geometry)
            roots.append(root)
            leaves.append(SlotTree.leaf(root: root, geometry: geometry))
        }
    }

    /// What a holder answers for `pack` and `selector` over the first `packs` packs.
    func answer(pack: UInt32, packs: UInt32, selector: UInt32) -> SegmentProof {
        let p = Int(pack)
        let g = geometries[p]
        let segment = SegmentProof.segment(selector: selector, of: g)
        let start = Int(segment) * Int(g.segmentBytes)
        let bytes = Array(shards[p][start..<min(start + Int(g.segmentBytes), shards[p].count)])
        let path = MerkleTree.proof(of: shards[p], segment: Int(segment), segmentSize: Int(g.segmentBytes)).siblings
        return SegmentProof(segment: bytes, path: path, packRoot: roots[p], geometry: g,
                            packPath: leafPath(Array(leaves.prefix(Int(packs))), index: p))
    }
}

/// The slot tree's frontier gives the root the engine's `MerkleTree` gives for the same
/// leaves, appended one by one or many equal ones at once, for every count up to 70.
@Test func slotTreeRootsMatchTheEngineMerkleTree() {
    var rng = Xoshiro256(seed: 11)
    var leaves = [[UInt8]]()
    var tree = SlotTree()
    #expect(tree.root == MerkleTree.levels(leaves: []).last![0])
    for _ in 0..<70 {
        let leaf = (0..<32).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        leaves.append(leaf)
        tree.append(leaf)
        #expect(tree.root == MerkleTree.levels(leaves: leaves).last![0], "\(leaves.count) leaves")
    }
    let leaf = [UInt8](repeating: 9, count: 32)
    for count in [1, 2, 3, 5, 7, 8, 13, 64, 65, 100] as [UInt32] {
        var bulk = tree
        bulk.append(leaf, count: count)
        var single = tree
        for _ in 0..<count { single.append(leaf) }
        #expect(bulk.root == single.root && bulk.count == single.count, "\(count) equal leaves after 70")
    }
}

/// A challenge on a real volume slot: a pack chosen at random, 64 KiB segments proven
/// against the pack's shard root and the pack against the slot root the owner kept, both
/// carried through the wire codec, judged by the owner's scheduler; damaged segments,
/// another pack's answer or a lie about the geometry fail.
@Test func realSixtyFourKiBSegmentsOfAVolumeRoundTripThroughTheWireAndVerify() throws {
    var rng = Xoshiro256(seed: 5)
    let slot = RealSlot(packs: 5, rng: &rng)
    var tree = SlotTree()
    for leaf in slot.leaves { tree.append(leaf) }
    let extent = SlotExtent(packs: 5, bytes: slot.geometries.reduce(0) { $0 + $1.shardBytes }, root: tree.root)
    let id = SlotID(volume: VolumeID(owner: NodeID(1), number: 9), index: 2)
    let holder = NodeID(2)
    var scheduler = ChallengeScheduler()
    var seenPacks = Set<UInt32>()
    var seenSegments = Set<UInt32>()
    for round in 0..<60 {
        let challenge = scheduler.issue(contract: ContractID(owner: NodeID(1), counter: 1), holder: holder, slot: id,
                                        extent: extent, audit: false, now: .zero, timeout: .minutes(10), rng: &rng)
        guard case let .challenge(cid, cslot, pack, packs, selector) = try Message.decode(challenge.encode(sent: .zero)).message,
              cslot == id, packs == 5
        else {
            Issue.record("challenge did not round-trip")
            return
        }
        seenPacks.insert(pack)
        seenSegments.insert(SegmentProof.segment(selector: selector, of: slot.geometries[Int(pack)]))
        var proof = slot.answer(pack: pack, packs: packs, selector: selector)
        let damaged = round % 10 == 9
        switch round % 30 {
        case 9: proof.segment[proof.segment.count / 2] ^= 1
        case 19: proof = slot.answer(pack: (pack + 1) % 5, packs: packs, selector: selector)
        case 29: proof.geometry = PackGeometry(k: 3, n: 5, shardBytes: proof.geometry.shardBytes + 1)
        default: break
        }
        let wire = Message.challengeReply(id: cid, proof: proof).encode(sent: .zero)
        #expect(wire.count <= ProtocolLimits.messageBytesMax)
        guard case let .challengeReply(rid, rproof) = try Message.decode(wire).message else {
            Issue.record("reply did not round-trip")
            return
        }
        #expect(rproof == proof)
        switch scheduler.onReply(id: rid, from: holder, proof: rproof) {
        case .pass: #expect(!damaged, "a damaged answer passed in round \(round)")
        case .fail(_, let fault): #expect(damaged && fault == .badProof, "round \(round)")
        case .stale: Issue.record("reply judged stale")
        }
    }
    #expect(seenPacks.count == 5, "challenges should reach every pack: \(seenPacks.sorted())")
    #expect(seenSegments.count >= 4, "challenges should reach the segments: \(seenSegments.sorted())")
}

/// The largest reply the protocol allows — a full segment behind the deepest paths — fits
/// in a message; one byte more of segment is refused when decoding, before allocating.
@Test func theLargestChallengeReplyFitsAndALargerSegmentIsRefused() throws {
    let path = Array(repeating: [UInt8](repeating: 7, count: 32), count: PackGeometry.proofDepthMax)
    let full = Message.challengeReply(id: 1, proof: SegmentProof(
        segment: [UInt8](repeating: 1, count: Int(PackGeometry.segmentBytesMax)), path: path,
        packRoot: [UInt8](repeating: 3, count: 32), geometry: PackGeometry(k: 3, n: 5, shardBytes: 1 << 36), packPath: path))
    let bytes = full.encode(sent: .zero)
    #expect(bytes.count <= ProtocolLimits.messageBytesMax)
    #expect(try Message.decode(bytes).message == full)
    // Rewrite the segment length to one byte over the bound (the bytes behind it stay).
    var w = ByteWriter()
    w.u8(ProtocolLimits.wireVersion)
    w.u8(full.typeByte)
    w.i64(0)
    var body = ByteWriter()
    body.u64(1)
    body.u32(PackGeometry.segmentBytesMax + 1)
    body.raw([UInt8](repeating: 1, count: Int(PackGeometry.segmentBytesMax) + 1))
    body.u8(0)
    w.u32(UInt32(body.count))
    w.raw(body.bytes)
    let error = #expect(throws: DecodeError.self) { try Message.decode(w.bytes) }
    #expect(error?.code == .tooLarge && error?.offset == Message.headerBytes + 8)
}
