import CairnCore
import CairnCrypto
import CairnData
import CairnNet

/// Fixed sample values the targets start from: every field set, every kind of entry, and
/// fixed keys (a fuzz run must replay byte for byte).
enum Samples {
    static let keys = OwnerKeys(seed: SecureBytes(copying: (0..<64).map { UInt8($0) }))

    /// A node certificate the sample owner issued for a node key.
    static let certificate = try! NodeCertificate.issue(owner: keys.signing, nodePublicKey: try! SigningKey(seed: (0..<32).map { UInt8(0x55 ^ $0) }).publicKey,
                                                        issuedMilliseconds: 1_764_547_200_000)

    /// Node protocol messages of several shapes (fixed fields, blobs, lists, nested records).
    static let messages: [Message] = [
        .join(offered: 1 << 40, speed: 12_500, publicKey: Array(repeating: 7, count: 32), fresh: true),
        .heartbeat(used: 77),
        .storeSlot(contract: ContractID(9), slot: SlotID(volume: VolumeID(owner: NodeID(3), number: 4), index: 2), from: 1,
                   to: SlotExtent(packs: 3, bytes: 300, root: Array(repeating: 5, count: 32)), bytes: 200),
        .challenge(id: 5, slot: SlotID(volume: VolumeID(owner: NodeID(3), number: 4), index: 1), pack: 2, packs: 3, selector: 99),
        .uptimeQuery(request: 2, nodes: [NodeID(1), NodeID(2), NodeID(9)]),
        .recordQuery(request: 3, owner: NodeID(3), start: 0),
        .recordReply(request: 3, start: 0, total: 1, volumes: [
            VolumeLocation(volume: VolumeID(owner: NodeID(3), number: 4), layout: VolumeLayout(k: 1, n: 2, packs: 1, slotBytes: 9),
                           holders: [NodeID(4), NodeID(5)], stored: [1, 1],
                           roots: [Array(repeating: 1, count: 32), Array(repeating: 2, count: 32)], online: 0b10),
        ]),
        .hello(host: "127.0.0.1", port: 7400, contact: "mailto:ops@example.org"),
        .welcome(node: NodeID(4), membership: Array(repeating: 7, count: 64)),
        .reclaim(node: NodeID(4), membership: Array(repeating: 7, count: 64)),
        .holding(HeldSlotReport(
            terms: ContractTerms(id: ContractID(owner: NodeID(3), counter: 1), owner: NodeID(3), holder: NodeID(4),
                                 shard: SlotID(volume: VolumeID(owner: NodeID(3), number: 4), index: 1), bytes: 9,
                                 start: Instant(milliseconds: 1), term: .days(30), grace: .days(7)),
            ownerKey: Array(repeating: 1, count: 32), ownerSignature: Array(repeating: 2, count: 64),
            layout: VolumeLayout(k: 1, n: 2, packs: 1, slotBytes: 9), root: Array(repeating: 3, count: 32))),
        .located(request: 5, node: NodeID(3), nodeKey: Array(repeating: 9, count: 32), host: "::1", port: 1),
        .contractQuery(request: 6, slot: SlotID(volume: VolumeID(owner: NodeID(3), number: 4), index: 1)),
        .contractHeld(request: 6, slot: SlotID(volume: VolumeID(owner: NodeID(3), number: 4), index: 1), report: nil, holderSignature: []),
        .contractHeld(request: 6, slot: SlotID(volume: VolumeID(owner: NodeID(3), number: 4), index: 1), report: HeldSlotReport(
            terms: ContractTerms(id: ContractID(owner: NodeID(3), counter: 1), owner: NodeID(3), holder: NodeID(4),
                                 shard: SlotID(volume: VolumeID(owner: NodeID(3), number: 4), index: 1), bytes: 9,
                                 start: Instant(milliseconds: 1), term: .days(30), grace: .days(7)),
            ownerKey: Array(repeating: 1, count: 32), ownerSignature: Array(repeating: 2, count: 64),
            layout: VolumeLayout(k: 1, n: 2, packs: 1, slotBytes: 9), root: Array(repeating: 3, count: 32)),
            holderSignature: Array(repeating: 4, count: 64)),
        .takeOver(retired: [Array(repeating: 5, count: 32)]),
        .retired,
        .keysRetired([Array(repeating: 6, count: 32)]),
    ]
    // 32 bytes always make a key.
    // swiftlint:disable:next force_try
    static let chunkKey = try! SymmetricKey(bytes: (0..<32).map { UInt8(0xA0 ^ $0) })

    static func id(_ fill: UInt8) -> ObjectID { ObjectID([UInt8](repeating: fill, count: ObjectID.size)) }

    static let chunk = ChunkRef(id: id(1), pack: id(2), offset: 10, sealedLength: 100, plainLength: 60)

    static let pack = PackRecord(id: id(3), k: 3, n: 5, packLength: 1000, shardLength: 334, segmentSize: 65536,
                                 roots: (0..<5).map { [UInt8](repeating: UInt8($0), count: 32) })

    static let repository = RepositoryID((0..<16).map { UInt8(0x30 + $0) })

    /// Version 2 (with the repository id) and version 1 (without).
    static let shardHeaders = [ShardHeader(record: pack, index: 4, repository: repository),
                               ShardHeader(record: pack, index: 1, repository: nil)]

