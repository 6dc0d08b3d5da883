// swift-tools-version: 6.0
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

/// The node core and the simulator run the event loop of `cairn simulate`: in release
/// builds their dynamic exclusivity checks (a thread-local access set consulted on every
/// access to a class's stored property) cost a few per cent of the loop. Debug builds and
/// the tests keep them.
let hot: [SwiftSetting] = strict + [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]

let package = Package(
    name: "Cairn",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "cairn", targets: ["cairn"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.65.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
    ],
    targets: [
        // C libraries from Debian's -dev packages.
        .systemLibrary(name: "CSodium", path: "Sources/CSodium", pkgConfig: "libsodium",
                       providers: [.apt(["libsodium-dev"])]),
        .systemLibrary(name: "CLMDB", path: "Sources/CLMDB", pkgConfig: "lmdb",
                       providers: [.apt(["liblmdb-dev"])]),
        // Debian's libisal-dev ships no .pc file: the modulemap links "isal" itself.
        .systemLibrary(name: "CISAL", path: "Sources/CISAL", providers: [.apt(["libisal-dev"])]),
        .systemLibrary(name: "CZstd", path: "Sources/CZstd", pkgConfig: "libzstd",
                       providers: [.apt(["libzstd-dev"])]),

        // glibc's malloc tuning (mallopt), used by the command line only.
        .systemLibrary(name: "CMalloc", path: "Sources/CMalloc"),

        // Multi-lane BLAKE2b (AVX-512 when the CPU has it): no packaged library hashes
        // several messages at once. Optimised in debug builds too, which the tests run.
        .target(name: "CBlake2bLanes", path: "Sources/CBlake2bLanes",
                cSettings: [.unsafeFlags(["-O2", "-Wall", "-Wextra"])]),

        // Core dumps off and the phrase prompt's echo guard: prctl(2) is variadic and a
        // signal handler may only make async-signal-safe calls, which Swift cannot express.
        .target(name: "CProcessGuard", path: "Sources/CProcessGuard",
                cSettings: [.unsafeFlags(["-Wall", "-Wextra"])]),

        // The shared truths: the binary codec, pack geometry and its bounds, ids, the error base.
        .target(name: "CairnWire", swiftSettings: hot),
        .target(name: "CairnCrypto", dependencies: ["CSodium", "CBlake2bLanes"], swiftSettings: strict),
        .target(name: "CairnStore", dependencies: ["CairnWire", "CLMDB"], swiftSettings: strict),
        .target(
            name: "CairnData",
            dependencies: [
                "CairnWire", "CairnCrypto", "CairnStore", "CISAL", "CZstd",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        .target(name: "CairnCore", dependencies: ["CairnWire", "CairnCrypto"], swiftSettings: hot),
        .target(name: "CairnSimulator", dependencies: ["CairnWire", "CairnCore", "CairnCrypto"], path: "Simulations",
                swiftSettings: hot),
        // The network: Noise sessions (libsodium) over SwiftNIO TCP and UDP, carrying the
        // core's messages. Knows the core's messages, never the backup engine.
        .target(
            name: "CairnNet",
            dependencies: [
                "CairnWire", "CairnCrypto", "CairnCore", "CSodium",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        // The node and coordinator services: core + transport + LMDB storage + engine.
        .target(
            name: "CairnNode",
            dependencies: [
                "CairnWire", "CairnCrypto", "CairnStore", "CairnData", "CairnCore", "CairnNet",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict),
        // Fuzz targets for every on-disk decoder and the scenario parser, and `cairn-fuzz`,
        // their seeded mutation loop (or, built with -sanitize=fuzzer, a libFuzzer binary).
        .target(name: "CairnFuzz", dependencies: ["CairnWire", "CairnCrypto", "CairnData", "CairnCore", "CairnSimulator", "CairnNet"],
                swiftSettings: strict),
        .executableTarget(name: "cairn-fuzz", dependencies: ["CairnFuzz"], path: "Sources/CairnFuzzer", swiftSettings: strict),
        .executableTarget(
            name: "cairn",
            dependencies: [
                "CairnWire", "CairnCrypto", "CairnStore", "CairnData", "CairnCore", "CairnSimulator", "CairnNet", "CairnNode",
                "CMalloc", "CProcessGuard",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),

        // What every test target shares: the seeded generator, temporary folders, the
        // child-process runner, virtual time. Knows no Cairn module.
        .target(name: "CairnTestSupport", dependencies: ["CSpawnShim"], path: "Tests/CairnTestSupport", swiftSettings: strict),
        // glibc's posix_spawn_file_actions_addclosefrom_np, which Swift cannot see (_GNU_SOURCE).
        .target(name: "CSpawnShim", path: "Tests/CSpawnShim", cSettings: [.unsafeFlags(["-Wall", "-Wextra"])]),

        .testTarget(name: "CairnWireTests", dependencies: ["CairnWire"], swiftSettings: strict),
        .testTarget(name: "CairnCryptoTests", dependencies: ["CairnCrypto", "CairnTestSupport"], resources: [.copy("Vectors")],
                    swiftSettings: strict),
        .testTarget(name: "CairnStoreTests", dependencies: ["CairnStore", "CairnTestSupport"], swiftSettings: strict),
        .testTarget(
            name: "CairnDataTests", dependencies: ["CairnWire", "CairnData", "CairnCrypto", "CairnStore", "CairnTestSupport"],
            resources: [.copy("Vectors")], swiftSettings: strict),
        .testTarget(name: "CairnCoreTests",
                    dependencies: ["CairnWire", "CairnCore", "CairnCrypto", "CairnNode", "CairnData", "CairnNet", "CairnTestSupport"],
                    swiftSettings: strict),
        .testTarget(name: "CairnSimulatorTests",
                    dependencies: ["CairnWire", "CairnSimulator", "CairnCore", "CairnCrypto", "CairnNode", "CairnTestSupport"],
                    swiftSettings: strict),
        .testTarget(name: "CairnCLITests", dependencies: ["CairnTestSupport"], swiftSettings: strict),
        .testTarget(name: "CairnNetTests", dependencies: ["CairnNet", "CairnCrypto", "CairnCore", "CairnWire", "CairnTestSupport"],
                    resources: [.copy("Vectors")], swiftSettings: strict),
        .testTarget(name: "CairnNodeTests", dependencies: ["CairnNode", "CairnNet", "CairnCore", "CairnData", "CairnStore", "CairnCrypto", "CairnWire", "CairnTestSupport"], swiftSettings: strict),
        .testTarget(name: "CairnFuzzTests", dependencies: ["CairnFuzz"], swiftSettings: strict),
    ]
)
