import CairnCrypto
import CairnData
import Testing

/// Every decoder of a stored format must throw, never trap, on hostile bytes: random
/// garbage, every truncation of a valid encoding, and single flipped bytes.
@Suite struct FormatDecoderTests {
    func sampleTree() -> [TreeEntry] {
        let ref = ChunkRef(id: ObjectID([UInt8](repeating: 1, count: 32)), pack: ObjectID([UInt8](repeating: 2, count: 32)),
                           offset: 10, sealedLength: 100, plainLength: 60)
        return [
            TreeEntry(kind: .directory, path: "home/me", mode: 0o755, mtimeSeconds: 1, mtimeNanoseconds: 2),
            TreeEntry(kind: .file, path: "home/me/a.txt", mode: 0o644, owner: TreeEntry.Owner(uid: 1000, gid: 1000), mtimeSeconds: 3, mtimeNanoseconds: 4, size: 120,
                      device: 5, inode: 6, chunks: [ref, ref]),
            TreeEntry(kind: .symlink, path: "home/me/l", mode: 0o777, mtimeSeconds: 7, mtimeNanoseconds: 8, linkTarget: "a.txt"),
        ]
    }

    func sampleRoot() -> RootRecord {
        let pack = PackRecord(id: ObjectID([UInt8](repeating: 3, count: 32)), k: 3, n: 5, packLength: 1000, shardLength: 334,
                              segmentSize: 65536, roots: (0..<5).map { [UInt8](repeating: UInt8($0), count: 32) })
        let snap = SnapshotRecord(id: "0123456789abcdef", time: 1_700_000_000, hostname: "h", paths: ["home/me"],
                                  tree: [], parent: "", files: 1, directories: 1, symlinks: 1, bytes: 120, newBytes: 200)
        return RootRecord(repository: RepositoryID([UInt8](repeating: 0xab, count: 16)), sequence: 4, chunker: ChunkerSettings(minSize: 65536, avgSize: 262144, maxSize: 1048576, normalization: 1),
                          snapshots: [snap], packs: [pack])
    }

    /// Runs `decode` over garbage, truncations and flips of `valid`; it may throw or
    /// succeed, and must never trap.
    func hammer(_ valid: [UInt8], _ decode: ([UInt8]) throws -> Void) {
        for cut in 0..<valid.count { #expect(throws: (any Error).self) { try decode(Array(valid[..<cut])) } }
        for i in valid.indices {
            var flipped = valid
            flipped[i] ^= 0xff
            _ = try? decode(flipped)
        }
        var rng: UInt64 = 12345
        for _ in 0..<2000 {
            let count = Int(rng % 300)
            let garbage = (0..<count).map { _ -> UInt8 in
                rng = rng &* 6364136223846793005 &+ 1442695040888963407
                return UInt8(truncatingIfNeeded: rng >> 40)
            }
            _ = try? decode(garbage)
            _ = try? decode(Array(valid.prefix(9)) + garbage)
        }
    }

    @Test func treeRoundTripsAndRejectsHostileBytes() throws {
        let tree = sampleTree()
        let bytes = TreeCodec.encode(tree)
        #expect(try TreeCodec.decode(bytes) == tree)
        hammer(bytes) { _ = try TreeCodec.decode($0) }
    }

    @Test func versionOneTreesWithoutOwnersStillDecode() throws {
        // Version 1 had no owner field: the same entry encoded without it reads back
        // with no owner; a bad owner flag in version 2 is rejected.
        var entry = TreeEntry(kind: .directory, path: "home/ann", mode: 0o750,
                              owner: TreeEntry.Owner(uid: 1000, gid: 100), mtimeSeconds: 7, mtimeNanoseconds: 9)
        let v2 = TreeCodec.encode([entry])
        let ownerAt = 4 + 1 + 4 + 1 + 4 + "home/ann".utf8.count + 4  // magic, version, count, kind, path, mode
        #expect(v2[ownerAt] == 1)
        var v1 = v2
        v1[4] = 1
        v1.removeSubrange(ownerAt..<(ownerAt + 9))
        entry.owner = nil
        #expect(try TreeCodec.decode(v1) == [entry])
        var badFlag = v2
        badFlag[ownerAt] = 7
        let flagError = #expect(throws: DecodeError.self) { try TreeCodec.decode(badFlag) }
        #expect(flagError?.code == .badValue && flagError?.offset == ownerAt + 1 && flagError?.what == "snapshot tree")
        #expect(flagError?.reason.contains("owner flag 7 of \"home/ann\"") == true, "\(String(describing: flagError))")
        var future = v2
        future[4] = 4
        // The version byte is the fifth; the error points just past it.
        let versionError = #expect(throws: DecodeError.self) { try TreeCodec.decode(future) }
        #expect(versionError?.offset == 5 && versionError?.reason.hasPrefix("tree version 4 is not supported") == true,
                "\(String(describing: versionError))")
    }

