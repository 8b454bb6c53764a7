// The libFuzzer entry point shared by every fuzz target. Scripts/fuzz compiles it with one
// harness file from a test target and a generated file naming the target:
//   let fuzzTargetName = "config-json"
//   let fuzzTargets = OCIFuzzHarness.targets
#if canImport(Glibc)
import Glibc
#endif

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let body = fuzzTargets[fuzzTargetName] else {
        report("no fuzz target named \(fuzzTargetName)")
        abort()
    }
    let input = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    let violations = body(input)
    if !violations.isEmpty {
        // An abort makes libFuzzer save the input under Tests/Fuzz/crashes/<target>/.
        report("fuzz target \(fuzzTargetName): \(violations.joined(separator: "; "))")
        abort()
    }
    return 0
}

/// Straight to file descriptor 2: buffered output would be lost in the abort that follows.
private func report(_ message: String) {
    let bytes = Array((message + "\n").utf8)
    _ = bytes.withUnsafeBufferPointer { write(2, $0.baseAddress, $0.count) }
}
