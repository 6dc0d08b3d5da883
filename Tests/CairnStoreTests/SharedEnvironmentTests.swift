import CairnStore
import Foundation
import Synchronization
import Testing

/// LMDB forbids two environments on the same files in one process: the second open
/// re-initialises the lock region and the first one's close destroys mutexes the second
/// still uses. A backup's target stores can still be closing when a restore or check in
/// the same process opens them, so handles on one store must share one environment.
@Suite struct SharedEnvironmentTests {
    @Test func secondHandleOutlivesTheFirstAndKeepsWorking() throws {
        try withTemporaryDirectory { path in
            var first: LMDBEnvironment? = try LMDBEnvironment(path: path)
            let firstDB = try first!.openDatabase("things")
            try first!.write { txn in try txn.put(firstDB, [1], [10]) }

            let second = try LMDBEnvironment(path: path)
            let secondDB = try second.openDatabase("things")
            // Both handles see each other's writes at once: one environment, one map.
            #expect(try second.read { txn in try txn.get(secondDB, [1]) } == [10])
            try second.write { txn in try txn.put(secondDB, [2], [20]) }
            #expect(try first!.read { txn in try txn.get(firstDB, [2]) } == [20])

            first = nil  // closing the first must not close the environment the second uses
            for i in 3..<200 {
                try second.write { txn in try txn.put(secondDB, [UInt8(i)], [UInt8(i % 256)]) }
            }
            #expect(try second.read { txn in try txn.count(secondDB) } == 199)
        }
    }

    /// A second environment on the same files would re-initialise the writer mutex the
    /// first one holds and write at the same time; a shared one waits its turn.
    @Test func secondHandleWaitsForTheFirstHandlesWriter() throws {
        try withTemporaryDirectory { path in
            let first = try LMDBEnvironment(path: path)
            let db = try first.openDatabase("turns")
            let state = Atomic<Int>(0)  // 0 not started, 1 first writer inside, 2 first writer committed
            let writer = Thread {
                try? first.write { txn in
                    try txn.put(db, [1], [1])
                    state.store(1, ordering: .sequentiallyConsistent)
                    Thread.sleep(forTimeInterval: 0.3)
                    state.store(2, ordering: .sequentiallyConsistent)
                }
            }
            writer.start()
            while state.load(ordering: .sequentiallyConsistent) == 0 { Thread.sleep(forTimeInterval: 0.001) }
            let second = try LMDBEnvironment(path: path)
            let secondDB = try second.openDatabase("turns")
            let seenInside = try second.write { txn in
                try txn.put(secondDB, [2], [2])
                return state.load(ordering: .sequentiallyConsistent)
            }
            #expect(seenInside == 2, "the second handle wrote while the first handle's write transaction was open")
            #expect(try second.read { txn in try txn.count(secondDB) } == 2)
        }
    }

    @Test func reopenedAfterEveryHandleClosedSeesTheData() throws {
        try withTemporaryDirectory { path in
            do {
                let env = try LMDBEnvironment(path: path)
                let db = try env.openDatabase("kept")
                try env.write { txn in try txn.put(db, [7], [7, 7]) }
            }
            let again = try LMDBEnvironment(path: path)
            let db = try again.openDatabase("kept")
            #expect(try again.read { txn in try txn.get(db, [7]) } == [7, 7])
        }
    }

    @Test func sameFolderAsTwoKindsOfStoreIsAnErrorNotATrap() throws {
        try withTemporaryDirectory { path in
            let env = try LMDBEnvironment(path: path, maxDatabases: 4)
            _ = try env.openDatabase("a")
            let error = #expect(throws: StoreError.self) {
                _ = try LMDBEnvironment(path: path, maxDatabases: 8)
            }
            #expect(error?.code == .other)
            #expect(error?.message.contains("already open in this process") == true)
        }
    }
}
