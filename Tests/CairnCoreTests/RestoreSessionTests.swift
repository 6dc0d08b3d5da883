import CairnWire
import CairnCore
import Testing

/// A restore with only the owner's identity: locations from the coordinator (paged), then
/// any k shards per volume from holders, with retries past silent or empty holders.
private let owner = NodeID(1)
private let root32 = [UInt8](repeating: 7, count: 32)

private func location(_ volume: UInt64, holders: [NodeID], k: Int = 2) -> VolumeLocation {
    VolumeLocation(volume: VolumeID(owner: owner, number: UInt32(volume)), layout: VolumeLayout(k: k, n: holders.count, packs: 4, slotBytes: 1000),
                 holders: holders, stored: holders.map { $0 == .coordinator ? 0 : 4 }, roots: holders.map { _ in root32 })
}

private func session(patience: Interval = .hours(24)) -> RestoreSession {
    RestoreSession(owner: owner, params: RestoreSession.Params(fetchTimeout: .minutes(10), retryAfter: .hours(1)),
                   now: .zero, patience: patience)
}

private func sends(_ actions: [RestoreAction]) -> [(to: NodeID, Message)] {
    actions.compactMap { if case let .send(to, m) = $0 { (to, m) } else { nil } }
}

private func fetches(_ actions: [RestoreAction]) -> [(holder: NodeID, request: UInt64, shard: SlotID)] {
    sends(actions).compactMap { if case let .fetch(request, shard) = $0.1 { ($0.to, request, shard) } else { nil } }
}

extension RestoreSession {
    /// A fetch reply, and the check of the slot behind it (the shell's part): `verified`
    /// says whether the stream matched the root the session expects.
    mutating func fetched(from: NodeID, _ reply: Message, now: Instant, verified: Bool = true) -> [RestoreAction] {
        var out = [RestoreAction]()
        for action in onMessage(from: from, reply, now: now) {
            if case let .verifySlot(request, slot, sender, _, bytes) = action {
                out += onSlotVerified(request: request, slot: slot, from: sender, bytes: bytes, verified: verified, now: now)
            } else {
                out.append(action)
            }
        }
        return out
    }
}

private func timer(_ actions: [RestoreAction]) -> Instant? {
    actions.compactMap { if case let .setTimer(.restore, at) = $0 { at } else { nil } }.min()
}

@Test func restoresWithKShardsSkippingEmptyAndSilentHolders() {
    var s = session()
    let start = s.start(now: .zero)
    guard case let .recordQuery(request, queried, 0)? = sends(start).first?.1 else {
        Issue.record("no record query: \(start)")
        return
    }
    #expect(queried == owner)
    #expect(timer(start) != nil, "a lost query must be retried")
    let holders = [NodeID(10), NodeID(11), .coordinator, NodeID(13)]
    var asked = fetches(s.onMessage(from: .coordinator, .recordReply(request: request, start: 0, total: 1,
                                                                     volumes: [location(5, holders: holders)]), now: .zero))
    // k = 2 fetches at once, from the first holders; the empty slot is never asked.
    #expect(asked.map(\.holder) == [NodeID(10), NodeID(11)])
    // Holder 10 has nothing: the next holder (13) is asked.
    let next = fetches(s.fetched(from: NodeID(10), .fetchReply(request: asked[0].request, slot: asked[0].shard,
                                                                 ok: false, bytes: 0), now: .zero))
    #expect(next.map(\.holder) == [NodeID(13)])
    // A reply from someone other than the holder asked is ignored.
    _ = s.fetched(from: NodeID(99), .fetchReply(request: next[0].request, slot: next[0].shard, ok: true, bytes: 1000),
                    now: .zero)
    #expect(s.outcome == .running)
    _ = s.fetched(from: NodeID(13), .fetchReply(request: next[0].request, slot: next[0].shard, ok: true, bytes: 1000),
                    now: .zero + .seconds(5))
    #expect(s.outcome == .running)
    // Holder 11 stays silent: after its timeout it is given up; with every holder tried,
    // the session waits for the next round, then asks again the first holder without a
    // shard delivered (one more shard is needed).
    let afterTimeout = s.onTimer(now: .zero + .hours(1))
    #expect(fetches(afterTimeout).isEmpty)
    #expect(timer(afterTimeout) == .zero + .hours(2))
    asked = fetches(s.onTimer(now: .zero + .hours(3)))
    #expect(asked.map(\.holder) == [NodeID(10)])
    _ = s.fetched(from: NodeID(10), .fetchReply(request: asked[0].request, slot: asked[0].shard, ok: true, bytes: 1000),
                    now: .zero + .hours(3))
    #expect(s.outcome == .restored(at: .zero + .hours(3)))
    #expect(s.bytesFetched == 2000)
}

@Test func failsWhenPatienceRunsOutNamingMissingPacks() {
    var s = session(patience: .hours(5))
    let start = s.start(now: .zero)
    guard case let .recordQuery(request, _, _)? = sends(start).first?.1 else { return }
    let actions = s.onMessage(from: .coordinator, .recordReply(request: request, start: 0, total: 2, volumes: [
        location(1, holders: [NodeID(10), NodeID(11)]), location(2, holders: [NodeID(12), NodeID(13)]),
    ]), now: .zero)
    for f in fetches(actions) where f.shard.volume == VolumeID(owner: owner, number: 1) {
        _ = s.fetched(from: f.holder, .fetchReply(request: f.request, slot: f.shard, ok: true, bytes: 1), now: .zero)
    }
    #expect(s.progress.restored == 1)
    // Nothing more answers: every timer the session asks for is fired until it gives up.
    var now = Instant.zero
    var pending = [timer(start), timer(actions)].compactMap { $0 }.min()
    var steps = 0
    while s.outcome == .running, let at = pending, steps < 100 {
        now = at
        pending = timer(s.onTimer(now: now))
        steps += 1
    }
    #expect(s.outcome == .failed(missing: 1))
    #expect(now == .zero + .hours(5))
}

