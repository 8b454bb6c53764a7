import Foundation
import Hypervisor
@testable import Runtime
import RunxlBase
import Testing

/// State records go through the JSON module since it replaced Foundation's coders here.
@Suite struct StateStoreTests {
    static func record() throws -> ContainerRecord {
        var record = ContainerRecord(
            ociVersion: "1.2.0", id: "c1", status: .running, bundle: "/b", rootfs: "/b/rootfs",
            created: "2026-12-05T13:00:00.123456789Z", owner: "", annotations: ["io.podman/x": "a/b"], hypervisor: "xen")
        record.pid = 4242
        record.pidStartTime = 18_446_744_073_709_551_615
        record.domainID = DomainID(17)
        record.exitStatus = "exited 3"
        record.terminal = true
        return record
    }

    static func scratch() throws -> String {
        var template = Array("/tmp/runxl-statestore-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        return String(cString: try #require(made))
    }

    @Test func aRecordRoundTrips() throws {
        let root = try Self.scratch()
        defer { try? FileSystem.removeTree(root) }
        let store = StateStore(root: root)
        let id = try ContainerID("c1")
        try store.claim(try Self.record(), id: id)
        #expect("\(try store.load(id))" == "\(try Self.record())")
    }

    /// Containers created by a runxl whose records Foundation's JSONEncoder wrote stay readable
    /// after an upgrade.
    @Test func aRecordFoundationWroteIsRead() throws {
        let root = try Self.scratch()
        defer { try? FileSystem.removeTree(root) }
        let store = StateStore(root: root)
        let id = try ContainerID("c1")
        try store.claim(try Self.record(), id: id)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let path = "\(store.directory(id))/\(StateStore.recordName)"
        try FileSystem.writeAtomically(path, [UInt8](try encoder.encode(try Self.record())))
        #expect("\(try store.load(id))" == "\(try Self.record())")
    }

    @Test func aDamagedRecordNamesTheFieldAndTheWayOut() throws {
        let root = try Self.scratch()
        defer { try? FileSystem.removeTree(root) }
        let store = StateStore(root: root)
        let id = try ContainerID("c1")
        try store.claim(try Self.record(), id: id)
        let path = "\(store.directory(id))/\(StateStore.recordName)"
        try FileSystem.writeAtomically(path, Array(#"{"ociVersion":"1.2.0","id":"c1","status":7}"#.utf8))
        do {
            _ = try store.load(id)
            Issue.record("loaded")
        } catch {
            #expect(error.code == .invalidDocument)
            #expect(error.message.contains("delete --force removes it"), "\(error)")
            #expect("\(error)".contains("status"), "\(error)")
        }
    }
}
