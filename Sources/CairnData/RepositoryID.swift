import CairnCrypto

/// Which repository — the set of targets one data directory backs up to — a root record,
/// a target or a shard belongs to. One owner (one phrase) may keep several repositories
/// (a set of drives at home, another at work); their root records verify with the same
/// keys, so without this id a drive of one, plugged in where a drive of the other was,
/// would look like a newer copy of the history and replace it.
///
/// 16 random bytes, made by `cairn init` (or by the first write of a repository made
/// before ids existed), kept in the data directory's `config.json`, the sealed root
/// record, each target's `meta` database and every shard header.
public struct RepositoryID: Hashable, Sendable, Comparable, CustomStringConvertible {
    public static let size = 16
    public let bytes: [UInt8]

    public init(_ bytes: [UInt8]) {
        precondition(bytes.count == Self.size, "repository id of \(bytes.count) bytes")
        self.bytes = bytes
    }

    public static func random() -> RepositoryID { RepositoryID(SecureRandom.bytes(size)) }

    /// The id as 32 lowercase hex digits, as `cairn snapshots` shows it.
    public var hex: String { Hex.encode(bytes) }
    public var description: String { hex }

    /// Parses a whole id (32 hex digits); nil for anything else.
    public init?(hex text: String) {
        let lower = text.lowercased()
        guard lower.count == 2 * Self.size, let bytes = Hex.decode(lower), bytes.count == Self.size else { return nil }
        self.bytes = bytes
    }

    public static func < (a: RepositoryID, b: RepositoryID) -> Bool { a.bytes.lexicographicallyPrecedes(b.bytes) }

    func encode(into w: inout ByteWriter) { w.raw(bytes) }

    init(reading r: inout ByteReader) throws(DecodeError) {
        bytes = try r.raw(Self.size)
    }
}
