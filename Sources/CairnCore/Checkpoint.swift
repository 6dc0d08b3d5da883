import CairnWire
internal import Foundation

/// Why a checkpoint could not be written or read back.
public struct CheckpointError: CairnError {
    public let message: String
    public let cause: (any Error)?
    public var codeName: String { "badCheckpoint" }
    public var location: ErrorLocation { .unknown }
    public var description: String { oneLine }
}

/// A state machine's whole state as bytes, so a node or coordinator killed at any moment
/// restarts where its last checkpoint left it: the service writes one (in the same LMDB
/// transaction as what it concerns) before any message it decided on leaves, so nothing a
/// peer was told is forgotten. The keys are not in it: the signer and verifier are given
/// again on restore (the node's key lives apart, sealed by the owner's phrase).
///
/// The encoding is the JSON of the state's `Codable` form under a version number
/// (`Checkpoint.version`), which changes whenever a stored field does; a checkpoint of
/// another version is refused (the service then starts from what it keeps beside it).
public enum Checkpoint {
    public static let version = 1

    struct Envelope<State: Codable>: Codable {
        var version: Int
        var state: State
    }

    private struct Version: Codable { var version: Int }

    static let signerKey = CodingUserInfoKey(rawValue: "cairn.signer")!
    static let verifierKey = CodingUserInfoKey(rawValue: "cairn.verifier")!

    static func encode(_ state: some Codable) throws(CheckpointError) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        do {
            return try [UInt8](encoder.encode(Envelope(version: version, state: state)))
        } catch {
            throw CheckpointError(message: "the state could not be encoded", cause: error)
        }
    }

    static func decode<State: Codable>(_ type: State.Type, from bytes: [UInt8], signer: any ContractSigner,
                                       verifier: any SignatureVerifier) throws(CheckpointError) -> State
    {
        let decoder = JSONDecoder()
        decoder.userInfo[signerKey] = signer
        decoder.userInfo[verifierKey] = verifier
        let data = Data(bytes)
        guard let found = try? decoder.decode(Version.self, from: data) else {
            throw CheckpointError(message: "the checkpoint is not one (no version): the file is damaged or not Cairn's", cause: nil)
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

    static func keys(_ decoder: any Decoder) throws -> (any ContractSigner, any SignatureVerifier) {
        guard let signer = decoder.userInfo[signerKey] as? any ContractSigner,
              let verifier = decoder.userInfo[verifierKey] as? any SignatureVerifier
        else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "no keys given"))
        }
        return (signer, verifier)
    }
}

extension NodeCore: Codable {
    enum CodingKeys: String, CodingKey {
        case me, params, speed, book, challenges, volumes, volumeIndex, slotOfContract, audits, unconfirmed, releasing
        case pendingMatches, nextRequest, rng, coordinatorKey, standing, diskLost, blindRepairs, blindRepairContracts
        case blindRepairCounter, uploadBacklog, signerKey
    }

    /// The state as bytes (`Checkpoint`).
    public func checkpoint() throws(CheckpointError) -> [UInt8] { try Checkpoint.encode(self) }

    /// A core back from `checkpoint()`, signing with `signer`, which must be the key it
    /// signed with before (a checkpoint of another node is refused).
    public init(checkpoint: [UInt8], signer: any ContractSigner, verifier: any SignatureVerifier) throws(CheckpointError) {
        self = try Checkpoint.decode(NodeCore.self, from: checkpoint, signer: signer, verifier: verifier)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let (signer, verifier) = try Checkpoint.keys(decoder)
        guard try c.decode([UInt8].self, forKey: .signerKey) == signer.publicKey else {
            throw DecodingError.dataCorruptedError(forKey: .signerKey, in: c,
                                                   debugDescription: "the checkpoint is another key's")
        }
        self.signer = signer
        self.verifier = verifier
        me = try c.decode(NodeID.self, forKey: .me)
        params = try c.decode(NodeParams.self, forKey: .params)
        speed = try c.decode(UInt32.self, forKey: .speed)
        book = try c.decode(ContractBook.self, forKey: .book)
        rng = try c.decode(Xoshiro256.self, forKey: .rng)
        coordinatorKey = try c.decode([UInt8].self, forKey: .coordinatorKey)
        challenges = try c.decode(ChallengeScheduler.self, forKey: .challenges)
        volumes = try c.decode([OwnedVolume].self, forKey: .volumes)
        volumeIndex = try c.decode([VolumeID: Int].self, forKey: .volumeIndex)
        slotOfContract = try c.decode([ContractID: SlotRef].self, forKey: .slotOfContract)
        audits = try c.decode([ContractID: GraceDebt].self, forKey: .audits)
        unconfirmed = try c.decode([ContractID: GraceDebt].self, forKey: .unconfirmed)
        releasing = try c.decode([ContractID: PendingRelease].self, forKey: .releasing)
        pendingMatches = try c.decode([UInt64: Int].self, forKey: .pendingMatches)
        nextRequest = try c.decode(UInt64.self, forKey: .nextRequest)
        standing = try c.decode(Reputation.Standing.self, forKey: .standing)
        diskLost = try c.decode(Bool.self, forKey: .diskLost)
        blindRepairs = try c.decode([VolumeID: BlindRepair].self, forKey: .blindRepairs)
        blindRepairContracts = try c.decode([ContractID: VolumeID].self, forKey: .blindRepairContracts)
        blindRepairCounter = try c.decode(UInt32.self, forKey: .blindRepairCounter)
        uploadBacklog = try c.decode(Interval.self, forKey: .uploadBacklog)
        try checkDecodedInvariants()
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(me, forKey: .me)
        try c.encode(params, forKey: .params)
        try c.encode(speed, forKey: .speed)
        try c.encode(book, forKey: .book)
        try c.encode(challenges, forKey: .challenges)
        try c.encode(volumes, forKey: .volumes)
        try c.encode(volumeIndex, forKey: .volumeIndex)
        try c.encode(slotOfContract, forKey: .slotOfContract)
        try c.encode(audits, forKey: .audits)
        try c.encode(unconfirmed, forKey: .unconfirmed)
        try c.encode(releasing, forKey: .releasing)
        try c.encode(pendingMatches, forKey: .pendingMatches)
        try c.encode(nextRequest, forKey: .nextRequest)
        try c.encode(rng, forKey: .rng)
        try c.encode(coordinatorKey, forKey: .coordinatorKey)
        try c.encode(standing, forKey: .standing)
        try c.encode(diskLost, forKey: .diskLost)
        try c.encode(blindRepairs, forKey: .blindRepairs)
        try c.encode(blindRepairContracts, forKey: .blindRepairContracts)
        try c.encode(blindRepairCounter, forKey: .blindRepairCounter)
        try c.encode(uploadBacklog, forKey: .uploadBacklog)
        try c.encode(signer.publicKey, forKey: .signerKey)
    }

