/// Why shards could not be turned back into a pack or into other shards. Shards come from
/// peers, so missing, extra or mismatched shards are expected failures, not traps.
public struct ErasureCodingError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What kind of failure this is; a struct over a private enum so kinds can be added
    /// later without breaking anyone's exhaustive `switch`.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Kind: Hashable, Sendable {
            case invalidParameters, notEnoughShards, shardIndexOutOfRange, inconsistentShardSizes, singularMatrix
        }

        private let kind: Kind
        private init(_ kind: Kind) { self.kind = kind }

        /// k and n outside `1 ≤ k ≤ n ≤ 255`.
        public static let invalidParameters = Code(.invalidParameters)
        /// Fewer than k distinct shards were given.
        public static let notEnoughShards = Code(.notEnoughShards)
        /// A shard index outside `0..<n`.
        public static let shardIndexOutOfRange = Code(.shardIndexOutOfRange)
        /// Shards of different sizes, or of a size that does not match the original length.
        public static let inconsistentShardSizes = Code(.inconsistentShardSizes)
        /// The chosen shards' rows could not be inverted (cannot happen with a Cauchy matrix).
        public static let singularMatrix = Code(.singularMatrix)

        public var description: String {
            switch kind {
            case .invalidParameters: "invalid erasure coding parameters"
            case .notEnoughShards: "not enough shards"
            case .shardIndexOutOfRange: "shard index out of range"
            case .inconsistentShardSizes: "inconsistent shard sizes"
            case .singularMatrix: "singular decoding matrix"
            }
        }
    }

    public let code: Code
    /// What went wrong and what to do about it.
    public let message: String
    /// Where in Cairn the error was raised (`file:line`), for bug reports.
    public let location: String

    init(_ code: Code, _ message: String, file: String = #fileID, line: Int = #line) {
        self.code = code
        self.message = message
        self.location = "\(file):\(line)"
    }

    public var description: String { "\(code): \(message)" }
}
