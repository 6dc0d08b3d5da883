import CairnWire
import CairnCore
import CairnCrypto
import Testing

/// A tiny synchronous harness: one coordinator and a few nodes, messages delivered in FIFO
/// order at the current instant, timers fired on demand. Holders keep real segments so
/// challenges are answered with real Merkle proofs.
struct Harness {
    var now = Instant.zero
    static let coordinatorSigner = DigestSigner(seed: [0xc0])
    var coordinator = CoordinatorCore(params: CoordinatorParams(n: 4, repairTrigger: 4), signer: Harness.coordinatorSigner,
                                      verifier: DigestSigner(), rng: Xoshiro256(seed: 1))
    var nodes: [NodeCore] = []
    var inbox: [(from: NodeID, to: NodeID, Message)] = []
    /// Holder storage: node → slot → its packs' shards, each a list of segments.
    var disks: [[SlotID: [[[UInt8]]]]] = []
    var notes: [(NodeID, Note)] = []
    /// Nodes whose messages are lost, both ways.
    var offline: Set<NodeID> = []

    static let segmentsPerShard: UInt32 = 4
    /// Four 4-byte segments a shard.
    static let geometry = PackGeometry(k: 2, n: 4, shardBytes: 16, segmentBytes: 4)

    /// The shard of pack `pack` in `slot`: what the owner's pack store would hold.
    static func segments(_ slot: SlotID, pack: UInt32 = 0) -> [[UInt8]] {
        (0..<Int(segmentsPerShard)).map { i in
            [UInt8(truncatingIfNeeded: slot.volume.number), slot.index, UInt8(truncatingIfNeeded: pack), UInt8(i)]
        }
    }

    /// The first `count` packs of `slot`, as the owner made them.
    static func packs(_ slot: SlotID, _ count: UInt32) -> [[[UInt8]]] {
        (0..<count).map { segments(slot, pack: $0) }
    }

    static func root(_ segments: [[UInt8]]) -> [UInt8] {
        MerkleTree.root(of: segments.flatMap { $0 }, segmentSize: 4)
    }

    static func proof(_ segments: [[UInt8]], index: Int) -> [[UInt8]] {
        MerkleTree.proof(of: segments.flatMap { $0 }, segment: index, segmentSize: 4).siblings
    }

    static func leaves(_ packs: ArraySlice<[[UInt8]]>) -> [[UInt8]] {
        packs.map { SlotTree.leaf(root: root($0), geometry: geometry) }
    }

    /// Opens volume `number` of node 0 and appends `packs` packs to it.
    @discardableResult
    mutating func addVolume(_ number: UInt32, packs: UInt32 = 1, capacity: UInt64? = nil) -> VolumeID {
        let volume = VolumeID(owner: NodeID(0), number: number)
        try! nodes[0].openVolume(volume, k: 2, n: 4, capacity: capacity ?? UInt64(packs) * Self.geometry.shardBytes)
        appendPacks(volume, count: packs)
        return volume
    }

    mutating func appendPacks(_ volume: VolumeID, count: UInt32) {
        for _ in 0..<count {
            let p = nodes[0].volumes.firstIndex { $0.id == volume }!
            let j = nodes[0].volumes[p].layout.packs
            let roots = (0..<4).map { Self.root(Self.segments(SlotID(volume: volume, index: UInt8($0)), pack: j)) }
            let appended = try! nodes[0].appendPack(to: volume, geometry: Self.geometry, roots: roots, now: now)
            #expect(appended.pack == j)
            perform(NodeID(0), appended.actions)
        }
        deliverAll()
    }

    init(count: Int) {
        let params = NodeParams(k: 2, n: 4, challengeTimeout: .minutes(10))
        let verifier = DigestSigner()
        let root = Xoshiro256(seed: 42)
        for i in 0..<count {
            #expect(coordinator.admit() == NodeID(UInt32(i)))
            nodes.append(NodeCore(me: NodeID(UInt32(i)), params: params, offered: 1000, speed: 1000, reciprocityRatio: 1,
                                  signer: DigestSigner(seed: [UInt8(i)]), verifier: verifier,
                                  coordinatorKey: Self.coordinatorSigner.publicKey, rng: root.split(UInt64(i))))
            disks.append([:])
        }
    }

