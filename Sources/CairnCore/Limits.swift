import CairnWire

/// Every bound of the node core in one place. Messages, queues, loops and retries are
/// bounded by these; a value beyond them is a protocol error (thrown) or a programmer
/// error (precondition), never silently accepted.
public enum ProtocolLimits {
    /// Wire format version this code speaks.
    public static let wireVersion: UInt8 = 10
    /// Largest encoded message (header included): a challenge reply with a full 64 KiB
    /// segment and the deepest proof fits (`PackGeometry.segmentBytesMax` + 4 KiB). Larger
    /// than a UDP datagram: such messages travel on a stream.
    public static let messageBytesMax = Int(PackGeometry.segmentBytesMax) + 4096
    /// Largest number of nodes named in one message (match replies, uptime queries).
    public static let nodesPerMessageMax = 1024
    /// Largest erasure-code width (the volume layout's bound).
    public static let slotsPerVolumeMax = PackGeometry.shardsMax
    /// Public keys and signatures.
    public static let publicKeyBytesMax = 64
    /// Node keys (Ed25519, 32 bytes) one owner's number refuses after another machine took
    /// its node over (`takeOver`, `keysRetired`): the newest are kept.
    public static let retiredKeysMax = 32
    public static let nodeKeyBytes = 32
    /// Each pack's frame in a slot stream before its shard: its geometry and shard root
    /// (docs/DATA-FORMATS.md, "Slot streams"). A stream of packs is their shard bytes plus
    /// this much per pack, which is what `storeSlot` announces.
    public static let slotStreamFrameHeaderBytes = PackGeometry.encodedBytes + PackGeometry.hashBytes

    /// The bytes of the stream that carries `packs` packs whose shards are `shardBytes` long in all.
    public static func slotStreamBytes(packs: UInt32, shardBytes: UInt64) -> UInt64 {
        shardBytes + UInt64(packs) * UInt64(slotStreamFrameHeaderBytes)
    }

    /// A host name or address in the addressing messages (DNS names are at most 253).
    public static let hostBytesMax = 255
    public static let signatureBytesMax = 128
    /// How many candidates the coordinator samples per placement request.
    public static let placementSampleMax = 256
    /// Outstanding challenges per node: one per slot it owns and one per audit, so never
    /// reached by an owner within `contractsPerNodeMax` (past it, older ones are timed out
    /// first).
    public static let outstandingChallengesMax = 2 * contractsPerNodeMax
    /// Contracts one node may hold or own.
    public static let contractsPerNodeMax = 1 << 16
    /// Volumes one node may own: 1 TiB in 4 GiB volumes is a few hundred; this is room
    /// for a petabyte.
    public static let volumesPerNodeMax = 1 << 16
    /// Uptime window slots (bits kept per node).
    public static let uptimeSlotsMax = 256
    /// Volume locations in one record reply: 16 volumes of the widest code (64 slots of 44
    /// bytes) stay under `messageBytesMax`.
    public static let locationsPerReplyMax = 16
    /// Times a release is re-sent on consecutive repair ticks before the owner backs off
    /// (`NodeCore.PendingRelease`).
    public static let releaseRetriesMax = 8
}