    @Test func treeRejectsEscapingPaths() throws {
        for bad in ["", "/etc/passwd", "a/../../b", "a//b", "./a", "a/.", "a\u{0}b"] {
            var t = sampleTree()
            t[0].path = bad
            // Refused as the first entry's path, just after it was read (magic, version,
            // count, kind, then the path's length and bytes).
            let e = #expect(throws: DecodeError.self) { try TreeCodec.decode(TreeCodec.encode(t)) }
            #expect(e?.code == .badValue && e?.offset == 14 + bad.utf8.count, "\(bad): \(String(describing: e))")
            #expect(e?.reason.hasPrefix("unsafe path") == true, "\(bad): \(String(describing: e))")
        }
    }

    @Test func treeRejectsChunksThatDoNotAddUpToTheSize() throws {
        var t = sampleTree()
        t[1].size = 121
        let e = #expect(throws: DecodeError.self) { try TreeCodec.decode(TreeCodec.encode(t)) }
        #expect(e?.code == .badValue, "\(String(describing: e))")
        #expect(e?.reason == "file \"home/me/a.txt\" lists 120 bytes of chunks for size 121", "\(String(describing: e))")
    }

    @Test func rootRecordRoundTripsAndRejectsHostileBytes() throws {
        let root = sampleRoot()
        let bytes = root.encode()
        #expect(try RootRecord.decode(bytes) == root)
        hammer(bytes) { _ = try RootRecord.decode($0) }
    }

    @Test func rootEnvelopeRejectsTamperingAndOtherOwners() throws {
        let keys = OwnerKeys(seed: Mnemonic.generate().seed())
        let sealed = RootEnvelope.seal(sampleRoot(), keys: keys)
        #expect(try RootEnvelope.open(sealed, keys: keys) == sampleRoot())
        for i in stride(from: 0, to: sealed.count, by: 7) {
            var bad = sealed
            bad[i] ^= 0x01
            let e = #expect(throws: DataError.self) { try RootEnvelope.open(bad, keys: keys) }
            #expect(e?.code == .corrupt || e?.code == .wrongOwner, "byte \(i): \(String(describing: e))")
        }
        let other = OwnerKeys(seed: Mnemonic.generate().seed())
        #expect { try RootEnvelope.open(sealed, keys: other) } throws: { ($0 as? DataError)?.code == .wrongOwner }
        hammer(sealed) { _ = try RootEnvelope.open($0, keys: keys) }
    }

    /// A copy whose owner key bytes were damaged reads as another owner's to `open`, but
    /// its payload still opens with our keys (the AEAD tag proves we sealed it): that is
    /// what lets the engine call it damage. Another owner's copy does not open so.
    @Test func rootEnvelopeWithDamagedOwnerKeyIsStillKnownAsOurs() throws {
        let keys = OwnerKeys(seed: SecureBytes(copying: [UInt8](repeating: 1, count: 64)))
        let other = OwnerKeys(seed: SecureBytes(copying: [UInt8](repeating: 2, count: 64)))
        var sealed = RootEnvelope.seal(sampleRoot(), keys: keys)
        for i in 5..<37 { sealed[i] ^= 0xFF }
        #expect { try RootEnvelope.open(sealed, keys: keys) } throws: { ($0 as? DataError)?.code == .wrongOwner }
        #expect(RootEnvelope.recordDespiteOwnerKey(sealed, keys: keys) == sampleRoot())
        #expect(RootEnvelope.recordDespiteOwnerKey(RootEnvelope.seal(sampleRoot(), keys: other), keys: keys) == nil)
        #expect(RootEnvelope.recordDespiteOwnerKey(sealed + [0], keys: keys) == nil)
    }