    mutating func perform(_ node: NodeID, _ actions: [NodeAction]) {
        for action in actions {
            switch action {
            case let .send(to, message):
                inbox.append((node, to, message))
            case .setTimer:
                break
            case let .storeSlot(contract, slot, from, to, replyTo):
                // The holder takes the packs that stream in and checks the slot's tree
                // against the root it was given.
                var packs = from == 0 ? [] : disks[node.index][slot] ?? []
                let verified = packs.count == Int(from) && {
                    for j in from..<to.packs { packs.append(Self.segments(slot, pack: j)) }
                    var tree = SlotTree()
                    for leaf in Self.leaves(packs[...]) { tree.append(leaf) }
                    return tree.root == to.root
                }()
                if verified { disks[node.index][slot] = packs }
                perform(node, nodes[node.index].onSlotStored(contract: contract, slot: slot, packs: to.packs, replyTo: replyTo,
                                                             verified: verified, now: now))
            case let .deleteSlot(slot):
                disks[node.index][slot] = nil
            case let .readSegment(challenge, slot, pack, packs, selector, replyTo):
                let answer = disks[node.index][slot].flatMap { stored -> SegmentProof? in
                    guard packs <= stored.count else { return nil }
                    let segs = stored[Int(pack)]
                    let index = Int(SegmentProof.segment(selector: selector, of: Self.geometry))
                    return SegmentProof(segment: segs[index], path: Self.proof(segs, index: index), packRoot: Self.root(segs),
                                        geometry: Self.geometry,
                                        packPath: leafPath(Self.leaves(stored.prefix(Int(packs))), index: Int(pack)))
                }
                perform(node, nodes[node.index].onSegmentRead(challenge: challenge, replyTo: replyTo, answer: answer, now: now))
            case let .readSlot(request, slot, replyTo):
                let answer: FetchAnswer = disks[node.index][slot].map { .data(bytes: UInt64($0.count) * 16) } ?? .missing
                perform(node, nodes[node.index].onSlotRead(request: request, slot: slot, replyTo: replyTo, answer: answer,
                                                           now: now))
            case let .verifySlot(request, slot, from, expect, bytes):
                // What streamed in is what the sender keeps: check it against the root expected.
                let sent = disks[from.index][slot].map { $0.prefix(Int(expect.packs)) } ?? []
                var tree = SlotTree()
                for leaf in Self.leaves(sent) { tree.append(leaf) }
                let verified = sent.count == Int(expect.packs) && tree.root == expect.root
                perform(node, nodes[node.index].onSlotVerified(request: request, slot: slot, from: from, bytes: bytes,
                                                               verified: verified, now: now))
            case let .note(note):
                notes.append((node, note))
            }
        }
    }

    mutating func perform(_ node: NodeID, _ actions: [CoordinatorAction]) {
        for action in actions {
            switch action {
            case let .send(to, message): inbox.append((node, to, message))
            case .setTimer: break
            case let .note(note): notes.append((node, note))
            }
        }
    }

    mutating func deliverAll() {
        var steps = 0
        while !inbox.isEmpty {
            steps += 1
            precondition(steps < 100_000, "message storm")
            let (from, to, message) = inbox.removeFirst()
            if offline.contains(from) || offline.contains(to) { continue }
            if to == .coordinator {
                perform(.coordinator, coordinator.onMessage(from: from, message, now: now))
            } else {
                perform(to, nodes[to.index].onMessage(from: from, message, now: now))
            }
        }
    }

    mutating func start() {
        perform(.coordinator, coordinator.onStart(now: now))
        // Holders join first, then the owner's placement can find them.
        for i in nodes.indices.reversed() {
            perform(NodeID(UInt32(i)), nodes[i].onStart(now: now))
            deliverAll()
        }
    }

    mutating func fire(_ node: Int, _ timer: TimerKind) {
        perform(NodeID(UInt32(node)), nodes[node].onTimer(timer, now: now))
        deliverAll()
    }
}

// MARK: Placement, contracts, challenges through NodeCore

