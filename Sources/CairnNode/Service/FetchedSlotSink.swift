import CairnCore
internal import CairnData
import CairnNet
import CairnWire
import Foundation
import NIOCore
import Synchronization

/// The staging targets a network restore writes fetched shards into (shard i of a pack
/// into `shard-i`, as `OwnerPacks` lays them out), and which fetch wrote which shard.
///
/// Streams arrive on several session threads at once and are written as they are checked
/// (`FetchedSlotSink`), before their slot's tree can be checked at the stream's end; so a
/// shard a stream writes is *pending* until its slot checks against the root the session
/// expects, then *kept*, and a stream that fails removes what it wrote. A stream never
/// writes over a shard another fetch wrote (pending or kept): a hostile holder that frames
/// another volume's packs cannot replace, nor later remove, shards an honest one gave.
public final class StagingShards: Sendable {
    struct Key: Hashable, Sendable {
        let pack: PackID
        let index: Int
    }

    enum Claim: Equatable, Sendable {
        /// Nobody wrote this shard: the claiming fetch writes it, pending.
        case write
        /// A fetch whose slot checked wrote it already: nothing to write.
        case kept
        /// Another fetch is writing it and its slot is not checked yet.
        case pending
    }

    private enum Owner: Equatable {
        case pending(request: UInt64)
        case kept
    }

    public let dataDirectory: String
    private let state = Mutex<(targets: [Int: LocalTarget], owners: [Key: Owner])>(([:], [:]))

    public init(dataDirectory: String) { self.dataDirectory = dataDirectory }

    /// Claims shard `key` for fetch `request`.
    func claim(_ key: Key, for request: UInt64) -> Claim {
        state.withLock { s in
            switch s.owners[key] {
            case nil:
                s.owners[key] = .pending(request: request)
                return .write
            case .kept:
                return .kept
            case .pending:
                return .pending
            }
        }
    }

    /// The staging target of shard `index` of an `n`-shard code, created when missing.
    func target(_ index: Int, n: Int) throws(NodeError) -> LocalTarget {
        guard index < n else { throw NodeError(.badStream, "a shard index \(index) of a \(n)-shard code") }
        return try state.withLock { (s) throws(NodeError) -> LocalTarget in
            if let t = s.targets[index] { return t }
            let path = OwnerPacks.targetPath(dataDirectory: dataDirectory, index: index)
            do {
                // Flushed once, in `finish`: a restore that stops before it starts again.
                let t = try LocalTarget(path: path, access: .create, durable: false)
                s.targets[index] = t
                return t
            } catch {
                throw NodeError(.storage, "the staging target \(path) cannot be created", cause: error)
            }
        }
    }

    /// Fetch `request`'s slot checked: the shards it wrote stay.
    func keep(_ keys: [Key], of request: UInt64) {
        state.withLock { s in
            for key in keys where s.owners[key] == .pending(request: request) { s.owners[key] = .kept }
        }
    }

    /// Fetch `request` failed or broke off: the shards it wrote are removed from their
    /// targets (left pending if the removal fails, for `dropPending`).
    func drop(_ keys: [Key], of request: UInt64) throws(NodeError) {
        let mine = state.withLock { s in keys.filter { s.owners[$0] == .pending(request: request) } }
        try remove(mine)
    }

    /// Removes every pending shard (once no session writes any more: the restore is over).
    public func dropPending() throws(NodeError) {
        let pending = state.withLock { s in s.owners.filter { $0.value != .kept }.map(\.key) }
        try remove(pending)
    }

    /// Deletes `keys` from their targets, then forgets their owners.
    private func remove(_ keys: [Key]) throws(NodeError) {
        var byIndex: [Int: [Key]] = [:]
        for key in keys { byIndex[key.index, default: []].append(key) }
        for index in byIndex.keys.sorted() {
            let batch = byIndex[index]!
            if let target = state.withLock({ $0.targets[index] }) {
                do {
                    try target.deleteShards(batch.map { ($0.pack, $0.index) })
                } catch {
                    throw NodeError(.storage, "unchecked shards cannot be removed from the staging target \(target.path)", cause: error)
                }
            }
            state.withLock { s in for key in batch { s.owners[key] = nil } }
        }
    }

