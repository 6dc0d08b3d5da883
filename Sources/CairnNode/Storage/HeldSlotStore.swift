import CairnCore
import CairnCrypto
import CairnStore
import CairnWire
import Logging
import Synchronization
#if canImport(Glibc)
internal import Glibc
#elseif canImport(Darwin)
internal import Darwin
#endif

/// The slots this node holds for others: the core's `ShardStorage` on disk, in the node's
/// data directory under `held/`.
///
/// An accepted stream is kept as it came, as one *run* file (`held/runs/`), and LMDB
/// (`held/data.mdb`) records which packs each run holds and where, every shard's segment
/// leaf hashes (for challenges) and each slot's extent. Shard bytes never pass through an
/// LMDB transaction: without `MDB_WRITEMAP` a write transaction keeps its pages in memory
/// until it commits, so a whole slot placed at once would need as much memory as the slot.
///
/// The transport spools a stream (`storeSpool`, `fetchSpool`) before the core sees its
/// message; `store` then checks the spool — every shard against its root, the slot's tree
/// against the root named — flushes it, moves it among the runs and commits its records in
/// one write transaction, and only then answers true: a crash before the commit leaves
/// nothing visible (a moved run nobody records is removed at the next open), one after it
/// loses nothing. Anything that does not check answers false, logged, and changes nothing.
///
/// Called synchronously on the node's executor; reads (`prove`, `serve`, `verify`) may
/// come from other threads too. One `HeldSlotStore` per data directory: opening one
/// removes spools left by an earlier process.
public final class HeldSlotStore: ShardStorage, Sendable {
    /// The store's folder (`DIR/held`).
    public let path: String
    /// Slot bytes (the shards' lengths, as contracts count them) the node offers to hold.
    public let capacity: UInt64
    /// The longest fetch stream the node spools (a restore or repair of one slot).
    public let fetchBytesMax: UInt64
    private let env: LMDBEnvironment
    /// slot (9) → `HeldSlot`.
    private let slots: LMDBDatabase
    /// slot (9) | pack u32 → `HeldPack`.
    private let packs: LMDBDatabase
    /// slot (9) | pack u32 → the shard's segment leaf hashes, 32 bytes each.
    private let segments: LMDBDatabase
    /// slot (9) | first pack u32 → `HeldRun`.
    private let runs: LMDBDatabase
    /// "format" → version u8; "next-run" → u64.
    private let meta: LMDBDatabase
    private let runFolder: HeldFolder
    private let spoolFolder: HeldFolder
    /// Verified fetch streams a blind repair keeps to rebuild from, one per slot; unlike
    /// spools they survive a restart (`keepFetched`).
    private let keptFolder: HeldFolder
    let logger: Logger
    private let state: Mutex<State>

    private struct State {
        /// Slot bytes held, over every slot.
        var used: UInt64
        var nextRun: UInt64
    }

    /// Opens (creating when missing) the held store of the data directory `dataDirectory`.
    /// - Parameters:
    ///   - capacity: slot bytes the node offers; a store past it is refused.
    ///   - mapSize: the most bytes LMDB's records may take (address space; the file grows
    ///     as needed). Records are about 0.05% of the shards with 64 KiB segments.
    public init(dataDirectory: String, capacity: UInt64, fetchBytesMax: UInt64 = 1 << 40, mapSize: Int = 1 << 36,
                logger: Logger = Logger(label: "cairn.node.held", factory: { _ in SwiftLogNoOpLogHandler() }))
        throws(HeldSlotError)
    {
        path = dataDirectory + "/held"
        self.capacity = capacity
        self.fetchBytesMax = fetchBytesMax
        self.logger = logger
        let opened: (LMDBEnvironment, [LMDBDatabase])
        do {
            let env = try LMDBEnvironment(path: path, mapSize: mapSize, maxDatabases: 8)
            opened = (env, try ["slots", "packs", "segments", "runs", "meta"].map { name throws(StoreError) in
                try env.openDatabase(name)
            })
        } catch {
            throw HeldSlotError(.storage, "the held store at \(path) cannot be opened", cause: error)
        }
        env = opened.0
        slots = opened.1[0]
        packs = opened.1[1]
        segments = opened.1[2]
        runs = opened.1[3]
        meta = opened.1[4]
        runFolder = try HeldFolder(path + "/runs")
        spoolFolder = try HeldFolder(path + "/spool")
        keptFolder = try HeldFolder(path + "/kept")
        state = Mutex(State(used: 0, nextRun: 0))
        let (used, nextRun, referenced) = try openState()
        state.withLock { $0 = State(used: used, nextRun: nextRun) }
        // Runs moved in by a store that did not commit, or replaced by one that did and
        // was stopped before removing them; spools of transfers that broke off.
        for name in try runFolder.fileNames() where !referenced.contains(name) { runFolder.remove(name) }
        for name in try spoolFolder.fileNames() { spoolFolder.remove(name) }
    }

