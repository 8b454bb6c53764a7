// OCI image-spec 1.1 (opencontainers/image-spec v1.1.0: descriptor.md, image-index.md,
// manifest.md, config.md, image-layout.md). The same types read Docker's image manifest
// v2 schema 2 and manifest lists, whose JSON has the same shape.
public import RunxlBase

/// Media types runxl reads or writes.
public enum MediaType {
    public static let imageIndex = "application/vnd.oci.image.index.v1+json"
    public static let imageManifest = "application/vnd.oci.image.manifest.v1+json"
    public static let imageConfig = "application/vnd.oci.image.config.v1+json"
    public static let imageLayer = "application/vnd.oci.image.layer.v1.tar"
    public static let imageLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip"
    public static let imageLayerZstd = "application/vnd.oci.image.layer.v1.tar+zstd"
    /// Deprecated by image-spec 1.1, still found in old images.
    public static let imageLayerNonDistributable = "application/vnd.oci.image.layer.nondistributable.v1.tar"
    public static let imageLayerNonDistributableGzip = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
    public static let imageLayerNonDistributableZstd = "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"
    /// The `{}` blob artifacts use as their config.
    public static let empty = "application/vnd.oci.empty.v1+json"
    public static let layoutHeader = "application/vnd.oci.layout.header.v1+json"

    public static let dockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
    public static let dockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
    public static let dockerImageConfig = "application/vnd.docker.container.image.v1+json"
    public static let dockerLayerGzip = "application/vnd.docker.image.rootfs.diff.tar.gzip"
    public static let dockerLayerZstd = "application/vnd.docker.image.rootfs.diff.tar.zstd"
    public static let dockerForeignLayerGzip = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
    /// Docker's v1 schema (signed) manifests: recognized only to refuse them by name.
    public static let dockerManifestV1Signed = "application/vnd.docker.distribution.manifest.v1+prettyjws"

    /// Index-like documents: a list of manifests per platform.
    public static let indexTypes: Set<String> = [imageIndex, dockerManifestList]
    /// Single-image manifests.
    public static let manifestTypes: Set<String> = [imageManifest, dockerManifest]
    /// Layer blobs runxl knows how to unpack, with their compression.
    public static let layerTypes: Set<String> = [
        imageLayer, imageLayerGzip, imageLayerZstd, imageLayerNonDistributable, imageLayerNonDistributableGzip,
        imageLayerNonDistributableZstd, dockerLayerGzip, dockerLayerZstd, dockerForeignLayerGzip,
    ]
}

/// A reference to content by digest (descriptor.md).
public struct Descriptor: Codable, Sendable, Hashable {
    public var mediaType: String
    /// `algorithm:encoded`, e.g. `sha256:` and 64 lowercase hex digits.
    public var digest: String
    /// Bytes.
    public var size: Int64
    public var urls: [String]?
    public var annotations: [String: String]?
    /// The content itself, base64, for small blobs.
    public var data: String?
    public var platform: Platform?
    public var artifactType: String?

    public init(
        mediaType: String,
        digest: String,
        size: Int64,
        urls: [String]? = nil,
        annotations: [String: String]? = nil,
        data: String? = nil,
        platform: Platform? = nil,
        artifactType: String? = nil
    ) {
        self.mediaType = mediaType
        self.digest = digest
        self.size = size
        self.urls = urls
        self.annotations = annotations
        self.data = data
        self.platform = platform
        self.artifactType = artifactType
    }
}

public struct Platform: Codable, Sendable, Hashable {
    /// GOARCH spelling: `amd64`, `arm64`.
    public var architecture: String
    /// GOOS spelling: `linux`.
    public var os: String
    public var osVersion: String?
    public var osFeatures: [String]?
    /// `v8` for arm64, `v7` for arm.
    public var variant: String?
    /// Reserved by the spec.
    public var features: [String]?

    public init(
        architecture: String,
        os: String,
        osVersion: String? = nil,
        osFeatures: [String]? = nil,
        variant: String? = nil,
        features: [String]? = nil
    ) {
        self.architecture = architecture
        self.os = os
        self.osVersion = osVersion
        self.osFeatures = osFeatures
        self.variant = variant
        self.features = features
    }

