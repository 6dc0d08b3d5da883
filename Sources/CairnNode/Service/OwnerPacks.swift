import CairnCore
import CairnCrypto
import CairnNet
internal import CairnData
import CairnWire
#if canImport(Glibc)
internal import Glibc
#endif

/// The owner's pack store: what `cairn backup --data-dir DIR` writes for the network, and
/// where the node's uploads read from. It is the engine's own format — n local targets
/// under `DIR/node/outgoing/` (`shard-0` … `shard-(n-1)`), written by the unchanged
/// engine, each holding shard i of every pack and the sealed root record — so a backup
/// to the network is a backup to local targets that the node then places.
///
/// Placing turns what a backup added into one closed volume of the node core: every pack
/// the root record names that no earlier volume holds, then the root record itself as the
/// volume's last pack (each slot carries a whole copy: any one holder gives it back).
/// Slot i of the volume streams shard i of each pack exactly as target i stores it (shard
/// header, then bytes), so a restore can write what it fetches straight into fresh targets
/// and let the engine restore from them.
public enum OwnerPacks {
    /// The staging targets of a data directory for an n-shard code.
    public static func targetPaths(dataDirectory: String, n: Int) -> [String] {
        (0..<n).map { targetPath(dataDirectory: dataDirectory, index: $0) }
    }

    /// The staging target that holds shard `index` of every pack.
    public static func targetPath(dataDirectory: String, index: Int) -> String {
        "\(dataDirectory)/node/outgoing/shard-\(index)"
    }

    /// Whether `paths` are this data directory's staging targets (then `n` is their count).
    public static func areStagingTargets(_ paths: [String], dataDirectory: String) -> Bool {
        !paths.isEmpty && paths == targetPaths(dataDirectory: dataDirectory, n: paths.count)
    }
}

/// One placed volume as the node's state remembers it: which pack is where, so an upload
/// (first placement or repair) can stream any slot from the staging targets.
struct PlacedVolume: Codable, Sendable, Equatable {
    var number: UInt32
    /// Pack ids (hex) in volume order; the root record follows as pack `packs.count`.
    var packs: [String]
    /// Each pack's shard bytes as streamed (shard header + shard), in volume order, the
    /// root record's last.
    var shardBytes: [UInt64]
    /// The sealed root record this volume ends with.
    var rootEnvelope: [UInt8]
    var k: Int
    var n: Int
    /// The root record's sequence: the newest placed one is what a restore wants.
    var sequence: UInt64

    var packCount: Int { packs.count + 1 }
    var stateKey: String { Self.stateKey(number) }
    static func stateKey(_ number: UInt32) -> String { "volume." + hex16(UInt64(number)) }
}

/// Reads the staging targets for `OwnerPacks`' placement and uploads. Opened once per
/// node run (read-only: the backup process writes them meanwhile; LMDB readers see its
/// committed transactions).
final class StagingTargets: @unchecked Sendable {
    let dataDirectory: String
    private var open: [Int: LocalTarget] = [:]

    init(dataDirectory: String) { self.dataDirectory = dataDirectory }

    func target(_ index: Int) throws(NodeError) -> LocalTarget {
        if let t = open[index] { return t }
        let path = OwnerPacks.targetPath(dataDirectory: dataDirectory, index: index)
        do {
            let t = try LocalTarget(path: path, access: .read)
            open[index] = t
            return t
        } catch {
            throw NodeError(.storage, "the staging target \(path) cannot be read: run `cairn check --data-dir \(dataDirectory)`", cause: error)
        }
    }

    /// The first staging target that opens, and how many there are (`shard-0` up).
    func firstReadable() throws(NodeError) -> (target: LocalTarget, n: Int) {
        var n = 0
        while n < CairnData.Limits.shardCountMax, access(OwnerPacks.targetPath(dataDirectory: dataDirectory, index: n), F_OK) == 0 { n += 1 }
        guard n > 0 else {
            throw NodeError(.invalidSetting, "\(dataDirectory) has no staging targets yet: run `cairn backup PATH --data-dir \(dataDirectory)` first")
        }
        var problems: [String] = []
        for i in 0..<n {
            do throws(NodeError) { return (try target(i), n) } catch { problems.append(error.oneLine) }
        }
        throw NodeError(.storage, "no staging target of \(dataDirectory) can be read: " + problems.joined(separator: "; "))
    }

    /// Forgets open handles (after a backup: a new store file may have replaced one).
    func reopen() { open.removeAll() }

    /// The bytes slot `index` streams for pack `j` of `volume`: shard header and shard as
    /// target `index` stores them, or the root record.
    func shard(_ j: Int, of volume: PlacedVolume, index: Int) throws(NodeError) -> [UInt8] {
        guard j < volume.packs.count else { return volume.rootEnvelope }
        guard let bytes = Hex.decode(volume.packs[j]), bytes.count == ObjectID.size else {
            throw NodeError(.storage, "the node's record of volume \(volume.number) is damaged (pack \(j))")
        }
        let pack = PackID(bytes)
        let target = try target(index)
        let found: [UInt8]?
        do { found = try target.readStoredShard(pack: pack, index: index) } catch {
            throw NodeError(.storage, "shard \(index) of pack \(pack) cannot be read from \(target.path)", cause: error)
        }
        guard let found else {
            throw NodeError(.storage, "shard \(index) of pack \(pack) is missing from \(target.path): run `cairn check --data-dir \(dataDirectory)`")
        }
        return found
    }
}