    /// Checks the format, sums the slot bytes held and names every run file recorded.
    private func openState() throws(HeldSlotError) -> (used: UInt64, nextRun: UInt64, runs: Set<String>) {
        try lmdb("opening the held store") {
            try env.write { txn in
                if let format = try txn.get(meta, HeldRecords.formatKey) {
                    guard format == [HeldRecords.formatVersion] else {
                        throw HeldSlotError(.storage, "the held store at \(path) has format \(format), which this Cairn does not know: run a newer Cairn")
                    }
                } else {
                    try txn.put(meta, HeldRecords.formatKey, [HeldRecords.formatVersion])
                }
                var nextRun = try txn.get(meta, HeldRecords.nextRunKey).map { bytes -> UInt64 in
                    var r = ByteReader(bytes, what: "next run")
                    return (try? r.u64()) ?? 0
                } ?? 0
                let used = try decodeSlots(txn).reduce(0) { $0 + $1.extent.bytes }
                var names = Set<String>()
                try txn.forEach(runs) { key, value in
                    guard key.count == 13, let slot = HeldRecords.slot(fromKey: Array(key[..<9])),
                          let run = try? HeldRun.decode(value, what: "run record")
                    else { return true }
                    names.insert(HeldRun.fileName(slot, run.run))
                    nextRun = max(nextRun, run.run + 1)
                    return true
                }
                return (used, nextRun, names)
            }
        }
    }

    // MARK: spools

    /// Where the transport writes the stream behind `storeSlot(slot, from, …)` announced
    /// `announced` bytes long, before the message goes to the core (whose `store` reads
    /// it). A stream longer than the capacity (and room for frame headers) is refused.
    public func storeSpool(slot: SlotID, from: UInt32, announced: UInt64) throws(HeldSlotError) -> SpoolWriter {
        let most = capacity + capacity / 16 + (1 << 20)
        guard announced <= most else {
            throw HeldSlotError(.overCapacity, "a stream of \(announced) bytes for \(slot) is more than this node holds (\(capacity) bytes offered)")
        }
        return try SpoolWriter(folder: spoolFolder, name: Self.storeSpoolName(slot, from), announced: announced)
    }

    /// Where the transport writes the stream behind fetch reply `request` from `from`
    /// (`ok`, `announced` bytes), before the reply goes to the core (whose `verify` reads
    /// it). After a verified fetch, `openFetched` reads it and `discardFetched` removes it.
    public func fetchSpool(request: UInt64, from: NodeID, announced: UInt64) throws(HeldSlotError) -> SpoolWriter {
        guard announced <= fetchBytesMax else {
            throw HeldSlotError(.overCapacity, "a fetched stream of \(announced) bytes is more than the \(fetchBytesMax) this node spools")
        }
        return try SpoolWriter(folder: spoolFolder, name: Self.fetchSpoolName(request, from), announced: announced)
    }