    enum CodingKeys: String, CodingKey {
        case architecture, os, variant, features
        case osVersion = "os.version"
        case osFeatures = "os.features"
    }
}

/// image-index.md; also Docker's manifest list.
public struct Index: OCIDocument {
    public static let documentName = "image index"
    public static let invalidDocumentCode = RunxlError.Code.invalidImage

    public var schemaVersion: Int
    public var mediaType: String?
    public var artifactType: String?
    public var manifests: [Descriptor]
    public var subject: Descriptor?
    public var annotations: [String: String]?

    public init(
        schemaVersion: Int,
        mediaType: String? = nil,
        artifactType: String? = nil,
        manifests: [Descriptor],
        subject: Descriptor? = nil,
        annotations: [String: String]? = nil
    ) {
        self.schemaVersion = schemaVersion
        self.mediaType = mediaType
        self.artifactType = artifactType
        self.manifests = manifests
        self.subject = subject
        self.annotations = annotations
    }
}

/// manifest.md; also Docker's image manifest v2 schema 2.
public struct Manifest: OCIDocument {
    public static let documentName = "image manifest"
    public static let invalidDocumentCode = RunxlError.Code.invalidImage

    public var schemaVersion: Int
    public var mediaType: String?
    public var artifactType: String?
    public var config: Descriptor
    public var layers: [Descriptor]
    public var subject: Descriptor?
    public var annotations: [String: String]?

    public init(
        schemaVersion: Int,
        mediaType: String? = nil,
        artifactType: String? = nil,
        config: Descriptor,
        layers: [Descriptor],
        subject: Descriptor? = nil,
        annotations: [String: String]? = nil
    ) {
        self.schemaVersion = schemaVersion
        self.mediaType = mediaType
        self.artifactType = artifactType
        self.config = config
        self.layers = layers
        self.subject = subject
        self.annotations = annotations
    }
}

/// The image configuration blob (config.md): what to run and the layer chain.
public struct ImageConfig: OCIDocument {
    public static let documentName = "image config"
    public static let invalidDocumentCode = RunxlError.Code.invalidImage

    /// RFC 3339.
    public var created: String?
    public var author: String?
    public var architecture: String
    public var os: String
    public var osVersion: String?
    public var osFeatures: [String]?
    public var variant: String?
    public var config: Config?
    public var rootfs: RootFS
    public var history: [History]?

    public init(
        created: String? = nil,
        author: String? = nil,
        architecture: String,
        os: String,
        osVersion: String? = nil,
        osFeatures: [String]? = nil,
        variant: String? = nil,
        config: Config? = nil,
        rootfs: RootFS,
        history: [History]? = nil
    ) {
        self.created = created
        self.author = author
        self.architecture = architecture
        self.os = os
        self.osVersion = osVersion
        self.osFeatures = osFeatures
        self.variant = variant
        self.config = config
        self.rootfs = rootfs
        self.history = history
    }

    enum CodingKeys: String, CodingKey {
        case created, author, architecture, os, variant, config, rootfs, history
        case osVersion = "os.version"
        case osFeatures = "os.features"
    }

    /// The defaults for a container of this image (`config`); Docker's capitalized keys.
    public struct Config: Codable, Sendable, Equatable {
        /// `user`, `uid`, `user:group` or `uid:gid`.
        public var user: String?
        /// `"80/tcp": {}`.
        public var exposedPorts: [String: EmptyObject]?
        public var env: [String]?
        public var entrypoint: [String]?
        public var cmd: [String]?
        public var volumes: [String: EmptyObject]?
        public var workingDir: String?
        public var labels: [String: String]?
        public var stopSignal: String?
        /// Windows only.
        public var argsEscaped: Bool?
        // Docker extensions found in images that Docker built.
        public var healthcheck: Healthcheck?
        public var onBuild: [String]?
        public var shell: [String]?

