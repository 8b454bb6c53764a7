import Foundation
import OCI
import RunxlBase
import Testing

@Suite struct ImageSpecTests {
    let digest = "sha256:" + String(repeating: "a", count: 64)

    @Test func ociManifestIndexAndConfigRoundTrip() throws {
        let manifest = """
            {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
             "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "\(digest)", "size": 7023},
             "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": "\(digest)", "size": 32654,
                         "annotations": {"org.opencontainers.image.title": "l"}}],
             "subject": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "\(digest)", "size": 1},
             "annotations": {"com.example.key1": "value1"}}
            """
        let index = """
            {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
             "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "\(digest)", "size": 7143,
                            "platform": {"architecture": "amd64", "os": "linux", "os.version": "6.1", "os.features": ["x"], "variant": "v2"}}]}
            """
        let config = """
            {"created": "2015-10-31T22:22:56.015925234Z", "author": "A", "architecture": "amd64", "os": "linux",
             "config": {"User": "alice", "ExposedPorts": {"8080/tcp": {}}, "Env": ["PATH=/usr/bin"], "Entrypoint": ["/bin/my-app"],
                        "Cmd": ["--foreground"], "Volumes": {"/var/job-result-data": {}}, "WorkingDir": "/home/alice",
                        "Labels": {"a": "b"}, "StopSignal": "SIGTERM", "Healthcheck": {"Test": ["CMD", "true"], "Interval": 30000000000}},
             "rootfs": {"type": "layers", "diff_ids": ["\(digest)"]},
             "history": [{"created": "2015-10-31T22:22:54.690851953Z", "created_by": "/bin/sh -c #(nop) ADD file", "empty_layer": true}]}
            """
        for (text, decode) in [
            (manifest, { (data: Data) throws -> Data in try Manifest.decode(data).encoded() }),
            (index, { try Index.decode($0).encoded() }),
            (config, { try ImageConfig.decode($0).encoded() }),
            (#"{"imageLayoutVersion": "1.0.0"}"#, { try ImageLayout.decode($0).encoded() }),
        ] {
            let data = Data(text.utf8)
            #expect(firstDifference(try parseJSON(data), try parseJSON(decode(data))) == nil)
        }
        let decoded = try Index.decode(Data(index.utf8))
        #expect(decoded.manifests.first?.platform?.osVersion == "6.1")
    }

    @Test func dockerManifestDecodes() throws {
        let text = """
            {"schemaVersion": 2, "mediaType": "\(MediaType.dockerManifest)",
             "config": {"mediaType": "\(MediaType.dockerImageConfig)", "size": 1469, "digest": "\(digest)"},
             "layers": [{"mediaType": "\(MediaType.dockerLayerGzip)", "size": 2807, "digest": "\(digest)"}]}
            """
        let manifest = try Manifest.decode(Data(text.utf8))
        #expect(MediaType.manifestTypes.contains(manifest.mediaType ?? ""))
        #expect(MediaType.layerTypes.contains(manifest.layers[0].mediaType))
    }

    @Test func badImageDocumentsNameTheField() {
        func message(_ text: String) -> String? {
            let error = #expect(throws: RunxlError.self) { try Manifest.decode(Data(text.utf8)) }
            #expect(error?.code == .invalidImage)
            return error?.message
        }
        let config = #"{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "\#(digest)", "size": 1}"#
        #expect(message(#"{"schemaVersion": 1, "config": \#(config), "layers": []}"#) == "image manifest: schemaVersion: must be 2, found 1")
        #expect(message(#"{"schemaVersion": 2, "config": \#(config), "layers": [{"mediaType": "x/y", "digest": "sha256:ABC", "size": 1}]}"#)
            == #"image manifest: layers[0].digest: "sha256:ABC": a sha256 digest is 64 lowercase hex digits"#)
        #expect(message(#"{"schemaVersion": 2, "config": \#(config), "layers": [{"mediaType": "x/y", "digest": "nocolon", "size": 1}]}"#)
            == #"image manifest: layers[0].digest: "nocolon" is not a digest (algorithm:hex, e.g. sha256:...)"#)
        #expect(message(#"{"schemaVersion": 2, "config": \#(config), "layers": [{"mediaType": "x/y", "digest": "\#(digest)", "size": -1}]}"#)
            == "image manifest: layers[0].size: must not be negative, found -1")
        #expect(message(#"{"schemaVersion": 2, "layers": []}"#) == "image manifest: config: required field is missing")
        let configError = #expect(throws: RunxlError.self) {
            try ImageConfig.decode(Data(#"{"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}, "config": {"ExposedPorts": {"80/tcp": 1}}}"#.utf8))
        }
        #expect(configError?.message == #"image config: config.ExposedPorts["80/tcp"]: expected an object, found a number"#)
    }
}
