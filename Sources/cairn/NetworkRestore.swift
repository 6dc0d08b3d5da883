import ArgumentParser
import CairnCore
import CairnCrypto
import CairnData
import CairnNet
import CairnNode
import Foundation
import Logging

/// The network half of `cairn restore --coordinator`: the identity from the phrase (for a
/// new data directory), then every volume's k shards into its staging targets.
enum NetworkRestore {
    static func fetch(directory: DataDirectory, coordinator: String, phraseFile: String?, patience: Int, verbose: Bool,
                      quiet: Bool) async throws -> RestoreClient.Summary
    {
        SecretProcess.protect()
        let endpoint = try serviceRun { () throws(NetError) in try Endpoint(parsing: coordinator) }
        if (try? ControlClient.ask(ControlRequest(.settings), dataDirectory: directory.path, timeoutSeconds: 2)) != nil {
            Terminal.error("a node is running on \(directory.path): stop it, or restore into another --data-dir")
            throw ExitCode(1)
        }
        if !directory.isInitialized {
            let mnemonic: Mnemonic
            do { mnemonic = try Mnemonic(recoveryPhrase: try PhraseInput.read(file: phraseFile)) } catch let error as MnemonicError {
                Terminal.error(error.description)
                throw ExitCode(1)
            }
            let keys = try cairnRun { () throws(DataError) in try directory.initialize(with: mnemonic) }
            if !quiet { print("recovered identity \(keys.identity) into \(directory.path)") }
        }
        var logger = Logger(label: "cairn.restore", factory: { StreamLogHandler.standardError(label: $0) })
        logger.logLevel = verbose ? .debug : .warning
        var settings = RestoreClient.Settings(dataDirectory: directory.path, coordinator: endpoint)
        settings.patience = .seconds(Int64(patience))
        let client = try serviceRun { () throws(NodeError) in try RestoreClient(settings: settings, logger: logger) }
        let show = Terminal.stderrIsTTY && !quiet
        do {
            let summary = try await client.run { restored, known in
                if show { FileHandle.standardError.write(Data("\rfetching  \(restored) of \(known) volumes".utf8)) }
            }
            if show { FileHandle.standardError.write(Data("\n".utf8)) }
            return summary
        } catch {
            if show { FileHandle.standardError.write(Data("\n".utf8)) }
            Terminal.error(error.description)
            throw ExitCode(1)
        }
    }

    /// Rebuilds, from the k shards of every pack the fetch brought, the shards it did not,
    /// into all n staging targets, each checked against the owner's root record by the
    /// engine (`Repository.check`): the node that runs here next computes every slot's
    /// root from them and uploads repairs from them, as the old node did from its own.
    /// Nil when no volume is to be adopted; the count of shards rebuilt otherwise.
    static func completeStaging(_ fetched: RestoreClient.Summary, repository: Repository, dataDirectory: String) throws -> Int? {
        guard fetched.adoptable > 0, fetched.shardsPerPack > 0 else { return nil }
        let paths = OwnerPacks.targetPaths(dataDirectory: dataDirectory, n: fetched.shardsPerPack)
        let summary = try cairnRun { () throws(DataError) in try repository.check(from: paths, repair: true) }
        guard summary.healthy else {
            Terminal.warn("the staging targets could not be completed (\(summary.packsUnrecoverable.count) packs short of k shards): a node here will not take over the restored volumes until `cairn check --data-dir \(dataDirectory)` completes them")
            return nil
        }
        return summary.shardsRepaired
    }
}
