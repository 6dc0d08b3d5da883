import CairnCore
import CairnCrypto
import CairnData
import CairnNet
import CairnSimulator
import Foundation

/// Every on-disk decoder and the scenario parser, as fuzz targets: what `cairn-fuzz`
/// (libFuzzer or the seeded loop) and the test suite's short campaign run.
public enum FuzzTargets {
    public static let all: [FuzzTarget] = [
        shardHeader, tree, rootRecord, rootEnvelope, packRecord, chunkLocation, sealedChunk, config, scenarioJSON,
        nodeMessage, nodeCertificate, nodeConfigTOML,
    ]

    public static func named(_ name: String) -> FuzzTarget? { all.first { $0.name == name } }

    // MARK: targets

    /// What a peer sends: every message of the node protocol, with its header.
    static let nodeMessage = FuzzTarget(
        name: "node-message", summary: "a node protocol message as a peer sends it (wire version 9, every type)",
        seeds: { Samples.messages.map { $0.encode(sent: Instant(milliseconds: 1_764_547_200_000)) } }
    ) { bytes in
        guard let (message, sent) = try? Message.decode(bytes) else { return .rejected }
        return .canonical(bytes, message, encoded: message.encode(sent: sent)) { try Message.decode(message.encode(sent: sent)).message }
    }

    /// A node's config file in TOML (`cairn node run --config node.toml`): read, or refused
    /// with its line, never a trap.
    static let nodeConfigTOML = FuzzTarget(
        name: "node-config-toml", summary: "a node's TOML config file (the subset cairn reads)",
        seeds: { [Array("coordinator = \"c:1\"\noffer = '1G'\nk = 3\n[backup]\npaths = [\"/a\", '/b'] # x\nevery_minutes = 5\n".utf8)] },
        dictionary: ["[", "]", "=", "\"", "'", "#", "\n", ",", ".", "\\u", "true", "[[", "{"].map { Array($0.utf8) }
    ) { bytes in
        (try? TOMLSubset.parse(Data(bytes))) == nil ? .rejected : .decoded
    }

    /// What a peer presents in its handshake.
    static let nodeCertificate = FuzzTarget(
        name: "node-certificate", summary: "an owner-signed node certificate (\"CRNC\", version 1)",
        seeds: { [Samples.certificate.encoded] }, dictionary: [Array("CRNC".utf8)]
    ) { bytes in
        guard let certificate = try? NodeCertificate(decoding: bytes) else { return .rejected }
        return .canonical(bytes, certificate, encoded: certificate.encoded) { try NodeCertificate(decoding: certificate.encoded) }
    }

    static let shardHeader = FuzzTarget(
        name: "shard-header", summary: "the header before each shard on a target (versions 1 and 2)",
        seeds: { Samples.shardHeaders.map { $0.encode() } }, dictionary: [Array("CRNS".utf8)]
    ) { bytes in
        guard let header = try? ShardHeader(decoding: bytes) else { return .rejected }
        return .roundTrip(header) { try ShardHeader(decoding: header.encode()) }
    }

    static let tree = FuzzTarget(
        name: "tree", summary: "a snapshot's tree (versions 1 to 3)",
        seeds: { Samples.trees }, dictionary: [Array("CRNT".utf8)]
    ) { bytes in
        guard let entries = try? TreeCodec.decode(bytes) else { return .rejected }
        return .roundTrip(entries) { try TreeCodec.decode(TreeCodec.encode(entries)) }
    }

    static let rootRecord = FuzzTarget(
        name: "root-record", summary: "the root record inside its envelope and the local index's copy (versions 1 to 3)",
        seeds: { Samples.rootRecords }, dictionary: [Array("CRNP".utf8)]
    ) { bytes in
        guard let root = try? RootRecord.decode(bytes) else { return .rejected }
        return .roundTrip(root) { try RootRecord.decode(root.encode()) }
    }

