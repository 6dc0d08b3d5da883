import CairnWire

/// The keys a core signs and checks with: not part of its checkpoint (the node's key
/// lives apart, sealed by the owner's phrase), so they are given again to the decoder
/// (`userInfo[CheckpointKeys.userInfoKey]`) when a checkpoint is read back.
public struct CheckpointKeys: @unchecked Sendable {
    public static let userInfoKey = CodingUserInfoKey(rawValue: "cairn.checkpointKeys")!
    public let signer: any ContractSigner
    public let verifier: any SignatureVerifier

    public init(signer: any ContractSigner, verifier: any SignatureVerifier) {
        self.signer = signer
        self.verifier = verifier
    }

    static func from(_ decoder: any Decoder) throws -> CheckpointKeys {
        guard let keys = decoder.userInfo[userInfoKey] as? CheckpointKeys else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                                                    debugDescription: "no keys given to read the checkpoint with"))
        }
        return keys
    }
}

// A node's and the coordinator's whole state is `Codable`, so a service killed at any moment
// restarts where its last checkpoint left it: it writes one (in the same LMDB transaction as
// what it concerns) before any message it decided on leaves. The bytes are the service's
// business (CairnNode's `CheckpointCodec`); the core stays free of Foundation. A decoded
// state is checked (it names this key, its indices point at what they name) and refused
// otherwise: a damaged checkpoint is an error, never a trap later.

extension NodeCore: Codable {
    enum CodingKeys: String, CodingKey {
        case me, params, speed, book, challenges, volumes, volumeIndex, slotOfContract, audits, unconfirmed, releasing
        case pendingMatches, nextRequest, rng, coordinatorKey, standing, diskLost, blindRepairs, blindRepairContracts
        case blindRepairCounter, uploadBacklog, signerKey, sessionStart, blindRepairsReported, coordinatorHeard
    }

    /// The keys to give back when this core's checkpoint is read.
    public var checkpointKeys: CheckpointKeys { CheckpointKeys(signer: signer, verifier: verifier) }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let keys = try CheckpointKeys.from(decoder)
        guard try c.decode([UInt8].self, forKey: .signerKey) == keys.signer.publicKey else {
            throw DecodingError.dataCorruptedError(forKey: .signerKey, in: c,
                                                   debugDescription: "the checkpoint is another key's")
        }
        signer = keys.signer
        verifier = keys.verifier
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
        // Checkpoints from before it: no session known (every fetch round counts, as then).
        sessionStart = try c.decodeIfPresent(Instant.self, forKey: .sessionStart)
        // Checkpoints from before it: no report to repeat.
        blindRepairsReported = try c.decodeIfPresent([ContractID: ReportedBlindRepair].self, forKey: .blindRepairsReported) ?? [:]
        // Checkpoints from before it: not heard from the coordinator (nothing is given up
        // until it answers).
        coordinatorHeard = try c.decodeIfPresent(Instant.self, forKey: .coordinatorHeard)
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
        try c.encodeIfPresent(sessionStart, forKey: .sessionStart)
        try c.encode(blindRepairsReported, forKey: .blindRepairsReported)
        try c.encodeIfPresent(coordinatorHeard, forKey: .coordinatorHeard)
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
        case reported, reportedByOwner, reportsBy
    }

    /// The keys to give back when this directory's checkpoint is read.
    public var checkpointKeys: CheckpointKeys { CheckpointKeys(signer: signer, verifier: verifier) }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let keys = try CheckpointKeys.from(decoder)
        guard try c.decode([UInt8].self, forKey: .signerKey) == keys.signer.publicKey else {
            throw DecodingError.dataCorruptedError(forKey: .signerKey, in: c, debugDescription: "the checkpoint is another key's")
        }
        signer = keys.signer
        verifier = keys.verifier
        params = try c.decode(CoordinatorParams.self, forKey: .params)
        entries = try c.decode([DirectoryEntry].self, forKey: .entries)
        members = try c.decode([NodeID].self, forKey: .members)
        rootRecords = try c.decode([VolumeID: VolumeRecord].self, forKey: .rootRecords)
        packsByOwner = try c.decode([NodeID: [VolumeID]].self, forKey: .packsByOwner)
        adoptions = try c.decode([NodeID: [Adoption]].self, forKey: .adoptions)
        slotsClosed = try c.decode(Int.self, forKey: .slotsClosed)
        rng = try c.decode(Xoshiro256.self, forKey: .rng)
        // Checkpoints from before holders reported have none.
        reported = try c.decodeIfPresent([VolumeID: [ReportedSlot]].self, forKey: .reported) ?? [:]
        reportedByOwner = try c.decodeIfPresent([NodeID: [VolumeID]].self, forKey: .reportedByOwner) ?? [:]
        reportsBy = try c.decodeIfPresent([NodeID: Int].self, forKey: .reportsBy) ?? [:]
        rebuildReportedKeys()
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
        if !reported.isEmpty {
            try c.encode(reported, forKey: .reported)
            try c.encode(reportedByOwner, forKey: .reportedByOwner)
            try c.encode(reportsBy, forKey: .reportsBy)
        }
    }
}
