import Testing

@testable import GuestProtocol

@Suite struct DeviceMountDescriptionTests {
    @Test func waitForSourceRoundTripsAndIsOnlyWrittenWhenSet() throws {
        let disk = ProcessDescription.Mount(
            destination: "/data", type: "ext4", source: "/dev/xvdb", options: ["ro", "nosuid"], waitForSource: true)
        let tmp = ProcessDescription.Mount(destination: "/tmp", type: "tmpfs", source: "tmpfs")
        let description = ProcessDescription(args: ["true"], mounts: [tmp, disk])
        let bytes = description.encoded()
        #expect(try ProcessDescription.decode(bytes) == description)
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.components(separatedBy: "waitForSource").count == 2)
        // Without such a mount the bytes are what they were before the field existed.
        let plain = ProcessDescription(args: ["true"], mounts: [tmp])
        #expect(!String(decoding: plain.encoded(), as: UTF8.self).contains("waitForSource"))
    }

    @Test func olderDocumentsWithoutTheFieldStillDecode() throws {
        let text = #"{"version":1,"args":["a"],"mounts":[{"destination":"/x","type":"tmpfs","source":"tmpfs","options":[]}]}"#
        let description = try ProcessDescription.decode(Array(text.utf8))
        #expect(description.mounts.first?.waitForSource == false)
        let wrong = #"{"version":1,"args":["a"],"mounts":[{"destination":"/x","waitForSource":"yes"}]}"#
        #expect(throws: GuestProtocolError.self) { try ProcessDescription.decode(Array(wrong.utf8)) }
    }
}