@Test func ownerPlacesAPackOnDistinctHoldersWithAgreeingBooks() {
    var h = Harness(count: 8)
    let volume = h.addVolume(7)
    h.start()
    let slots = h.nodes[0].volumes[0].slots
    let holders = slots.compactMap(\.holder)
    #expect(holders.count == 4)
    #expect(Set(holders).count == 4)
    #expect(!holders.contains(NodeID(0)))
    for slot in slots {
        let contract = slot.contract!
        let owned = h.nodes[0].book.owned[contract]!
        let held = h.nodes[slot.holder!.index].book.held[contract]!
        #expect(owned.state == .active && held.state == .active)
        #expect(owned.terms == held.terms && owned.ownerSignature == held.ownerSignature
            && owned.holderSignature == held.holderSignature)
    }
    #expect(h.nodes[0].volumes[0].localCopy == false)
    #expect(h.coordinator.rootRecords[volume]?.holders == holders)
}

/// The owner challenges, the holder that lost the shard answers "missing", the owner
/// reports it, rebuilds the shard from k others and places it on a new holder — all at
/// once here, since the harness delivers instantly.
@Test func aHolderThatDroppedItsShardIsReportedAndReplaced() {
    var h = Harness(count: 8)
    let volume = h.addVolume(3, packs: 3)
    h.start()
    let dropper = h.nodes[0].volumes[0].slots[1].holder!
    h.disks[dropper.index] = [:]
    h.now = h.now + .days(1)
    h.fire(0, .challenge)
    let after = h.nodes[0].volumes[0].slots
    #expect(after[1].holder != nil && after[1].holder != dropper)
    #expect(after.allSatisfy { !$0.failed && $0.holder != nil })
    #expect(Set(after.compactMap(\.holder)).count == 4)
    #expect(h.disks[after[1].holder!.index][SlotID(volume: volume, index: 1)] != nil)
    #expect(h.notes.contains { $0.1 == .repairCompleted(volume) })
    #expect(h.coordinator.entry(dropper)?.reputation.strikes == 1)
    #expect(h.notes.contains { $0.0 == .coordinator && $0.1 == .fault(holder: dropper, .missing) })
}

// MARK: Grace and audits, on the harness's virtual time

/// Places a volume, then tells the owner (as the coordinator would) that the holder of slot 2
/// has poor uptime: the owner re-creates slot 2 elsewhere and releases the old holder in
/// good faith. Returns the harness, the volume and the released holder.
private func replacedInGoodFaith() -> (Harness, VolumeID, NodeID) {
    var h = Harness(count: 8)
    let volume = h.addVolume(5, packs: 2)
    h.start()
    let old = h.nodes[0].volumes[0].slots[2].holder!
    h.now = h.now + .hours(6)
    h.inbox.append((.coordinator, NodeID(0), .uptimeReply(request: 0, entries: [
        UptimeEntry(node: old, permille: 100, excluded: false),
    ])))
    h.deliverAll()
    return (h, volume, old)
}

@Test func aReleasedHolderKeepsTheShardThroughGraceUnderAuditThenFreesIt() {
    var (h, volume, old) = replacedInGoodFaith()
    let shard = SlotID(volume: volume, index: 2)
    let slot = h.nodes[0].volumes[0].slots[2]
    #expect(slot.holder != nil && slot.holder != old && !slot.unhealthy)
    #expect(h.disks[slot.holder!.index][shard] != nil)
    // The old holder was told when the contract ended and keeps the shard for the grace period.
    let released = h.notes.compactMap { n -> Instant? in
        if n.0 == old, case let .released(s, until) = n.1, s == shard { until } else { nil }
    }
    #expect(released == [h.now + .days(7)])
    #expect(h.disks[old.index][shard] != nil)
    #expect(h.nodes[0].auditCount == 1)
    // Audits during the grace period pass.
    h.now = h.now + .days(1)
    h.fire(0, .challenge)
    #expect(!h.notes.contains { if case .fault(old, _) = $0.1 { true } else { false } })
    #expect(h.nodes[0].auditCount == 1)
    // At the end of grace the holder frees the shard and the owner stops auditing.
    h.now = h.now + .days(6) + .hours(1)
    h.fire(old.index, .heartbeat)
    #expect(h.disks[old.index][shard] == nil)
    #expect(h.notes.contains { $0.0 == old && $0.1 == .freed(shard) })
    h.fire(0, .challenge)
    #expect(h.nodes[0].auditCount == 0)
    #expect(!h.notes.contains { if case .fault(old, _) = $0.1 { true } else { false } })
}

