import Testing
import CairnStore

@Suite struct RoundTripTests {
    @Test func putGetOverwriteDelete() throws {
        try withTemporaryDirectory { path in
            let env = try LMDBEnvironment(path: path)
            let db = try env.openDatabase("things")
            try env.write { txn in try txn.put(db, [1, 2, 3], [9, 9]) }
            #expect(try env.read { txn in try txn.get(db, [1, 2, 3]) } == [9, 9])
            try env.write { txn in try txn.put(db, [1, 2, 3], [7]) }
            #expect(try env.read { txn in try txn.get(db, [1, 2, 3]) } == [7])
            #expect(try env.read { txn in try txn.contains(db, [1, 2, 3]) })
            #expect(try env.write { txn in try txn.delete(db, [1, 2, 3]) })
            #expect(try env.write { txn in try txn.delete(db, [1, 2, 3]) } == false)
            #expect(try env.read { txn in try txn.get(db, [1, 2, 3]) } == nil)
            #expect(try env.read { txn in try txn.contains(db, [1, 2, 3]) } == false)
        }
    }

    @Test(arguments: [0, 1, 20 << 20])
    func valueSizes(size: Int) throws {
        try withTemporaryDirectory { path in
            let env = try LMDBEnvironment(path: path, durable: false)
            let db = try env.openDatabase("sizes")
            let value = pattern(size)
            try env.write { txn in try txn.put(db, [0x42], value) }
            #expect(try env.read { txn in try txn.get(db, [0x42]) } == value)
            let counted = try env.read { txn in try txn.withValue(db, [0x42]) { $0.count } }
            #expect(counted == size)
        }
    }

    @Test func reservePutWritesInPlace() throws {
        try withTemporaryDirectory { path in
            let env = try LMDBEnvironment(path: path)
            let db = try env.openDatabase("reserved")
            let value = pattern(100_000, seed: 7)
            try env.write { txn throws in
                try txn.put(db, [5], reserving: value.count) { buf in buf.copyBytes(from: value) }
                // The transaction sees its own write.
                #expect(try txn.get(db, [5]) == value)
            }
            #expect(try env.read { txn in try txn.get(db, [5]) } == value)
        }
    }

    @Test func clearAndCount() throws {
        try withTemporaryDirectory { path in
            let env = try LMDBEnvironment(path: path)
            let db = try env.openDatabase("counted")
            try env.write { txn throws in
                for i in 1...10 { try txn.put(db, [UInt8(i)], [UInt8(i)]) }
            }
            #expect(try env.read { txn in try txn.count(db) } == 10)
            try env.write { txn in try txn.clear(db) }
            #expect(try env.read { txn in try txn.count(db) } == 0)
        }
    }

    @Test func keyTooLongIsAnErrorNotACrash() throws {
        try withTemporaryDirectory { path in
            let env = try LMDBEnvironment(path: path)
            let db = try env.openDatabase("keys")
            try env.write { txn in try txn.put(db, pattern(511), [1]) }
            #expect(try env.read { txn in try txn.get(db, pattern(511)) } == [1])
            let error = #expect(throws: StoreError.self) {
                try env.write { txn in try txn.put(db, pattern(512), [1]) }
            }
            #expect(error?.code == .keyTooLong)
            #expect(error?.message.contains("512") == true)
            let read = #expect(throws: StoreError.self) { try env.read { txn in try txn.get(db, pattern(600)) } }
            #expect(read?.code == .keyTooLong && read?.message.contains("600") == true, "\(String(describing: read))")
        }
    }
}
