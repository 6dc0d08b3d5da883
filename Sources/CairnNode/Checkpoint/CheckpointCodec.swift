import CairnCore
import CairnWire
import Foundation

/// Why a checkpoint could not be written or read back.
public struct CheckpointError: CairnError {
    public let message: String
    public let cause: (any Error)?
    public var codeName: String { "badCheckpoint" }
    public var location: ErrorLocation { .unknown }
    public var description: String { oneLine }
}

/// The bytes of a core's checkpoint (see `CheckpointKeys` in the core): the JSON of its
/// `Codable` state under a version number, which changes whenever a stored field does. A
/// checkpoint of another version, another node's key, or damaged bytes is refused with a
/// message saying which; nothing traps on them.
public enum CheckpointCodec {
    public static let version = 1

    struct Envelope<State: Codable>: Codable {
        var version: Int
        var state: State
    }

    private struct Version: Codable { var version: Int }

    public static func encode(_ state: some Codable) throws(CheckpointError) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        do {
            return try [UInt8](encoder.encode(Envelope(version: version, state: state)))
        } catch {
            throw CheckpointError(message: "the state could not be encoded", cause: error)
        }
    }

    public static func decode<State: Codable>(_ type: State.Type, from bytes: [UInt8], keys: CheckpointKeys)
        throws(CheckpointError) -> State
    {
        let decoder = JSONDecoder()
        decoder.userInfo[CheckpointKeys.userInfoKey] = keys
        let data = Data(bytes)
        guard let found = try? decoder.decode(Version.self, from: data) else {
            throw CheckpointError(message: "the checkpoint has no version: it is damaged or not Cairn's", cause: nil)
        }
        guard found.version == version else {
            throw CheckpointError(message: "the checkpoint is of version \(found.version); this build reads version \(version)",
                                  cause: nil)
        }
        do {
            return try decoder.decode(Envelope<State>.self, from: data).state
        } catch {
            throw CheckpointError(message: "the checkpoint does not decode: it is damaged", cause: error)
        }
    }

    /// A core written to a checkpoint and read back with its own keys: what a node killed
    /// now and restarted would run on.
    public static func restarted(_ core: NodeCore) throws(CheckpointError) -> NodeCore {
        try decode(NodeCore.self, from: encode(core), keys: core.checkpointKeys)
    }

    public static func restarted(_ core: CoordinatorCore) throws(CheckpointError) -> CoordinatorCore {
        try decode(CoordinatorCore.self, from: encode(core), keys: core.checkpointKeys)
    }
}
