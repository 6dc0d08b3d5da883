import Testing
import CairnStore

/// Code that only reads can take either kind of transaction.
private func total(_ txn: borrowing some LMDBReadable & ~Copyable, _ db: LMDBDatabase) throws -> Int {
    var sum = 0
    try txn.forEach(db) { _, value in sum += Int(value[0]); return true }
    return sum
}

@Suite struct UsageTests {
    @Test func readHelpersTakeBothTransactionKinds() throws {
        try withTemporaryDirectory { path in
            let env = try LMDBEnvironment(path: path)
            let db = try env.openDatabase("sum")
            let inside = try env.write { txn in
                for i in 1...4 { try txn.put(db, [UInt8(i)], [UInt8(i)]) }
                return try total(txn, db)
            }
            #expect(inside == 10)
            #expect(try env.read { txn in try total(txn, db) } == 10)
        }
    }

    @Test func manyTasksReadWhileOneWrites() async throws {
        try await withTemporaryDirectoryAsync { path in
            let env = try LMDBEnvironment(path: path)
            let db = try env.openDatabase("tasks")
            try env.write { txn in try txn.put(db, [0], [0]) }
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    for i in 1...50 { try env.write { txn in try txn.put(db, [UInt8(i)], [UInt8(i)]) } }
                }
                for _ in 0..<8 {
                    group.addTask {
                        for _ in 0..<50 {
                            // Each snapshot is consistent: keys 0…n with matching values.
                            let ok = try env.read { txn in
                                let n = try txn.count(db)
                                var seen = 0
                                try txn.forEach(db) { key, value in
                                    seen += 1
                                    return key == [value[0]]
                                }
                                return seen == n
                            }
                            #expect(ok)
                        }
                    }
                }
                try await group.waitForAll()
            }
            #expect(try env.read { txn in try txn.count(db) } == 51)
        }
    }
}

@Suite struct NestingTests {
    @Test func nestedWriteStopsInsteadOfDeadlocking() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            try withTemporaryDirectory { path in
                let env = try LMDBEnvironment(path: path)
                let db = try env.openDatabase("nested")
                try env.write { _ in try env.write { txn in try txn.put(db, [1], [1]) } }
            }
        }
        let stderr = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(stderr.contains("would deadlock"))
    }

    @Test func readInsideWriteIsFine() throws {
        try withTemporaryDirectory { path in
            let env = try LMDBEnvironment(path: path)
            let db = try env.openDatabase("mixed")
            try env.write { txn in try txn.put(db, [1], [1]) }
            let before = try env.write { txn in
                try txn.put(db, [1], [2])
                // The read snapshot does not see the uncommitted write.
                return try env.read { r in try r.get(db, [1]) }
            }
            #expect(before == [1])
        }
    }
}
