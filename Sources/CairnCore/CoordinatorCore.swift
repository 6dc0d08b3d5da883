import CairnWire
/// Coordinator protocol parameters.
public struct CoordinatorParams: Sendable, Codable {
    public var uptimeSlot: Interval
    public var uptimeSlots: Int
    public var uptimeThresholdPermille: UInt16
    public var warnStrikes: Int
    public var excludeStrikes: Int
    /// After a node announces a lost disk, `missing` reports about contracts older than
    /// the announcement are expected and not counted; a node gets this at most once per
    /// `amnestyEvery`, so announcing losses cannot hide cheating for long.
    public var amnestyEvery: Interval
    /// The network's default code width and its repair trigger: a volume of another
    /// layout is repaired as far below its own n (`RepairPlanner.trigger`).
    public var n: Int
    public var repairTrigger: Int
    /// When an owner has not been heard from for this long, the coordinator orders its
    /// volumes repaired by one of their holders (blind repair: shards are ciphertext).
    public var blindRepairAfter: Interval
    /// How long a blind repair may take before it is ordered again.
    public var blindRepairTimeout: Interval
    /// Blind repairs are considered every this many uptime slots.
    public var blindRepairEverySlots: Int
    /// Messages stamped further than this from the coordinator's clock are refused.
    public var maxClockSkew: Interval

    public init(n: Int = 8, repairTrigger: Int = 8, blindRepairAfter: Interval = .days(3),
                blindRepairTimeout: Interval = .hours(12), blindRepairEverySlots: Int = 6,
                uptimeSlot: Interval = .hours(1), uptimeSlots: Int = 168, uptimeThresholdPermille: UInt16 = 850,
                warnStrikes: Int = 2, excludeStrikes: Int = 4, amnestyEvery: Interval = .days(30),
                maxClockSkew: Interval = .minutes(5)) {
        self.maxClockSkew = maxClockSkew
        self.amnestyEvery = amnestyEvery
        self.n = n
        self.repairTrigger = repairTrigger
        self.blindRepairAfter = blindRepairAfter
        self.blindRepairTimeout = blindRepairTimeout
        self.blindRepairEverySlots = blindRepairEverySlots
        self.uptimeSlot = uptimeSlot
        self.uptimeSlots = uptimeSlots
        self.uptimeThresholdPermille = uptimeThresholdPermille
        self.warnStrikes = warnStrikes
        self.excludeStrikes = excludeStrikes
    }
}

/// The coordinator's state machine: directory, uptime from heartbeats, reputation,
/// matchmaking, root records. Pure; the coordinator actor carries out its actions.
public struct CoordinatorCore: Sendable {
    public internal(set) var params: CoordinatorParams
    public internal(set) var entries: [DirectoryEntry] = []
    /// Joined members in join order (the sampling frame for placement).
    public internal(set) var members: [NodeID] = []
    /// A volume as its owner's root record describes it.
    public struct VolumeRecord: Sendable, Codable {
        public var owner: NodeID
        public var layout: VolumeLayout
        public var slotBytes: UInt64 { layout.slotBytes }
        public var holders: [NodeID]
        /// Packs each holder acknowledged (complete at `layout.packs`).
        public var stored: [UInt32]
        public var roots: [[UInt8]]
        /// A blind repair was ordered and may still be running until then.
        public var blindUntil: Instant? = nil
        /// The last blind repair ordered: who repairs, and which slot goes to which node.
        /// A `blindRepairDone` is accepted only for one of these placements.
        public var blindRepairer: NodeID? = nil
        public var blindTargets: [BlindRepairTarget] = []
    }

    /// Volume → record, from owners' root records (for restores and blind repair).
    public internal(set) var rootRecords: [VolumeID: VolumeRecord] = [:]
    /// Owner → its volumes, in the order their records first arrived.
    var packsByOwner: [NodeID: [VolumeID]] = [:]

