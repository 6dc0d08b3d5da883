import CairnWire

/// Why a holder refused a slot stream, or could not keep or read one. `HeldSlotStore`'s
/// `ShardStorage` methods answer false or nil and log it; the throwing methods behind them
/// (`storeSpooled`, `verifyFetched`) hand it to callers and tests that must know which.
public struct HeldSlotError: CairnError {
    public enum Code: String, Hashable, Sendable {
        /// The stream ended inside a pack, or before the packs announced.
        case truncated
        /// Bytes follow the last pack announced (or a spool was written past its length).
        case trailingBytes
        /// A pack's geometry is not a valid one (k, n, shard length, segment size).
        case badGeometry
        /// A pack announces a shard longer than any pack the engine makes.
        case shardTooLong
        /// A pack's code (k of n) differs from the slot's, or the slot's index is not below n.
        case codeMismatch
        /// A shard's bytes do not hash to the root in front of it.
        case shardRoot
        /// The slot's tree over its packs is not the root the message named.
        case slotRoot
        /// The shards' lengths do not add up to the slot bytes the message named.
        case slotBytes
        /// One stream has more segments than a store keeps hashes of in memory.
        case tooManySegments
        /// `from` is neither 0 nor the packs already held (or `to` is not past it).
        case notAppend
        /// Holding this would pass the space the node offers.
        case overCapacity
        /// No spooled stream for this slot (or this fetch) is there.
        case spoolMissing
        /// The slot (or that pack) is not held here.
        case notHeld
        /// A pack of a fetched slot is not a shard of that slot's index with a repository id.
        case notAShard
        /// Another fetch is writing the same shard into a staging target.
        case claimed
        /// The disk or the LMDB store failed (full, I/O error, damaged record): nothing changed.
        case storage
    }

    public let code: Code
    public let message: String
    public let cause: (any Error)?
    public let location: ErrorLocation

    public init(_ code: Code, _ message: String, cause: (any Error)? = nil, file: String = #fileID, line: Int = #line) {
        self.code = code
        self.message = message
        self.cause = cause
        location = .source(file: file, line: line)
    }

    public var codeName: String { code.rawValue }
    public var description: String { oneLine }
}
