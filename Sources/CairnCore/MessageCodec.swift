import CairnWire
internal import CairnCrypto

/// The bytes of a message: header, then a body per type, every read bounded.
extension Message {
    /// Header: version u8, type u8, sent i64 (the sender's clock, UTC milliseconds, when the
    /// message finished leaving it), body length u32; then the body.
    public static let headerBytes = 14

    /// The bytes of this message as sent at `sent` by the sender's clock. Receivers refuse
    /// a message whose stamp is further from their own clock than their bound allows.
    public func encode(sent: Instant) -> [UInt8] {
        var body = ByteWriter(capacity: 64)
        switch self {
        case let .join(offered, speed, publicKey, fresh):
            body.u64(offered)
            body.u32(speed)
            body.blob(publicKey, max: ProtocolLimits.publicKeyBytesMax)
            body.bool(fresh)
        case let .heartbeat(used):
            body.u64(used)
        case let .warning(level):
            body.u8(level)
        case let .matchRequest(request, volume, slotBytes, count, speed, exclude):
            body.u64(request)
            volume.write(into: &body)
            body.u64(slotBytes)
            body.u8(count)
            body.u32(speed)
            Self.nodes(exclude, into: &body)
        case let .matchReply(request, volume, candidates):
            body.u64(request)
            volume.write(into: &body)
            precondition(candidates.count <= ProtocolLimits.nodesPerMessageMax, "matchReply of \(candidates.count)")
            body.u16(UInt16(candidates.count))
            for c in candidates {
                body.u32(c.node.raw)
                body.blob(c.publicKey, max: ProtocolLimits.publicKeyBytesMax)
            }
        case let .propose(terms, ownerKey, ownerSignature, mandate):
            terms.encode(into: &body)
            body.blob(ownerKey, max: ProtocolLimits.publicKeyBytesMax)
            body.blob(ownerSignature, max: ProtocolLimits.signatureBytesMax)
            body.bool(mandate != nil)
            mandate?.encode(into: &body)
        case let .accept(contract, holderSignature):
            body.u64(contract.raw)
            body.blob(holderSignature, max: ProtocolLimits.signatureBytesMax)
        case let .reject(contract, reason):
            body.u64(contract.raw)
            body.u8(reason)
        case let .storeSlot(contract, slot, from, to, bytes):
            body.u64(contract.raw)
            Self.shard(slot, into: &body)
            body.u32(from)
            body.u32(to.packs)
            body.u64(to.bytes)
            body.blob(to.root, max: MerkleTree.hashLength)
            body.u64(bytes)
        case let .storeAck(contract, packs):
            body.u64(contract.raw)
            body.u32(packs)
        case let .challenge(id, slot, pack, packs, selector):
            body.u64(id)
            Self.shard(slot, into: &body)
            body.u32(pack)
            body.u32(packs)
            body.u32(selector)
        case let .challengeReply(id, proof):
            body.u64(id)
            body.blob(proof.segment, max: Int(PackGeometry.segmentBytesMax))
            Self.path(proof.path, into: &body)
            body.blob(proof.packRoot, max: MerkleTree.hashLength)
            proof.geometry.write(into: &body)
            Self.path(proof.packPath, into: &body)
        case let .challengeMissing(id):
            body.u64(id)
        case let .fetch(request, slot):
            body.u64(request)
            Self.shard(slot, into: &body)
        case let .fetchReply(request, slot, ok, bytes):
            body.u64(request)
            Self.shard(slot, into: &body)
            body.bool(ok)
            body.u64(bytes)
        case let .release(contract, at):
            body.u64(contract.raw)
            body.i64(at.milliseconds)
        case let .releaseAck(contract):
            body.u64(contract.raw)
        case let .uptimeQuery(request, nodes):
            body.u64(request)
            Self.nodes(nodes, into: &body)
        case let .uptimeReply(request, entries):
            body.u64(request)
            precondition(entries.count <= ProtocolLimits.nodesPerMessageMax, "uptimeReply of \(entries.count)")
            body.u16(UInt16(entries.count))
            for e in entries {
                body.u32(e.node.raw)
                body.u16(e.permille)
                body.bool(e.excluded)
            }
        case let .report(holder, fault, since):
            body.u32(holder.raw)
            body.u8(fault.rawValue)
            body.i64(since.milliseconds)
        case let .rootRecord(location):
            Self.location(location, into: &body)
        case let .blindRepairOrder(volume, owner, layout, sources, roots, targets):
            volume.write(into: &body)
            body.u32(owner.raw)
            layout.write(into: &body)
            Self.nodes(sources, into: &body)
            precondition(roots.count == sources.count, "\(roots.count) roots for \(sources.count) slots")
            for root in roots { body.blob(root, max: MerkleTree.hashLength) }
            precondition(targets.count <= ProtocolLimits.slotsPerVolumeMax, "\(targets.count) repair targets")
            body.u8(UInt8(targets.count))
            for t in targets {
                body.u8(t.slot)
                body.u32(t.node.raw)
                body.blob(t.publicKey, max: ProtocolLimits.publicKeyBytesMax)
                body.blob(t.root, max: MerkleTree.hashLength)
                t.mandate.encode(into: &body)
            }
        case let .blindRepairDone(terms, ownerSignature, holderSignature), let .adopt(terms, ownerSignature, holderSignature):
            terms.encode(into: &body)
            body.blob(ownerSignature, max: ProtocolLimits.signatureBytesMax)
            body.blob(holderSignature, max: ProtocolLimits.signatureBytesMax)
        case let .recordQuery(request, owner, start):
            body.u64(request)
            body.u32(owner.raw)
            body.u32(start)
        case let .recordReply(request, start, total, volumes):
            body.u64(request)
            body.u32(start)
            body.u32(total)
            precondition(volumes.count <= ProtocolLimits.locationsPerReplyMax, "record reply of \(volumes.count) volumes")
            body.u8(UInt8(volumes.count))
            for p in volumes {
                Self.location(p, into: &body)
                body.u64(p.online)
            }
        case let .hello(host, port, contact):
            body.blob(Array(host.utf8), max: ProtocolLimits.hostBytesMax)
            body.u16(port)
            body.blob(Array(contact.utf8), max: ProtocolLimits.hostBytesMax)
        case let .welcome(node, membership), let .reclaim(node, membership):
            body.u32(node.raw)
            body.blob(membership, max: ProtocolLimits.signatureBytesMax)
        case let .locate(request, node):
            body.u64(request)
            body.u32(node.raw)
        case let .located(request, node, nodeKey, host, port):
            body.u64(request)
            body.u32(node.raw)
            body.blob(nodeKey, max: ProtocolLimits.publicKeyBytesMax)
            body.blob(Array(host.utf8), max: ProtocolLimits.hostBytesMax)
            body.u16(port)
        case let .peerHello(node):
            body.u32(node.raw)
        case let .holding(report):
            report.encode(into: &body)
        case let .contractQuery(request, slot):
            body.u64(request)
            Self.shard(slot, into: &body)
        case let .contractHeld(request, slot, report, holderSignature):
            body.u64(request)
            Self.shard(slot, into: &body)
            body.bool(report != nil)
            if let report {
                report.encode(into: &body)
                body.blob(holderSignature, max: ProtocolLimits.signatureBytesMax)
            }
        case let .takeOver(keys), let .keysRetired(keys):
            Self.nodeKeys(keys, into: &body)
        case .retired:
            break
        }
        var out = ByteWriter(capacity: Self.headerBytes + body.bytes.count)
        out.u8(ProtocolLimits.wireVersion)
        out.u8(typeByte)
        out.i64(sent.milliseconds)
        out.u32(UInt32(body.bytes.count))
        out.raw(body.bytes)
        precondition(out.bytes.count <= ProtocolLimits.messageBytesMax, "message of \(out.bytes.count) bytes")
        return out.bytes
    }