extension PlacedVolume {
    /// The volume of what `root` names beyond `alreadyPlaced`, read from the staging
    /// targets: its record and each pack's n slot roots (nil when nothing is new and the
    /// root record is the one placed last).
    static func plan(root: RootRecord, envelope: [UInt8], number: UInt32, k: Int, n: Int, staging: StagingTargets,
                     alreadyPlaced: (PackID) throws(NodeError) -> Bool) throws(NodeError)
        -> (volume: PlacedVolume, geometries: [PackGeometry], roots: [[[UInt8]]])
    {
        var volume = PlacedVolume(number: number, packs: [], shardBytes: [], rootEnvelope: envelope, k: k, n: n,
                                  sequence: root.sequence)
        var geometries: [PackGeometry] = []
        var roots: [[[UInt8]]] = []
        for record in root.packs where try !alreadyPlaced(record.id) {
            guard record.k == k, record.n == n else {
                throw NodeError(.invalidSetting, "pack \(record.id) is coded \(record.k)-of-\(record.n) but the node places \(k)-of-\(n)")
            }
            volume.packs.append(record.id.hex)
            let (geometry, packRoots) = try packRoots(volume.packs.count - 1, of: volume, staging: staging)
            geometries.append(geometry)
            volume.shardBytes.append(geometry.shardBytes)
            roots.append(packRoots)
        }
        let g = PackGeometry(k: k, n: n, shardBytes: UInt64(envelope.count))
        let rootOfEnvelope = SlotStreamPack(geometry: g, shard: envelope).root
        geometries.append(g)
        volume.shardBytes.append(g.shardBytes)
        roots.append(Array(repeating: rootOfEnvelope, count: n))
        return (volume, geometries, roots)
    }
}

extension PlacedVolume {
    /// Pack `j`'s geometry and the roots of its n shards as slot streams frame them, read
    /// from the staging targets (each shard as target i stores it, header included).
    static func packRoots(_ j: Int, of volume: PlacedVolume, staging: StagingTargets) throws(NodeError)
        -> (geometry: PackGeometry, roots: [[UInt8]])
    {
        var roots: [[UInt8]] = []
        var geometry: PackGeometry?
        for s in 0..<volume.n {
            let shard = try staging.shard(j, of: volume, index: s)
            let g = PackGeometry(k: volume.k, n: volume.n, shardBytes: UInt64(shard.count))
            guard geometry == nil || geometry == g else {
                throw NodeError(.storage, "the shards of pack \(j) of volume \(volume.number) on the staging targets differ in length: run `cairn check --data-dir \(staging.dataDirectory)`")
            }
            geometry = g
            roots.append(SlotStreamPack(geometry: g, shard: shard).root)
        }
        return (geometry!, roots)
    }
}

/// The shard roots of one placed volume as `PlacedVolume.plan` computed them, pack by
/// pack, n of 32 bytes each in one flat array (a large backup's many packs cost 32 bytes a
/// shard, not an array each).
struct PlacedRoots {
    let number: UInt32
    private let n: Int
    private let flat: [UInt8]

    init(number: UInt32, n: Int, roots: [[[UInt8]]]) {
        self.number = number
        self.n = n
        flat = roots.flatMap { $0.joined() }
    }

    /// Shard `index`'s root in pack `pack` (the root record's, past the last pack).
    func root(pack: Int, index: Int) -> [UInt8]? {
        let at = (pack * n + index) * PackGeometry.hashBytes
        guard index < n, at >= 0, at + PackGeometry.hashBytes <= flat.count else { return nil }
        return Array(flat[at..<at + PackGeometry.hashBytes])
    }
}

/// Slot `index` of a placed volume, packs `from..<to`, as the payload behind `storeSlot`:
/// each pack read from its staging target when the transport asks for it, so an upload
/// holds one shard in memory at a time. Each chunk is copied once, from the frame header
/// or the shard as read (never a frame built by joining them).
final class StagedSlotSource: PayloadSource, @unchecked Sendable {
    private let volume: PlacedVolume
    private let staging: StagingTargets
    private let index: Int
    private var pack: Int
    private let end: Int
    private let roots: PlacedRoots?
    private var header: [UInt8] = []
    private var shard: [UInt8] = []
    /// Offset in the current pack's frame (header, then shard).
    private var at = 0
    let length: UInt64

    /// `roots`: the roots `plan` computed for this volume, when at hand, so no shard is
    /// hashed again here.
    init?(volume: PlacedVolume, staging: StagingTargets, index: Int, from: UInt32, to: UInt32, roots: PlacedRoots? = nil) {
        guard index < volume.n, from < to, Int(to) <= volume.packCount else { return nil }
        self.volume = volume
        self.staging = staging
        self.index = index
        pack = Int(from)
        end = Int(to)
        self.roots = roots
        length = SlotStream.streamBytes(volume.shardBytes[Int(from)..<Int(to)].map { PackGeometry(k: volume.k, n: volume.n, shardBytes: $0) })
    }

    func read(max: Int) throws(NetError) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(max)
        while out.count < max {
            if at == header.count + shard.count {
                guard pack < end else { break }
                let read: [UInt8]
                do { read = try staging.shard(pack, of: volume, index: index) } catch {
                    throw NetError(.io, "an upload cannot read its packs: \(error.message)")
                }
                guard UInt64(read.count) == volume.shardBytes[pack] else {
                    throw NetError(.io, "pack \(pack) of volume \(volume.number) changed on the staging target")
                }
                let geometry = PackGeometry(k: volume.k, n: volume.n, shardBytes: UInt64(read.count))
                let root = roots?.root(pack: pack, index: index) ?? SlotStreamPack(geometry: geometry, shard: read).root
                header = SlotStream.frameHeader(geometry: geometry, root: root)
                shard = read
                at = 0
                pack += 1
            }
            SlotStream.copyFrame(header: header, shard: shard, at: &at, into: &out, max: max)
        }
        return out
    }
}
