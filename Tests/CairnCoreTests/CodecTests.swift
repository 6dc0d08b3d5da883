import CairnWire
import Foundation
import CairnCore
import Testing

let sampleTerms = ContractTerms(
    id: ContractID(owner: NodeID(3), counter: 9), owner: NodeID(3), holder: NodeID(4),
    shard: SlotID(volume: VolumeID(77), index: 5), bytes: 1 << 20, start: Instant(milliseconds: 1000),
    term: .days(30), grace: .days(7))

let sampleMessages: [Message] = [
    .join(offered: 1 << 40, speed: 12_500, publicKey: Array(repeating: 7, count: 32), fresh: true),
    .heartbeat(used: 123),
    .warning(level: 1),
    .matchRequest(request: 1, volume: VolumeID(2), slotBytes: 3, count: 4, speed: 5, exclude: [NodeID(1), NodeID(9)]),
    .matchReply(request: 1, volume: VolumeID(2), candidates: [Candidate(node: NodeID(4), publicKey: [1, 2, 3])]),
    .propose(terms: sampleTerms, ownerKey: Array(repeating: 1, count: 32), ownerSignature: Array(repeating: 2, count: 64),
             mandate: nil),
    .propose(terms: sampleTerms, ownerKey: Array(repeating: 1, count: 32), ownerSignature: Array(repeating: 2, count: 64),
             mandate: BlindRepairMandate(expires: Instant(milliseconds: 77), signature: Array(repeating: 5, count: 64))),
    .accept(contract: sampleTerms.id, holderSignature: Array(repeating: 3, count: 64)),
    .reject(contract: sampleTerms.id, reason: 1),
    .storeSlot(contract: sampleTerms.id, slot: sampleTerms.shard, from: 3,
               to: SlotExtent(packs: 7, bytes: 99, root: Array(repeating: 4, count: 32)), bytes: 40),
    .storeAck(contract: sampleTerms.id, packs: 7),
    .challenge(id: 5, slot: sampleTerms.shard, pack: 3, packs: 7, selector: 0xdead_beef),
    .challengeReply(id: 5, proof: SegmentProof(
        segment: [9, 9, 9], path: [Array(repeating: 5, count: 32), Array(repeating: 6, count: 32)],
        packRoot: Array(repeating: 8, count: 32), geometry: PackGeometry(k: 4, n: 8, shardBytes: 99),
        packPath: [Array(repeating: 7, count: 32)])),
    .challengeMissing(id: 5),
    .fetch(request: 8, slot: sampleTerms.shard),
    .fetchReply(request: 8, slot: sampleTerms.shard, ok: true, bytes: 1 << 20),
    .release(contract: sampleTerms.id, at: Instant(milliseconds: 123_456)),
    .releaseAck(contract: sampleTerms.id),
    .uptimeQuery(request: 2, nodes: [NodeID(1), NodeID(2)]),
    .uptimeReply(request: 2, entries: [UptimeEntry(node: NodeID(1), permille: 870, excluded: false)]),
    .report(holder: NodeID(4), fault: .badProof, since: Instant(milliseconds: 5)),
    .rootRecord(VolumeLocation(volume: VolumeID(2), layout: VolumeLayout(k: 1, n: 2, packs: 3, slotBytes: 9),
                             holders: [NodeID(4), NodeID(5)], stored: [3, 1],
                             roots: [Array(repeating: 1, count: 32), Array(repeating: 2, count: 32)])),
    .blindRepairOrder(volume: VolumeID(2), owner: NodeID(3), layout: VolumeLayout(k: 1, n: 2, packs: 2, slotBytes: 9),
                 sources: [NodeID(4), .coordinator], roots: [Array(repeating: 1, count: 32), Array(repeating: 2, count: 32)],
                 targets: [BlindRepairTarget(slot: 1, node: NodeID(6), publicKey: [1, 2], root: Array(repeating: 3, count: 32),
                                        mandate: BlindRepairMandate(expires: Instant(milliseconds: 9), signature: [4, 4]))]),
    .blindRepairDone(terms: sampleTerms, ownerSignature: [1], holderSignature: [2]),
    .adopt(terms: sampleTerms, ownerSignature: [3], holderSignature: [4]),
    .recordQuery(request: 3, owner: NodeID(3), start: 16),
    .recordReply(request: 3, start: 16, total: 18, volumes: [
        VolumeLocation(volume: VolumeID(2), layout: VolumeLayout(k: 1, n: 2, packs: 1, slotBytes: 9),
                       holders: [NodeID(4), .coordinator], stored: [1, 0],
                     roots: [Array(repeating: 1, count: 32), Array(repeating: 2, count: 32)], online: 0b01),
    ]),
    .hello(host: "127.0.0.1", port: 7400, contact: "https://ops.example.org/cairn?node=4"),
    .hello(host: "", port: 0, contact: ""),
    .welcome(node: NodeID(12), membership: Array(repeating: 0x5a, count: 64)),
    .welcome(node: .coordinator, membership: []),
    .reclaim(node: NodeID(7), membership: Array(repeating: 0xa5, count: 64)),
    .locate(request: 5, node: NodeID(3)),
    .located(request: 5, node: NodeID(3), nodeKey: Array(repeating: 9, count: 32), host: "::1", port: 1),
    .located(request: 6, node: NodeID(4), nodeKey: [], host: "", port: 0),
    .peerHello(node: NodeID(3)),
    .holding(HeldSlotReport(terms: sampleTerms, ownerKey: Array(repeating: 1, count: 32),
                            ownerSignature: Array(repeating: 2, count: 64), layout: VolumeLayout(k: 3, n: 5, packs: 4, slotBytes: 77),
                            root: Array(repeating: 6, count: 32))),
    .contractQuery(request: 8, slot: sampleTerms.shard),
    .contractHeld(request: 8, slot: sampleTerms.shard, report: nil, holderSignature: []),
    .contractHeld(request: 8, slot: sampleTerms.shard,
                  report: HeldSlotReport(terms: sampleTerms, ownerKey: Array(repeating: 1, count: 32),
                                         ownerSignature: Array(repeating: 2, count: 64),
                                         layout: VolumeLayout(k: 3, n: 5, packs: 4, slotBytes: 77), root: Array(repeating: 6, count: 32)),
                  holderSignature: Array(repeating: 3, count: 64)),
    .takeOver(retired: []),
    .takeOver(retired: [Array(repeating: 7, count: 32), Array(repeating: 8, count: 32)]),
    .retired,
    .keysRetired([Array(repeating: 9, count: 32)]),
]

