import ImageStore
import OCI
import RunxlBase
import Testing

/// ImageStore's choice of a manifest from an index by platform.
@Suite struct PlatformSelectorTests {
    @Test func platformSelection() throws {
        #expect(try PlatformSelector(parsing: "linux/arm64/v8") == PlatformSelector(os: "linux", architecture: "arm64", variant: "v8"))
        #expect(throws: RunxlError.self) { try PlatformSelector(parsing: "linux") }
        #expect(throws: RunxlError.self) { try PlatformSelector(parsing: "linux/amd64/x/y") }
        let arm = try PlatformSelector(parsing: "linux/arm64/v8")
        #expect(arm.matches(os: "linux", architecture: "arm64", variant: nil), "arm64's default variant is v8")
        #expect(!arm.matches(os: "linux", architecture: "amd64", variant: nil))
        let index = Index(schemaVersion: 2, manifests: [
            Descriptor(mediaType: MediaType.imageManifest, digest: "sha256:" + String(repeating: "1", count: 64), size: 1,
                       platform: Platform(architecture: "s390x", os: "linux")),
        ])
        do {
            _ = try PlatformSelector.linuxAMD64.select(from: index, source: "test-index")
            Issue.record("selected a manifest for the wrong platform")
        } catch {
            #expect(error.message.contains("linux/s390x") && error.message.contains("linux/amd64") && error.message.contains("test-index"))
        }
    }
}
