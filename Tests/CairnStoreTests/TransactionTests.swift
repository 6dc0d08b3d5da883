import Testing
import CairnStore
import Dispatch

private struct Boom: Error, Equatable {}

@Suite struct TransactionTests {
    @Test func forEachWalksByteOrderWithPrefixAndStops() throws {
        try withTemporaryDirectory { path in
            let env = try LMDBEnvironment(path: path)
            let db = try env.openDatabase("walk")
            let keys: [[UInt8]] = [[2, 0], [1, 255], [1], [1, 0, 5], [0, 9], [1, 0], [3]]
            try env.write { txn throws in
                for key in keys { try txn.put(db, key, key + [0xEE]) }
            }
            var all: [[UInt8]] = []
            try env.read { txn throws in
                try txn.forEach(db) { key, value in
                    #expect(Array(value) == key + [0xEE])
                    all.append(key)
                    return true
                }
            }
            #expect(all == [[0, 9], [1], [1, 0], [1, 0, 5], [1, 255], [2, 0], [3]])

            var prefixed: [[UInt8]] = []
            try env.read { txn throws in
                try txn.forEach(db, prefix: [1, 0]) { key, _ in prefixed.append(key); return true }
            }
            #expect(prefixed == [[1, 0], [1, 0, 5]])

            var firstTwo: [[UInt8]] = []
            try env.read { txn throws in
                try txn.forEach(db, prefix: [1]) { key, _ in firstTwo.append(key); return firstTwo.count < 2 }
            }
            #expect(firstTwo == [[1], [1, 0]])

            var none = 0
            try env.read { txn in try txn.forEach(db, prefix: [4]) { _, _ in none += 1; return true } }
            #expect(none == 0)
        }
    }

    @Test func throwingWriteLeavesNothing() throws {
        try withTemporaryDirectory { path in
            let env = try LMDBEnvironment(path: path)
            let db = try env.openDatabase("aborted")
            #expect(throws: Boom()) {
                try env.write { txn throws in
                    try txn.put(db, [1], [1])
                    try txn.put(db, [2], reserving: 10) { _ in }
                    throw Boom()
                }
            }
            #expect(try env.read { txn in try txn.count(db) } == 0)
        }
    }

    @Test func reopeningKeepsCommittedData() throws {
        try withTemporaryDirectory { path in
            do {
                let env = try LMDBEnvironment(path: path)
                let db = try env.openDatabase("kept")
                try env.write { txn in try txn.put(db, [1], [42]) }
                try env.sync()
            }
            let env = try LMDBEnvironment(path: path)
            let db = try env.openDatabase("kept")
            #expect(try env.read { txn in try txn.get(db, [1]) } == [42])
            #expect(env.path == path)
        }
    }

    @Test func namedDatabasesAreIndependent() throws {
        try withTemporaryDirectory { path in
            let env = try LMDBEnvironment(path: path)
            let a = try env.openDatabase("a")
            let b = try env.openDatabase("b")
            #expect(a != b)
            #expect(try env.openDatabase("a") == a)
            try env.write { txn throws in
                try txn.put(a, [1], [0xA])
                try txn.put(b, [1], [0xB])
                try txn.put(b, [2], [0xB])
            }
            try env.write { txn in try txn.clear(b) }
            try env.read { txn throws in
                #expect(try txn.get(a, [1]) == [0xA])
                #expect(try txn.count(a) == 1)
                #expect(try txn.count(b) == 0)
            }
        }
    }

    @Test func oneReadTransactionFromManyThreadsAtOnce() throws {
        try withTemporaryDirectory { path in
            let env = try LMDBEnvironment(path: path)
            let dbs = try (0..<4).map { try env.openDatabase("db\($0)") }
            try env.write { txn throws in
                for (i, db) in dbs.enumerated() {
                    for k in 0..<200 { try txn.put(db, [UInt8(k)], [UInt8(i), UInt8(k)]) }
                }
            }
            let failures = try env.read { txn throws in
                let bad = Counter()
                DispatchQueue.concurrentPerform(iterations: 16) { worker in
                    let db = dbs[worker % dbs.count]
                    for k in 0..<200 {
                        if (try? txn.get(db, [UInt8(k)])) != [UInt8(worker % dbs.count), UInt8(k)] { bad.increment() }
                    }
                }
                return bad.value
            }
            #expect(failures == 0)
        }
    }
}
