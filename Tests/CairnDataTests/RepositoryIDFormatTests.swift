import CairnCrypto
import CairnData
import Testing

/// The repository id in the stored formats: root record version 3 and shard header
/// version 2 carry it at fixed places; the older versions are still read, as
/// "repository unknown".
@Suite struct RepositoryIDFormatTests {
    let id = RepositoryID((0..<16).map { UInt8($0 + 1) })
    let pack = PackRecord(id: ObjectID([UInt8](repeating: 8, count: 32)), k: 1, n: 1, packLength: 90, shardLength: 90,
                          segmentSize: 65536, roots: [[UInt8](repeating: 9, count: 32)])

    @Test func rootRecordVersion3CarriesTheRepositoryAfterTheVersionByte() throws {
        let root = RootRecord(repository: id, sequence: 7, chunker: ChunkerSettings(ChunkerParameters.default), snapshots: [],
                              packs: [pack])
        let bytes = root.encode()
        #expect(Array(bytes[0..<4]) == Array("CRNP".utf8))
        #expect(bytes[4] == 3)
        #expect(Array(bytes[5..<21]) == id.bytes)
        // The sequence follows it.
        #expect(Array(bytes[21..<29]) == [0, 0, 0, 0, 0, 0, 0, 7])
        #expect(try RootRecord.decode(bytes) == root)
    }

    @Test func rootRecordVersion2ReadsAsRepositoryUnknownAndIsWrittenAsVersion2Again() throws {
        let legacy = RootRecord(sequence: 3, chunker: ChunkerSettings(ChunkerParameters.default), snapshots: [], packs: [pack])
        let bytes = legacy.encode()
        #expect(bytes[4] == 2)
        let decoded = try RootRecord.decode(bytes)
        #expect(decoded.repository == nil)
        #expect(decoded.sequence == 3)
        // The same fields with an id are version 3 and 16 bytes longer.
        var withID = decoded
        withID.repository = id
        #expect(withID.encode().count == bytes.count + RepositoryID.size)
    }

    @Test func aRootRecordOfAVersionNotYetKnownIsRefused() throws {
        var bytes = RootRecord(repository: id, sequence: 1, chunker: ChunkerSettings(ChunkerParameters.default), snapshots: [],
                               packs: []).encode()
        bytes[4] = 4
        #expect { _ = try RootRecord.decode(bytes) } throws: { ($0 as? DecodeError)?.message.contains("version 4") == true }
    }

    @Test func shardHeaderVersion2HasTheRepositoryBeforeThePack() throws {
        let h = ShardHeader(repository: id, pack: pack.id, index: 0, k: 1, n: 1, packLength: 90, shardLength: 90)
        let bytes = h.encode()
        #expect(bytes.count == 64)
        #expect(bytes[4] == 2)
        #expect(Array(bytes[5..<21]) == id.bytes)
        #expect(Array(bytes[21..<53]) == pack.id.bytes)
        #expect(h.describes(pack, index: 0, repository: id))
        #expect(!h.describes(pack, index: 0, repository: RepositoryID([UInt8](repeating: 0xee, count: 16))))
    }

    @Test func shardHeaderVersion1IsReadAsRepositoryUnknownAndFitsAnyRepository() throws {
        // The version 1 layout, written by hand: 48 bytes, no repository.
        var w = ByteWriter()
        w.raw(Array("CRNS".utf8))
        w.u8(1)
        w.raw(pack.id.bytes)
        w.u8(0)
        w.u8(1)
        w.u8(1)
        w.u32(90)
        w.u32(90)
        let h = try ShardHeader(decoding: w.bytes + [UInt8](repeating: 0x5a, count: 90))
        #expect(h.repository == nil)
        #expect(h.encodedSize == 48)
        #expect(h.describes(pack, index: 0, repository: id))
        #expect(h.encode() == w.bytes)
    }

    @Test func repositoryIDsParseOnlyWhole() {
        #expect(RepositoryID(hex: id.hex) == id)
        #expect(RepositoryID(hex: id.hex.uppercased()) == id)
        #expect(RepositoryID(hex: String(id.hex.dropLast())) == nil)
        #expect(RepositoryID(hex: String(repeating: "g", count: 32)) == nil)
        #expect(RepositoryID.random() != RepositoryID.random())
    }
}
