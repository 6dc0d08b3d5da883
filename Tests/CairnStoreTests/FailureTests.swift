import Testing
import CairnStore
import Foundation

@Suite struct FailureTests {
    @Test func tinyMapFillsWithAClearError() throws {
        try withTemporaryDirectory { path in
            let env = try LMDBEnvironment(path: path, mapSize: 1 << 20)
            let db = try env.openDatabase("small")
            try env.write { txn in try txn.put(db, [0], [1]) }
            let error = #expect(throws: StoreError.self) {
                try env.write { txn throws in
                    for i in 0..<64 { try txn.put(db, [UInt8(i)], pattern(64 << 10)) }
                }
            }
            #expect(error?.code == .mapFull)
            #expect(error?.path == path)
            #expect(error?.message.contains(path) == true)
            #expect(error?.message.contains("\(1 << 20) bytes") == true)
            // The failed write was aborted; earlier data is intact and the store still works.
            #expect(try env.read { txn in try txn.get(db, [0]) } == [1])
            try env.write { txn in try txn.put(db, [1], [2]) }
        }
    }

    @Test func garbageDataFileIsAClearError() throws {
        try withTemporaryDirectory { path in
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            let garbage = Data(pattern(16 << 10, seed: 99))
            try garbage.write(to: URL(fileURLWithPath: path).appendingPathComponent("data.mdb"))
            let error = #expect(throws: StoreError.self) { _ = try LMDBEnvironment(path: path) }
            #expect(error?.code == .corrupted)
            #expect(error?.message.contains(path) == true)
        }
    }

    @Test func createsMissingDirectoriesPrivately() throws {
        try withTemporaryDirectory { path in
            let nested = path + "/a/b"
            _ = try LMDBEnvironment(path: nested)
            let attributes = try FileManager.default.attributesOfItem(atPath: nested)
            #expect((attributes[.posixPermissions] as? Int).map { $0 & 0o077 } == 0)
        }
    }

    @Test func statReportsUse() throws {
        try withTemporaryDirectory { path in
            let env = try LMDBEnvironment(path: path, mapSize: 1 << 30)
            let stat = try env.stat()
            #expect(stat.mapSize == 1 << 30)
            #expect(stat.usedBytes > 0 && stat.usedBytes < stat.mapSize)
        }
    }
}