/// Every type byte has a sample, so the round-trip and truncation tests cover them all.
@Test func everyMessageTypeHasASample() {
    #expect(Set(sampleMessages.map(\.typeByte)) == Set(1...38))
}

/// A host is printable ASCII and bounded: a name with a control byte, a space or a byte
/// past ASCII is refused (it would end up in logs and in `HOST:PORT` text).
@Test func hostsThatAreNotPrintableASCIIAreRefused() {
    for bad in ["exa mple", "a\u{7}b", "caf\u{e9}", String(repeating: "a", count: 256)] {
        var body = ByteWriter(capacity: 300)
        body.blob(Array(bad.utf8))
        body.u16(1)
        var w = ByteWriter(capacity: 320)
        w.u8(ProtocolLimits.wireVersion)
        w.u8(27)
        w.u64(UInt64(stamp.milliseconds))
        w.u32(UInt32(body.bytes.count))
        w.raw(body.bytes)
        let e = #expect(throws: DecodeError.self) { _ = try Message.decode(w.bytes) }
        #expect(e?.code == (bad.utf8.count > 255 ? .tooLarge : .badValue), "\(bad): \(String(describing: e))")
    }
}

// MARK: Round trip

private let stamp = Instant(milliseconds: 1_764_547_200_000)

@Test func everyMessageRoundTripsWithItsStamp() throws {
    for m in sampleMessages {
        let bytes = m.encode(sent: stamp)
        #expect(bytes[0] == ProtocolLimits.wireVersion)
        let decoded = try Message.decode(bytes)
        #expect(decoded.message == m && decoded.sent == stamp)
    }
}

@Test func encodingIsBigEndian() {
    #expect(Message.heartbeat(used: 0x0102_0304_0506_0708).encode(sent: Instant(milliseconds: 0x0a0b))
        == [ProtocolLimits.wireVersion, 2, 0, 0, 0, 0, 0, 0, 0x0a, 0x0b, 0, 0, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8])
}

// MARK: Hostile bytes

@Test func rejectsWrongVersionTypeAndTrailingBytes() {
    var bad = Message.heartbeat(used: 1).encode(sent: stamp)
    bad[0] = ProtocolLimits.wireVersion &+ 1
    let version = #expect(throws: DecodeError.self) { try Message.decode(bad) }
    #expect(version?.code == .badVersion && version?.offset == 0)
    var unknown = Message.heartbeat(used: 1).encode(sent: stamp)
    unknown[1] = 200
    let type = #expect(throws: DecodeError.self) { try Message.decode(unknown) }
    #expect(type?.code == .unknownType && type?.offset == 1)
    var trailing = Message.heartbeat(used: 1).encode(sent: stamp)
    trailing.append(0)
    let extra = #expect(throws: DecodeError.self) { try Message.decode(trailing) }
    #expect(extra?.code == .trailingBytes && extra?.offset == 10)
}

@Test func everyTruncationThrowsTruncated() {
    for m in sampleMessages {
        let bytes = m.encode(sent: stamp)
        for cut in 0..<bytes.count {
            let e = #expect(throws: DecodeError.self) { try Message.decode(Array(bytes[0..<cut])) }
            #expect(e?.code == .truncated, "cut at \(cut) of \(m.typeByte): \(String(describing: e))")
        }
    }
}

