#if CAIRN_LIBFUZZER
import CairnFuzz
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// The libFuzzer binary, when built with `-sanitize=fuzzer -DCAIRN_LIBFUZZER`: SwiftPM names
// an executable's entry point `cairn_fuzz_main`, which hands over to libFuzzer's driver
// (coverage feedback, its own flags, crashing inputs saved). The decoder is chosen by
// CAIRN_FUZZ_TARGET (`cairn-fuzz list` in an ordinary build names them).

nonisolated(unsafe) private var selected: FuzzTarget?

@_silgen_name("LLVMFuzzerRunDriver")
private func runDriver(_ argc: UnsafeMutablePointer<Int32>,
                       _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                       _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32) -> Int32

@_cdecl("cairn_fuzz_main")
public func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    let name = getenv("CAIRN_FUZZ_TARGET").map { String(cString: $0) } ?? ""
    guard let target = FuzzTargets.named(name) else {
        let message = "cairn-fuzz: set CAIRN_FUZZ_TARGET to one of: \(FuzzTargets.all.map(\.name).joined(separator: ", "))\n"
        _ = message.withCString { write(2, $0, strlen($0)) }
        return 64
    }
    selected = target
    var count = argc
    var arguments = argv
    return runDriver(&count, &arguments) { data, size in
        let input = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
        if case .violation(let message)? = selected?.run(input) {
            // A property broken is a crash to libFuzzer, which saves the input.
            fatalError("cairn-fuzz: \(message)")
        }
        return 0
    }
}
#endif
