import CairnCore
import CairnCrypto
import CairnWire
import Synchronization
#if canImport(Glibc)
internal import Glibc
#elseif canImport(Darwin)
internal import Darwin
#endif

/// A slot stream read from disk in chunks, for the transport to send without loading it
/// whole: a held slot's runs one after another (`HeldSlotStore.openSlotStream`), or a
/// spooled fetch (`openFetched`). Its files are opened when it is made, so a slot
/// replaced or deleted meanwhile still reads as it was.
public final class HeldStreamReader: Sendable {
    /// Bytes the stream has in all.
    public let length: UInt64
    private let state: Mutex<State>

    private struct State {
        var files: [(fd: Int32, bytes: UInt64)]
        var file = 0
        var readInFile: UInt64 = 0
        var read: UInt64 = 0
        /// Packs `nextPack` returned.
        var packs = 0
    }

    /// `files`: open descriptors and how many of each one's bytes belong to the stream;
    /// the reader closes them.
    init(files: [(fd: Int32, bytes: UInt64)]) {
        length = files.reduce(0) { $0 + $1.bytes }
        state = Mutex(State(files: files))
    }

    deinit {
        state.withLock { s in for f in s.files { close(f.fd) } }
    }

    private var packsRead: Int { state.withLock { $0.packs } }

    /// Bytes read so far.
    public var position: UInt64 { state.withLock { $0.read } }

    /// Fills `buffer` with the next bytes; fewer only at the end (0 once all is read).
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(HeldSlotError) -> Int {
        try state.withLock { (s) throws(HeldSlotError) -> Int in
            var done = 0
            while done < buffer.count, s.file < s.files.count {
                let f = s.files[s.file]
                let want = Int(min(UInt64(buffer.count - done), f.bytes - s.readInFile))
                if want == 0 {
                    s.file += 1
                    s.readInFile = 0
                    continue
                }
                try FileIO.read(f.fd, filling: UnsafeMutableRawBufferPointer(rebasing: buffer[done..<done + want]),
                                at: s.readInFile, what: "a held slot stream")
                done += want
                s.readInFile += UInt64(want)
                s.read += UInt64(want)
            }
            return done
        }
    }

    /// The next at most `count` bytes; empty once all is read.
    public func next(upTo count: Int) throws(HeldSlotError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(min(UInt64(count), length - position)))
        let n = try out.withUnsafeMutableBytes { b in Result { () throws(HeldSlotError) in try read(into: b) } }.get()
        out.removeLast(out.count - n)
        return out
    }

    /// The rest of the stream as packs, each shard checked against its root as it is
    /// read (a restore or a repair rebuilding from a verified fetch): one shard in memory
    /// at a time, its length bounded before it is allocated.
    public func nextPack() throws(HeldSlotError) -> SlotStreamPack? {
        guard position < length else { return nil }
        let offset = position
        let (geometry, root) = try SlotStream.readFrameHeader(try next(upTo: SlotStream.frameHeaderBytes), pack: packsRead,
                                                              offset: offset)
        guard geometry.shardBytes <= length - position else {
            throw HeldSlotError(.truncated, "the stream ends inside a shard of \(geometry.shardBytes) bytes")
        }
        let shard = try next(upTo: Int(geometry.shardBytes))
        guard MerkleTree.root(of: shard, segmentSize: Int(geometry.segmentBytes)) == root else {
            throw HeldSlotError(.shardRoot, "a shard of the stream does not match its root")
        }
        state.withLock { $0.packs += 1 }
        return SlotStreamPack(geometry: geometry, root: root, shard: shard)
    }
}