@Test func locationsArePagedByTheCoordinatorAndTheSession() {
    var c = CoordinatorCore(params: CoordinatorParams(n: 4, repairTrigger: 4), signer: DigestSigner(seed: [9]),
                            verifier: DigestSigner(), rng: Xoshiro256(seed: 1))
    for _ in 0...owner.raw { _ = c.admit() }
    let count = ProtocolLimits.locationsPerReplyMax + 5
    for p in 0..<count {
        _ = c.onMessage(from: owner, .rootRecord(location(UInt64(p), holders: [NodeID(2), NodeID(3)], k: 1)), now: .zero)
    }
    let membersBefore = c.members
    // The restoring device (an unknown node number) is answered but not entered as a member.
    let restorer = NodeID(5000)
    var s = session()
    var outbox = sends(s.start(now: .zero))
    var fetched = [VolumeID]()
    var rounds = 0
    while let (to, message) = outbox.first, rounds < 100 {
        outbox.removeFirst()
        rounds += 1
        if to == .coordinator {
            for case let .send(back, reply) in c.onMessage(from: restorer, message, now: .zero) {
                #expect(back == restorer)
                outbox += sends(s.onMessage(from: .coordinator, reply, now: .zero))
            }
        } else if case let .fetch(request, shard) = message {
            fetched.append(shard.volume)
            outbox += sends(s.fetched(from: to, .fetchReply(request: request, slot: shard, ok: true, bytes: 10), now: .zero))
        }
    }
    #expect(c.members == membersBefore)
    #expect(c.entry(restorer) == nil)
    #expect(fetched == (0..<count).map { VolumeID(owner: owner, number: UInt32($0)) })
    #expect(s.outcome == .restored(at: .zero))
}

/// A location holds one holder and one root per shard by construction (the decoder
/// refuses anything else); the widest, largest volume a peer can describe is fetched with a
/// bounded deadline, and a volume with no holders left ends the restore as missing.
@Test func hostileLocationsAreBoundedNotTrapped() {
    var s = session(patience: .hours(2))
    guard case let .recordQuery(request, _, _)? = sends(s.start(now: .zero)).first?.1 else { return }
    let wide = (0..<ProtocolLimits.slotsPerVolumeMax).map { NodeID(UInt32(100 + $0)) }
    let largest = UInt64(PackGeometry.segmentsMax) * UInt64(PackGeometry.segmentBytesMax)
    let actions = s.onMessage(from: .coordinator, .recordReply(request: request, start: 0, total: 2, volumes: [
        VolumeLocation(volume: VolumeID(owner: owner, number: 1), layout: VolumeLayout(k: 2, n: wide.count, packs: .max, slotBytes: largest),
                     holders: wide, stored: wide.map { _ in .max }, roots: wide.map { _ in root32 }),
        location(3, holders: Array(repeating: .coordinator, count: 3)),
    ]), now: .zero)
    #expect(fetches(actions).map(\.shard.volume) == [VolumeID(owner: owner, number: 1), VolumeID(owner: owner, number: 1)])
    #expect(s.progress.known == 2)
    // A reply from the coordinator to a request it was not asked is ignored.
    _ = s.onMessage(from: .coordinator, .recordReply(request: request + 99, start: 0, total: 1, volumes: []), now: .zero)
    var now = Instant.zero
    var steps = 0
    while s.outcome == .running, steps < 100 {
        now = now + .minutes(30)
        _ = s.onTimer(now: now)
        steps += 1
    }
    #expect(s.outcome == .failed(missing: 2))
}

/// A slot that does not match its root is not counted: the next holder is asked, and the
/// stream the session expects is the slot's root and packs from the location.
@Test func aSlotThatDoesNotVerifyIsNotCountedAndTheNextHolderIsAsked() {
    var s = session()
    guard case let .recordQuery(request, _, _)? = sends(s.start(now: .zero)).first?.1 else { return }
    let holders = [NodeID(10), NodeID(11), NodeID(12)]
    let asked = fetches(s.onMessage(from: .coordinator, .recordReply(request: request, start: 0, total: 1,
                                                                     volumes: [location(4, holders: holders)]), now: .zero))
    #expect(asked.map(\.holder) == [NodeID(10), NodeID(11)])
    let reply = Message.fetchReply(request: asked[0].request, slot: asked[0].shard, ok: true, bytes: 1000)
    let check = s.onMessage(from: NodeID(10), reply, now: .zero)
    guard case let .verifySlot(_, slot, from, expect, bytes)? = check.first else {
        Issue.record("no verification asked: \(check)")
        return
    }
    #expect(slot == asked[0].shard && from == NodeID(10) && bytes == 1000)
    #expect(expect == SlotExtent(packs: 4, bytes: 1000, root: root32))
    let next = fetches(s.onSlotVerified(request: asked[0].request, slot: slot, from: from, bytes: bytes, verified: false,
                                        now: .zero))
    #expect(next.map(\.holder) == [NodeID(12)])
    #expect(s.bytesFetched == 0 && s.progress.restored == 0)
}