@Test func aHolderThatFreesDuringGraceIsCaughtByTheAuditAsAnEarlyFreer() {
    var (h, volume, old) = replacedInGoodFaith()
    h.disks[old.index][SlotID(volume: volume, index: 2)] = nil
    h.now = h.now + .days(1)
    h.fire(0, .challenge)
    #expect(h.notes.contains { $0.0 == .coordinator && $0.1 == .fault(holder: old, .earlyFree) })
    #expect(h.coordinator.entry(old)?.reputation.strikes == 1)
    #expect(h.nodes[0].auditCount == 0)
    // The volume itself is whole: slot 2 lives on its new holder.
    #expect(h.nodes[0].volumes[0].slots.allSatisfy { $0.holder != nil && !$0.failed })
}

// MARK: Volumes: appending to placed holders

@Test func appendedPacksReachEveryPlacedHolderAndAreChallenged() {
    var h = Harness(count: 8)
    let volume = h.addVolume(1, packs: 2, capacity: 8 * Harness.geometry.shardBytes)
    h.start()
    #expect(h.notes.contains { $0.1 == .placed(volume, packs: 2) })
    h.appendPacks(volume, count: 3)
    let v = h.nodes[0].volumes[0]
    #expect(v.layout.packs == 5 && v.slotBytes == 5 * Harness.geometry.shardBytes)
    for (s, slot) in v.slots.enumerated() {
        #expect(slot.stored.packs == 5 && slot.stored.root == v.roots[s] && slot.appending == nil)
        #expect(h.disks[slot.holder!.index][SlotID(volume: volume, index: UInt8(s))]?.count == 5)
    }
    #expect(h.notes.contains { $0.1 == .placed(volume, packs: 5) })
    #expect(h.coordinator.rootRecords[volume]?.stored == [5, 5, 5, 5])
    // Challenges now range over all five packs, and every answer verifies.
    for day in 1...6 {
        h.now = .zero + .days(Int64(day))
        h.fire(0, .challenge)
    }
    #expect(!h.notes.contains { if case .fault = $0.1 { true } else { false } })
    // A pack past the volume's capacity is refused and changes nothing.
    let roots = (0..<4).map { _ in [UInt8](repeating: 1, count: 32) }
    h.appendPacks(volume, count: 3)
    #expect(throws: VolumeError.full(volume, capacity: 8 * 16, wouldBe: 9 * 16)) {
        try h.nodes[0].appendPack(to: volume, geometry: Harness.geometry, roots: roots, now: h.now)
    }
    #expect(h.nodes[0].volumes[0].layout.packs == 8)
    try? h.nodes[0].closeVolume(volume)
    #expect(throws: VolumeError.closed(volume)) {
        try h.nodes[0].appendPack(to: volume, geometry: PackGeometry(k: 2, n: 4, shardBytes: 1), roots: roots, now: h.now)
    }
}

@Test func aHolderAwayDuringAnAppendCatchesUpAndUntilThenIsChallengedOnWhatItHas() {
    var h = Harness(count: 8)
    let volume = h.addVolume(2, packs: 2, capacity: 8 * Harness.geometry.shardBytes)
    h.start()
    let away = h.nodes[0].volumes[0].slots[1].holder!
    h.offline = [away]
    h.appendPacks(volume, count: 2)
    var v = h.nodes[0].volumes[0]
    #expect(v.slots[1].stored.packs == 2 && v.slots[0].stored.packs == 4)
    // The new packs stay in the owner's store until every slot has them.
    #expect(v.localFrom == 2 && !h.notes.contains { $0.1 == .placed(volume, packs: 4) })
    // The away holder is challenged on the two packs it has (it answers once back).
    h.offline = []
    h.now = .zero + .days(1)
    h.fire(0, .challenge)
    #expect(!h.notes.contains { if case .fault = $0.1 { true } else { false } })
    // On the next repair tick past the timeout the append is sent again and lands.
    h.now = h.now + .hours(7)
    h.fire(0, .repair)
    v = h.nodes[0].volumes[0]
    #expect(v.slots[1].stored.packs == 4 && v.slots[1].holder == away)
    #expect(h.disks[away.index][SlotID(volume: volume, index: 1)]?.count == 4)
    #expect(v.localFrom == 4 && h.notes.contains { $0.1 == .placed(volume, packs: 4) })
}

