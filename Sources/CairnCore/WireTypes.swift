import CairnWire
internal import CairnCrypto

/// What an owner and a holder agree on. Both sign `signingBytes`.
public struct ContractTerms: Hashable, Sendable, Codable {
    public var id: ContractID
    public var owner: NodeID
    public var holder: NodeID
    public var shard: SlotID
    public var bytes: UInt64
    public var start: Instant
    public var term: Interval
    public var grace: Interval

    public init(id: ContractID, owner: NodeID, holder: NodeID, shard: SlotID, bytes: UInt64,
                start: Instant, term: Interval, grace: Interval) {
        self.id = id
        self.owner = owner
        self.holder = holder
        self.shard = shard
        self.bytes = bytes
        self.start = start
        self.term = term
        self.grace = grace
    }

    public var end: Instant { start + term }
    /// When the holder frees the shard if no release ever reached it: it enters grace at
    /// the term's end by itself.
    public var graceEnd: Instant { end + grace }

    static let domain: [UInt8] = Array("cairn-contract-v1".utf8)

    /// Domain-separated encoding that both parties sign.
    public var signingBytes: [UInt8] {
        var w = ByteWriter(capacity: 80)
        w.raw(Self.domain)
        encode(into: &w)
        return w.bytes
    }

    func encode(into w: inout ByteWriter) {
        w.u64(id.raw)
        w.u32(owner.raw)
        w.u32(holder.raw)
        shard.volume.write(into: &w)
        w.u8(shard.index)
        w.u64(bytes)
        w.i64(start.milliseconds)
        w.i64(term.milliseconds)
        w.i64(grace.milliseconds)
    }

    static func decode(from r: inout ByteReader) throws(DecodeError) -> ContractTerms {
        let at = r.offset
        let t = ContractTerms(
            id: ContractID(try r.u64()), owner: NodeID(try r.u32()), holder: NodeID(try r.u32()),
            shard: SlotID(volume: try VolumeID(reading: &r), index: try r.u8()), bytes: try r.u64(),
            start: Instant(milliseconds: try r.i64()), term: Interval(milliseconds: try r.i64()),
            grace: Interval(milliseconds: try r.i64()))
        guard t.term.milliseconds > 0, t.grace.milliseconds >= 0, t.owner != t.holder,
              Int(t.shard.index) < ProtocolLimits.slotsPerVolumeMax
        else { throw DecodeError(.badValue, "contract terms out of range", offset: at) }
        return t
    }
}

/// Why a challenge or fetch counted against a holder; also the adversary kinds.
public enum FaultKind: UInt8, Sendable, CaseIterable, Comparable, Codable {
    case badProof = 1, missing, earlyFree, refusedFetch

    public static func < (a: FaultKind, b: FaultKind) -> Bool { a.rawValue < b.rawValue }
}

/// A candidate holder offered by the coordinator.
public struct Candidate: Hashable, Sendable {
    public var node: NodeID
    public var publicKey: [UInt8]
    public init(node: NodeID, publicKey: [UInt8]) {
        self.node = node
        self.publicKey = publicKey
    }
}

/// A slot a blind repair re-creates: on which node, the root the shard must have, and the
/// coordinator's mandate the repairer shows that node.
public struct BlindRepairTarget: Hashable, Sendable, Codable {
    public var slot: UInt8
    public var node: NodeID
    public var publicKey: [UInt8]
    public var root: [UInt8]
    public var mandate: BlindRepairMandate
    public init(slot: UInt8, node: NodeID, publicKey: [UInt8], root: [UInt8], mandate: BlindRepairMandate) {
        self.slot = slot
        self.node = node
        self.publicKey = publicKey
        self.root = root
        self.mandate = mandate
    }
}

/// One volume of an owner's root record as the coordinator keeps it: enough for a restore
/// or a blind repair to find and check the volume's slots (`NodeID.coordinator` marks an
/// empty slot).
public struct VolumeLocation: Hashable, Sendable {
    public let volume: VolumeID
    /// The code, and every pack appended so far.
    public let layout: VolumeLayout
    /// One per slot (`layout.n`), by construction.
    public let holders: [NodeID]
    /// How many packs each holder has acknowledged (a slot is complete at `layout.packs`).
    public let stored: [UInt32]
    /// Each slot's tree root over all `layout.packs` packs.
    public let roots: [[UInt8]]
    /// Slots (bit s for slot s) whose holder the coordinator heard from lately: filled in
    /// record replies, so a restore asks those first; always 0 in an owner's root record
    /// (not encoded there: only the coordinator knows who is up).
    public let online: UInt64
    public init(volume: VolumeID, layout: VolumeLayout, holders: [NodeID], stored: [UInt32], roots: [[UInt8]],
                online: UInt64 = 0) {
        precondition(holders.count == layout.n && roots.count == layout.n && stored.count == layout.n,
                     "volume location of \(holders.count) holders, \(stored.count) counts, \(roots.count) roots for n=\(layout.n)")
        precondition(layout.n >= 64 || online >> UInt64(layout.n) == 0, "online mask \(online) for n=\(layout.n)")
        self.online = online
        self.volume = volume
        self.layout = layout
        self.holders = holders
        self.stored = stored
        self.roots = roots
    }
    public var slotBytes: UInt64 { layout.slotBytes }