    /// The spooled stream of fetch `request` from `from`, read in chunks or pack by pack.
    public func openFetched(request: UInt64, from: NodeID) throws(HeldSlotError) -> HeldStreamReader {
        try Self.openStream(Self.fetchSpoolName(request, from), in: spoolFolder,
                            missing: "no stream was spooled for fetch \(request) from \(from)")
    }

    /// File `name` of `folder` as one stream; `.spoolMissing` (saying `missing`) when absent.
    private static func openStream(_ name: String, in folder: HeldFolder, missing: String) throws(HeldSlotError) -> HeldStreamReader {
        guard let fd = try folder.open(name, O_RDONLY) else { throw HeldSlotError(.spoolMissing, missing) }
        do {
            return HeldStreamReader(files: [(fd, try FileIO.size(fd, what: folder.path + "/" + name))])
        } catch {
            close(fd)
            throw error
        }
    }

    /// Removes the spooled stream of fetch `request` from `from`.
    public func discardFetched(request: UInt64, from: NodeID) {
        spoolFolder.remove(Self.fetchSpoolName(request, from))
    }

    /// Keeps the verified stream of fetch `request` from `from` as slot `slot`'s (replacing
    /// one kept before): moved out of the spools, so a restarted node still has it.
    public func keepFetched(request: UInt64, from: NodeID, as slot: SlotID) throws(HeldSlotError) {
        try spoolFolder.move(Self.fetchSpoolName(request, from), to: keptFolder, as: Self.keptName(slot))
        try keptFolder.sync()
    }

    /// The kept stream of slot `slot`, read in chunks or pack by pack.
    public func openKept(_ slot: SlotID) throws(HeldSlotError) -> HeldStreamReader {
        try Self.openStream(Self.keptName(slot), in: keptFolder, missing: "no stream of \(slot) is kept")
    }

    /// Removes the kept stream of slot `slot` (a reader open on it still reads it).
    public func discardKept(_ slot: SlotID) {
        keptFolder.remove(Self.keptName(slot))
    }

    /// The slots whose streams are kept, in slot order (a file of another name is removed).
    public func keptSlots() throws(HeldSlotError) -> [SlotID] {
        var out: [SlotID] = []
        for name in try keptFolder.fileNames() {
            guard name.hasPrefix("kept-"), let bytes = Hex.decode(String(name.dropFirst(5))),
                  let slot = HeldRecords.slot(fromKey: bytes), name == Self.keptName(slot)
            else {
                keptFolder.remove(name)
                continue
            }
            out.append(slot)
        }
        return out.sorted { $0.bytes.lexicographicallyPrecedes($1.bytes) }
    }

    static func keptName(_ slot: SlotID) -> String { "kept-" + Hex.encode(slot.bytes) }

    static func storeSpoolName(_ slot: SlotID, _ from: UInt32) -> String {
        "store-" + Hex.encode(slot.bytes) + "-" + hex16(UInt64(from))
    }

    static func fetchSpoolName(_ request: UInt64, _ from: NodeID) -> String {
        "fetch-" + hex16(request) + "-" + hex16(UInt64(from.raw))
    }

    // MARK: ShardStorage

    public func store(_ slot: SlotID, from: UInt32, to: SlotExtent) -> Bool {
        do {
            try storeSpooled(slot, from: from, to: to)
            return true
        } catch {
            logger.info("held.store.refused", metadata: [
                "slot": "\(slot)", "from": "\(from)", "to": "\(to.packs)", "code": "\(error.codeName)",
                "reason": "\(error.oneLine)",
            ])
            return false
        }
    }

    public func delete(_ slot: SlotID) {
        do {
            try deleteHeld(slot)
        } catch {
            logger.info("held.delete.failed", metadata: ["slot": "\(slot)", "reason": "\(error.oneLine)"])
        }
    }

    public func prove(_ slot: SlotID, pack: UInt32, packs: UInt32, selector: UInt32) -> SegmentProof? {
        do {
            return try proof(slot, pack: pack, packs: packs, selector: selector)
        } catch {
            logger.info("held.prove.failed", metadata: ["slot": "\(slot)", "pack": "\(pack)", "reason": "\(error.oneLine)"])
            return nil
        }
    }