    /// Writes the root record on every target written, flushes and closes them; their
    /// paths by index. A target left without a shard (every stream into it was dropped:
    /// a spare fetch given up, a slot that did not check) is removed instead: an empty
    /// store is not a target the engine can place (it names no shard index), while a
    /// missing one is re-created by `cairn check` (`NetworkRestore.completeStaging`).
    public func finish(root: [UInt8]) throws(NodeError) -> [String] {
        var targets = state.withLock { s in
            defer { s.targets = [:] }
            return s.targets
        }
        for index in targets.keys.sorted() {
            let empty: Bool
            do { empty = try targets[index]!.identity().index == nil } catch { empty = false }
            guard empty else { continue }
            let path = targets.removeValue(forKey: index)!.path
            do { try FileManager.default.removeItem(atPath: path) } catch {
                throw NodeError(.storage, "the empty staging target \(path) cannot be removed", cause: error)
            }
        }
        for index in targets.keys.sorted() {
            do {
                try targets[index]!.writeRoot(root)
                try targets[index]!.sync()
            } catch {
                throw NodeError(.storage, "the root record cannot be written to the staging target \(targets[index]!.path)", cause: error)
            }
        }
        return targets.keys.sorted().map { targets[$0]!.path }
    }
}

/// Where a holder's fetch reply streams, on the session's own thread: each shard checked
/// against the root in front of it (`SlotStreamDecoder`, one shard in memory), then
/// written straight into its staging target, pending; at the stream's end the slot's
/// tree is checked against the root the restore session expects, and the shards are kept,
/// or removed if anything failed. A stream the session did not ask for (or of another
/// length than that slot's) is read and dropped. Nothing here throws for what the holder
/// sent — that is a verdict, `verified` false, and the session asks another holder — only
/// for a stream past the bytes announced, which drops the session.
///
/// Touched only by the session that writes it, on its event loop, then (once finished)
/// by the client's loop, which the message hops to: never by two threads at once.
public final class FetchedSlotSink: PayloadSink, @unchecked Sendable {
    public typealias Expectation = FetchExpectation

    public let request: UInt64
    /// What the session asked for; nil for a stream it did not ask for.
    public let expectation: Expectation?
    public let announced: UInt64
    private let staging: StagingShards
    private var decoder: SlotStreamDecoder?
    private var received: UInt64 = 0
    private var written: [StagingShards.Key] = []
    private var done = false
    /// Root records found among the packs (opened by the client once the slot checked).
    public private(set) var envelopes: [[UInt8]] = []
    /// The slot's packs in stream order (what the client records for the node to adopt
    /// the volume: `RestoredVolumes`).
    private(set) var streamed: [StreamedPack] = []
    /// Why the stream was refused; nil once it checked (or while it is still arriving).
    public private(set) var failure: String?
    /// The slot checked against its root and every shard of it is in its staging target.
    public private(set) var verified = false
    /// Shards written into staging targets for this stream (not counting those already there).
    public var shardsWritten: Int { verified ? written.count : 0 }

    public init(request: UInt64, expectation: Expectation?, announced: UInt64, staging: StagingShards) {
        self.request = request
        self.expectation = expectation
        self.announced = announced
        self.staging = staging
        guard let e = expectation else {
            failure = "a fetch reply nobody asked for"
            return
        }
        let streamBytes = e.expect.bytes &+ UInt64(e.expect.packs) &* UInt64(SlotStream.frameHeaderBytes)
        guard announced == streamBytes, e.expect.bytes <= UInt64.max / 2 else {
            failure = "a stream of \(announced) bytes, where \(e.expect.packs) packs of \(e.expect.bytes) slot bytes take \(streamBytes)"
            return
        }
        decoder = SlotStreamDecoder(packs: e.expect.packs, slotIndex: e.slot.index, streamBytes: announced, keepLeaves: false,
                                    holdShards: true)
    }