@Test func volumesAreRefusedWithTheReasonAndNothingChanges() {
    var h = Harness(count: 2)
    let mine = VolumeID(owner: NodeID(0), number: 1)
    #expect(throws: VolumeError.notMine(VolumeID(owner: NodeID(1), number: 1))) {
        try h.nodes[0].openVolume(VolumeID(owner: NodeID(1), number: 1), k: 2, n: 4, capacity: 100)
    }
    #expect(throws: VolumeError.self) { try h.nodes[0].openVolume(mine, k: 5, n: 4, capacity: 100) }
    try! h.nodes[0].openVolume(mine, k: 2, n: 4, capacity: 100)
    #expect(throws: VolumeError.duplicate(mine)) { try h.nodes[0].openVolume(mine, k: 2, n: 4, capacity: 100) }
    let roots = (0..<4).map { _ in [UInt8](repeating: 1, count: 32) }
    #expect(throws: VolumeError.codeMismatch(mine, volume: "2-of-4", pack: "3-of-4")) {
        try h.nodes[0].appendPack(to: mine, geometry: PackGeometry(k: 3, n: 4, shardBytes: 10), roots: roots, now: .zero)
    }
    #expect(throws: VolumeError.badRoots(mine, count: 3, n: 4)) {
        try h.nodes[0].appendPack(to: mine, geometry: Harness.geometry, roots: Array(roots.prefix(3)), now: .zero)
    }
    let unknown = VolumeID(owner: NodeID(0), number: 9)
    #expect(throws: VolumeError.unknown(unknown)) {
        try h.nodes[0].appendPack(to: unknown, geometry: Harness.geometry, roots: roots, now: .zero)
    }
    #expect(h.nodes[0].volumes.count == 1 && h.nodes[0].volumes[0].layout.packs == 0)
    let error = VolumeError.full(mine, capacity: 100, wouldBe: 116)
    #expect(error.codeName == "volumeFull" && error.message.contains("open the next volume"))
}

/// A rebuild counts only slots whose stream checks against the root their holder
/// acknowledged: a holder that streams altered data is reported as a liar, and the slot is
/// fetched from another holder.
@Test func aFetchedSlotThatDoesNotVerifyIsReportedAndFetchedElsewhere() {
    var h = Harness(count: 9)
    let volume = h.addVolume(4, packs: 2)
    h.start()
    #expect(!h.nodes[0].volumes[0].localCopy)
    let slots = h.nodes[0].volumes[0].slots
    let poor = slots[2].holder!, altered = slots[0].holder!
    // Slot 0's holder keeps its slot, but changed.
    h.disks[altered.index][SlotID(volume: volume, index: 0)]![1][2][0] ^= 0xff
    // Slot 2's holder has poor uptime: the owner rebuilds slot 2 from fetched slots, the
    // healthiest first (slot 0 among them).
    h.now = h.now + .hours(6)
    h.inbox.append((.coordinator, NodeID(0), .uptimeReply(request: 0, entries: [
        UptimeEntry(node: poor, permille: 100, excluded: false),
    ])))
    h.deliverAll()
    #expect(h.notes.contains { $0.0 == .coordinator && $0.1 == .fault(holder: altered, .badProof) })
    let after = h.nodes[0].volumes[0].slots
    // Both slots are re-created on new holders, from the two slots that verified.
    for s in [0, 2] {
        #expect(after[s].holder != nil && after[s].holder != poor && after[s].holder != altered && after[s].stored.packs == 2)
        #expect(h.disks[after[s].holder!.index][SlotID(volume: volume, index: UInt8(s))] == Harness.packs(SlotID(volume: volume, index: UInt8(s)), 2))
    }
}