    public func serve(_ slot: SlotID) -> FetchAnswer {
        do {
            guard let held = try held(slot), held.extent.packs > 0 else { return .missing }
            return .data(bytes: held.streamBytes)
        } catch {
            logger.info("held.serve.failed", metadata: ["slot": "\(slot)", "reason": "\(error.oneLine)"])
            return .missing
        }
    }

    public func verify(_ slot: SlotID, request: UInt64, from: NodeID, expect: SlotExtent) -> Bool {
        do {
            try verifyFetched(slot, request: request, from: from, expect: expect)
            return true
        } catch {
            logger.info("held.verify.refused", metadata: [
                "slot": "\(slot)", "request": "\(request)", "from": "\(from)", "code": "\(error.codeName)",
                "reason": "\(error.oneLine)",
            ])
            return false
        }
    }

    // MARK: what is held

    /// Slot bytes held, over every slot.
    public var usedBytes: UInt64 { state.withLock { $0.used } }

    /// The slot's record, nil when it is not held.
    public func held(_ slot: SlotID) throws(HeldSlotError) -> HeldSlot? {
        try lmdb("reading the held slots") {
            try env.read { txn in try txn.get(slots, slot.bytes).map { bytes throws(HeldSlotError) in try HeldSlot.decode(slot, bytes) } }
        }
    }

    /// Every slot held, in slot order (what a restarted node resumes with).
    public func heldSlots() throws(HeldSlotError) -> [HeldSlot] {
        try lmdb("listing the held slots") {
            try env.read { txn in try decodeSlots(txn) }
        }
    }

    /// Every slot record that decodes; a damaged one is logged and left out (its slot then
    /// answers as not held: challenges fail and the owner repairs it elsewhere).
    private func decodeSlots(_ txn: borrowing some LMDBReadable & ~Copyable) throws -> [HeldSlot] {
        var out = [HeldSlot]()
        try txn.forEach(slots) { key, value in
            guard let slot = HeldRecords.slot(fromKey: key) else { return true }
            do throws(HeldSlotError) {
                out.append(try HeldSlot.decode(slot, [UInt8](value)))
            } catch {
                logger.info("held.slot.damaged", metadata: ["slot": "\(slot)", "reason": "\(error.oneLine)"])
            }
            return true
        }
        return out
    }

    /// The slot's whole stream (what `serve` announced), read from its runs in chunks.
    /// `bytes`: the length `serve` announced, when the slot may have grown since: the
    /// stream is then cut there (a run boundary, since appends only add runs).
    public func openSlotStream(_ slot: SlotID, bytes: UInt64? = nil) throws(HeldSlotError) -> HeldStreamReader {
        let recorded: [HeldRun] = try lmdb("reading the held slot's runs") {
            try env.read { txn in
                var out = [HeldRun]()
                try txn.forEach(runs, prefix: slot.bytes) { _, value in
                    out.append(try HeldRun.decode(value, what: "run record of \(slot)"))
                    return true
                }
                return out
            }
        }
        guard !recorded.isEmpty else { throw HeldSlotError(.notHeld, "\(slot) is not held here") }
        var files = [(fd: Int32, bytes: UInt64)]()
        var total: UInt64 = 0
        do throws(HeldSlotError) {
            for run in recorded {
                if let bytes, total == bytes { break }
                let name = HeldRun.fileName(slot, run.run)
                guard let fd = try runFolder.open(name, O_RDONLY) else {
                    throw HeldSlotError(.storage, "the run file \(runFolder.path)/\(name) of \(slot) is missing")
                }
                files.append((fd, run.bytes))
                guard try FileIO.size(fd, what: name) == run.bytes else {
                    throw HeldSlotError(.storage, "the run file \(runFolder.path)/\(name) of \(slot) is not \(run.bytes) bytes long: it is damaged")
                }
                total += run.bytes
            }
            if let bytes, total != bytes {
                throw HeldSlotError(.notHeld, "\(slot) no longer has the \(bytes)-byte stream announced (it has \(total) bytes)")
            }
        } catch {
            for f in files { close(f.fd) }
            throw error
        }
        return HeldStreamReader(files: files)
    }