        public init(
            user: String? = nil,
            exposedPorts: [String: EmptyObject]? = nil,
            env: [String]? = nil,
            entrypoint: [String]? = nil,
            cmd: [String]? = nil,
            volumes: [String: EmptyObject]? = nil,
            workingDir: String? = nil,
            labels: [String: String]? = nil,
            stopSignal: String? = nil,
            argsEscaped: Bool? = nil,
            healthcheck: Healthcheck? = nil,
            onBuild: [String]? = nil,
            shell: [String]? = nil
        ) {
            self.user = user
            self.exposedPorts = exposedPorts
            self.env = env
            self.entrypoint = entrypoint
            self.cmd = cmd
            self.volumes = volumes
            self.workingDir = workingDir
            self.labels = labels
            self.stopSignal = stopSignal
            self.argsEscaped = argsEscaped
            self.healthcheck = healthcheck
            self.onBuild = onBuild
            self.shell = shell
        }

        enum CodingKeys: String, CodingKey {
            case user = "User"
            case exposedPorts = "ExposedPorts"
            case env = "Env"
            case entrypoint = "Entrypoint"
            case cmd = "Cmd"
            case volumes = "Volumes"
            case workingDir = "WorkingDir"
            case labels = "Labels"
            case stopSignal = "StopSignal"
            case argsEscaped = "ArgsEscaped"
            case healthcheck = "Healthcheck"
            case onBuild = "OnBuild"
            case shell = "Shell"
        }
    }

    /// Docker's HEALTHCHECK; durations in nanoseconds.
    public struct Healthcheck: Codable, Sendable, Equatable {
        public var test: [String]?
        public var interval: Int64?
        public var timeout: Int64?
        public var startPeriod: Int64?
        public var startInterval: Int64?
        public var retries: Int?

        public init(
            test: [String]? = nil,
            interval: Int64? = nil,
            timeout: Int64? = nil,
            startPeriod: Int64? = nil,
            startInterval: Int64? = nil,
            retries: Int? = nil
        ) {
            self.test = test
            self.interval = interval
            self.timeout = timeout
            self.startPeriod = startPeriod
            self.startInterval = startInterval
            self.retries = retries
        }

        enum CodingKeys: String, CodingKey {
            case test = "Test"
            case interval = "Interval"
            case timeout = "Timeout"
            case startPeriod = "StartPeriod"
            case startInterval = "StartInterval"
            case retries = "Retries"
        }
    }

    public struct RootFS: Codable, Sendable, Equatable {
        /// Always `layers`.
        public var type: String
        /// Digests of the uncompressed layers, bottom first.
        public var diffIDs: [String]

        public init(type: String, diffIDs: [String]) {
            self.type = type
            self.diffIDs = diffIDs
        }

        enum CodingKeys: String, CodingKey {
            case type
            case diffIDs = "diff_ids"
        }
    }

    public struct History: Codable, Sendable, Equatable {
        public var created: String?
        public var createdBy: String?
        public var author: String?
        public var comment: String?
        /// True when this step made no layer (ENV, CMD...).
        public var emptyLayer: Bool?

        public init(
            created: String? = nil,
            createdBy: String? = nil,
            author: String? = nil,
            comment: String? = nil,
            emptyLayer: Bool? = nil
        ) {
            self.created = created
            self.createdBy = createdBy
            self.author = author
            self.comment = comment
            self.emptyLayer = emptyLayer
        }

        enum CodingKeys: String, CodingKey {
            case created, author, comment
            case createdBy = "created_by"
            case emptyLayer = "empty_layer"
        }
    }
}

/// The `{}` values of `ExposedPorts` and `Volumes`.
public struct EmptyObject: Codable, Sendable, Hashable {
    public init() {}

    private struct NoKeys: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    /// Insists on an object (its members are ignored), so a port given as a number is an error.
    public init(from decoder: any Decoder) throws {
        _ = try decoder.container(keyedBy: NoKeys.self)
    }

    public func encode(to encoder: any Encoder) throws {
        _ = encoder.container(keyedBy: NoKeys.self)
    }
}

/// The `oci-layout` file at the root of an image layout.
public struct ImageLayout: OCIDocument {
    public static let documentName = "oci-layout"
    public static let invalidDocumentCode = RunxlError.Code.invalidImage
    public static let currentVersion = "1.0.0"

    public var imageLayoutVersion: String

    public init(imageLayoutVersion: String) {
        self.imageLayoutVersion = imageLayoutVersion
    }
}
