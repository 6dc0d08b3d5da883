import CairnCore
import CairnCrypto
import CairnNode
import CairnStore
import CairnTestSupport
import CairnWire
import Foundation
import Testing

// MARK: appending and proving

/// A slot appended in three steps answers a challenge on every pack, for every tree width
/// the owner may hold, with proofs the owner's own check (`SegmentProof.verify`) accepts
/// against the root it kept; what is not held is not proven.
@Test func appendedSlotProvesEveryPackToTheOwnersCheck() throws {
    let folder = try TemporaryFolder("held-append")
    let store = try HeldSlotStore(dataDirectory: folder.path, capacity: 1 << 30)
    let fixture = SlotFixture(packs: 7, seed: 1)
    for range in [0..<2, 2..<3, 3..<7] {
        try append(store, fixture, range)
        #expect(try store.held(fixture.slot)?.extent == fixture.extent(range.upperBound))
    }
    #expect(store.usedBytes == fixture.extent(7).bytes)
    var rng = SeededRandom(seed: 5)
    for width in 1...7 {
        let root = fixture.extent(width).root
        for pack in 0..<width {
            for _ in 0..<3 {
                let selector = UInt32(truncatingIfNeeded: rng.next())
                let proof = try #require(store.prove(fixture.slot, pack: UInt32(pack), packs: UInt32(width), selector: selector))
                #expect(proof.verify(pack: UInt32(pack), packs: UInt32(width), selector: selector, slotRoot: root),
                        "pack \(pack) of \(width)")
                let g = fixture.packs[pack].geometry
                let start = Int(SegmentProof.segment(selector: selector, of: g)) * Int(g.segmentBytes)
                #expect(proof.segment[...] == fixture.packs[pack].shard[start..<min(start + Int(g.segmentBytes), Int(g.shardBytes))])
                // The same proof does not pass for another pack or against another width's root.
                #expect(!proof.verify(pack: UInt32((pack + 1) % 8), packs: 8, selector: selector, slotRoot: root))
            }
        }
    }
    #expect(store.prove(fixture.slot, pack: 7, packs: 8, selector: 0) == nil)
    #expect(store.prove(fixture.slot, pack: 3, packs: 2, selector: 0) == nil)
    let other = SlotID(volume: fixture.slot.volume, index: 3)
    #expect(store.prove(other, pack: 0, packs: 1, selector: 0) == nil)
    #expect(store.serve(other) == .missing)
}

/// The Bool face the interpreter calls: true for a good append (and the core acknowledges),
/// false for one that does not follow what is held.
@Test func storeAnswersThroughTheCoresProtocol() throws {
    let folder = try TemporaryFolder("held-protocol")
    let store = try HeldSlotStore(dataDirectory: folder.path, capacity: 1 << 30)
    let storage: any ShardStorage = store
    let fixture = SlotFixture(packs: 3, seed: 2)
    try spoolStore(store, fixture.slot, from: 0, fixture.stream(0..<2))
    #expect(storage.store(fixture.slot, from: 0, to: fixture.extent(2)))
    // An append from pack 1, which overlaps what is held: refused, its spool removed.
    try spoolStore(store, fixture.slot, from: 1, fixture.stream(1..<3))
    #expect(!storage.store(fixture.slot, from: 1, to: fixture.extent(3)))
    #expect(files(folder.sub("held/spool")).isEmpty)
    #expect(heldErrorCode { try store.storeSpooled(fixture.slot, from: 2, to: fixture.extent(3)) } == .spoolMissing)
    try spoolStore(store, fixture.slot, from: 1, fixture.stream(1..<3))
    #expect(heldErrorCode { try store.storeSpooled(fixture.slot, from: 1, to: fixture.extent(3)) } == .notAppend)
    #expect(try store.held(fixture.slot)?.extent == fixture.extent(2))
    #expect(files(folder.sub("held/spool")).isEmpty)
}

// MARK: refused streams