    /// A slot a holder reported (`holding`) for a volume whose owner sent this coordinator
    /// no root record: after a lost directory, all that tells a restore where the volumes
    /// of an owner that does not come back are.
    public struct ReportedSlot: Hashable, Sendable, Codable {
        public var holder: NodeID
        public var index: UInt8
        /// The key the owner's signature on the contract checks against.
        public var ownerKey: [UInt8]
        /// The contract's start: of two contracts for one slot under one key, the newer is
        /// the slot's holder now (the older one is a holder in grace).
        public var start: Instant
        /// The code and what this holder stores (packs and their bytes).
        public var layout: VolumeLayout
        public var root: [UInt8]
        /// When the holder may free the slot (its contract's end plus grace): the report is
        /// dropped then. Nil in reports kept from before reports expired: kept (holders
        /// report only once, on coming back to a rebuilt directory, so nothing would
        /// replace them).
        public var until: Instant? = nil
    }

    /// Volume → the slots holders reported, at most one per holder (a holder never has
    /// two slots of one volume). Only volumes without the owner's own record: the owner's
    /// record, when it comes, replaces them and no report is taken for it after.
    public internal(set) var reported: [VolumeID: [ReportedSlot]] = [:]
    /// Owner → its reported volumes, in the order the first report of each arrived.
    var reportedByOwner: [NodeID: [VolumeID]] = [:]
    /// Reports kept per reporter: at most `ProtocolLimits.contractsPerNodeMax` (what one
    /// holder may hold), so a reporter cannot grow the directory beyond what it could hold.
    var reportsBy: [NodeID: Int] = [:]
    /// Owner key → the away owners whose reported slots were signed with it, so that a
    /// restore's connection names its owner without a scan of every away owner (a client
    /// that connects again and again with made-up keys would otherwise cost that scan each
    /// time). Derived from `reported`: rebuilt with each sweep and after a checkpoint.
    var reportedOwnersByKey: [[UInt8]: [NodeID]] = [:]
    /// A contract a blind repairer made in an owner's name, with both signatures.
    public struct Adoption: Hashable, Sendable, Codable {
        public var terms: ContractTerms
        public var ownerSignature: [UInt8]
        public var holderSignature: [UInt8]
        /// Times offered to the owner so far (one per heartbeat of its).
        public var offers = 0

        public init(terms: ContractTerms, ownerSignature: [UInt8], holderSignature: [UInt8]) {
            self.terms = terms
            self.ownerSignature = ownerSignature
            self.holderSignature = holderSignature
        }

        private enum CodingKeys: String, CodingKey { case terms, ownerSignature, holderSignature, offers }

