import CairnWire

/// Why the owner's core refused to open a volume or append a pack to it. A refusal changes
/// nothing: the caller opens another volume, or keeps the pack for later.
public enum VolumeError: CairnError, Equatable {
    case duplicate(VolumeID)
    /// The id names another owner's volume.
    case notMine(VolumeID)
    case unknown(VolumeID)
    /// This node already owns `limit` volumes.
    case tooManyVolumes(limit: Int)
    case badCode(VolumeID, String)
    /// The pack's code is not the volume's.
    case codeMismatch(VolumeID, volume: String, pack: String)
    /// The volume is closed (full, lost, or closed by its owner): open the next one.
    case closed(VolumeID)
    /// The pack's shard would take the slot past the volume's capacity.
    case full(VolumeID, capacity: UInt64, wouldBe: UInt64)
    case badRoots(VolumeID, count: Int, n: Int)
    case tooManyPacks(VolumeID)

    public var codeName: String {
        switch self {
        case .duplicate: "duplicateVolume"
        case .notMine: "notMyVolume"
        case .unknown: "unknownVolume"
        case .tooManyVolumes: "tooManyVolumes"
        case .badCode: "badCode"
        case .codeMismatch: "codeMismatch"
        case .closed: "volumeClosed"
        case .full: "volumeFull"
        case .badRoots: "badRoots"
        case .tooManyPacks: "tooManyPacks"
        }
    }

    public var message: String {
        switch self {
        case let .duplicate(v): "\(v) is open already"
        case let .notMine(v): "\(v) belongs to another owner"
        case let .unknown(v): "no volume \(v) here"
        case let .tooManyVolumes(limit): "this node owns \(limit) volumes already, the most it may; use larger volumes"
        case let .badCode(v, why): "\(v): \(why)"
        case let .codeMismatch(v, volume, pack): "\(v) is \(volume); a \(pack) pack belongs in another volume"
        case let .closed(v): "\(v) takes no more packs; open the next volume"
        case let .full(v, capacity, wouldBe): "\(v) holds \(capacity) bytes per slot; this pack would make it \(wouldBe): open the next volume"
        case let .badRoots(v, count, n): "a pack for \(v) came with \(count) shard roots, not \(n)"
        case let .tooManyPacks(v): "\(v) holds the most packs a volume may"
        }
    }

    public var cause: (any Error)? { nil }
    public var location: ErrorLocation { .unknown }
    public var description: String { "\(codeName): \(message)" }
}