    fileprivate static func nodes(_ nodes: [NodeID], into w: inout ByteWriter) {
        precondition(nodes.count <= ProtocolLimits.nodesPerMessageMax, "\(nodes.count) nodes in one message")
        w.u16(UInt16(nodes.count))
        for n in nodes { w.u32(n.raw) }
    }

    fileprivate static func nodes(from r: inout ByteReader) throws(DecodeError) -> [NodeID] {
        let n = try r.shortCount(max: ProtocolLimits.nodesPerMessageMax, minElementBytes: 4)
        var out = [NodeID]()
        out.reserveCapacity(n)
        for _ in 0..<n { out.append(NodeID(try r.u32())) }
        return out
    }

    /// Node keys of `takeOver` and `keysRetired`: a u16 count, then 32 bytes each.
    fileprivate static func nodeKeys(_ keys: [[UInt8]], into w: inout ByteWriter) {
        precondition(keys.count <= ProtocolLimits.retiredKeysMax && keys.allSatisfy { $0.count == ProtocolLimits.nodeKeyBytes },
                     "\(keys.count) node keys in one message")
        w.u16(UInt16(keys.count))
        for k in keys { w.raw(k) }
    }

    fileprivate static func nodeKeys(from r: inout ByteReader) throws(DecodeError) -> [[UInt8]] {
        let n = try r.shortCount(max: ProtocolLimits.retiredKeysMax, minElementBytes: ProtocolLimits.nodeKeyBytes)
        var out = [[UInt8]]()
        out.reserveCapacity(n)
        for _ in 0..<n { out.append(try r.raw(ProtocolLimits.nodeKeyBytes)) }
        return out
    }