        /// Checkpoints from before `offers` read as never offered.
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            terms = try c.decode(ContractTerms.self, forKey: .terms)
            ownerSignature = try c.decode([UInt8].self, forKey: .ownerSignature)
            holderSignature = try c.decode([UInt8].self, forKey: .holderSignature)
            offers = try c.decodeIfPresent(Int.self, forKey: .offers) ?? 0
        }
    }

    /// Uptime slots (besides the current one) a holder must have answered for a report of
    /// a refused fetch to count: an owner's fetch waits a repair timeout (6 h) and the
    /// transfer before it is a miss. Not enough alone: the holder's session must also span
    /// the fetch (`upAcross`).
    public static let refusalWindowSlots = 7

    /// Heartbeats of the owner an adoption is offered on before it is dropped: an owner
    /// that is back adopts at the first (its root record then shows it); one that keeps
    /// not showing it has replaced that holder since, and offering it for ever only made
    /// it adopt a contract it had released (its holder had freed the shard meanwhile).
    public static let adoptionOffersMax = 48

    /// Contracts made on an away owner's behalf, offered to it until its root record shows
    /// them (or `adoptionOffersMax` times).
    public internal(set) var adoptions: [NodeID: [Adoption]] = [:]
    var slotsClosed = 0
    var rng: Xoshiro256
    /// Signs repair mandates; nodes know its public key from their configuration.
    let signer: any ContractSigner
    let verifier: any SignatureVerifier

    public init(params: CoordinatorParams, signer: any ContractSigner, verifier: any SignatureVerifier, rng: Xoshiro256) {
        self.params = params
        self.signer = signer
        self.verifier = verifier
        self.rng = rng
    }

    /// The key nodes check repair mandates against.
    public var publicKey: [UInt8] { signer.publicKey }

    public func entry(_ node: NodeID) -> DirectoryEntry? {
        node.index < entries.count ? entries[node.index] : nil
    }

    public mutating func onStart(now: Instant) -> [CoordinatorAction] {
        [.setTimer(.uptimeSlot, at: now + params.uptimeSlot)]
    }

    /// Assigns the next node number, for a node the coordinator admits (production: at
    /// its first contact, after the session has authenticated its key). Only admitted
    /// numbers are ever looked up or stored, so a hostile message naming any other number
    /// is dropped and cannot make the directory grow.
    public mutating func admit() -> NodeID {
        precondition(entries.count < Int(NodeID.coordinator.raw), "the directory is full")
        entries.append(DirectoryEntry(slots: params.uptimeSlots))
        return NodeID(UInt32(entries.count - 1))
    }

    /// Admits `node` by its number (a member coming back to a coordinator that lost its
    /// directory): numbers below it not seen yet stay free for their own owners, and new
    /// members are numbered after it.
    public mutating func admit(exactly node: NodeID) {
        precondition(node.index < Int(NodeID.coordinator.raw), "node number \(node.raw) out of range")
        while entries.count <= node.index { entries.append(DirectoryEntry(slots: params.uptimeSlots)) }
    }

    private func admitted(_ node: NodeID) -> Bool { node != .coordinator && node.index < entries.count }

    /// A message `from` a node, stamped `sent` by the node's clock.
    public mutating func onMessage(from: NodeID, _ message: Message, sent: Instant, now: Instant) -> [CoordinatorAction] {
        var actions = [CoordinatorAction]()
        onMessage(from: from, message, sent: sent, now: now, into: &actions)
        return actions
    }

    /// A heartbeat that changes nothing but when its node was last heard from and what it
    /// uses — nearly every one: applied in place, with no action buffer. False when it must
    /// go through `onMessage` instead (an adoption to offer, a clock out of bounds, a node
    /// not admitted), which then does exactly what it always did.
    public mutating func onQuietHeartbeat(from: NodeID, used: UInt64, sent: Instant, now: Instant) -> Bool {
        guard admitted(from), adoptions.isEmpty || adoptions[from] == nil,
              sent.within(params.maxClockSkew, of: now)
        else { return false }
        entries[from.index].lastSeen = now
        entries[from.index].seenThisSlot = true
        entries[from.index].used = used
        return true
    }

    /// `onMessage` appending to a caller's buffer.
    public mutating func onMessage(from: NodeID, _ message: Message, sent: Instant, now: Instant,
                                   into actions: inout [CoordinatorAction])
    {
        guard from != .coordinator else { return }
        guard sent.within(params.maxClockSkew, of: now) else {
            actions.append(.note(.clockSkew(from: from, by: sent - now)))
            return
        }
        if case let .recordQuery(request, owner, start) = message {
            // A restore may come from a device that is not a member (a new machine with the
            // phrase): answered without entering it in the directory. Root records hold no
            // secrets (holders and Merkle roots of ciphertext).
            actions.append(.send(to: from, locations(request: request, owner: owner, start: start, now: now)))
            return
        }
        guard admitted(from) else {
            actions.append(.note(.unknownNode(from)))
            return
        }
        entries[from.index].lastSeen = now
        entries[from.index].seenThisSlot = true
        switch message {
        case let .join(offered, speed, publicKey, fresh):
            entries[from.index].sessionStart = now
            if fresh, entries[from.index].joined,
               entries[from.index].amnestyFrom.map({ now - $0 >= params.amnestyEvery }) ?? true
            {
                entries[from.index].amnestyFrom = now
            }
            // A holder back with an empty disk holds none of what it reported.
            if fresh, reportsBy[from] != nil { dropReports { $0.holder == from } }
            if !entries[from.index].joined {
                entries[from.index].joined = true
                members.append(from)
            }
            entries[from.index].offered = offered
            entries[from.index].speed = speed
            entries[from.index].publicKey = publicKey
        case let .heartbeat(used):
            entries[from.index].used = used
            // Nearly always none pending: skip the lookup (hashing a node id) on every heartbeat.
            if !adoptions.isEmpty, var pending = adoptions[from] {
                for i in pending.indices {
                    actions.append(.send(to: from, .adopt(terms: pending[i].terms, ownerSignature: pending[i].ownerSignature,
                                                          holderSignature: pending[i].holderSignature)))
                    pending[i].offers += 1
                }
                pending.removeAll { $0.offers >= Self.adoptionOffersMax }
                adoptions[from] = pending.isEmpty ? nil : pending
            }
        case let .matchRequest(request, volume, slotBytes, count, speed, exclude):
            let chosen: [NodeID]
            if entries[from.index].reputation.standing == .excluded {
                chosen = []
            } else {
                chosen = Placement.choose(
                    .init(owner: from, count: Int(count), slotBytes: slotBytes, speed: speed, exclude: exclude),
                    members: members, entries: entries, now: now, thresholdPermille: params.uptimeThresholdPermille,
                    recentWithin: params.uptimeSlot * 2, rng: &rng)
            }
            var candidates = [Candidate]()
            for node in chosen {
                entries[node.index].used += slotBytes
                candidates.append(Candidate(node: node, publicKey: entries[node.index].publicKey))
            }
            actions.append(.send(to: from, .matchReply(request: request, volume: volume, candidates: candidates)))
        case let .uptimeQuery(request, nodes):
            var out = [UptimeEntry]()
            out.reserveCapacity(nodes.count)
            // Read in place (a copied entry would retain and release its key). A number
            // never admitted is no member: reported as excluded, so it is placed around.
            entries.withUnsafeBufferPointer { e in
                for node in nodes where node != .coordinator {
                    let i = node.index
                    guard i < e.count else {
                        out.append(UptimeEntry(node: node, permille: 0, excluded: true))
                        continue
                    }
                    out.append(UptimeEntry(node: node, permille: e[i].uptime.permille,
                                           excluded: e[i].reputation.standing == .excluded))
                }
            }
            actions.append(.send(to: from, .uptimeReply(request: request, entries: out)))
        case let .report(holder, fault, since):
            guard admitted(holder), holder != from else { break }
            // A fetch unanswered by a node that was not up is not a refusal.
            if fault == .refusedFetch, !upAcross(fetchSent: since, holder: holder, now: now) { break }
            // Shards of contracts older than an announced disk loss are gone honestly.
            if fault == .missing || fault == .earlyFree, let lost = entries[holder.index].amnestyFrom, since <= lost {
                break
            }
            actions.append(.note(.fault(holder: holder, fault)))
            if let standing = entries[holder.index].reputation.onFault(
                fault, now: now, warnAt: params.warnStrikes, excludeAt: params.excludeStrikes)
            {
                actions.append(.note(.standing(holder, standing)))
                actions.append(.send(to: holder, .warning(level: standing.rawValue)))
            }
        case let .rootRecord(location):
            let (volume, holders) = (location.volume, location.holders)
            // A volume's id names its owner: nobody else can record where it lives.
            guard volume.owner == from else { break }
            if let existing = rootRecords[volume], existing.owner != from { break }
            if rootRecords[volume] == nil { packsByOwner[from, default: []].append(volume) }
            forgetReports(of: volume)
            var record = VolumeRecord(owner: from, layout: location.layout, holders: holders, stored: location.stored,
                                      roots: location.roots)
            if let old = rootRecords[volume] {
                record.blindUntil = old.blindUntil
                record.blindRepairer = old.blindRepairer
                record.blindTargets = old.blindTargets
            }
            rootRecords[volume] = record
            // Adoptions the owner's record now reflects are done.
            if var pending = adoptions[from] {
                pending.removeAll { a in
                    a.terms.shard.volume == volume && Int(a.terms.shard.index) < holders.count
                        && holders[Int(a.terms.shard.index)] == a.terms.holder
                }
                adoptions[from] = pending.isEmpty ? nil : pending
            }
        case let .holding(report):
            onHolding(report, from: from, now: now)
        case let .blindRepairDone(terms, ownerSignature, holderSignature):
            // Only a placement this coordinator ordered, reported by the node it ordered or
            // by the target itself (its word is all the repairer's report rests on too),
            // with both signatures checking against the directory's keys: the repairer's on
            // the terms it proposed in the owner's name, the target's on its acceptance.
            guard var record = rootRecords[terms.shard.volume], record.owner == terms.owner,
                  Int(terms.shard.index) < record.holders.count, let repairer = record.blindRepairer,
                  from == repairer || from == terms.holder, repairer.index < entries.count,
                  let t = record.blindTargets.firstIndex(where: { $0.slot == terms.shard.index && $0.node == terms.holder }),
                  terms.holder != .coordinator, terms.holder.index < entries.count,
                  verifier.verify(signature: ownerSignature, message: terms.signingBytes,
                                  publicKey: entries[repairer.index].publicKey),
                  verifier.verify(signature: holderSignature, message: terms.signingBytes,
                                  publicKey: entries[terms.holder.index].publicKey)
            else { break }
            record.blindTargets.remove(at: t)
            record.holders[Int(terms.shard.index)] = terms.holder
            record.stored[Int(terms.shard.index)] = record.layout.packs
            rootRecords[terms.shard.volume] = record
            adoptions[terms.owner, default: []].append(Adoption(terms: terms, ownerSignature: ownerSignature,
                                                               holderSignature: holderSignature))
            actions.append(.note(.blindRepaired(terms.shard)))
        default:
            break
        }
    }

    /// Whether `holder` was demonstrably up from a fetch sent at `fetchSent` (the owner's
    /// clock) to now, so that leaving it unanswered was a refusal: its current session
    /// (its last `join`) began before the fetch, by more than the clock skew allowed, and
    /// it has been heard from since, lately and in each of the last `refusalWindowSlots`.
    /// A session that ended meanwhile shows as a later `join`, or, if the node is still
    /// away, as silence. Answering every uptime slot is not enough: under harsh churn
    /// (sessions of minutes to hours) a heartbeat answers each hour while the holder was
    /// away when the fetch came, and 37 to 197 of 300 honest nodes were excluded in 180
    /// days of the research sweeps (an excluded node can place nothing).
    func upAcross(fetchSent: Instant, holder: NodeID, now: Instant) -> Bool {
        let e = entries[holder.index]
        guard let start = e.sessionStart, let seen = e.lastSeen, fetchSent <= now else { return false }
        return start + params.maxClockSkew <= fetchSent && now - seen <= params.uptimeSlot * 2
            && e.uptime.answeredLast(Self.refusalWindowSlots)
    }

    /// Holders of `owner`'s volumes not heard from lately, each once, in number order: whom
    /// to tell that an owner is waiting for them (the operator notification).
    public func offlineHolders(of owner: NodeID, now: Instant) -> [NodeID] {
        var out = [NodeID]()
        for volume in packsByOwner[owner] ?? [] {
            for h in rootRecords[volume]?.holders ?? [] where admitted(h) && !recentlySeen(h, now: now) {
                out.append(h)
            }
        }
        out.sort()
        var unique = [NodeID]()
        for h in out where unique.last != h { unique.append(h) }
        return unique
    }

    /// One page of `owner`'s volume locations, in the order their records first arrived
    /// (then the volumes known only from holders' reports, `reportedLocation`), each
    /// marking the holders heard from lately (`recentlySeen`; a restore asks those first).
    private func locations(request: UInt64, owner: NodeID, start: UInt32, now: Instant) -> Message {
        let recorded = packsByOwner[owner] ?? []
        let key = reportedKey(of: owner)
        var volumes = recorded
        var fromReports: [VolumeID: VolumeLocation] = [:]
        if let key {
            for volume in reportedByOwner[owner] ?? [] {
                guard let location = reportedLocation(volume, key: key) else { continue }
                volumes.append(volume)
                fromReports[volume] = location
            }
        }
        let from = min(Int(start), volumes.count)
        let page = volumes[from..<min(volumes.count, from + ProtocolLimits.locationsPerReplyMax)].compactMap { volume in
            let location = rootRecords[volume].map { record in
                VolumeLocation(volume: volume, layout: record.layout, holders: record.holders, stored: record.stored,
                               roots: record.roots)
            } ?? fromReports[volume]
            return location.map { l in
                var online: UInt64 = 0
                for (s, holder) in l.holders.enumerated() where s < 64 && recentlySeen(holder, now: now) {
                    online |= 1 << UInt64(s)
                }
                return VolumeLocation(volume: volume, layout: l.layout, holders: l.holders, stored: l.stored, roots: l.roots,
                                      online: online)
            }
        }
        return .recordReply(request: request, start: UInt32(from), total: UInt32(volumes.count), volumes: page)
    }

    // MARK: Holders' reports (a directory rebuilt without its owners)

    /// Takes a holder's report of a slot it holds, when everything in it checks: the
    /// reporter is the contract's holder, the volume is the contract's owner's and has no
    /// record from the owner itself (the owner's word wins over any holder's), the owner's
    /// signature checks against the key reported (and that key is the owner's, if this
    /// directory knows the owner), and the reporter is within its bound.
    /// A refused report is dropped without a note (nothing the owner or the operator could act on).
    /// A contract whose grace has ended (the holder may have freed the slot) is no report.
    mutating func onHolding(_ report: HeldSlotReport, from: NodeID, now: Instant) {
        let terms = report.terms, volume = report.terms.shard.volume, index = report.terms.shard.index
        let until = terms.graceEnd
        guard until > now, terms.holder == from, terms.owner != from, terms.owner != .coordinator, volume.owner == terms.owner,
              rootRecords[volume] == nil, Int(index) < report.layout.n, report.root.count == PackGeometry.hashBytes,
              !report.ownerKey.isEmpty, report.layout.packs > 0
        else { return }
        if let known = entry(terms.owner)?.publicKey, !known.isEmpty, known != report.ownerKey { return }
        let existing = reported[volume]?.firstIndex { $0.holder == from }
        guard existing != nil || reportsBy[from, default: 0] < ProtocolLimits.contractsPerNodeMax,
              verifier.verify(signature: report.ownerSignature, message: terms.signingBytes, publicKey: report.ownerKey)
        else { return }
        let slot = ReportedSlot(holder: from, index: index, ownerKey: report.ownerKey, start: terms.start,
                                layout: report.layout, root: report.root, until: until)
        if !(reportedOwnersByKey[report.ownerKey]?.contains(terms.owner) ?? false) {
            reportedOwnersByKey[report.ownerKey, default: []].append(terms.owner)
        }
        if let existing {
            reported[volume]![existing] = slot
            return
        }
        if reported[volume] == nil { reportedByOwner[terms.owner, default: []].append(volume) }
        reported[volume, default: []].append(slot)
        reportsBy[from, default: 0] += 1
    }

    /// Drops every report `drop` says yes to, with the counts and indexes that follow from
    /// them. Volumes in sorted order: what is left does not depend on the dictionary's.
    private mutating func dropReports(where drop: (ReportedSlot) -> Bool) {
        guard !reported.isEmpty else { return }
        var dropped = false
        for volume in reported.keys.sorted() {
            var slots = reported[volume]!
            let before = slots.count
            slots.removeAll { s in
                guard drop(s) else { return false }
                uncount(s)
                return true
            }
            guard slots.count != before else { continue }
            dropped = true
            if slots.isEmpty { unlist(volume) } else { reported[volume] = slots }
        }
        if dropped { rebuildReportedKeys() }
    }

    /// A reported slot is no longer kept: its reporter's count goes down.
    private mutating func uncount(_ s: ReportedSlot) {
        reportsBy[s.holder, default: 1] -= 1
        if reportsBy[s.holder] == 0 { reportsBy[s.holder] = nil }
    }

    /// No report of `volume` is kept any more: it leaves its owner's list.
    private mutating func unlist(_ volume: VolumeID) {
        reported[volume] = nil
        reportedByOwner[volume.owner]?.removeAll { $0 == volume }
        if reportedByOwner[volume.owner]?.isEmpty == true { reportedByOwner[volume.owner] = nil }
    }

    /// `reportedOwnersByKey` from `reported`, owners in number order.
    mutating func rebuildReportedKeys() {
        var index: [[UInt8]: [NodeID]] = [:]
        for owner in reportedByOwner.keys.sorted() {
            for volume in reportedByOwner[owner] ?? [] {
                for s in reported[volume] ?? [] where !(index[s.ownerKey]?.contains(owner) ?? false) {
                    index[s.ownerKey, default: []].append(owner)
                }
            }
        }
        reportedOwnersByKey = index
    }

    /// Reports whose slots their holders may have freed by now (grace over) are dropped,
    /// and so are those of a holder that came back with an empty disk.
    mutating func expireReports(now: Instant) {
        dropReports { s in s.until.map { $0 <= now } ?? false }
    }

    /// The owner's record came: what holders reported of the volume is dropped.
    private mutating func forgetReports(of volume: VolumeID) {
        guard let slots = reported[volume] else { return }
        for s in slots { uncount(s) }
        unlist(volume)
    }

    /// The key holders' reports name for `owner`: the one its directory entry has, else the
    /// one most reported slots were signed with (a holder that forges contracts under a
    /// key of its own is outnumbered by the owner's real holders; ties go to the smaller
    /// key, so the answer does not depend on arrival order).
    func reportedKey(of owner: NodeID) -> [UInt8]? {
        if let known = entry(owner)?.publicKey, !known.isEmpty { return known }
        var count: [[UInt8]: Int] = [:]
        for volume in reportedByOwner[owner] ?? [] {
            for s in reported[volume] ?? [] { count[s.ownerKey, default: 0] += 1 }
        }
        return count.max { a, b in a.value != b.value ? a.value < b.value : b.key.lexicographicallyPrecedes(a.key) }?.key
    }

    /// Where a volume is, from its holders' reports under `key`: the layout at least k
    /// holders agree on (a lying holder cannot shrink or stretch the volume for the
    /// others), each slot's newest contract's holder among them, each with every pack of
    /// that layout. Nil when fewer than k agree: no restore could use it.
    public func reportedLocation(_ volume: VolumeID, key: [UInt8]) -> VolumeLocation? {
        guard let slots = reported[volume] else { return nil }
        var groups: [VolumeLayout: [ReportedSlot]] = [:]
        for s in slots where s.ownerKey == key { groups[s.layout, default: []].append(s) }
        var best: (layout: VolumeLayout, slots: [ReportedSlot])?
        for (layout, members) in groups {
            let distinct = Set(members.map(\.index)).count
            guard distinct >= layout.k else { continue }
            if let b = best {
                let bd = Set(b.slots.map(\.index)).count
                // Most slots, then the most packs, then the smaller code, then the rest of the
                // layout (smaller first: those fields swap sides): a total order, so which
                // group wins never depends on the dictionary's.
                if (distinct, layout.packs, b.layout.n, b.layout.k, b.layout.slotBytes)
                    <= (bd, b.layout.packs, layout.n, layout.k, layout.slotBytes) { continue }
            }
            best = (layout, members)
        }
        guard let (layout, members) = best else { return nil }
        var holders = Array(repeating: NodeID.coordinator, count: layout.n)
        var stored = Array(repeating: UInt32(0), count: layout.n)
        var roots = Array(repeating: [UInt8](), count: layout.n)
        var starts = Array(repeating: Instant.zero, count: layout.n)
        for s in members.sorted(by: { $0.holder < $1.holder }) {
            let i = Int(s.index)
            guard holders[i] == .coordinator || s.start > starts[i] else { continue }
            holders[i] = s.holder
            stored[i] = layout.packs
            roots[i] = s.root
            starts[i] = s.start
        }
        return VolumeLocation(volume: volume, layout: layout, holders: holders, stored: stored, roots: roots)
    }

    /// The away owner whose holders' reports name `key` (a restore on a new machine, with
    /// that key from the phrase, asking a rebuilt directory for its number): an owner not
    /// in the directory with at least one volume a restore could use under that key.
    public func reportedOwner(key: [UInt8]) -> NodeID? {
        for owner in (reportedOwnersByKey[key] ?? []).sorted() where entry(owner)?.publicKey.isEmpty ?? true {
            guard reportedKey(of: owner) == key else { continue }
            if reportedByOwner[owner]?.contains(where: { reportedLocation($0, key: key) != nil }) == true { return owner }
        }
        return nil
    }

    /// Closes one uptime slot for every member: answered if the node was heard from.
    public mutating func onTimer(_ timer: TimerKind, now: Instant) -> [CoordinatorAction] {
        var actions = [CoordinatorAction]()
        if timer == .uptimeSlot {
            for node in members {
                entries[node.index].uptime.record(answered: entries[node.index].seenThisSlot)
                entries[node.index].seenThisSlot = false
            }
            actions.append(.setTimer(.uptimeSlot, at: now + params.uptimeSlot))
            slotsClosed += 1
            expireReports(now: now)
            if slotsClosed % params.blindRepairEverySlots == 0 {
                orderBlindRepairs(now: now, into: &actions)
            }
        }
        return actions
    }

    /// Heard from (a heartbeat or any other message) within one and a half uptime slots: a
    /// node up sends a heartbeat every slot, jitter allowed for; one gone since longer is
    /// asked last.
    public func recentlySeen(_ node: NodeID, now: Instant) -> Bool {
        guard node != .coordinator, node.index < entries.count else { return false }
        return entries[node.index].lastSeen.map { (now - $0) * 2 <= params.uptimeSlot * 3 } ?? false
    }

    /// A holder counts as healthy for blind repair when its uptime is good, it is not
    /// excluded, and it was heard from in the last two slots.
    private func healthyHolder(_ node: NodeID, now: Instant) -> Bool {
        guard node != .coordinator, node.index < entries.count else { return false }
        let i = node.index
        return entries[i].reputation.standing != .excluded && entries[i].uptime.permille >= params.uptimeThresholdPermille
            && (entries[i].lastSeen.map { now - $0 <= params.uptimeSlot * 2 } ?? false)
    }

    /// Takes the operator's `blindRepairAfter` (a coordinator restarted from its checkpoint
    /// with another setting): it only decides when an away owner's volumes are repaired,
    /// so it can change at any time, unlike the uptime slots the directory was measured in.
    public mutating func setBlindRepairAfter(_ after: Interval) {
        precondition(after > .zero, "blind repair after \(after)")
        params.blindRepairAfter = after
    }

    /// For every owner away longer than `blindRepairAfter`, orders the repair of its volumes
    /// that fell below the trigger from one of their healthy holders.
    private mutating func orderBlindRepairs(now: Instant, into actions: inout [CoordinatorAction]) {
        for owner in members {
            guard let seen = entries[owner.index].lastSeen, now - seen >= params.blindRepairAfter,
                  let volumes = packsByOwner[owner]
            else { continue }
            for volume in volumes {
                guard var record = rootRecords[volume] else { continue }
                if let until = record.blindUntil, until > now { continue }
                // Only a holder with every pack is a source.
                let healthy = record.holders.indices.map {
                    record.stored[$0] == record.layout.packs && healthyHolder(record.holders[$0], now: now)
                }
                let count = healthy.count { $0 }
                guard count >= record.layout.k,
                      count < RepairPlanner.trigger(for: record.layout, n: params.n, trigger: params.repairTrigger)
                else { continue }
                let missing = healthy.indices.filter { !healthy[$0] }
                let chosen = Placement.choose(
                    .init(owner: owner, count: missing.count, slotBytes: record.slotBytes, speed: entries[owner.index].speed,
                          exclude: record.holders.filter { $0 != .coordinator }.sorted()),
                    members: members, entries: entries, now: now, thresholdPermille: params.uptimeThresholdPermille,
                    recentWithin: params.uptimeSlot * 2, rng: &rng)
                guard !chosen.isEmpty, let repairer = healthy.indices.first(where: { healthy[$0] }).map({ record.holders[$0] })
                else { continue }
                let expires = now + params.blindRepairTimeout
                var targets = [BlindRepairTarget]()
                for (slot, node) in zip(missing, chosen) {
                    entries[node.index].used += record.slotBytes
                    let permission = BlindRepairMandate.signingBytes(
                        volume: volume, slot: UInt8(slot), owner: owner, repairer: repairer,
                        repairerKey: entries[repairer.index].publicKey, holder: node, expires: expires)
                    targets.append(BlindRepairTarget(slot: UInt8(slot), node: node, publicKey: entries[node.index].publicKey,
                                                root: record.roots[slot],
                                                mandate: BlindRepairMandate(expires: expires, signature: signer.sign(permission))))
                }
                let sources = record.holders.indices.map { healthy[$0] ? record.holders[$0] : NodeID.coordinator }
                record.blindUntil = expires
                record.blindRepairer = repairer
                record.blindTargets = targets
                rootRecords[volume] = record
                actions.append(.send(to: repairer, .blindRepairOrder(volume: volume, owner: owner, layout: record.layout,
                                                                 sources: sources, roots: record.roots, targets: targets)))
                actions.append(.note(.blindRepairOrdered(volume)))
            }
        }
    }
}
