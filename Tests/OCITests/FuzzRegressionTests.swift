import Testing
import TestSupport

/// The committed corpus and crash inputs of OCI's fuzz targets, replayed (TestSupport's
/// `FuzzReplay` says how).
@Suite struct OCIFuzzRegressionTests {
    @Test(arguments: OCIFuzzHarness.targets.keys.sorted()) func corpusAndCrashesStayHarmless(target: String) throws {
        try FuzzReplay.replay(target: target, body: try #require(OCIFuzzHarness.targets[target]))
    }
}