    /// A volume's holders and roots: the body of a root record, and each entry of a record reply.
    fileprivate static func location(_ l: VolumeLocation, into w: inout ByteWriter) {
        precondition(l.holders.count <= ProtocolLimits.slotsPerVolumeMax && l.roots.count == l.holders.count,
                     "volume location of \(l.holders.count) slots, \(l.roots.count) roots")
        l.volume.write(into: &w)
        l.layout.write(into: &w)
        nodes(l.holders, into: &w)
        for count in l.stored { w.u32(count) }
        for root in l.roots { w.blob(root, max: MerkleTree.hashLength) }
    }

    fileprivate static func location(from r: inout ByteReader) throws(DecodeError) -> VolumeLocation {
        let volume = try VolumeID(reading: &r)
        let layout = try VolumeLayout(reading: &r)
        let at = r.offset
        let holders = try nodes(from: &r)
        guard holders.count == layout.n else {
            throw DecodeError(.badValue, "volume of \(holders.count) slots for n=\(layout.n)", offset: at)
        }
        var stored = [UInt32]()
        stored.reserveCapacity(holders.count)
        for _ in holders {
            let countAt = r.offset
            let count = try r.u32()
            guard count <= layout.packs else {
                throw DecodeError(.badValue, "slot of \(count) packs in a volume of \(layout.packs)", offset: countAt)
            }
            stored.append(count)
        }
        var roots = [[UInt8]]()
        roots.reserveCapacity(holders.count)
        for _ in holders {
            let rootAt = r.offset
            let root = try r.blob(max: MerkleTree.hashLength)
            guard root.count == MerkleTree.hashLength else { throw DecodeError(.badValue, "root of \(root.count) bytes", offset: rootAt) }
            roots.append(root)
        }
        return VolumeLocation(volume: volume, layout: layout, holders: holders, stored: stored, roots: roots)
    }