    public func write(_ bytes: ByteBuffer) throws(NetError) {
        let count = UInt64(bytes.readableBytes)
        guard !done, count <= announced - received else {
            abandon()
            throw NetError(.oversized, "the holder sent more than the \(announced) bytes it announced for fetch \(request)")
        }
        received += count
        guard failure == nil, var d = decoder, let e = expectation else { return }
        decoder = nil   // one owner of its buffer while it grows
        let result = bytes.withUnsafeReadableBytes { raw in
            Result { () throws(HeldSlotError) in
                try d.consume(raw) { (_, shard) throws(HeldSlotError) in try self.take(shard, of: e) }
            }
        }
        if case let .failure(error) = result {
            refuse(error.oneLine)
        } else {
            decoder = d
        }
    }

    public func finish() throws(NetError) {
        guard !done else { return }
        done = true
        guard received == announced else {
            refuse("the stream ended after \(received) of the \(announced) bytes announced")
            throw NetError(.io, "the fetch reply \(request) ended after \(received) of its \(announced) bytes")
        }
        guard failure == nil, let d = decoder, let e = expectation else { return }
        decoder = nil
        do throws(HeldSlotError) {
            let checked = try d.finish()
            let bytes = checked.reduce(0) { $0 + $1.geometry.shardBytes }
            guard bytes == e.expect.bytes else {
                throw HeldSlotError(.slotBytes, "the fetched shards of \(e.slot) make \(bytes) slot bytes, \(e.expect.bytes) were expected")
            }
            var tree = SlotTree()
            for pack in checked { tree.append(pack.leaf) }
            guard tree.root == e.expect.root else {
                throw HeldSlotError(.slotRoot, "the fetched tree of \(e.slot) over \(e.expect.packs) packs is not the root expected")
            }
        } catch {
            refuse(error.oneLine)
            return
        }
        staging.keep(written, of: request)
        verified = true
    }

    public func abandon() {
        done = true
        guard !verified else { return }
        refuse("the session ended inside the stream")
    }

    /// One shard that matched the root in front of it: a root record is set aside, any
    /// other pack must be shard `slot.index` of a Cairn pack, and goes into its target.
    private func take(_ shard: UnsafeRawBufferPointer, of e: Expectation) throws(HeldSlotError) {
        let head = Array(shard.prefix(ShardHeader.size))
        if RootEnvelope.isEnvelope(head) {
            envelopes.append(Array(shard))
            streamed.append(StreamedPack(pack: nil, bytes: UInt64(shard.count)))
            return
        }
        let index = Int(e.slot.index)
        guard let header = try? ShardHeader(decoding: head), header.index == index, header.repository != nil,
              shard.count == header.encodedSize + header.shardLength
        else {
            throw HeldSlotError(.notAShard, "a pack of slot \(e.slot) is not shard \(index) of a Cairn pack")
        }
        streamed.append(StreamedPack(pack: header.pack, bytes: UInt64(shard.count)))
        let key = StagingShards.Key(pack: header.pack, index: index)
        switch staging.claim(key, for: request) {
        case .kept:
            return
        case .pending:
            throw HeldSlotError(.claimed, "shard \(index) of pack \(header.pack) is being written by another fetch")
        case .write:
            written.append(key)
        }
        do throws(NodeError) {
            let target = try staging.target(index, n: header.n)
            do throws(DataError) {
                try target.putShard(header: header, bytes: UnsafeRawBufferPointer(rebasing: shard[header.encodedSize...]))
            } catch {
                throw NodeError(.storage, "shard \(index) of pack \(header.pack) cannot be written to \(target.path): is the disk full?",
                                cause: error)
            }
        } catch {
            throw HeldSlotError(.storage, error.oneLine, cause: error)
        }
    }

    /// Refuses the stream (the first reason stays): what it wrote is removed.
    private func refuse(_ reason: String) {
        decoder = nil
        verified = false
        if failure == nil { failure = reason }
        let mine = written
        written = []
        do throws(NodeError) { try staging.drop(mine, of: request) } catch {
            // Left pending: `dropPending` removes them when the restore ends.
            failure = (failure ?? reason) + "; " + error.oneLine
        }
    }
}
