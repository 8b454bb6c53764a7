import Testing
import TestSupport

/// The committed corpus and crash inputs of ImageStore's fuzz targets, replayed (TestSupport's
/// `FuzzReplay` says how).
@Suite struct ImageStoreFuzzRegressionTests {
    @Test(arguments: ImageStoreFuzzHarness.targets.keys.sorted()) func corpusAndCrashesStayHarmless(target: String) throws {
        try FuzzReplay.replay(target: target, body: try #require(ImageStoreFuzzHarness.targets[target]))
    }
}