    // MARK: storing

    /// `store`, saying why when it refuses: reads the spool of (slot, from), checks it and
    /// makes it durable, or changes nothing. The spool is gone afterwards either way.
    public func storeSpooled(_ slot: SlotID, from: UInt32, to: SlotExtent) throws(HeldSlotError) {
        let spool = Self.storeSpoolName(slot, from)
        defer { spoolFolder.remove(spool) }
        try state.withLock { (st) throws(HeldSlotError) in
            guard to.packs > from else {
                throw HeldSlotError(.notAppend, "a store of packs \(from)..<\(to.packs) of \(slot) holds no pack")
            }
            // A damaged record does not stop a whole-slot store from replacing it.
            let held = from == 0 ? (try? self.held(slot)) ?? nil : try self.held(slot)
            if from != 0 {
                guard let held, held.extent.packs == from else {
                    throw HeldSlotError(.notAppend, "an append from pack \(from) to \(slot), which holds \(held?.extent.packs ?? 0) packs here")
                }
            }
            guard let fd = try spoolFolder.open(spool, O_RDONLY) else {
                throw HeldSlotError(.spoolMissing, "no stream was spooled for packs \(from)..<\(to.packs) of \(slot)")
            }
            defer { close(fd) }
            let size = try FileIO.size(fd, what: spoolFolder.path + "/" + spool)
            var decoder = SlotStreamDecoder(packs: to.packs - from, slotIndex: slot.index,
                                            code: from == 0 ? nil : held.map { (k: $0.k, n: $0.n) }, streamBytes: size,
                                            keepLeaves: true)
            let checked = try decoder.consume(file: fd, what: spool)

            let base = from == 0 ? 0 : held?.extent.bytes ?? 0
            let added = checked.reduce(0) { $0 + $1.geometry.shardBytes }
            guard base + added == to.bytes else {
                throw HeldSlotError(.slotBytes, "the shards make \(base + added) slot bytes of \(slot), the message says \(to.bytes)")
            }
            let heldBytes = held?.extent.bytes ?? 0
            let after = (st.used >= heldBytes ? st.used - heldBytes : 0) + to.bytes
            guard after <= capacity else {
                throw HeldSlotError(.overCapacity, "holding \(to.bytes) bytes of \(slot) would make \(after) bytes, past the \(capacity) this node offers")
            }
            var tree = SlotTree()
            if from != 0 { for leaf in try packLeaves(slot, count: from) { tree.append(leaf) } }
            for pack in checked { tree.append(pack.leaf) }
            guard tree.root == to.root else {
                throw HeldSlotError(.slotRoot, "the tree of \(slot) over its \(to.packs) packs is not the root the owner named")
            }

            try FileIO.sync(fd, what: spool)
            let run = st.nextRun
            let runName = HeldRun.fileName(slot, run)
            try spoolFolder.move(spool, to: runFolder, as: runName)
            let replaced: [UInt64]
            do throws(HeldSlotError) {
                try runFolder.sync()
                replaced = try lmdb("recording \(slot)") {
                    try env.write { txn in
                        let replaced = try from == 0 ? removeRecords(of: slot, txn) : []
                        for (i, pack) in checked.enumerated() {
                            let key = HeldRecords.key(slot, from + UInt32(i))
                            try txn.put(packs, key, HeldPack(run: run, offset: pack.offset, geometry: pack.geometry,
                                                             root: pack.root).encoded())
                            try txn.put(segments, key, pack.segmentLeaves.flatMap { $0 })
                        }
                        try txn.put(runs, HeldRecords.key(slot, from), HeldRun(run: run, to: to.packs, bytes: size).encoded())
                        let record = HeldSlot(slot: slot, k: checked[0].geometry.k, n: checked[0].geometry.n, extent: to,
                                              streamBytes: (from == 0 ? 0 : held?.streamBytes ?? 0) + size)
                        try txn.put(slots, slot.bytes, record.encoded())
                        var w = ByteWriter(capacity: 8)
                        w.u64(run + 1)
                        try txn.put(meta, HeldRecords.nextRunKey, w.bytes)
                        return replaced
                    }
                }
            } catch {
                runFolder.remove(runName)
                throw error
            }
            st.nextRun = run + 1
            st.used = after
            for old in replaced { runFolder.remove(HeldRun.fileName(slot, old)) }
        }
    }

