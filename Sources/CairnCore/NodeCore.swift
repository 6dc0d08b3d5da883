import CairnWire

/// The node's protocol brain: contract book, placement requests, challenges, uptime-driven
/// repair, grace, as one pure state machine. The node actor (production) and the simulator
/// feed it messages and timer ticks with the current time and carry out its actions.
public struct NodeCore: Sendable {
    public let me: NodeID
    public let params: NodeParams
    /// Upload speed in kilobits per second (placement prefers holders of similar speed).
    public let speed: UInt32
    public internal(set) var book: ContractBook
    public internal(set) var challenges = ChallengeScheduler()
    public internal(set) var volumes: [OwnedVolume] = []
    var volumeIndex: [VolumeID: Int] = [:]
    var slotOfContract: [ContractID: SlotRef] = [:]
    /// Released, stored contracts audited until their grace ends.
    var audits: [ContractID: GraceDebt] = [:] { didSet { releaseLedger &+= 1 } }
    /// Replacements given up while their shard was being stored: the holder may have it
    /// (only the acknowledgement was lost) and then keeps it for the grace period. Not
    /// audited (it may never have received the shard), but a last-resort source until then.
    var unconfirmed: [ContractID: GraceDebt] = [:] { didSet { releaseLedger &+= 1 } }
    /// Releases not yet acknowledged: the holder may still hold the shard as if the
    /// contract were active (it was offline), so it is also a last-resort source.
    var releasing: [ContractID: PendingRelease] = [:] { didSet { releaseLedger &+= 1 } }
    /// Bumped by every change to `audits`, `unconfirmed` or `releasing`: the repair tick's
    /// passes over them (`forgetReleasedHolders`, `resendReleases`) skip a tick in which
    /// nothing they read changed and no instant they wait for came — on most ticks of a
    /// large network, where each pass was a walk of cold dictionaries. Not checkpointed:
    /// a restarted core makes both passes at its first tick.
    var releaseLedger: UInt64 = 1
    var forgetPass = LedgerPass()
    /// Every pending proposal by its deadline, so that the expiry timer meets the proposals
    /// due instead of walking every slot of every volume (once per proposal: quadratic in a
    /// node's slots while its proposals keep timing out). Not checkpointed: rebuilt from
    /// the slots at the first expiry after a restart.
    var proposalDeadlines = ProposalDeadlines()
    var resendPass = LedgerPass()
    var pendingMatches: [UInt64: Int] = [:]
    var nextRequest: UInt64 = 1
    var rng: Xoshiro256
    let signer: any ContractSigner
    let verifier: any SignatureVerifier
    /// The coordinator's public key: repair mandates must check against it.
    let coordinatorKey: [UInt8]
    public internal(set) var standing: Reputation.Standing = .good
    /// The disk was lost since the last join: announce it.
    var diskLost = false
    /// When this node's current session began (`onStart`, on every coordinator session).
    /// Replies sent to it while it was away were lost, so a fetch round sent before it
    /// counts no miss.
    var sessionStart: Instant? = nil
    /// When this node last took a message from the coordinator (nil: never). An owner that
    /// has not heard from it for `cutOffAfter` is cut off (its clock past the bound, a
    /// partition, the network down): the coordinator counts it as away and repairs its
    /// volumes blind, and it gives none up until it hears from the coordinator again and
    /// can adopt those repairs (`plan`).
    var coordinatorHeard: Instant? = nil
    /// Blind repairs this node carries out for away owners, by volume.
    var blindRepairs: [VolumeID: BlindRepair] = [:]
    var blindRepairContracts: [ContractID: VolumeID] = [:]
    /// Blind repairs this node placed and reported (`blindRepairDone`), re-sent on each
    /// repair tick until the order's mandate expires: a report lost on the way left the
    /// holder with a contract nobody knew of (never offered to the owner for adoption), so
    /// owners gave volumes up as lost while those copies were held. The coordinator takes
    /// a report once; the repeats change nothing there.
    var blindRepairsReported: [ContractID: ReportedBlindRepair] = [:]
    var blindRepairCounter: UInt32 = 0