/// A store of `stream` for packs `from..<to.packs` on a slot holding packs 0..<2 of the
/// fixture: refused with `code`, and nothing changes — the extent, the bytes used, the run
/// files, the proofs — and the spool is gone.
func expectRefused(_ code: HeldSlotError.Code, from: UInt32 = 2, to: SlotExtent? = nil, _ change: (inout [UInt8]) -> Void,
                   sourceLocation: SourceLocation = #_sourceLocation) throws
{
    let folder = try TemporaryFolder("held-refused")
    let store = try HeldSlotStore(dataDirectory: folder.path, capacity: 1 << 30)
    let fixture = SlotFixture(packs: 4, seed: 3)
    try append(store, fixture, 0..<2)
    let runs = files(folder.sub("held/runs"))
    var stream = from == 0 ? fixture.stream(0..<4) : fixture.stream(2..<4)
    change(&stream)
    try spoolStore(store, fixture.slot, from: from, stream)
    #expect(heldErrorCode { try store.storeSpooled(fixture.slot, from: from, to: to ?? fixture.extent(4)) } == code,
            sourceLocation: sourceLocation)
    #expect(try store.held(fixture.slot)?.extent == fixture.extent(2), sourceLocation: sourceLocation)
    #expect(store.usedBytes == fixture.extent(2).bytes, sourceLocation: sourceLocation)
    #expect(files(folder.sub("held/runs")) == runs, sourceLocation: sourceLocation)
    #expect(files(folder.sub("held/spool")).isEmpty, sourceLocation: sourceLocation)
    let proof = try #require(store.prove(fixture.slot, pack: 1, packs: 2, selector: 77), sourceLocation: sourceLocation)
    #expect(proof.verify(pack: 1, packs: 2, selector: 77, slotRoot: fixture.extent(2).root), sourceLocation: sourceLocation)
    #expect(store.prove(fixture.slot, pack: 2, packs: 3, selector: 0) == nil, sourceLocation: sourceLocation)
}

@Test func aFlippedShardByteIsRefused() throws {
    // A byte in the middle of the second pack's shard (past both frame headers).
    let fixture = SlotFixture(packs: 4, seed: 3)
    let at = SlotStream.frameHeaderBytes * 2 + Int(fixture.packs[2].geometry.shardBytes) + 1000
    try expectRefused(.shardRoot) { $0[at] ^= 0x20 }
    // The last byte of the stream: the short last segment of the last shard.
    try expectRefused(.shardRoot) { $0[$0.count - 1] ^= 1 }
    // The same in a whole-slot store.
    try expectRefused(.shardRoot, from: 0) { $0[SlotStream.frameHeaderBytes + 3] ^= 0x80 }
}

@Test func aWrongSlotRootIsRefused() throws {
    let fixture = SlotFixture(packs: 4, seed: 3)
    let other = SlotFixture(packs: 4, seed: 99).extent(4)
    try expectRefused(.slotRoot, to: SlotExtent(packs: 4, bytes: fixture.extent(4).bytes, root: other.root)) { _ in }
    // A shard's root changed along with its shard still fails the slot tree.
    try expectRefused(.slotRoot, to: SlotExtent(packs: 4, bytes: fixture.extent(4).bytes, root: fixture.extent(3).root)) { _ in }
    // The slot bytes the message named must be the shards'.
    try expectRefused(.slotBytes, to: SlotExtent(packs: 4, bytes: fixture.extent(4).bytes + 1, root: fixture.extent(4).root)) { _ in }
}

@Test func aWrongGeometryIsRefused() throws {
    // k above n in the first frame.
    try expectRefused(.badGeometry) { $0[0] = 6 }
    // Segments larger than the wire allows (64 KiB): byte 10..<14 is the segment size.
    try expectRefused(.badGeometry) { $0[10] = 0; $0[11] = 2; $0[12] = 0; $0[13] = 0 }
    // Another code than the slot's packs (2-of-5 appended to a 3-of-5 slot).
    try expectRefused(.codeMismatch) { $0[0] = 2 }
    // A code whose n has no slot 2 (the fixture's slot index) in a whole-slot store.
    try expectRefused(.codeMismatch, from: 0) { $0[0] = 1; $0[1] = 2 }
    // A shard length one byte off: the frames fall apart.
    try expectRefused(.shardRoot) { $0[9] &+= 1 }
}

@Test func aTruncatedOrOverlongStreamIsRefused() throws {
    try expectRefused(.truncated) { $0.removeLast(10) }
    try expectRefused(.truncated) { $0.removeLast(Int($0.count) - SlotStream.frameHeaderBytes - 5) }
    try expectRefused(.truncated) { $0.removeLast($0.count - 20) }
    try expectRefused(.trailingBytes) { $0 += [0] }
    try expectRefused(.trailingBytes) { $0 += $0 }
    // A stream of fewer packs than announced.
    let fixture = SlotFixture(packs: 4, seed: 3)
    try expectRefused(.truncated) { $0 = fixture.stream(2..<3) }
}

