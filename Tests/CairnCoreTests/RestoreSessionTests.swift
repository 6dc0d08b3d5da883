import CairnWire
import CairnCore
import Testing

/// A restore with only the owner's identity: locations from the coordinator (paged), then
/// any k shards per volume from holders, with retries past silent or empty holders.
private let owner = NodeID(1)
private let root32 = [UInt8](repeating: 7, count: 32)

private func location(_ volume: UInt64, holders: [NodeID], k: Int = 2, online: UInt64 = 0) -> VolumeLocation {
    VolumeLocation(volume: VolumeID(owner: owner, number: UInt32(volume)), layout: VolumeLayout(k: k, n: holders.count, packs: 4, slotBytes: 1000),
                   holders: holders, stored: holders.map { $0 == .coordinator ? 0 : 4 }, roots: holders.map { _ in root32 },
                   online: online)
}

/// `spares: 0` asks exactly the k still needed, so each replacement is visible.
private func session(patience: Interval = .hours(24), spares: Int = 0) -> RestoreSession {
    RestoreSession(owner: owner, params: RestoreSession.Params(fetchTimeout: .minutes(10), retryAfter: .hours(1),
                                                               firstByteTimeout: .seconds(30), spares: spares),
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
    // Holder 11 stays silent: past its first byte timeout no other holder is left to ask,
    // so the session waits for the next round, then asks again the first holder without a
    // shard delivered (one more shard is needed).
    let afterTimeout = s.onTimer(now: .zero + .seconds(30))
    #expect(fetches(afterTimeout).isEmpty)
    // Its fetch is given up altogether at its deadline (first byte + fetch timeout + transfer).
    let silentDeadline = Instant(milliseconds: 30_000 + 600_000 + 8)
    #expect(timer(afterTimeout) == silentDeadline)
    let givenUp = s.onTimer(now: silentDeadline)
    #expect(fetches(givenUp).isEmpty)
    #expect(timer(givenUp) == Instant(milliseconds: 30_000 + 3_600_000))
    asked = fetches(s.onTimer(now: .zero + .seconds(30) + .hours(1)))
    #expect(asked.map(\.holder) == [NodeID(10)])
    _ = s.fetched(from: NodeID(10), .fetchReply(request: asked[0].request, slot: asked[0].shard, ok: true, bytes: 1000),
                    now: .zero + .hours(2))
    #expect(s.outcome == .restored(at: .zero + .hours(2)))
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

/// Drives a session against holders that answer after `delay` when `up`, never otherwise;
/// returns when it restored (nil: not within `limit`). The session's own timers are fired.
private func run(_ s: inout RestoreSession, locations: [VolumeLocation], up: (NodeID) -> Bool,
                 delay: (NodeID) -> Interval = { _ in .seconds(2) }, limit: Interval = .hours(2)) -> Instant? {
    var pending = [(at: Instant, from: NodeID, message: Message)]()
    var timerAt: Instant? = nil
    func take(_ actions: [RestoreAction], now: Instant) {
        if let t = timer(actions) { timerAt = min(timerAt ?? t, t) }
        for f in fetches(actions) where up(f.holder) {
            pending.append((now + delay(f.holder), f.holder, .fetchReply(request: f.request, slot: f.shard, ok: true, bytes: 1000)))
        }
    }
    let start = s.start(now: .zero)
    take(start, now: .zero)
    guard case let .recordQuery(request, _, _)? = sends(start).first?.1 else { return nil }
    take(s.onMessage(from: .coordinator, .recordReply(request: request, start: 0, total: UInt32(locations.count),
                                                     volumes: locations), now: .zero), now: .zero)
    var steps = 0
    while s.outcome == .running, steps < 1000 {
        steps += 1
        let nextReply = pending.indices.min { pending[$0].at < pending[$1].at }
        if let i = nextReply, timerAt.map({ pending[i].at <= $0 }) ?? true {
            let r = pending.remove(at: i)
            guard r.at <= .zero + limit else { break }
            take(s.fetched(from: r.from, r.message, now: r.at), now: r.at)
        } else if let t = timerAt {
            guard t <= .zero + limit else { break }
            timerAt = nil
            take(s.onTimer(now: t), now: t)
        } else {
            break
        }
    }
    if case let .restored(at) = s.outcome { return at }
    return nil
}

private let eight = (0..<8).map { NodeID(UInt32(20 + $0)) }

/// With n−k holders of every volume offline, a restore takes as long as with all online:
/// the coordinator's online marks put the live holders first, and without them the silent
/// ones cost one first byte timeout, not a fetch timeout.
@Test func nMinusKOfflineRestoresAboutAsFastAsAllOnline() {
    let offline: Set<NodeID> = [eight[0], eight[2], eight[4], eight[5]]
    let onlineMask: UInt64 = 0b1100_1010
    func volumes(_ mask: UInt64) -> [VolumeLocation] {
        (0..<3).map { location(UInt64($0), holders: eight, k: 4, online: mask) }
    }
    var all = RestoreSession(owner: owner, params: RestoreSession.Params(), now: .zero, patience: .hours(24))
    let allOnline = run(&all, locations: volumes(0xff), up: { _ in true })
    var marked = RestoreSession(owner: owner, params: RestoreSession.Params(), now: .zero, patience: .hours(24))
    let withMarks = run(&marked, locations: volumes(onlineMask), up: { !offline.contains($0) })
    var unmarked = RestoreSession(owner: owner, params: RestoreSession.Params(), now: .zero, patience: .hours(24))
    let withoutMarks = run(&unmarked, locations: volumes(0), up: { !offline.contains($0) })
    #expect(allOnline == .zero + .seconds(2))
    #expect(withMarks == allOnline)
    #expect(withoutMarks.map { $0 <= .zero + .seconds(30) + .seconds(2) } == true)
    #expect(marked.bytesFetched == 12 * 1000 && unmarked.bytesFetched == 12 * 1000)
}

/// One holder of n never answers: the restore finishes one first byte timeout (plus an
/// answer) after it started, not a fetch timeout; a silent holder that answers late, while
/// its volume still needs it, still counts.
@Test func aSilentHolderDelaysNoMoreThanTheFirstByteTimeout() {
    let holders = [NodeID(10), NodeID(11), NodeID(12), NodeID(13)]
    var s = session()
    let at = run(&s, locations: [location(1, holders: holders, k: 2)], up: { $0 != NodeID(11) })
    #expect(at == .zero + .seconds(32))
    // Holder 11 answers after 40 s: it was replaced at 30 s by 12, which answers after 20 s;
    // 11's shard arrives first and counts.
    var late = session()
    let lateAt = run(&late, locations: [location(1, holders: holders, k: 2)], up: { _ in true },
                     delay: { $0 == NodeID(11) ? .seconds(40) : $0 == NodeID(12) ? .seconds(20) : .seconds(2) })
    #expect(lateAt == .zero + .seconds(40))
    #expect(late.bytesFetched == 2000)
}

/// A holder that says it has nothing is replaced in the same step, without waiting.
@Test func aHolderWithNothingIsSkippedAtOnce() {
    var s = session()
    guard case let .recordQuery(request, _, _)? = sends(s.start(now: .zero)).first?.1 else { return }
    let asked = fetches(s.onMessage(from: .coordinator, .recordReply(request: request, start: 0, total: 1, volumes: [
        location(1, holders: [NodeID(10), NodeID(11), NodeID(12)]),
    ]), now: .zero))
    #expect(asked.map(\.holder) == [NodeID(10), NodeID(11)])
    let next = fetches(s.onMessage(from: NodeID(10), .fetchReply(request: asked[0].request, slot: asked[0].shard, ok: false,
                                                                 bytes: 0), now: .zero + .seconds(1)))
    #expect(next.map(\.holder) == [NodeID(12)])
}

/// Spares and late answers: once a volume has k shards its other fetches are abandoned;
/// a late shard for it, or a replayed reply header, is never counted twice.
@Test func lateAndDuplicateShardsAreNotCountedTwice() {
    var s = session(spares: 1)
    guard case let .recordQuery(request, _, _)? = sends(s.start(now: .zero)).first?.1 else { return }
    let asked = fetches(s.onMessage(from: .coordinator, .recordReply(request: request, start: 0, total: 2, volumes: [
        location(1, holders: [NodeID(10), NodeID(11), NodeID(12)]), location(2, holders: [NodeID(13), NodeID(14)]),
    ]), now: .zero))
    // k + 1 for the first volume, both holders of the second.
    #expect(asked.map(\.holder) == [NodeID(10), NodeID(11), NodeID(12), NodeID(13), NodeID(14)])
    let first = Message.fetchReply(request: asked[0].request, slot: asked[0].shard, ok: true, bytes: 1000)
    #expect(s.onMessage(from: NodeID(10), first, now: .zero).contains { if case .verifySlot = $0 { true } else { false } })
    // The same header again (a replay) asks for no second check.
    #expect(!s.onMessage(from: NodeID(10), first, now: .zero).contains { if case .verifySlot = $0 { true } else { false } })
    _ = s.onSlotVerified(request: asked[0].request, slot: asked[0].shard, from: NodeID(10), bytes: 1000, verified: true, now: .zero)
    _ = s.onSlotVerified(request: asked[0].request, slot: asked[0].shard, from: NodeID(10), bytes: 1000, verified: true, now: .zero)
    #expect(s.bytesFetched == 1000)
    _ = s.fetched(from: NodeID(11), .fetchReply(request: asked[1].request, slot: asked[1].shard, ok: true, bytes: 1000),
                  now: .zero + .seconds(1))
    #expect(s.progress.restored == 1 && s.bytesFetched == 2000)
    // The spare's shard comes late: wasted, not counted.
    let lateActions = s.fetched(from: NodeID(12), .fetchReply(request: asked[2].request, slot: asked[2].shard, ok: true,
                                                              bytes: 1000), now: .zero + .seconds(2))
    #expect(fetches(lateActions).isEmpty)
    #expect(s.progress.restored == 1 && s.bytesFetched == 2000 && s.bytesWasted == 1000)
    #expect(s.outcome == .running)
}

/// The coordinator marks the holders it heard from lately; the others are asked last.
@Test func theCoordinatorMarksHoldersItHeardFromLately() {
    var c = CoordinatorCore(params: CoordinatorParams(n: 3, repairTrigger: 3), signer: DigestSigner(seed: [9]),
                            verifier: DigestSigner(), rng: Xoshiro256(seed: 1))
    for _ in 0...4 { _ = c.admit() }
    _ = c.onMessage(from: owner, .rootRecord(location(1, holders: [NodeID(2), NodeID(3), NodeID(4)], k: 1)), now: .zero)
    _ = c.onMessage(from: NodeID(2), .heartbeat(used: 0), now: .zero)
    _ = c.onMessage(from: NodeID(4), .heartbeat(used: 0), now: .zero + .hours(3))
    let replies = c.onMessage(from: NodeID(5000), .recordQuery(request: 1, owner: owner, start: 0), now: .zero + .hours(3))
    guard case let .send(_, .recordReply(_, _, _, volumes))? = replies.first, let l = volumes.first else {
        Issue.record("no record reply: \(replies)")
        return
    }
    // Holder 2 was last heard three hours ago, 3 never; 4 just now.
    #expect(l.online == 0b100)
}