    /// A holder released from a slot that owes the grace period until `until` (audited, or
    /// a last-resort source while it may still hold what it was sent).
    struct GraceDebt: Hashable, Sendable, Codable {
        var holder: NodeID
        var shard: SlotID
        var extent: SlotExtent
        var until: Instant
    }

    /// What one pass over the release ledger saw: the ledger's count then, and the first
    /// instant at which the same ledger could make the pass act (nil: never).
    struct LedgerPass: Sendable {
        var ledger: UInt64 = 0
        var due: Instant? = nil

        /// Whether a pass now would do exactly what the last one left done.
        func idle(ledger current: UInt64, now: Instant) -> Bool {
            ledger == current && due.map { now < $0 } ?? true
        }
    }

    /// A release sent at `at` and not yet acknowledged. Re-sent on each repair tick while
    /// `retries` last, then at doubling intervals (`backoff`, next at `nextAt`, at most a
    /// week apart) until acknowledged or until `end`, the contract's term end, past which
    /// the holder frees the shard by itself. Until then the holder may keep an active copy,
    /// so the owner keeps counting it as a last-resort source (`graceSources`) and keeps
    /// it off the volume. (Forgetting it after the retries left holders away for two days
    /// with active copies nobody counted: the harsh-churn research sweep had owners give
    /// volumes up as lost with three and more shards still held.)
    struct PendingRelease: Hashable, Sendable, Codable {
        var holder: NodeID
        var shard: SlotID
        var extent: SlotExtent
        var at: Instant
        var retries: Int
        var end: Instant? = nil
        var nextAt: Instant = .zero
        var backoff: Interval = .zero
        /// The latest the holder may keep the shard: its term end plus grace, for a holder
        /// the release never reached (it enters grace at the term end by itself). Until then
        /// it stays a last-resort source past `end`, though releases are no longer sent.
        /// (Dropped at `end`, the owner forgot holders a partition had kept from every
        /// release while they still kept their copies for a whole grace period, and gave a
        /// volume up as lost with k shards on honest holders: scenario
        /// `regressions/unreleased-holders-keep-grace.json`.)
        var keptUntil: Instant? = nil

        /// The longest wait between two sends once the quick retries are spent.
        static let backoffMax: Interval = .days(7)

        init(holder: NodeID, shard: SlotID, extent: SlotExtent, at: Instant, retries: Int, end: Instant?,
             keptUntil: Instant? = nil)
        {
            self.holder = holder
            self.shard = shard
            self.extent = extent
            self.at = at
            self.retries = retries
            self.end = end
            self.keptUntil = keptUntil
        }

        private enum CodingKeys: String, CodingKey { case holder, shard, extent, at, retries, end, nextAt, backoff, keptUntil }

