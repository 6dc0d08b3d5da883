import CairnCore
import CairnCrypto
import CairnWire
import Testing

/// A challenge on a real shard: 64 KiB segments proven against the engine's `MerkleTree`
/// root, carried through the wire codec both ways, judged by the owner's scheduler.
@Test func realSixtyFourKiBSegmentsRoundTripThroughTheWireAndVerify() throws {
    var rng = Xoshiro256(seed: 5)
    let geometry = PackGeometry(k: 3, n: 5, shardBytes: 5 * 65_536 + 1_234)
    #expect(geometry.segments == 6)
    var shard = [UInt8]()
    for _ in 0..<Int(geometry.shardBytes) { shard.append(UInt8(truncatingIfNeeded: rng.next())) }
    let segmentSize = Int(geometry.segmentBytes)
    let root = MerkleTree.root(of: shard, segmentSize: segmentSize)
    let id = SlotID(volume: VolumeID(9), index: 2)
    let holder = NodeID(2)
    var scheduler = ChallengeScheduler()
    var seen = Set<UInt32>()
    for round in 0..<40 {
        let challenge = scheduler.issue(contract: ContractID(owner: NodeID(1), counter: 1), holder: holder, shard: id,
                                        segments: geometry.segments, root: root, audit: false, now: .zero,
                                        timeout: .minutes(10), rng: &rng)
        guard case let .challenge(cid, cshard, segment) = try Message.decode(challenge.encode(sent: .zero)).message, cshard == id else {
            Issue.record("challenge did not round-trip")
            return
        }
        seen.insert(segment)
        // The holder reads the segment and its path from the shard it keeps.
        let start = Int(segment) * segmentSize
        var bytes = Array(shard[start..<min(start + segmentSize, shard.count)])
        #expect(bytes.count == geometry.segmentLength(segment))
        let proof = MerkleTree.proof(of: shard, segment: Int(segment), segmentSize: segmentSize)
        if round % 10 == 9 { bytes[bytes.count / 2] ^= 1 }  // a damaged segment now and then
        let wire = Message.challengeReply(id: cid, segment: bytes, proof: proof.siblings).encode(sent: .zero)
        #expect(wire.count <= ProtocolLimits.messageBytesMax)
        guard case let .challengeReply(rid, rsegment, rproof) = try Message.decode(wire).message else {
            Issue.record("reply did not round-trip")
            return
        }
        #expect(rsegment == bytes && rproof == proof.siblings)
        switch scheduler.onReply(id: rid, from: holder, segment: rsegment, proof: rproof) {
        case .pass: #expect(round % 10 != 9, "a damaged segment passed")
        case .fail(_, let fault): #expect(round % 10 == 9 && fault == .badProof)
        case .stale: Issue.record("reply judged stale")
        }
    }
    #expect(seen.count == Int(geometry.segments), "challenges should reach every segment: \(seen.sorted())")
}

/// The largest reply the protocol allows — a full segment behind the deepest proof — fits
/// in a message; one byte more of segment is refused when decoding, before allocating.
@Test func theLargestChallengeReplyFitsAndALargerSegmentIsRefused() throws {
    let proof = Array(repeating: [UInt8](repeating: 7, count: 32), count: PackGeometry.proofDepthMax)
    let full = Message.challengeReply(id: 1, segment: [UInt8](repeating: 1, count: Int(PackGeometry.segmentBytesMax)),
                                      proof: proof)
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