    /// Whether the coordinator saw slot `s`'s holder online when it answered.
    public func seenOnline(_ s: Int) -> Bool { s < 64 && online & (1 << UInt64(s)) != 0 }

    /// The holder of slot `s` when it has every pack (a source for a restore or a rebuild).
    public func completeHolder(_ s: Int) -> NodeID? {
        holders[s] != .coordinator && stored[s] == layout.packs && layout.packs > 0 ? holders[s] : nil
    }
}

/// A slot a holder holds, as it reports it to a coordinator rebuilding its directory: the
/// contract with the owner's signature and the key it checks against (so the coordinator
/// believes the slot is the owner's without having heard from the owner), the code and
/// what is stored (`layout.packs` and `layout.slotBytes` are the holder's: the packs it
/// acknowledged and their bytes) and the slot's root over those packs.
public struct HeldSlotReport: Hashable, Sendable {
    public var terms: ContractTerms
    public var ownerKey: [UInt8]
    public var ownerSignature: [UInt8]
    public var layout: VolumeLayout
    public var root: [UInt8]
    public init(terms: ContractTerms, ownerKey: [UInt8], ownerSignature: [UInt8], layout: VolumeLayout, root: [UInt8]) {
        self.terms = terms
        self.ownerKey = ownerKey
        self.ownerSignature = ownerSignature
        self.layout = layout
        self.root = root
    }
}

/// Uptime of one node as the coordinator measured it.
public struct UptimeEntry: Hashable, Sendable {
    public var node: NodeID
    /// Answered probes per thousand over the window.
    public var permille: UInt16
    public var excluded: Bool
    public init(node: NodeID, permille: UInt16, excluded: Bool) {
        self.node = node
        self.permille = permille
        self.excluded = excluded
    }
}

/// A holder's answer to a challenge: the asked segment of pack `pack`'s shard in the slot,
/// its path to that shard's root, the root and the pack's geometry, and the path from the
/// pack's leaf to the slot's root. The owner checks both paths against the one slot root it
/// kept, so it needs nothing per pack.
public struct SegmentProof: Hashable, Sendable {
    public var segment: [UInt8]
    /// From the segment's leaf up to `packRoot`.
    public var path: [[UInt8]]
    public var packRoot: [UInt8]
    public var geometry: PackGeometry
    /// From the pack's leaf (`SlotTree.leaf`) up to the slot's root.
    public var packPath: [[UInt8]]

    public init(segment: [UInt8], path: [[UInt8]], packRoot: [UInt8], geometry: PackGeometry, packPath: [[UInt8]]) {
        self.segment = segment
        self.path = path
        self.packRoot = packRoot
        self.geometry = geometry
        self.packPath = packPath
    }

    /// The segment a selector names in a pack of this geometry (the challenger cannot know
    /// each pack's segment count; the holder's answer commits to it through the leaf).
    public static func segment(selector: UInt32, of geometry: PackGeometry) -> UInt32 {
        selector % max(geometry.segments, 1)
    }

    /// True when this proves segment `selector` of pack `pack` of a slot whose tree has
    /// `packs` leaves and root `slotRoot`. Every field is hostile: false, never a trap.
    public func verify(pack: UInt32, packs: UInt32, selector: UInt32, slotRoot: [UInt8]) -> Bool {
        guard pack < packs, packRoot.count == MerkleTree.hashLength, geometry.segments > 0 else { return false }
        let index = Self.segment(selector: selector, of: geometry)
        // The segment's length needs no check of its own: the root was computed from
        // segments of the geometry's length, and only those verify.
        guard MerkleProof(segmentIndex: Int(index), segmentCount: Int(geometry.segments), siblings: path)
                  .verify(segment: segment, root: packRoot)
        else { return false }
        return MerkleProof(segmentIndex: Int(pack), segmentCount: Int(packs), siblings: packPath)
            .verify(leaf: SlotTree.leaf(root: packRoot, geometry: geometry), root: slotRoot)
    }
}