    static let rootEnvelope = FuzzTarget(
        name: "root-envelope", summary: "the signed, sealed root record on every target",
        seeds: { [RootEnvelope.seal(Samples.root, keys: Samples.keys)] }, dictionary: [Array("CRNR".utf8)], authenticated: true
    ) { bytes in
        guard let root = try? RootEnvelope.open(bytes, keys: Samples.keys) else { return .rejected }
        return .roundTrip(root) { try RootEnvelope.open(RootEnvelope.seal(root, keys: Samples.keys), keys: Samples.keys) }
    }

    static let packRecord = FuzzTarget(
        name: "pack-record", summary: "a pack record of the local index (and of root records)",
        seeds: { [Samples.encode(Samples.pack)] }
    ) { bytes in
        guard let pack = try? PackRecord(decoding: bytes) else { return .rejected }
        return .canonical(bytes, pack, encoded: Samples.encode(pack)) { try PackRecord(decoding: Samples.encode(pack)) }
    }

    static let chunkLocation = FuzzTarget(
        name: "chunk-location", summary: "where the local index says a chunk lives",
        seeds: { [LocalState.encodeLocation(Samples.chunk)] }
    ) { bytes in
        guard let ref = try? LocalState.decodeLocation(bytes, id: Samples.chunk.id) else { return .rejected }
        return .canonical(bytes, ref, encoded: LocalState.encodeLocation(ref)) {
            try LocalState.decodeLocation(LocalState.encodeLocation(ref), id: ref.id)
        }
    }

    /// The bytes after the first three (a plain length, u24) are taken as a compressed
    /// chunk body and sealed with the flag that says so, so the decompressor sees hostile
    /// frames behind a valid tag (a holder cannot forge the tag; a bug in us could).
    static let sealedChunk = FuzzTarget(
        name: "sealed-chunk", summary: "a sealed chunk's compressed body, behind a valid tag",
        seeds: { [Samples.compressedChunk] }, dictionary: [[0x28, 0xB5, 0x2F, 0xFD]]
    ) { bytes in
        guard bytes.count >= 3 else { return .rejected }
        let plainLength = Int(bytes[0]) | Int(bytes[1]) << 8 | Int(bytes[2]) << 16
        let body = Array(bytes[3...])
        let sealed = body.withUnsafeBytes { AEAD.seal($0, key: Samples.chunkKey, associatedData: Samples.chunk.id.bytes + [1], prefix: [1]) }
        guard let plain = try? sealed.withUnsafeBytes({ try ChunkSealer.open($0, id: Samples.chunk.id, key: Samples.chunkKey, plainLength: plainLength) })
        else { return .rejected }
        return plain.count == plainLength ? .decoded : .violation("opened \(plain.count) bytes, \(plainLength) expected")
    }

    /// The data directory's `config.json`, and what a backup does with its chunker settings:
    /// checks them, then writes them into a root record.
    static let config = FuzzTarget(
        name: "config", summary: "the data directory's config.json",
        seeds: { [Samples.config] }, dictionary: Samples.jsonTokens
    ) { bytes in
        guard let config = try? JSONDecoder().decode(RepositoryConfig.self, from: Data(bytes)) else { return .rejected }
        _ = config.repository.flatMap { RepositoryID(hex: $0) }
        guard let chunker = config.chunker, (try? chunker.parameters()) != nil else { return .decoded }
        let root = RootRecord(repository: nil, sequence: 1, chunker: chunker, snapshots: [], packs: [])
        return .roundTrip(root) { try RootRecord.decode(root.encode()) }
    }

    /// The scenario reader on top of the JSON parser: text that parses is read as a scenario
    /// (or, with a `sweep` member, expanded as a sweep), and the value written back as
    /// compact JSON reads as the same value.
    static let scenarioJSON = FuzzTarget(
        name: "scenario-json", summary: "a scenario or sweep file: the JSON parser, the scenario reader, the sweep expansion and the JSON writer",
        seeds: { Samples.scenarios }, dictionary: Samples.jsonTokens
    ) { bytes in
        guard let value = try? JSONValue.parse(bytes: bytes) else { return .rejected }
        if SweepPlan.isSweep(value) { _ = try? SweepPlan(json: value) } else { _ = try? Scenario.parse(json: value) }
        return .roundTrip(value) { try JSONValue.parse(value.compact) }
    }
}