/// 20,000 rounds in `make test`; `CAIRN_FUZZ_ROUNDS=N CAIRN_FUZZ_SEED=S` runs a longer campaign.
@Test func randomAndMutatedBytesNeverTrap() {
    let environment = ProcessInfo.processInfo.environment
    let rounds = environment["CAIRN_FUZZ_ROUNDS"].flatMap(Int.init) ?? 20_000
    var g = Xoshiro256(seed: environment["CAIRN_FUZZ_SEED"].flatMap(UInt64.init) ?? 0xF022)
    var decoded = 0
    for round in 0..<rounds {
        var bytes: [UInt8]
        if round % 2 == 0 {
            let n = g.index(96)
            bytes = (0..<n).map { _ in UInt8(truncatingIfNeeded: g.next()) }
            let header = Message.headerBytes
            if n >= header, g.chance(numerator: 3, denominator: 4) {
                bytes[0] = ProtocolLimits.wireVersion
                bytes[1] = UInt8(1 + g.index(26))
                let len = UInt32(n - header)
                bytes[header - 4] = 0; bytes[header - 3] = 0
                bytes[header - 2] = UInt8(len >> 8); bytes[header - 1] = UInt8(len & 0xff)
            }
        } else {
            bytes = sampleMessages[g.index(sampleMessages.count)].encode(sent: stamp)
            for _ in 0..<(1 + g.index(4)) {
                bytes[g.index(bytes.count)] = UInt8(truncatingIfNeeded: g.next())
            }
        }
        if let (m, sent) = try? Message.decode(bytes) {
            decoded += 1
            // Anything accepted re-encodes to a message that decodes to itself.
            #expect((try? Message.decode(m.encode(sent: sent)))?.message == m)
        }
    }
    #expect(decoded > 0)
}

/// An uptime query claiming 1,024 nodes with none present is refused at its count (not
/// after reserving room for them); one claiming more than the bound, as too large.
@Test func hostileCountIsRejectedBeforeAllocating() throws {
    func query(count: UInt16) -> [UInt8] {
        var body = ByteWriter()
        body.u64(1)
        body.u16(count)
        var w = ByteWriter()
        w.u8(ProtocolLimits.wireVersion)
        w.u8(18)
        w.i64(0)
        w.u32(UInt32(body.count))
        w.raw(body.bytes)
        return w.bytes
    }
    let short = #expect(throws: DecodeError.self) { try Message.decode(query(count: 1024)) }
    #expect(short?.code == .truncated && short?.offset == Message.headerBytes + 8)
    let over = #expect(throws: DecodeError.self) { try Message.decode(query(count: 1025)) }
    #expect(over?.code == .tooLarge && over?.offset == Message.headerBytes + 8)
    #expect(try Message.decode(query(count: 0)).message == .uptimeQuery(request: 1, nodes: []))
}

/// A record reply's online mask names slots of the volume only: a bit at or above n is
/// refused, not carried into a restore.
/// A `takeOver` or `keysRetired` names at most `retiredKeysMax` keys of 32 bytes: a longer
/// list is refused at its count, before anything is allocated, and a short key is truncation.
@Test func retiredKeyListsAreBoundedBeforeAllocating() {
    for type: UInt8 in [36, 38] {
        for (count, keyBytes, expected) in [(ProtocolLimits.retiredKeysMax + 1, 32, DecodeError.Code.tooLarge),
                                            (2, 31, .truncated), (60_000, 32, .tooLarge)] {
            var body = ByteWriter(capacity: 64)
            body.u16(UInt16(count))
            body.raw(Array(repeating: 1, count: keyBytes * min(count, 2)))
            var w = ByteWriter(capacity: 80)
            w.u8(ProtocolLimits.wireVersion)
            w.u8(type)
            w.u64(UInt64(stamp.milliseconds))
            w.u32(UInt32(body.bytes.count))
            w.raw(body.bytes)
            let e = #expect(throws: DecodeError.self) { _ = try Message.decode(w.bytes) }
            #expect(e?.code == expected && e?.offset == Message.headerBytes, "type \(type), \(count) keys of \(keyBytes): \(String(describing: e))")
        }
    }
}

@Test func anOnlineMaskPastTheVolumesSlotsIsRefused() throws {
    let location = VolumeLocation(volume: VolumeID(2), layout: VolumeLayout(k: 1, n: 2, packs: 1, slotBytes: 9),
                                  holders: [NodeID(4), NodeID(5)], stored: [1, 1],
                                  roots: [Array(repeating: 1, count: 32), Array(repeating: 2, count: 32)], online: 0b11)
    var bytes = Message.recordReply(request: 1, start: 0, total: 1, volumes: [location]).encode(sent: stamp)
    #expect(try Message.decode(bytes).message == .recordReply(request: 1, start: 0, total: 1, volumes: [location]))
    // The mask is the last field: set bit 2 of a two-slot volume.
    bytes[bytes.count - 1] = 0b111
    let e = #expect(throws: DecodeError.self) { _ = try Message.decode(bytes) }
    #expect(e?.code == .badValue)
}
