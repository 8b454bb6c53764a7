import Testing
import TestSupport

/// The committed corpus and crash inputs of GuestProtocol's fuzz targets, replayed (TestSupport's
/// `FuzzReplay` says how).
@Suite struct GuestProtocolFuzzRegressionTests {
    @Test(arguments: GuestProtocolFuzzHarness.targets.keys.sorted()) func corpusAndCrashesStayHarmless(target: String) throws {
        try FuzzReplay.replay(target: target, body: try #require(GuestProtocolFuzzHarness.targets[target]))
    }
}
