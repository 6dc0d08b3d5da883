import CairnData
import Foundation
import Testing

@Suite struct TreeDiffTests {
    static func ref(_ id: UInt8, pack: UInt8, length: UInt32) -> ChunkRef {
        ChunkRef(id: ObjectID([UInt8](repeating: id, count: 32)), pack: ObjectID([UInt8](repeating: pack, count: 32)),
                 offset: 0, sealedLength: length + 40, plainLength: length)
    }

    static func file(_ path: String, _ chunks: [ChunkRef], mode: UInt32 = 0o644, mtime: Int64 = 100) -> TreeEntry {
        TreeEntry(kind: .file, path: path, mode: mode, mtimeSeconds: mtime, mtimeNanoseconds: 0,
                  size: chunks.reduce(0) { $0 + UInt64($1.plainLength) }, chunks: chunks)
    }

    @Test func everyKindOfChange() {
        let a = [Self.ref(1, pack: 1, length: 10)]
        let old = [
            Self.file("x/same", a), Self.file("x/gone", a), Self.file("x/edit", a), Self.file("x/chmod", a),
            Self.file("x/touch", a), Self.file("x/moved", a),
            TreeEntry(kind: .symlink, path: "x/link", mode: 0o777, mtimeSeconds: 1, mtimeNanoseconds: 0, linkTarget: "a"),
            TreeEntry(kind: .directory, path: "x/swap", mode: 0o755, mtimeSeconds: 1, mtimeNanoseconds: 0),
        ]
        let new = [
            Self.file("x/same", a), Self.file("x/edit", [Self.ref(2, pack: 1, length: 10)]),
            Self.file("x/chmod", a, mode: 0o600), Self.file("x/touch", a, mtime: 200),
            // The same chunk in another pack (a prune moved it) is the same content.
            Self.file("x/moved", [Self.ref(1, pack: 9, length: 10)]),
            TreeEntry(kind: .symlink, path: "x/link", mode: 0o777, mtimeSeconds: 1, mtimeNanoseconds: 0, linkTarget: "b"),
            Self.file("x/swap", a), Self.file("x/added", a),
        ]
        let changes = TreeDiff.compare(old, new)
        #expect(changes == [
            TreeChange(path: "x/added", kind: .added, metadata: []),
            TreeChange(path: "x/chmod", kind: .metadata, metadata: ["mode"]),
            TreeChange(path: "x/edit", kind: .changed, metadata: []),
            TreeChange(path: "x/gone", kind: .removed, metadata: []),
            TreeChange(path: "x/link", kind: .changed, metadata: []),
            TreeChange(path: "x/swap", kind: .type, metadata: ["mode", "mtime"]),
            TreeChange(path: "x/touch", kind: .metadata, metadata: ["mtime"]),
        ])
        #expect(TreeDiff.compare(old, old).isEmpty)
    }

    /// Two names that are not UTF-8 and differ only in the invalid byte stay apart, and a
    /// valid name spelling the escape of one is a third path.
    @Test func namesAreComparedAsBytes() {
        let a = TreeEntry(kind: .file, pathBytes: Array("x/n".utf8) + [0xff], mode: 0o644, mtimeSeconds: 0, mtimeNanoseconds: 0)
        let b = TreeEntry(kind: .file, pathBytes: Array("x/n".utf8) + [0xfe], mode: 0o644, mtimeSeconds: 0, mtimeNanoseconds: 0)
        let c = TreeEntry(kind: .file, path: "x/n\\xff", mode: 0o644, mtimeSeconds: 0, mtimeNanoseconds: 0)
        let changes = TreeDiff.compare([a, c], [b, c])
        // In byte order: 0xfe (added) before 0xff (removed).
        #expect(changes.map(\.kind) == [.added, .removed])
        #expect(changes.map(\.pathBytes) == [b.pathBytes, a.pathBytes])
        #expect(changes[1].path == "x/n\\xff")
        #expect(a.matches(try! ExcludePattern("n?")))
        #expect(!c.matches(try! ExcludePattern("n?")))
    }

    @Test func subtreeSelection() {
        let e = TreeEntry(kind: .file, path: "home/me/docs/a", mode: 0o644, mtimeSeconds: 0, mtimeNanoseconds: 0)
        #expect(e.isAt(orBelow: "/home/me/"))
        #expect(e.isAt(orBelow: "home/me/docs/a"))
        #expect(e.isAt(orBelow: ""))
        #expect(e.isAt(orBelow: "/"))
        #expect(!e.isAt(orBelow: "/home/m"))
        #expect(!e.isAt(orBelow: "/home/me/docs/a/b"))
        #expect(Array(e.nameBytes) == Array("a".utf8))
    }
}