    /// Forgets the slot: its records in one transaction, then its run files.
    public func deleteHeld(_ slot: SlotID) throws(HeldSlotError) {
        try state.withLock { (st) throws(HeldSlotError) in
            // A damaged record is removed all the same.
            let held = (try? self.held(slot)) ?? nil
            let removed = try lmdb("deleting \(slot)") { try env.write { txn in try removeRecords(of: slot, txn) } }
            st.used -= min(st.used, held?.extent.bytes ?? 0)
            for run in removed { runFolder.remove(HeldRun.fileName(slot, run)) }
        }
    }

    /// Removes every record of `slot`; the run numbers it had.
    private func removeRecords(of slot: SlotID, _ txn: borrowing WriteTransaction) throws -> [UInt64] {
        var removed = [UInt64]()
        var keys = [[UInt8]]()
        try txn.forEach(runs, prefix: slot.bytes) { key, value in
            keys.append(key)
            if let run = try? HeldRun.decode(value, what: "run record") { removed.append(run.run) }
            return true
        }
        for key in keys { try txn.delete(runs, key) }
        for db in [packs, segments] {
            keys.removeAll()
            try txn.forEach(db, prefix: slot.bytes) { key, _ in
                keys.append(key)
                return true
            }
            for key in keys { try txn.delete(db, key) }
        }
        try txn.delete(slots, slot.bytes)
        return removed
    }

    /// The slot-tree leaves of the slot's first `count` packs.
    private func packLeaves(_ slot: SlotID, count: UInt32) throws(HeldSlotError) -> [[UInt8]] {
        let leaves: [[UInt8]] = try lmdb("reading the packs of \(slot)") {
            try env.read { txn in
                var out = [[UInt8]]()
                try txn.forEach(packs, prefix: slot.bytes) { key, value in
                    guard out.count < Int(count) else { return false }
                    guard HeldRecords.pack(fromKey: key) == UInt32(out.count) else {
                        throw HeldRecords.damaged("pack list of \(slot)")
                    }
                    out.append(try HeldPack.decode(value, what: "pack record of \(slot)").leaf)
                    return true
                }
                return out
            }
        }
        guard leaves.count == Int(count) else { throw HeldRecords.damaged("pack list of \(slot)") }
        return leaves
    }

    // MARK: proving