/// A frame announcing a 64 GiB shard (a valid geometry, 2²⁰ segments of 64 KiB) is refused
/// from its 46 bytes, before anything is allocated for it; so is one longer than the
/// stream left.
@Test func aHugeShardLengthIsRefusedBeforeAllocating() throws {
    func shardLength(_ length: UInt64) -> (inout [UInt8]) -> Void {
        { stream in
            var w = ByteWriter()
            w.u64(length)
            stream.replaceSubrange(2..<10, with: w.bytes)
            stream[10..<14] = [0, 1, 0, 0]
        }
    }
    try expectRefused(.shardTooLong, shardLength(UInt64(PackGeometry.segmentsMax) * 65_536))
    try expectRefused(.shardTooLong, shardLength(SlotStream.shardBytesMax + 1))
    try expectRefused(.truncated, shardLength(SlotStream.shardBytesMax))
    // Fed chunk by chunk with no length known, the decoder refuses it just as early.
    let fixture = SlotFixture(packs: 1, seed: 4)
    var stream = fixture.stream(0..<1)
    shardLength(UInt64(PackGeometry.segmentsMax) * 65_536)(&stream)
    var decoder = SlotStreamDecoder(packs: 1, slotIndex: 2, keepLeaves: true)
    #expect(heldErrorCode { try decoder.consume(Array(stream.prefix(SlotStream.frameHeaderBytes))) } == .shardTooLong)
}