    /// Every decoder of a record stored alone refuses bytes after its end, as `trailingBytes`
    /// (a damaged or spliced value is not read as a good one).
    @Test func recordsStoredAloneRefuseTrailingBytes() throws {
        func code(_ decode: () throws -> Void) -> DecodeError.Code? {
            do {
                try decode()
                return nil
            } catch let e as DecodeError {
                return e.code
            } catch let e as DataError {
                return (e.cause as? DecodeError)?.code
            } catch {
                return nil
            }
        }
        let root = sampleRoot()
        let location = ChunkRef(id: ObjectID([UInt8](repeating: 1, count: 32)), pack: ObjectID([UInt8](repeating: 2, count: 32)),
                                offset: 10, sealedLength: 100, plainLength: 60)
        var packBytes = ByteWriter()
        root.packs[0].encode(into: &packBytes)
        let keys = OwnerKeys(seed: SecureBytes(copying: [UInt8](repeating: 1, count: 64)))
        for extra in [[UInt8](arrayLiteral: 0), [1, 2, 3, 4, 5, 6, 7, 8]] {
            let encoded = LocalState.encodeLocation(location)
            #expect(try LocalState.decodeLocation(encoded, id: location.id) == location)
            #expect(code { _ = try LocalState.decodeLocation(encoded + extra, id: location.id) } == .trailingBytes)
            #expect(try PackRecord(decoding: packBytes.bytes) == root.packs[0])
            #expect(code { _ = try PackRecord(decoding: packBytes.bytes + extra) } == .trailingBytes)
            #expect(code { _ = try RootRecord.decode(root.encode() + extra) } == .trailingBytes)
            #expect(code { _ = try TreeCodec.decode(TreeCodec.encode(sampleTree()) + extra) } == .trailingBytes)
            #expect(code { _ = try RootEnvelope.open(RootEnvelope.seal(root, keys: keys) + extra, keys: keys) } == .trailingBytes)
        }
    }

    @Test func shardHeaderRoundTripsAndRejectsHostileBytes() throws {
        for repository in [RepositoryID([UInt8](repeating: 0xcd, count: 16)), nil] {
            let h = ShardHeader(repository: repository, pack: ObjectID([UInt8](repeating: 9, count: 32)), index: 4, k: 3, n: 5,
                                packLength: 100, shardLength: 34)
            let bytes = h.encode()
            #expect(bytes.count == (repository == nil ? ShardHeader.sizeVersion1 : ShardHeader.size))
            #expect(try ShardHeader(decoding: bytes) == h)
            hammer(bytes) { _ = try ShardHeader(decoding: $0) }
        }
    }

    @Test func sealedChunkRejectsTamperingAndSwaps() throws {
        let key = SymmetricKey.random()
        let id = ObjectID([UInt8](repeating: 7, count: 32))
        let other = ObjectID([UInt8](repeating: 8, count: 32))
        for plain in [[UInt8](repeating: 0x61, count: 5000), (0..<5000).map { UInt8(truncatingIfNeeded: $0 &* 7919 >> 3) }] {
            let sealed = plain.withUnsafeBytes { ChunkSealer.seal($0, id: id, key: key) }
            #expect(try sealed.withUnsafeBytes { try ChunkSealer.open($0, id: id, key: key, plainLength: plain.count) } == plain)
            // Each refusal names the chunk and says why.
            func refusal(_ bytes: [UInt8], id: ObjectID, plainLength: Int) -> DataError? {
                #expect(throws: DataError.self) { try bytes.withUnsafeBytes { try ChunkSealer.open($0, id: id, key: key, plainLength: plainLength) } }
            }
            let swapped = refusal(sealed, id: other, plainLength: plain.count)
            #expect(swapped?.code == .corrupt && swapped?.message == "chunk \(other) does not authenticate")
            var flag = sealed
            flag[0] ^= 1
            let badFlag = refusal(flag, id: id, plainLength: plain.count)
            #expect(badFlag?.code == .corrupt && badFlag?.message.hasPrefix("chunk \(id) ") == true, "\(String(describing: badFlag))")
            let short = refusal(sealed, id: id, plainLength: plain.count - 1)
            // A stored chunk is one byte longer than its record says; a compressed one
            // stops decompressing at the length the record allows.
            let longer = short?.message == "chunk \(id) holds \(plain.count) bytes, expected \(plain.count - 1)"
            let capped = short?.message == "chunk \(id) does not decompress" && (short?.cause as? CompressionError)?.code == .tooLarge
            #expect(short?.code == .corrupt && (longer || capped), "\(String(describing: short))")
            for cut in [0, 1, 20, 40, sealed.count - 1] {
                let e = refusal(Array(sealed[..<cut]), id: id, plainLength: plain.count)
                #expect(e?.code == .corrupt && e?.message.hasPrefix("chunk \(id) ") == true, "cut \(cut): \(String(describing: e))")
            }
        }
    }
}
