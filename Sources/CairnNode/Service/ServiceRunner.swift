import Logging
import ServiceLifecycle
import UnixSignals

/// Runs a service until SIGINT or SIGTERM (swift-service-lifecycle), then stops it
/// cleanly: sessions closed, timers cancelled, the last checkpoint already on disk.
public enum ServiceRunner {
    public static func runUntilSignalled(logger: Logger, start: @escaping @Sendable () async throws -> Void,
                                         stop: @escaping @Sendable () async -> Void) async throws
    {
        let group = ServiceGroup(
            configuration: .init(services: [.init(service: Runner(start: start, stop: stop))],
                                 gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }

    private struct Runner: Service {
        let start: @Sendable () async throws -> Void
        let stop: @Sendable () async -> Void

        func run() async throws {
            try await start()
            try? await gracefulShutdown()
            await stop()
        }
    }
}

/// One member as `cairn coordinator members` shows it.
public struct MemberSummary: Sendable, Codable {
    public var node: UInt32
    public var owner: String
    public var nodeKey: String
    public var address: String
    public var joined: Bool
    public var offered: UInt64
    public var lastSeen: Int64?
}
