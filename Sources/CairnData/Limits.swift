/// Every bound of the data path in one place.
public enum Limits {
    /// The largest chunk the chunker may produce (FastCDC max size upper bound).
    public static let chunkMax = 64 * 1024 * 1024
    /// A sealed chunk: flag byte + compressed bound + AEAD overhead.
    public static let sealedChunkMax = chunkMax + chunkMax / 128 + 1024
    /// Packs are closed once they reach this many bytes.
    public static let packTarget = 16 * 1024 * 1024
    /// The largest pack a reader accepts (one maximal chunk over the target).
    public static let packMax = packTarget + sealedChunkMax
    /// Bytes of plaintext chunks read ahead and processed as one batch.
    public static let batchBytes = 8 * 1024 * 1024
    /// Segment size of the Merkle tree over each shard.
    public static let merkleSegment = 64 * 1024
    /// Most shards a pack can be split into.
    public static let shardCountMax = 255
    /// Entries a tree may list.
    public static let treeEntriesMax = 50_000_000
    /// Snapshots and packs a root record may list.
    public static let snapshotsMax = 1_000_000
    public static let packsMax = 50_000_000
    /// Largest root record accepted from a target.
    public static let rootRecordMax = 1 << 30
    /// Path length in a tree entry.
    public static let pathMax = 64 * 1024
}