    /// What the rest of the core relies on and a damaged checkpoint could break: every index
    /// points at what it names.
    private func checkDecodedInvariants() throws {
        func bad(_ what: String) -> DecodingError {
            DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: what))
        }
        guard volumeIndex.count == volumes.count else { throw bad("volume index of \(volumeIndex.count) for \(volumes.count) volumes") }
        for (id, p) in volumeIndex {
            guard p >= 0, p < volumes.count, volumes[p].id == id else { throw bad("volume index entry \(id) → \(p)") }
        }
        for v in volumes {
            guard v.id.owner == me, v.slots.count == v.layout.n, v.trees.count == v.layout.n, v.roots.count == v.layout.n,
                  VolumeLayout.problem(k: v.layout.k, n: v.layout.n) == nil
            else { throw bad("volume \(v.id) of another owner or with \(v.slots.count) slots for n = \(v.layout.n)") }
        }
        for (contract, ref) in slotOfContract {
            guard ref.volume >= 0, ref.volume < volumes.count, ref.slot >= 0, ref.slot < volumes[ref.volume].slots.count else {
                throw bad("contract \(contract) points at slot \(ref.volume)/\(ref.slot)")
            }
        }
    }
}

extension CoordinatorCore: Codable {
    enum CodingKeys: String, CodingKey {
        case params, entries, members, rootRecords, packsByOwner, adoptions, slotsClosed, rng, signerKey
    }

    /// The directory as bytes (`Checkpoint`).
    public func checkpoint() throws(CheckpointError) -> [UInt8] { try Checkpoint.encode(self) }

    /// A coordinator back from `checkpoint()`, with the key it signed mandates with.
    public init(checkpoint: [UInt8], signer: any ContractSigner, verifier: any SignatureVerifier) throws(CheckpointError) {
        self = try Checkpoint.decode(CoordinatorCore.self, from: checkpoint, signer: signer, verifier: verifier)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let (signer, verifier) = try Checkpoint.keys(decoder)
        guard try c.decode([UInt8].self, forKey: .signerKey) == signer.publicKey else {
            throw DecodingError.dataCorruptedError(forKey: .signerKey, in: c, debugDescription: "the checkpoint is another key's")
        }
        self.signer = signer
        self.verifier = verifier
        params = try c.decode(CoordinatorParams.self, forKey: .params)
        entries = try c.decode([DirectoryEntry].self, forKey: .entries)
        members = try c.decode([NodeID].self, forKey: .members)
        rootRecords = try c.decode([VolumeID: VolumeRecord].self, forKey: .rootRecords)
        packsByOwner = try c.decode([NodeID: [VolumeID]].self, forKey: .packsByOwner)
        adoptions = try c.decode([NodeID: [Adoption]].self, forKey: .adoptions)
        slotsClosed = try c.decode(Int.self, forKey: .slotsClosed)
        rng = try c.decode(Xoshiro256.self, forKey: .rng)
        guard entries.count < Int(NodeID.coordinator.raw), members.allSatisfy({ $0.index < entries.count && $0 != .coordinator }) else {
            throw DecodingError.dataCorruptedError(forKey: .members, in: c, debugDescription: "a member that is not in the directory")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(params, forKey: .params)
        try c.encode(entries, forKey: .entries)
        try c.encode(members, forKey: .members)
        try c.encode(rootRecords, forKey: .rootRecords)
        try c.encode(packsByOwner, forKey: .packsByOwner)
        try c.encode(adoptions, forKey: .adoptions)
        try c.encode(slotsClosed, forKey: .slotsClosed)
        try c.encode(rng, forKey: .rng)
        try c.encode(signer.publicKey, forKey: .signerKey)
    }
}

extension NodeCore {
    /// This core written to a checkpoint and read back with its own keys: what a node killed
    /// now and restarted would run on (the simulator's restart check).
    public func restartedFromCheckpoint() throws(CheckpointError) -> NodeCore {
        try NodeCore(checkpoint: checkpoint(), signer: signer, verifier: verifier)
    }
}

extension CoordinatorCore {
    /// As `NodeCore.restartedFromCheckpoint()`.
    public func restartedFromCheckpoint() throws(CheckpointError) -> CoordinatorCore {
        try CoordinatorCore(checkpoint: checkpoint(), signer: signer, verifier: verifier)
    }
}