/// The transport's spool holds exactly what the message announced: a byte past it is
/// refused and the spool removed; a spool that stops short is removed at `finish`, and one
/// dropped unfinished removes itself.
@Test func spoolsHoldExactlyTheBytesAnnounced() throws {
    let folder = try TemporaryFolder("held-spool")
    let store = try HeldSlotStore(dataDirectory: folder.path, capacity: 1 << 20)
    let slot = SlotFixture(packs: 1, seed: 5).slot
    let over = try store.storeSpool(slot: slot, from: 0, announced: 10)
    try over.write([UInt8](repeating: 1, count: 6))
    #expect(heldErrorCode { try over.write([UInt8](repeating: 1, count: 5)) } == .trailingBytes)
    #expect(files(folder.sub("held/spool")).isEmpty)
    let short = try store.fetchSpool(request: 3, from: NodeID(8), announced: 10)
    try short.write([1, 2, 3])
    #expect(heldErrorCode { try short.finish() } == .truncated)
    #expect(files(folder.sub("held/spool")).isEmpty)
    do {
        let dropped = try store.fetchSpool(request: 4, from: NodeID(8), announced: 10)
        try dropped.write([1])
        withExtendedLifetime(dropped) { #expect(files(folder.sub("held/spool")).count == 1) }
    }
    #expect(files(folder.sub("held/spool")).isEmpty)
    // A stream announced far past the capacity is refused before a byte is spooled.
    #expect(heldErrorCode { _ = try store.storeSpool(slot: slot, from: 0, announced: 1 << 40) } == .overCapacity)
}

// MARK: durability and bounds

/// A new store on the same folder (a restarted node) lists the slot with its extent,
/// counts its bytes and proves it; a run file nobody recorded (a store stopped before its
/// commit) and a spool of a broken-off transfer are removed.
@Test func aReopenedStoreResumesWithWhatWasStored() throws {
    let folder = try TemporaryFolder("held-reopen")
    let fixture = SlotFixture(packs: 5, seed: 6)
    let second = SlotFixture(slot: SlotID(volume: VolumeID(owner: NodeID(2), number: 1), index: 0), packs: 2, seed: 7,
                             k: 1, n: 2)
    do {
        let store = try HeldSlotStore(dataDirectory: folder.path, capacity: 1 << 30)
        try append(store, fixture, 0..<3)
        try append(store, fixture, 3..<5)
        try append(store, second, 0..<2)
    }
    #expect(FileManager.default.createFile(atPath: folder.sub("held/runs/0000000400000009ff-00000000000000aa.run"), contents: Data([1, 2])))
    #expect(FileManager.default.createFile(atPath: folder.sub("held/spool/store-0000000400000009ff-0000000000000000"), contents: Data([3])))
    let store = try HeldSlotStore(dataDirectory: folder.path, capacity: 1 << 30)
    let held = try store.heldSlots()
    #expect(held.map(\.slot) == [second.slot, fixture.slot])
    #expect(held.map(\.extent) == [second.extent(2), fixture.extent(5)])
    #expect(held.map { [$0.k, $0.n] } == [[1, 2], [3, 5]])
    #expect(store.usedBytes == fixture.extent(5).bytes + second.extent(2).bytes)
    #expect(files(folder.sub("held/runs")).count == 3)
    #expect(files(folder.sub("held/spool")).isEmpty)
    for pack in 0..<5 {
        let proof = try #require(store.prove(fixture.slot, pack: UInt32(pack), packs: 5, selector: 12_345))
        #expect(proof.verify(pack: UInt32(pack), packs: 5, selector: 12_345, slotRoot: fixture.extent(5).root))
    }
    // And it goes on appending where it was.
    let longer = SlotFixture(packs: 6, seed: 6)
    try append(store, longer, 5..<6)
    #expect(try store.held(fixture.slot)?.extent == longer.extent(6))
}

/// A damaged slot record (a bad disk) makes that slot not held — no proof, no stream, not
/// listed or counted — and never a trap; the slot can be stored whole again over it. A
/// missing run file makes its slot's proofs and stream fail the same way.
@Test func damagedRecordsAndFilesAnswerAsNotHeld() throws {
    let folder = try TemporaryFolder("held-damaged")
    let fixture = SlotFixture(packs: 3, seed: 12)
    let second = SlotFixture(slot: SlotID(volume: VolumeID(owner: NodeID(2), number: 1), index: 0), packs: 2, seed: 13,
                             k: 1, n: 2)
    do {
        let store = try HeldSlotStore(dataDirectory: folder.path, capacity: 1 << 30)
        try append(store, fixture, 0..<3)
        try append(store, second, 0..<2)
    }
    do {
        let env = try LMDBEnvironment(path: folder.sub("held"), mapSize: 1 << 36, maxDatabases: 8)
        let slots = try env.openDatabase("slots")
        try env.write { txn in try txn.put(slots, fixture.slot.bytes, [1, 3, 5]) }
    }
    let store = try HeldSlotStore(dataDirectory: folder.path, capacity: 1 << 30)
    #expect(try store.heldSlots().map(\.slot) == [second.slot])
    #expect(store.usedBytes == second.extent(2).bytes)
    #expect(heldErrorCode { _ = try store.held(fixture.slot) } == .storage)
    #expect(store.prove(fixture.slot, pack: 0, packs: 1, selector: 1) == nil)
    #expect(store.serve(fixture.slot) == .missing)
    // Stored whole again: the damaged record and its old run are replaced.
    try append(store, fixture, 0..<3)
    #expect(try store.held(fixture.slot)?.extent == fixture.extent(3))
    let proof = try #require(store.prove(fixture.slot, pack: 2, packs: 3, selector: 4))
    #expect(proof.verify(pack: 2, packs: 3, selector: 4, slotRoot: fixture.extent(3).root))
    #expect(files(folder.sub("held/runs")).count == 2)
    #expect(store.usedBytes == second.extent(2).bytes + fixture.extent(3).bytes)

    let secondRun = try #require(files(folder.sub("held/runs")).first { $0.hasPrefix(Hex.encode(second.slot.bytes)) })
    try FileManager.default.removeItem(atPath: folder.sub("held/runs/" + secondRun))
    #expect(store.prove(second.slot, pack: 0, packs: 2, selector: 0) == nil)
    #expect(heldErrorCode { _ = try store.openSlotStream(second.slot) } == .storage)
    // And a slot that cannot be served can still be deleted.
    store.delete(second.slot)
    #expect(try store.heldSlots().map(\.slot) == [fixture.slot])
}

/// The offered capacity bounds the slot bytes held: an append past it is refused, a
/// whole-slot store replacing what the slot held counts only the new bytes, and a
/// deleted slot gives its bytes (and its files) back.
@Test func capacityBoundsWhatIsHeld() throws {
    let folder = try TemporaryFolder("held-capacity")
    let fixture = SlotFixture(packs: 4, seed: 8)
    let store = try HeldSlotStore(dataDirectory: folder.path, capacity: fixture.extent(3).bytes)
    try append(store, fixture, 0..<3)
    #expect(heldErrorCode { try append(store, fixture, 3..<4) } == .overCapacity)
    #expect(store.usedBytes == fixture.extent(3).bytes)
    // Replaced whole by its first two packs: fits, and the old run files go.
    try append(store, fixture, 0..<2)
    #expect(store.usedBytes == fixture.extent(2).bytes)
    #expect(files(folder.sub("held/runs")).count == 1)
    let proof = try #require(store.prove(fixture.slot, pack: 1, packs: 2, selector: 9))
    #expect(proof.verify(pack: 1, packs: 2, selector: 9, slotRoot: fixture.extent(2).root))
    store.delete(fixture.slot)
    #expect(store.usedBytes == 0)
    #expect(try store.heldSlots().isEmpty)
    #expect(store.serve(fixture.slot) == .missing)
    #expect(store.prove(fixture.slot, pack: 0, packs: 1, selector: 0) == nil)
    #expect(files(folder.sub("held/runs")).isEmpty)
    try append(store, fixture, 0..<3)
    #expect(store.usedBytes == fixture.extent(3).bytes)
}

/// LMDB's map full (the records of a stream with many small segments do not fit) refuses
/// the store and leaves what was held as it was, run files included.
@Test func aFullStoreRefusesAndKeepsThePreviousState() throws {
    let folder = try TemporaryFolder("held-mapfull")
    let store = try HeldSlotStore(dataDirectory: folder.path, capacity: 1 << 30, mapSize: 256 * 1024)
    let fixture = SlotFixture(packs: 1, seed: 9)
    try append(store, fixture, 0..<1)
    let runs = files(folder.sub("held/runs"))
    // 8,192 segments of 64 bytes: 256 KiB of leaf hashes.
    let slot = SlotID(volume: VolumeID(owner: NodeID(5), number: 1), index: 0)
    var rng = SeededRandom(seed: 10)
    let pack = SlotStreamPack(geometry: PackGeometry(k: 1, n: 1, shardBytes: 64 * 8192, segmentBytes: 64), shard: rng.bytes(64 * 8192))
    var tree = SlotTree()
    tree.append(pack.leaf)
    try spoolStore(store, slot, from: 0, SlotStream.encode([pack]))
    #expect(heldErrorCode { try store.storeSpooled(slot, from: 0, to: SlotExtent(packs: 1, bytes: 64 * 8192, root: tree.root)) } == .storage)
    #expect(try store.heldSlots().map(\.slot) == [fixture.slot])
    #expect(store.usedBytes == fixture.extent(1).bytes)
    #expect(files(folder.sub("held/runs")) == runs)
    #expect(try store.held(slot) == nil)
    let proof = try #require(store.prove(fixture.slot, pack: 0, packs: 1, selector: 3))
    #expect(proof.verify(pack: 0, packs: 1, selector: 3, slotRoot: fixture.extent(1).root))
}

// MARK: serving and fetching

/// What a fetch sends is exactly what was stored, appends and all; spooled on the
/// fetching side it verifies against the holder's extent and reads back pack by pack;
/// a damaged or mismatched one does not verify.
@Test func servedStreamsAreWhatWasStoredAndVerify() throws {
    let folder = try TemporaryFolder("held-serve")
    let store = try HeldSlotStore(dataDirectory: folder.path, capacity: 1 << 30)
    let fixture = SlotFixture(packs: 5, seed: 11)
    try append(store, fixture, 0..<2)
    try append(store, fixture, 2..<5)
    let whole = fixture.stream(0..<5)
    #expect(store.serve(fixture.slot) == .data(bytes: UInt64(whole.count)))
    let reader = try store.openSlotStream(fixture.slot)
    #expect(reader.length == UInt64(whole.count))
    var served = [UInt8]()
    while true {
        let chunk = try reader.next(upTo: 10_000)
        if chunk.isEmpty { break }
        served += chunk
    }
    #expect(served == whole)
    // Cut at what an earlier serve announced.
    #expect(try store.openSlotStream(fixture.slot, bytes: UInt64(fixture.stream(0..<2).count)).length == UInt64(fixture.stream(0..<2).count))
    #expect(heldErrorCode { _ = try store.openSlotStream(fixture.slot, bytes: 5) } == .notHeld)

    let fetcher = try HeldSlotStore(dataDirectory: folder.sub("fetcher"), capacity: 0)
    func fetched(_ request: UInt64, _ bytes: [UInt8]) throws {
        let spool = try fetcher.fetchSpool(request: request, from: NodeID(4), announced: UInt64(bytes.count))
        try spool.write(bytes)
        try spool.finish()
    }
    try fetched(1, served)
    #expect(fetcher.verify(fixture.slot, request: 1, from: NodeID(4), expect: fixture.extent(5)))
    let packs = try fetcher.openFetched(request: 1, from: NodeID(4))
    var read = [SlotStreamPack]()
    while let pack = try packs.nextPack() { read.append(pack) }
    #expect(read == fixture.packs)
    fetcher.discardFetched(request: 1, from: NodeID(4))
    #expect(heldErrorCode { try fetcher.verifyFetched(fixture.slot, request: 1, from: NodeID(4), expect: fixture.extent(5)) } == .spoolMissing)

    var flipped = served
    flipped[flipped.count / 2] ^= 4
    try fetched(2, flipped)
    #expect(!fetcher.verify(fixture.slot, request: 2, from: NodeID(4), expect: fixture.extent(5)))
    #expect(heldErrorCode { try fetcher.verifyFetched(fixture.slot, request: 2, from: NodeID(4), expect: fixture.extent(5)) } == .shardRoot)
    try fetched(3, served)
    #expect(heldErrorCode { try fetcher.verifyFetched(fixture.slot, request: 3, from: NodeID(4), expect: fixture.extent(4)) } == .trailingBytes)
    let wrongRoot = SlotExtent(packs: 5, bytes: fixture.extent(5).bytes, root: fixture.extent(4).root)
    #expect(heldErrorCode { try fetcher.verifyFetched(fixture.slot, request: 3, from: NodeID(4), expect: wrongRoot) } == .slotRoot)
    // Read pack by pack without a verify first, a cut stream still stops at the cut.
    try fetched(4, Array(served.dropLast(3)))
    let cut = try fetcher.openFetched(request: 4, from: NodeID(4))
    #expect(heldErrorCode { while try cut.nextPack() != nil {} } == .truncated)
    // From another holder, or for another request, nothing was spooled.
    #expect(!fetcher.verify(fixture.slot, request: 3, from: NodeID(5), expect: fixture.extent(5)))
    #expect(fetcher.verify(fixture.slot, request: 3, from: NodeID(4), expect: fixture.extent(5)))
}

/// A blind repair's verified fetch is kept under its slot's name, outside the spools: it
/// survives the store being opened again (spools do not), reads back as it was fetched,
/// and is gone once discarded; a file of another name in the kept folder is removed.
@Test func keptFetchesSurviveAReopenAndSpoolsDoNot() throws {
    let folder = try TemporaryFolder("held-kept")
    let fixture = SlotFixture(packs: 3, seed: 13)
    let stream = fixture.stream(0..<3)
    do {
        let store = try HeldSlotStore(dataDirectory: folder.path, capacity: 0)
        for request: UInt64 in [1, 2] {
            let spool = try store.fetchSpool(request: request, from: NodeID(4), announced: UInt64(stream.count))
            try spool.write(stream)
            try spool.finish()
        }
        #expect(store.verify(fixture.slot, request: 1, from: NodeID(4), expect: fixture.extent(3)))
        try store.keepFetched(request: 1, from: NodeID(4), as: fixture.slot)
        #expect(heldErrorCode { try store.keepFetched(request: 9, from: NodeID(4), as: fixture.slot) } == .storage)
    }
    #expect(FileManager.default.createFile(atPath: folder.sub("held/kept/stray"), contents: Data([1])))
    let store = try HeldSlotStore(dataDirectory: folder.path, capacity: 0)
    #expect(files(folder.sub("held/spool")).isEmpty, "request 2's spool went with the restart")
    #expect(try store.keptSlots() == [fixture.slot])
    #expect(files(folder.sub("held/kept")).count == 1)
    let reader = try store.openKept(fixture.slot)
    var read = [SlotStreamPack]()
    while let pack = try reader.nextPack() { read.append(pack) }
    #expect(read == fixture.packs)
    store.discardKept(fixture.slot)
    #expect(try store.keptSlots().isEmpty)
    #expect(heldErrorCode { _ = try store.openKept(fixture.slot) } == .spoolMissing)
}