    /// A host name or address: printable ASCII, at most `ProtocolLimits.hostBytesMax` bytes.
    fileprivate static func host(from r: inout ByteReader) throws(DecodeError) -> String {
        let at = r.offset
        let bytes = try r.blob(max: ProtocolLimits.hostBytesMax)
        guard bytes.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else {
            throw DecodeError(.badValue, "a host that is not printable ASCII", offset: at)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// A Merkle path: u8 depth (at most `PackGeometry.proofDepthMax`), then 32-byte hashes.
    fileprivate static func path(_ path: [[UInt8]], into w: inout ByteWriter) {
        precondition(path.count <= PackGeometry.proofDepthMax, "proof depth \(path.count)")
        w.u8(UInt8(path.count))
        for p in path { w.blob(p, max: MerkleTree.hashLength) }
    }

    fileprivate static func path(from r: inout ByteReader) throws(DecodeError) -> [[UInt8]] {
        let at = r.offset
        let depth = Int(try r.u8())
        guard depth <= PackGeometry.proofDepthMax, depth * (4 + MerkleTree.hashLength) <= r.remaining else {
            throw DecodeError(.badValue, "proof depth \(depth)", offset: at)
        }
        var proof = [[UInt8]]()
        proof.reserveCapacity(depth)
        for _ in 0..<depth { proof.append(try r.blob(exactly: MerkleTree.hashLength)) }
        return proof
    }

    fileprivate static func shard(_ s: SlotID, into w: inout ByteWriter) {
        s.volume.write(into: &w)
        w.u8(s.index)
    }

    fileprivate static func shard(from r: inout ByteReader) throws(DecodeError) -> SlotID {
        let volume = try VolumeID(reading: &r)
        let at = r.offset
        let index = try r.u8()
        guard Int(index) < ProtocolLimits.slotsPerVolumeMax else {
            throw DecodeError(.badValue, "shard index \(index)", offset: at)
        }
        return SlotID(volume: volume, index: index)
    }

    /// Decodes one message and its sender's stamp; throws on anything malformed, oversized
    /// or left over.
    public static func decode(_ bytes: [UInt8]) throws(DecodeError) -> (message: Message, sent: Instant) {
        guard bytes.count <= ProtocolLimits.messageBytesMax else {
            throw DecodeError(.tooLarge, "message of \(bytes.count) bytes, at most \(ProtocolLimits.messageBytesMax)", offset: 0)
        }
        var r = ByteReader(bytes)
        let version = try r.u8()
        guard version == ProtocolLimits.wireVersion else {
            throw DecodeError(.badVersion, "wire version \(version), this node speaks \(ProtocolLimits.wireVersion)", offset: 0)
        }
        let type = try r.u8()
        let sent = Instant(milliseconds: try r.i64())
        let length = Int(try r.u32())
        guard length == r.remaining else {
            throw DecodeError(length > r.remaining ? .truncated : .trailingBytes,
                              "body length \(length), \(r.remaining) bytes present", offset: 10)
        }
        let message: Message
        switch type {
        case 1:
            message = .join(offered: try r.u64(), speed: try r.u32(), publicKey: try r.blob(max: ProtocolLimits.publicKeyBytesMax),
                            fresh: try r.bool())
        case 2:
            message = .heartbeat(used: try r.u64())
        case 3:
            message = .warning(level: try r.u8())
        case 4:
            let request = try r.u64()
            let volume = try VolumeID(reading: &r)
            let slotBytes = try r.u64()
            let at = r.offset
            let count = try r.u8()
            guard count > 0, Int(count) <= ProtocolLimits.slotsPerVolumeMax else {
                throw DecodeError(.badValue, "match count \(count)", offset: at)
            }
            message = .matchRequest(request: request, volume: volume, slotBytes: slotBytes, count: count,
                                    speed: try r.u32(), exclude: try nodes(from: &r))
        case 5:
            let request = try r.u64()
            let volume = try VolumeID(reading: &r)
            let n = try r.shortCount(max: ProtocolLimits.nodesPerMessageMax, minElementBytes: 6)
            var candidates = [Candidate]()
            candidates.reserveCapacity(n)
            for _ in 0..<n {
                candidates.append(Candidate(node: NodeID(try r.u32()), publicKey: try r.blob(max: ProtocolLimits.publicKeyBytesMax)))
            }
            message = .matchReply(request: request, volume: volume, candidates: candidates)
        case 6:
            let terms = try ContractTerms.decode(from: &r)
            let ownerKey = try r.blob(max: ProtocolLimits.publicKeyBytesMax)
            let ownerSignature = try r.blob(max: ProtocolLimits.signatureBytesMax)
            let mandate = try r.bool() ? try BlindRepairMandate.decode(from: &r) : nil
            message = .propose(terms: terms, ownerKey: ownerKey, ownerSignature: ownerSignature, mandate: mandate)
        case 7:
            message = .accept(contract: ContractID(try r.u64()), holderSignature: try r.blob(max: ProtocolLimits.signatureBytesMax))
        case 8:
            message = .reject(contract: ContractID(try r.u64()), reason: try r.u8())
        case 9:
            let contract = ContractID(try r.u64())
            let slot = try shard(from: &r)
            let rangeAt = r.offset
            let from = try r.u32()
            let packs = try r.u32()
            guard from < packs else { throw DecodeError(.badValue, "packs \(from)..<\(packs)", offset: rangeAt) }
            let slotBytes = try r.u64()
            let root = try r.blob(exactly: MerkleTree.hashLength)
            let bytesAt = r.offset
            let bytes = try r.u64()
            // The stream is the shards of packs from..<packs, each after its frame header.
            let headers = UInt64(packs - from) * UInt64(ProtocolLimits.slotStreamFrameHeaderBytes)
            let (most, overflow) = slotBytes.addingReportingOverflow(headers)
            guard overflow || bytes <= most else {
                throw DecodeError(.badValue, "\(bytes) bytes of stream for packs \(from)..<\(packs) of a \(slotBytes)-byte slot",
                                  offset: bytesAt)
            }
            message = .storeSlot(contract: contract, slot: slot, from: from,
                                 to: SlotExtent(packs: packs, bytes: slotBytes, root: root), bytes: bytes)
        case 10:
            message = .storeAck(contract: ContractID(try r.u64()), packs: try r.u32())
        case 11:
            let id = try r.u64()
            let slot = try shard(from: &r)
            let at = r.offset
            let pack = try r.u32()
            let packs = try r.u32()
            guard pack < packs else { throw DecodeError(.badValue, "pack \(pack) of \(packs)", offset: at) }
            message = .challenge(id: id, slot: slot, pack: pack, packs: packs, selector: try r.u32())
        case 12:
            let id = try r.u64()
            let segment = try r.blob(max: Int(PackGeometry.segmentBytesMax))
            let path = try Self.path(from: &r)
            let packRoot = try r.blob(exactly: MerkleTree.hashLength)
            let geometry = try PackGeometry(reading: &r)
            let packPath = try Self.path(from: &r)
            message = .challengeReply(id: id, proof: SegmentProof(segment: segment, path: path, packRoot: packRoot,
                                                                  geometry: geometry, packPath: packPath))
        case 13:
            message = .challengeMissing(id: try r.u64())
        case 14:
            message = .fetch(request: try r.u64(), slot: try shard(from: &r))
        case 15:
            message = .fetchReply(request: try r.u64(), slot: try shard(from: &r), ok: try r.bool(), bytes: try r.u64())
        case 16:
            message = .release(contract: ContractID(try r.u64()), at: Instant(milliseconds: try r.i64()))
        case 17:
            message = .releaseAck(contract: ContractID(try r.u64()))
        case 18:
            message = .uptimeQuery(request: try r.u64(), nodes: try nodes(from: &r))
        case 19:
            let request = try r.u64()
            let n = try r.shortCount(max: ProtocolLimits.nodesPerMessageMax, minElementBytes: 7)
            var entries = [UptimeEntry]()
            entries.reserveCapacity(n)
            for _ in 0..<n {
                let node = NodeID(try r.u32())
                let at = r.offset
                let permille = try r.u16()
                guard permille <= 1000 else { throw DecodeError(.badValue, "uptime \(permille)‰", offset: at) }
                entries.append(UptimeEntry(node: node, permille: permille, excluded: try r.bool()))
            }
            message = .uptimeReply(request: request, entries: entries)
        case 20:
            let holder = NodeID(try r.u32())
            let at = r.offset
            let raw = try r.u8()
            guard let fault = FaultKind(rawValue: raw) else { throw DecodeError(.badValue, "fault kind \(raw)", offset: at) }
            message = .report(holder: holder, fault: fault, since: Instant(milliseconds: try r.i64()))
        case 21:
            message = .rootRecord(try location(from: &r))
        case 22:
            let volume = try VolumeID(reading: &r)
            let owner = NodeID(try r.u32())
            let layout = try VolumeLayout(reading: &r)
            let sourcesAt = r.offset
            let sources = try nodes(from: &r)
            guard sources.count == layout.n else {
                throw DecodeError(.badValue, "repair order of \(sources.count) slots for n=\(layout.n)", offset: sourcesAt)
            }
            var roots = [[UInt8]]()
            roots.reserveCapacity(sources.count)
            for _ in sources { roots.append(try r.blob(exactly: MerkleTree.hashLength)) }
            let at = r.offset
            let n = Int(try r.u8())
            guard n <= sources.count, n * 19 <= r.remaining else { throw DecodeError(.badValue, "\(n) repair targets", offset: at) }
            var targets = [BlindRepairTarget]()
            for _ in 0..<n {
                let slotAt = r.offset
                let slot = try r.u8()
                guard Int(slot) < sources.count else { throw DecodeError(.badValue, "target slot \(slot)", offset: slotAt) }
                let node = NodeID(try r.u32())
                let key = try r.blob(max: ProtocolLimits.publicKeyBytesMax)
                let rootAt = r.offset
                let root = try r.blob(max: MerkleTree.hashLength)
                guard root.count == MerkleTree.hashLength else { throw DecodeError(.badValue, "root of \(root.count) bytes", offset: rootAt) }
                targets.append(BlindRepairTarget(slot: slot, node: node, publicKey: key, root: root,
                                            mandate: try BlindRepairMandate.decode(from: &r)))
            }
            message = .blindRepairOrder(volume: volume, owner: owner, layout: layout, sources: sources, roots: roots,
                                        targets: targets)
        case 23, 24:
            let terms = try ContractTerms.decode(from: &r)
            let ownerSignature = try r.blob(max: ProtocolLimits.signatureBytesMax)
            let holderSignature = try r.blob(max: ProtocolLimits.signatureBytesMax)
            message = type == 23 ? .blindRepairDone(terms: terms, ownerSignature: ownerSignature, holderSignature: holderSignature)
                : .adopt(terms: terms, ownerSignature: ownerSignature, holderSignature: holderSignature)
        case 25:
            message = .recordQuery(request: try r.u64(), owner: NodeID(try r.u32()), start: try r.u32())
        case 26:
            let request = try r.u64()
            let start = try r.u32()
            let total = try r.u32()
            let at = r.offset
            let n = Int(try r.u8())
            guard n <= ProtocolLimits.locationsPerReplyMax, UInt64(start) + UInt64(n) <= UInt64(total) else {
                throw DecodeError(.badValue, "\(n) volume locations from \(start) of \(total)", offset: at)
            }
            var volumes = [VolumeLocation]()
            for _ in 0..<n {
                let l = try location(from: &r)
                let maskAt = r.offset
                let online = try r.u64()
                guard l.layout.n >= 64 || online >> UInt64(l.layout.n) == 0 else {
                    throw DecodeError(.badValue, "online mask \(online) for \(l.layout.n) slots", offset: maskAt)
                }
                volumes.append(VolumeLocation(volume: l.volume, layout: l.layout, holders: l.holders, stored: l.stored,
                                              roots: l.roots, online: online))
            }
            message = .recordReply(request: request, start: start, total: total, volumes: volumes)
        case 27:
            message = .hello(host: try host(from: &r), port: try r.u16(), contact: try host(from: &r))
        case 28:
            message = .welcome(node: NodeID(try r.u32()), membership: try r.blob(max: ProtocolLimits.signatureBytesMax))
        case 29:
            message = .locate(request: try r.u64(), node: NodeID(try r.u32()))
        case 30:
            let request = try r.u64()
            let node = NodeID(try r.u32())
            let key = try r.blob(max: ProtocolLimits.publicKeyBytesMax)
            message = .located(request: request, node: node, nodeKey: key, host: try host(from: &r), port: try r.u16())
        case 31:
            message = .peerHello(node: NodeID(try r.u32()))
        case 32:
            message = .reclaim(node: NodeID(try r.u32()), membership: try r.blob(max: ProtocolLimits.signatureBytesMax))
        case 33:
            message = .holding(try HeldSlotReport.decode(from: &r))
        case 34:
            message = .contractQuery(request: try r.u64(), slot: try shard(from: &r))
        case 35:
            let request = try r.u64()
            let slot = try shard(from: &r)
            if try r.bool() {
                let report = try HeldSlotReport.decode(from: &r)
                message = .contractHeld(request: request, slot: slot, report: report,
                                        holderSignature: try r.blob(max: ProtocolLimits.signatureBytesMax))
            } else {
                message = .contractHeld(request: request, slot: slot, report: nil, holderSignature: [])
            }
        case 36:
            message = .takeOver(retired: try nodeKeys(from: &r))
        case 37:
            message = .retired
        case 38:
            message = .keysRetired(try nodeKeys(from: &r))
        default:
            throw DecodeError(.unknownType, "message type \(type)", offset: 1)
        }
        guard r.remaining == 0 else {
            throw DecodeError(.trailingBytes, "\(r.remaining) bytes after the message", offset: r.offset)
        }
        return (message, sent)
    }
}

extension HeldSlotReport {
    /// `holding`'s body, also inside `contractHeld`.
    func encode(into w: inout ByteWriter) {
        terms.encode(into: &w)
        w.blob(ownerKey, max: ProtocolLimits.publicKeyBytesMax)
        w.blob(ownerSignature, max: ProtocolLimits.signatureBytesMax)
        layout.write(into: &w)
        w.blob(root, max: MerkleTree.hashLength)
    }

    static func decode(from r: inout ByteReader) throws(DecodeError) -> HeldSlotReport {
        let terms = try ContractTerms.decode(from: &r)
        let ownerKey = try r.blob(max: ProtocolLimits.publicKeyBytesMax)
        let ownerSignature = try r.blob(max: ProtocolLimits.signatureBytesMax)
        let layout = try VolumeLayout(reading: &r)
        return HeldSlotReport(terms: terms, ownerKey: ownerKey, ownerSignature: ownerSignature, layout: layout,
                              root: try r.blob(max: MerkleTree.hashLength))
    }
}