        /// Checkpoints from before the backoff read as releases forgotten after their retries,
        /// and from before `keptUntil` as releases forgotten at the term end.
        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            holder = try c.decode(NodeID.self, forKey: .holder)
            shard = try c.decode(SlotID.self, forKey: .shard)
            extent = try c.decode(SlotExtent.self, forKey: .extent)
            at = try c.decode(Instant.self, forKey: .at)
            retries = try c.decode(Int.self, forKey: .retries)
            end = try c.decodeIfPresent(Instant.self, forKey: .end)
            nextAt = try c.decodeIfPresent(Instant.self, forKey: .nextAt) ?? .zero
            backoff = try c.decodeIfPresent(Interval.self, forKey: .backoff) ?? .zero
            keptUntil = try c.decodeIfPresent(Instant.self, forKey: .keptUntil)
        }
    }

    /// A `blindRepairDone` sent, kept for re-sending until `until` (the mandate's expiry).
    struct ReportedBlindRepair: Sendable, Codable {
        var terms: ContractTerms
        var ownerSignature: [UInt8]
        var holderSignature: [UInt8]
        var until: Instant
    }

    /// A blind repair in progress on this node (the repairer side).
    struct BlindRepair: Sendable, Codable {
        /// A contract proposed in the owner's name to a repair target.
        struct Proposal: Sendable, Codable {
            /// Index into `targets`.
            var target: Int
            var terms: ContractTerms
            /// The repairer's signature in the owner's name.
            var signature: [UInt8]
            /// The target's, once it accepted.
            var holderSignature: [UInt8]?
        }

        var owner: NodeID
        var layout: VolumeLayout
        var slotBytes: UInt64 { layout.slotBytes }
        var k: Int { layout.k }
        var sources: [NodeID]
        /// Each slot's root over all the volume's packs (fetched slots are checked against them).
        var roots: [[UInt8]]
        var targets: [BlindRepairTarget]
        var fetchedMask: UInt64 = 0
        var fetchRequests: [UInt64: Int] = [:]
        /// Proposed contracts: id → (target index, terms, the repairer's signature in the owner's name, accepted).
        var proposals: [ContractID: Proposal] = [:]
        var deadline: Instant
        var counter: UInt32 = 0
        /// When the targets that accepted but never acknowledged their slot were asked
        /// whether it is there (`probeBlindRepair`), at the deadline; nil: not yet.
        var probed: Instant? = nil
    }

    /// Time to push every upload in flight through this node's link (refreshed each repair tick).
    var uploadBacklog = Interval.zero

    public init(me: NodeID, params: NodeParams, offered: UInt64, speed: UInt32, reciprocityRatio: Double,
                signer: any ContractSigner, verifier: any SignatureVerifier, coordinatorKey: [UInt8], rng: Xoshiro256)
    {
        precondition(reciprocityRatio > 0, "reciprocity ratio \(reciprocityRatio)")
        self.me = me
        self.params = params
        self.speed = speed
        self.rng = rng
        self.signer = signer
        self.verifier = verifier
        self.coordinatorKey = coordinatorKey
        book = ContractBook(me: me, offered: offered, placementBudget: UInt64(min(Double(offered) / reciprocityRatio, Double(UInt64.max / 2))))
    }

    /// Opens a volume of this node's own: packs appended to it go to the same n holders,
    /// each slot up to `capacity` bytes (the contracts reserve that much on each holder).
    public mutating func openVolume(_ id: VolumeID, k: Int, n: Int, capacity: UInt64) throws(VolumeError) {
        guard id.owner == me else { throw .notMine(id) }
        if let problem = VolumeLayout.problem(k: k, n: n) { throw .badCode(id, problem) }
        guard volumeIndex[id] == nil else { throw .duplicate(id) }
        guard volumes.count < ProtocolLimits.volumesPerNodeMax else { throw .tooManyVolumes(limit: ProtocolLimits.volumesPerNodeMax) }
        volumeIndex[id] = volumes.count
        volumes.append(OwnedVolume(id: id, k: k, n: n, capacity: capacity))
    }

    /// Appends a pack (the roots of its n shards) to an open volume and returns its number
    /// there. Holders already placed get it next (`storeSlot`); the pack stays in the
    /// owner's pack store until every slot has it (`Note.placed`).
    @discardableResult
    public mutating func appendPack(to id: VolumeID, geometry: PackGeometry, roots: [[UInt8]], now: Instant)
        throws(VolumeError) -> (pack: UInt32, actions: [NodeAction])
    {
        try appendPacks(to: id, count: 1, geometry: geometry, roots: roots, now: now)
    }

    /// Appends `count` packs whose shards have the same roots (the simulator's synthetic
    /// packs: O(log count) hashes however many). Returns the first one's number.
    public mutating func appendPacks(to id: VolumeID, count: UInt32, geometry: PackGeometry, roots: [[UInt8]],
                                     now: Instant) throws(VolumeError) -> (pack: UInt32, actions: [NodeAction])
    {
        guard let p = volumeIndex[id] else { throw .unknown(id) }
        let layout = volumes[p].layout
        guard geometry.k == layout.k, geometry.n == layout.n else {
            throw .codeMismatch(id, volume: "\(layout.k)-of-\(layout.n)", pack: "\(geometry.k)-of-\(geometry.n)")
        }
        guard roots.count == layout.n else { throw .badRoots(id, count: roots.count, n: layout.n) }
        guard volumes[p].open, !volumes[p].lost else { throw .closed(id) }
        guard count > 0 else { return (layout.packs, []) }
        guard UInt64(layout.packs) + UInt64(count) < UInt64(UInt32.max) else { throw .tooManyPacks(id) }
        let (added, overflow) = geometry.shardBytes.multipliedReportingOverflow(by: UInt64(count))
        let wouldBe = layout.slotBytes.addingReportingOverflow(added)
        guard !overflow, !wouldBe.overflow, wouldBe.partialValue <= volumes[p].capacity else {
            throw .full(id, capacity: volumes[p].capacity, wouldBe: overflow || wouldBe.overflow ? UInt64.max : wouldBe.partialValue)
        }
        let first = layout.packs
        for s in 0..<layout.n {
            volumes[p].trees[s].append(SlotTree.leaf(root: roots[s], geometry: geometry), count: count)
            volumes[p].roots[s] = volumes[p].trees[s].root
        }
        volumes[p].layout.packs += count
        volumes[p].layout.slotBytes = wouldBe.partialValue
        var actions = [NodeAction]()
        for s in 0..<layout.n { sendAppend(volume: p, slot: s, now: now, into: &actions) }
        return (first, actions)
    }

    /// No more packs go to this volume (the next backup opens another).
    public mutating func closeVolume(_ id: VolumeID) throws(VolumeError) {
        guard let p = volumeIndex[id] else { throw .unknown(id) }
        volumes[p].open = false
    }

    /// Bytes of memory the owner side takes for its volumes (what a terabyte costs).
    public var ownerStateBytes: Int {
        var total = MemoryLayout<NodeCore>.size + volumes.capacity * MemoryLayout<OwnedVolume>.stride
        for v in volumes {
            total += v.slots.capacity * MemoryLayout<OwnedSlot>.stride + v.roots.count * 64
            for t in v.trees { total += t.heapBytes }
            for slot in v.slots { total += slot.stored.root.count + slot.pendingKey.count + (slot.appending?.root.count ?? 0) }
        }
        total += book.owned.count * (MemoryLayout<Contract>.stride + 2 * 96)
        total += slotOfContract.count * (MemoryLayout<ContractID>.stride + MemoryLayout<SlotRef>.stride) * 2
        return total
    }

    func jitter(_ interval: Interval, _ rng: inout Xoshiro256) -> Interval {
        Interval(milliseconds: Int64(rng.bounded(UInt64(max(interval.milliseconds, 1)))))
    }

    // MARK: Start and resume

    /// The node starts (or comes back online): join, arm timers, resume placement.
    public mutating func onStart(now: Instant) -> [NodeAction] {
        var actions = [NodeAction]()
        sessionStart = now
        actions.append(.send(to: .coordinator, .join(offered: book.offered, speed: speed, publicKey: signer.publicKey,
                                                     fresh: diskLost)))
        diskLost = false
        actions.append(.send(to: .coordinator, .heartbeat(used: book.reservedBytes)))
        actions.append(.setTimer(.heartbeat, at: now + params.heartbeatInterval))
        actions.append(.setTimer(.challenge, at: now + jitter(params.challengeInterval, &rng)))
        actions.append(.setTimer(.repair, at: now + jitter(params.repairInterval, &rng)))
        for p in volumes.indices where !volumes[p].lost {
            requestMatch(volume: p, now: now, into: &actions)
        }
        // Proposals from before a restart are judged as if the timer had run all along.
        if volumes.contains(where: { $0.slots.contains { $0.pending == .proposing } }) {
            actions.append(.setTimer(.expiry, at: now))
        }
        return actions
    }

    /// The disk was lost and the node reinstalled: everything held for others is gone.
    public mutating func onDiskLost() {
        book.loseHeld()
        diskLost = true
    }

    // MARK: Timers

    public mutating func onTimer(_ timer: TimerKind, now: Instant) -> [NodeAction] {
        var actions = [NodeAction]()
        onTimer(timer, now: now, into: &actions)
        return actions
    }

    /// The heartbeat tick when it has nothing to expire — nearly every hour of a node's
    /// life: the bytes it reports and when it beats next, or nil when the tick must run in
    /// full (`onTimer(.heartbeat)`). A shell that sends this heartbeat and arms that timer
    /// itself has done exactly what the tick's actions say, without building them (the
    /// simulator: a million of these per thousand nodes and month).
    public func quietHeartbeat(now: Instant) -> (used: UInt64, next: Instant)? {
        guard !book.expiresBy(now) else { return nil }
        return (book.reservedBytes, now + params.heartbeatInterval)
    }

    /// `onTimer` appending to a caller's buffer.
    public mutating func onTimer(_ timer: TimerKind, now: Instant, into actions: inout [NodeAction]) {
        switch timer {
        case .heartbeat:
            let (freed, entered) = book.expire(now: now)
            for c in entered {
                if case .grace = c.state { actions.append(.note(.released(c.terms.shard, graceUntil: c.keptUntil))) }
            }
            for c in freed {
                actions.append(.deleteSlot(c.terms.shard))
                actions.append(.note(.freed(c.terms.shard)))
            }
            actions.append(.send(to: .coordinator, .heartbeat(used: book.reservedBytes)))
            actions.append(.setTimer(.heartbeat, at: now + params.heartbeatInterval))
        case .challenge:
            onChallengeTimer(now: now, into: &actions, knownPass: { _ in false })
        case .repair:
            // One pass over the slots, read in place (iterating `volumes` by value copied every
            // volume and retained its arrays): the holders to ask about, and the uploads in flight.
            var holders = [NodeID]()
            // Every volume's slot count first, in a loop of independent loads: the cold
            // misses on the volumes' slot buffers then overlap instead of following one
            // another (each was a stall at the head of its volume's walk).
            var slotCount = 0
            for p in volumes.indices { slotCount &+= volumes[p].slots.count }
            holders.reserveCapacity(slotCount)
            var backlogBytes: UInt64 = 0
            for p in volumes.indices where !volumes[p].lost {
                // Through the buffer: a slot read field by field, never copied whole (a copy
                // retains and releases its arrays, a tenth of a run).
                let (storing, appending) = volumes[p].slots.withUnsafeBufferPointer { slots in
                    var storing: UInt64 = 0, appending: UInt64 = 0
                    for s in slots.indices {
                        if let h = slots[s].holder { holders.append(h) }
                        if case .storing = slots[s].replacement { storing += 1 }
                        if let bytes = slots[s].append?.extent.bytes { appending += bytes - slots[s].stored.bytes }
                    }
                    return (storing, appending)
                }
                backlogBytes += storing * volumes[p].slotBytes + appending
            }
            // Sorted and unique, in place: the query carries this array itself when it fits.
            holders.sort()
            var kept = 0
            for i in holders.indices where kept == 0 || holders[kept - 1] != holders[i] {
                holders[kept] = holders[i]
                kept += 1
            }
            holders.removeLast(holders.count - kept)
            // Past one message's worth of holders, the query goes in pages: every holder is
            // asked about on every tick (a cut would leave the same ones out every time).
            if holders.count <= ProtocolLimits.nodesPerMessageMax {
                let request = nextRequest
                nextRequest += 1
                actions.append(.send(to: .coordinator, .uptimeQuery(request: request, nodes: holders)))
            } else {
                var page = 0
                repeat {
                    let request = nextRequest
                    nextRequest += 1
                    let end = min(page + ProtocolLimits.nodesPerMessageMax, holders.count)
                    actions.append(.send(to: .coordinator, .uptimeQuery(request: request, nodes: Array(holders[page..<end]))))
                    page = end
                } while page < holders.count
            }
            resendReleases(now: now, into: &actions)
            uploadBacklog = transferTime(bytes: backlogBytes)
            for volume in blindRepairs.keys.sorted() where blindRepairs[volume]!.deadline <= now {
                if !probeBlindRepair(volume, now: now, into: &actions) { endBlindRepair(volume, now: now, into: &actions) }
            }
            resendBlindRepairReports(now: now, into: &actions)
            forgetReleasedHolders(now: now)
            for p in volumes.indices where !volumes[p].lost {
                lapseEndedContracts(volume: p, now: now, into: &actions)
                expirePending(volume: p, now: now, into: &actions)
                requestMatch(volume: p, now: now, into: &actions)
            }
            actions.append(.setTimer(.repair, at: now + params.repairInterval))
        case .expiry:
            expireProposals(now: now, into: &actions)
        case .uptimeSlot, .restore:
            break
        }
    }

    /// The challenge tick: one challenge per stored slot and per audited release. A shell
    /// that already knows some answers (`knownPass`: the simulator, for honest holders
    /// that stay up for the round trip) settles those inline — drawn as always, neither
    /// recorded nor sent — instead of taking each pass back through `onKnownChallengePass`
    /// (a record made, a message, an action and a look-up undone, per slot and day). Every
    /// other challenge goes out as from `onTimer(.challenge)`.
    public mutating func onChallengeTimer(now: Instant, into actions: inout [NodeAction],
                                          knownPass: (KnownChallenge) -> Bool)
    {
        _ = challenges.sweep(now: now)
        var settled = SettledChallenges()
        for p in volumes.indices where !volumes[p].lost {
            let volume = volumes[p].id
            // Through the buffer: each slot's extent is lent to `issue`, not copied (a copy
            // retains and releases its root).
            volumes[p].slots.withUnsafeBufferPointer { slots in
                for s in slots.indices {
                    guard let holder = slots[s].holder, let contract = slots[s].contract, !slots[s].failed,
                          slots[s].stored.packs > 0
                    else { continue }
                    // Near its term's end the contract is renewed or lapses (a repair tick
                    // hands it to the grace audit): a challenge sent now could reach a holder
                    // whose grace is short and over, which freed the shard as promised.
                    if let end = slots[s].contractEnd, now + params.challengeTimeout + .hours(1) >= end { continue }
                    if let msg = challenges.issue(
                        contract: contract, holder: holder, slot: SlotID(volume: volume, index: UInt8(s)),
                        packs: slots[s].stored.packs, root: { slots[s].stored.root }, audit: false, now: now,
                        timeout: params.challengeTimeout, rng: &rng, settled: &settled, knownPass: knownPass)
                    {
                        actions.append(.send(to: holder, msg))
                    }
                }
            }
        }
        for id in unconfirmed.keys.sorted() where unconfirmed[id]!.until <= now {
            unconfirmed[id] = nil
        }
        for id in audits.keys.sorted() {
            let a = audits[id]!
            if a.until <= now {
                audits[id] = nil
                book.drop(ownedID: id)
                continue
            }
            // Both sides end the grace period at `until`: stop auditing early enough that
            // no challenge reaches a holder that has just freed the shard as promised.
            guard now + params.challengeTimeout + .hours(1) < a.until, a.extent.packs > 0 else { continue }
            if let msg = challenges.issue(contract: id, holder: a.holder, slot: a.shard, extent: a.extent, audit: true,
                                          now: now, timeout: params.challengeTimeout, rng: &rng, settled: &settled,
                                          knownPass: knownPass)
            {
                actions.append(.send(to: a.holder, msg))
            }
        }
        actions.append(.setTimer(.challenge, at: now + params.challengeInterval))
    }

    // MARK: Messages

    /// A message `from` a peer, stamped `sent` by the peer's clock.
    public mutating func onMessage(from: NodeID, _ message: Message, sent: Instant, now: Instant) -> [NodeAction] {
        var actions = [NodeAction]()
        onMessage(from: from, message, sent: sent, now: now, into: &actions)
        return actions
    }

    /// `onMessage` appending to a caller's buffer (the simulator reuses one for every event).
    public mutating func onMessage(from: NodeID, _ message: Message, sent: Instant, now: Instant,
                           into actions: inout [NodeAction])
    {
        guard sent.within(params.maxClockSkew, of: now) else {
            actions.append(.note(.clockSkew(from: from, by: sent - now)))
            return
        }
        if from == .coordinator { coordinatorHeard = now }
        switch message {
        // Owner side.
        case let .matchReply(request, _, candidates) where from == .coordinator:
            onMatchReply(request: request, candidates: candidates, now: now, into: &actions)
        case let .accept(contract, signature) where blindRepairContracts[contract] != nil:
            onBlindRepairAccept(contract, signature: signature, from: from, now: now, into: &actions)
        case let .reject(contract, _) where blindRepairContracts[contract] != nil:
            if let volume = blindRepairContracts.removeValue(forKey: contract) { blindRepairs[volume]?.proposals[contract] = nil }
        case let .storeAck(contract, _) where blindRepairContracts[contract] != nil:
            onBlindRepairStored(contract, from: from, now: now, into: &actions)
        case let .fetchReply(request, slot, ok, bytes) where blindRepairs[slot.volume]?.fetchRequests[request] != nil:
            if ok, let d = blindRepairs[slot.volume], Int(slot.index) < d.roots.count, d.sources[Int(slot.index)] == from {
                let expect = SlotExtent(packs: d.layout.packs, bytes: d.layout.slotBytes, root: d.roots[Int(slot.index)])
                actions.append(.verifySlot(request: request, slot: slot, from: from, expect: expect, bytes: bytes))
            } else {
                onBlindRepairFetched(request: request, shard: slot, ok: false, bytes: 0, from: from, now: now, into: &actions)
            }
        case let .blindRepairOrder(volume, owner, layout, sources, roots, targets) where from == .coordinator:
            startBlindRepair(volume: volume, owner: owner, layout: layout, sources: sources, roots: roots, targets: targets,
                            now: now, into: &actions)
        case let .adopt(terms, ownerSignature, holderSignature) where from == .coordinator:
            onAdopt(terms, ownerSignature: ownerSignature, holderSignature: holderSignature, now: now, into: &actions)
        case let .accept(contract, signature):
            guard let ref = slotOfContract[contract], case (let p, let s) = (ref.volume, ref.slot), volumes[p].slots[s].pendingContract == contract,
                  volumes[p].slots[s].pendingHolder == from, volumes[p].slots[s].pending == .proposing
            else { break }
            if book.onAccept(contract, holderSignature: signature, holderKey: volumes[p].slots[s].pendingKey,
                             verifier: verifier)
            {
                if volumes[p].slots[s].holder == from {
                    takeRenewal(volume: p, slot: s, contract: contract, into: &actions)
                    break
                }
                if let r = volumes[p].slots[s].replacement {
                    volumes[p].slots[s].replacement = .accepted(holder: r.holder, contract: r.contract, since: r.since)
                }
                if haveData(p) {
                    sendStore(volume: p, slot: s, now: now, into: &actions)
                } else {
                    startFetch(volume: p, now: now, into: &actions)
                }
            } else {
                slotOfContract[contract] = nil
                if volumes[p].slots[s].holder == from { volumes[p].slots[s].renewalRefused = true }
                clearPending(volume: p, slot: s)
            }
        case let .reject(contract, _):
            guard let ref = slotOfContract[contract], case (let p, let s) = (ref.volume, ref.slot), volumes[p].slots[s].pendingContract == contract,
                  volumes[p].slots[s].pendingHolder == from
            else { break }
            book.drop(ownedID: contract)
            slotOfContract[contract] = nil
            if volumes[p].slots[s].holder == from { volumes[p].slots[s].renewalRefused = true }
            clearPending(volume: p, slot: s)
            requestMatch(volume: p, now: now, into: &actions)
        case let .storeAck(contract, packs):
            guard let ref = slotOfContract[contract] else { break }
            let (p, s) = (ref.volume, ref.slot)
            if volumes[p].slots[s].contract == contract, volumes[p].slots[s].holder == from {
                // An append to the holder in place.
                guard let sent = volumes[p].slots[s].appending, sent.packs == packs else { break }
                volumes[p].slots[s].stored = sent
                volumes[p].slots[s].append = nil
                actions.append(rootRecord(volume: p))
                sendAppend(volume: p, slot: s, now: now, into: &actions)
                settle(volume: p, into: &actions)
                break
            }
            guard volumes[p].slots[s].pendingContract == contract, volumes[p].slots[s].pendingHolder == from,
                  volumes[p].slots[s].pending == .storing, volumes[p].slots[s].pendingExtent.packs == packs
            else { break }
            book.onStoreAck(contract)
            if let old = volumes[p].slots[s].contract, let oldHolder = volumes[p].slots[s].holder {
                releaseReplaced(volume: p, slot: s, contract: old, holder: oldHolder, now: now, into: &actions)
            }
            volumes[p].slots[s] = OwnedSlot(holder: from, contract: contract, contractEnd: book.ownedEnd(contract),
                                            stored: volumes[p].slots[s].pendingExtent)
            actions.append(rootRecord(volume: p))
            sendAppend(volume: p, slot: s, now: now, into: &actions)
            settle(volume: p, into: &actions)
        case let .challengeReply(id, proof):
            onVerdict(challenges.onReply(id: id, from: from, proof: proof), now: now, into: &actions)
        case let .challengeMissing(id):
            onVerdict(challenges.onMissing(id: id, from: from), now: now, into: &actions)
        case let .fetchReply(request, shard, ok, bytes):
            guard let p = volumeIndex[shard.volume] else { break }
            if let g = volumes[p].graceRequests[request] {
                guard g.holder == from, g.index == shard.index else { break }
                if ok {
                    // Counted only once the stream checks against what this holder was given.
                    actions.append(.verifySlot(request: request, slot: shard, from: from, expect: g.extent, bytes: bytes))
                } else {
                    volumes[p].graceRequests[request] = nil
                    // Its grace audit judges the broken promise; here it is only not asked again.
                    volumes[p].graceRefused.append(from)
                    plan(volume: p, now: now, into: &actions)
                }
                break
            }
            guard let s = volumes[p].fetchRequests[request], Int(shard.index) == s, volumes[p].slots[s].holder == from
            else { break }
            if ok {
                actions.append(.verifySlot(request: request, slot: shard, from: from, expect: volumes[p].slots[s].stored,
                                           bytes: bytes))
            } else {
                volumes[p].fetchRequests[request] = nil
                giveUpSource(volume: p, slot: s, holder: from, fault: .missing, now: now, into: &actions)
            }
        case let .uptimeReply(_, entries) where from == .coordinator:
            // The coordinator answers in the order asked (sorted, unique): look entries up by
            // binary search; any other order falls back to a dictionary (the last entry for
            // a node wins, as before).
            let sorted = zip(entries, entries.dropFirst()).allSatisfy { $0.node < $1.node }
            var byNode = [NodeID: UptimeEntry]()
            if !sorted { for e in entries { byNode[e.node] = e } }
            func lookup(_ h: NodeID) -> UptimeEntry? {
                guard sorted else { return byNode[h] }
                var lo = 0, hi = entries.count
                while lo < hi {
                    let mid = (lo + hi) / 2
                    if entries[mid].node < h { lo = mid + 1 } else { hi = mid }
                }
                return lo < entries.count && entries[lo].node == h ? entries[lo] : nil
            }
            for p in volumes.indices where !volumes[p].lost {
                for s in volumes[p].slots.indices {
                    guard let h = volumes[p].slots[s].holder, let e = lookup(h) else { continue }
                    // A contract near the end of its term is replaced like an unhealthy one
                    // (renewal by re-placement).
                    assert(volumes[p].slots[s].contractEnd == volumes[p].slots[s].contract.flatMap { book.ownedEnd($0) },
                           "slot \(s) of volume \(volumes[p].id): contract end out of step with the book")
                    // A contract near its term's end is renewed apart from health (in place,
                    // or re-placed: `requestMatch`).
                    let bad = e.excluded || e.permille < params.uptimeThresholdPermille
                        || volumes[p].slots[s].fetchMisses >= params.fetchMissesMax
                    // Written only when it changes (nearly never): each write through
                    // `volumes[p].slots[s]` checks both arrays for uniqueness.
                    if volumes[p].slots[s].unhealthy != bad { volumes[p].slots[s].unhealthy = bad }
                }
                plan(volume: p, now: now, into: &actions)
            }
        case let .releaseAck(contract):
            releasing[contract] = nil
        case let .warning(level) where from == .coordinator:
            standing = Reputation.Standing(rawValue: level) ?? .excluded

        // Holder side.
        case .propose, .storeSlot, .challenge, .fetch, .release:
            onHolderMessage(from: from, message, now: now, into: &actions)
        default:
            break
        }
    }


    // MARK: Views for checkers and metrics

    public func ownedContract(_ id: ContractID) -> Contract? { book.owned[id] }
    public var auditCount: Int { audits.count }

    /// Holders audited for a shard of `volume` (diagnostics).
    public func auditedHolders(of volume: VolumeID) -> [String] {
        audits.keys.sorted().compactMap { id in
            let a = audits[id]!
            return a.shard.volume == volume ? "\(a.holder)/\(a.shard.index)/until=\(a.until.milliseconds)" : nil
        }
    }
}