    /// `prove`, saying why when it cannot: nil only when the slot does not hold the pack.
    public func proof(_ slot: SlotID, pack: UInt32, packs width: UInt32, selector: UInt32) throws(HeldSlotError) -> SegmentProof? {
        guard let held = try self.held(slot), pack < width, width <= held.extent.packs else { return nil }
        let leaves = try packLeaves(slot, count: width)
        let (record, segmentLeaves) = try lmdb("reading pack \(pack) of \(slot)") {
            try env.read { txn -> (HeldPack, [UInt8]) in
                let key = HeldRecords.key(slot, pack)
                guard let record = try txn.withValue(packs, key, { value throws(HeldSlotError) in
                          try HeldPack.decode(value, what: "pack record of \(slot)")
                      }),
                      let leaves = try txn.get(segments, key)
                else { throw HeldRecords.damaged("pack \(pack) of \(slot)") }
                return (record, leaves)
            }
        }
        let g = record.geometry
        guard segmentLeaves.count == Int(g.segments) * MerkleTree.hashLength else {
            throw HeldRecords.damaged("segment hashes of pack \(pack) of \(slot)")
        }
        let shardLeaves = stride(from: 0, to: segmentLeaves.count, by: MerkleTree.hashLength).map {
            Array(segmentLeaves[$0..<$0 + MerkleTree.hashLength])
        }
        let index = SegmentProof.segment(selector: selector, of: g)
        let name = HeldRun.fileName(slot, record.run)
        guard let fd = try runFolder.open(name, O_RDONLY) else {
            throw HeldSlotError(.storage, "the run file \(runFolder.path)/\(name) of \(slot) is missing")
        }
        defer { close(fd) }
        let at = record.offset + UInt64(SlotStream.frameHeaderBytes) + UInt64(index) * UInt64(g.segmentBytes)
        let segment = try FileIO.read(fd, count: g.segmentLength(index), at: at, what: name)
        if MerkleTree.leafHash(segment) != shardLeaves[Int(index)] {
            // Answered all the same: the owner's check fails it, which is the truth.
            logger.info("held.prove.damagedSegment", metadata: ["slot": "\(slot)", "pack": "\(pack)", "segment": "\(index)"])
        }
        return SegmentProof(segment: segment, path: MerklePaths.path(shardLeaves, index: Int(index)), packRoot: record.root,
                            geometry: g, packPath: MerklePaths.path(leaves, index: Int(pack)))
    }

    // MARK: verifying fetches

    /// `verify`, saying why when it refuses: the stream spooled for fetch `request` from
    /// `from` is the slot's first `expect.packs` packs, their shards `expect.bytes` long in
    /// all, every shard matching its root and the slot's tree `expect.root`. Read in
    /// chunks: only leaf hashes of one batch of segments are in memory at a time.
    public func verifyFetched(_ slot: SlotID, request: UInt64, from: NodeID, expect: SlotExtent) throws(HeldSlotError) {
        let name = Self.fetchSpoolName(request, from)
        guard let fd = try spoolFolder.open(name, O_RDONLY) else {
            throw HeldSlotError(.spoolMissing, "no stream was spooled for fetch \(request) of \(slot) from \(from)")
        }
        defer { close(fd) }
        var decoder = SlotStreamDecoder(packs: expect.packs, slotIndex: slot.index,
                                        streamBytes: try FileIO.size(fd, what: name), keepLeaves: false)
        let checked = try decoder.consume(file: fd, what: name)
        let bytes = checked.reduce(0) { $0 + $1.geometry.shardBytes }
        guard bytes == expect.bytes else {
            throw HeldSlotError(.slotBytes, "the fetched shards of \(slot) make \(bytes) slot bytes, \(expect.bytes) were expected")
        }
        var tree = SlotTree()
        for pack in checked { tree.append(pack.leaf) }
        guard tree.root == expect.root else {
            throw HeldSlotError(.slotRoot, "the fetched tree of \(slot) over \(expect.packs) packs is not the root expected")
        }
    }

    /// Runs an LMDB operation; a `HeldSlotError` thrown inside comes out as it is, a
    /// store failure as `.storage` naming `what`.
    private func lmdb<R>(_ what: String, _ body: () throws -> R) throws(HeldSlotError) -> R {
        do {
            return try body()
        } catch let error as HeldSlotError {
            throw error
        } catch {
            throw HeldSlotError(.storage, "\(what) in \(path) failed: nothing was changed", cause: error)
        }
    }
}

extension SlotStreamDecoder {
    /// Reads the rest of the file `fd` through the decoder, in 1 MiB chunks; the packs.
    mutating func consume(file fd: Int32, what: String) throws(HeldSlotError) -> [CheckedPack] {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let n = try FileIO.read(fd, into: buffer, what: what)
            if n == 0 { break }
            try consume(UnsafeRawBufferPointer(rebasing: buffer[..<n]))
        }
        return try finish()
    }
}