    static let root = RootRecord(
        repository: repository, sequence: 4, chunker: ChunkerSettings(minSize: 65536, avgSize: 262144, maxSize: 1048576, normalization: 1),
        snapshots: [SnapshotRecord(id: "0123456789abcdef", time: 1_700_000_000, hostname: "h", paths: ["home/me"],
                                   tree: [chunk], parent: "", files: 1, directories: 1, symlinks: 1, bytes: 120, newBytes: 200)],
        packs: [pack])

    static let entries = [
        TreeEntry(kind: .directory, path: "home/me", mode: 0o755, mtimeSeconds: 1, mtimeNanoseconds: 2),
        TreeEntry(kind: .file, pathBytes: Array("home/me/a".utf8) + [0xFF, 0xFE], mode: 0o644,
                  owner: TreeEntry.Owner(uid: 1000, gid: 1000), mtimeSeconds: 3, mtimeNanoseconds: 4, size: 120,
                  device: 5, inode: 6, chunks: [chunk, chunk]),
        TreeEntry(kind: .symlink, path: "home/me/l", mode: 0o777, mtimeSeconds: 7, mtimeNanoseconds: 8, linkTarget: "a"),
    ]

    /// The current encoding, and the same bytes named as each older version (whose layout
    /// the newer ones extend), so the readers of old versions are reached too.
    static func versions(_ bytes: [UInt8], versionAt offset: Int, _ older: [UInt8]) -> [[UInt8]] {
        [bytes] + older.map { v in
            var b = bytes
            b[offset] = v
            return b
        }
    }

    /// Version 3 (names as bytes), version 2 (the same layout, UTF-8 names) and version 1
    /// (no owner field).
    static var trees: [[UInt8]] {
        let utf8 = entries.filter { String(validating: $0.pathBytes, as: UTF8.self) != nil }
        return [TreeCodec.encode(entries)] + versions(TreeCodec.encode(utf8), versionAt: 4, [2]) + [treeVersion1(utf8)]
    }

    /// A version 1 tree: version 2's layout without the owner flag (and owner) after the mode.
    static func treeVersion1(_ entries: [TreeEntry]) -> [UInt8] {
        var w = ByteWriter()
        w.raw(Array("CRNT".utf8))
        w.u8(1)
        w.u32(UInt32(entries.count))
        for e in entries {
            w.u8(e.kind.rawValue)
            w.blob(e.pathBytes)
            w.u32(e.mode)
            w.i64(e.mtimeSeconds)
            w.u32(e.mtimeNanoseconds)
            w.u64(e.size)
            w.u64(e.device)
            w.u64(e.inode)
            w.blob(e.linkTargetBytes)
            w.u32(UInt32(e.chunks.count))
            for c in e.chunks { c.encode(into: &w) }
        }
        return w.bytes
    }
    /// Version 3, and version 2 (what a record without a repository id is written as).
    /// (Version 1, whose snapshots lack the tree-id subkey, has no encoder left.)
    static var rootRecords: [[UInt8]] {
        var old = root
        old.repository = nil
        return [root.encode(), old.encode()]
    }

    static func encode(_ pack: PackRecord) -> [UInt8] {
        var w = ByteWriter()
        pack.encode(into: &w)
        return w.bytes
    }

    /// A plain length (u24) and a zstd frame of that many bytes.
    static var compressedChunk: [UInt8] {
        let plain = (0..<3000).map { UInt8(truncatingIfNeeded: $0 / 7) }
        return [UInt8(plain.count & 0xFF), UInt8(plain.count >> 8 & 0xFF), 0] + Zstd.compress(plain)
    }

    static let scenarios: [[UInt8]] = [
        """
        {"name": "s", "nodes": 40, "duration_days": 2, "offered_gib": {"dist": "uniform", "min": 20, "max": 60},
         "upload_mbps": {"dist": "choice", "values": [10, 20.5, 1e2]}, "latency_ms": 30,
         "churn": {"online_hours": {"dist": "weibull", "shape": 0.8, "scale": 60}, "offline_hours": {"dist": "exponential", "mean": 3},
                   "loss": 0.01},
         "adversaries": {"droppers": 0.1},
         "protocol": {"k": 4, "n": 8, "repair_trigger": 8, "uptime_window_hours": 48},
         "expect": {"packs_lost_max": 0, "detection_hours_max": {"droppers": 100}}}
        """,
        #"{"a": [true, false, null, -0.5e-3, "\u00e9\ud83d\ude00\n\"", {}, []], "b\\c": {"d": ""}}"#,
        """
        {"nodes": 20, "protocol": {"repair_trigger": 5}, "sweep": {"code": [[3, 5], [4, 8]], "seeds": 2,
         "churn.departures_per_day": {"from": 0.001, "to": 0.003, "step": 0.001}, "churn.online_hours,churn.offline_hours": [[8, 2]]}}
        """,
    ].map { Array($0.utf8) }

    static let jsonTokens: [[UInt8]] = ["{", "}", "[", "]", ",", ":", "\"", "\\u", "\\ud800", "\\udc00", "1e999", "-0",
                                        "0.", "01", "null", "true", "\"nodes\": ", "\"dist\": ", "{\"a\":", "[[[[[[[["]
        .map { Array($0.utf8) }
}

extension Samples {
    static let config = Array("""
        {"version": 1, "targets": ["/mnt/a", "/mnt/b", "/mnt/c"], "k": 2, "repository": "303132333435363738393a3b3c3d3e3f",
         "chunker": {"min_size": 65536, "avg_size": 262144, "max_size": 1048576, "normalization": 1}}
        """.utf8)
}
