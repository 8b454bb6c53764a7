// swift-tools-version:6.0
// runxl: an OCI runtime that runs every container as its own Xen virtual machine.
import PackageDescription

/// One set of settings for every Swift target, so that strictness is uniform.
let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "runxl",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "runxl", targets: ["runxl"]),
        .executable(name: "runxl-init", targets: ["runxl-init"]),
    ],
    dependencies: [],
    targets: [
        // C libraries: each is imported by exactly one Swift module below.
        // libxenlight and libarchive are opened with dlopen on first use (see their headers), so
        // verbs that never need them do not pay for mapping them at start-up; their headers come
        // from libxen-dev and libarchive-dev / liblz4-dev.
        // The dlopen pattern the shims below share: open, resolve, report (CLibraryLoader.h).
        .target(name: "CLibraryLoader", path: "Sources/C/CLibraryLoader", linkerSettings: [.linkedLibrary("dl")]),
        .target(name: "CXenLight", dependencies: ["CLibraryLoader"], path: "Sources/C/CXenLight"),
        .target(name: "CArchive", dependencies: ["CLibraryLoader"], path: "Sources/C/CArchive"),
        .systemLibrary(
            name: "CSeccomp", path: "Sources/C/CSeccomp",
            pkgConfig: "libseccomp", providers: [.apt(["libseccomp-dev"])]),
        // libseccomp for the supervisor's own filter, opened with dlopen (runxl-init links CSeccomp).
        .target(name: "CSeccompHost", path: "Sources/C/CSeccompHost", linkerSettings: [.linkedLibrary("dl")]),
        // libcurl (and libcrypto's SHA-256) is opened with dlopen on first use too; curl.h comes
        // from libcurl4-openssl-dev.
        .target(name: "CCurl", dependencies: ["CLibraryLoader"], path: "Sources/C/CCurl"),

        // Leaf module: the error model, logging and file primitives every other module uses.
        .target(name: "RunxlBase", swiftSettings: strictSettings),
        // The one JSON value, parser, writer and Codable bridge, for runxl and runxl-init alike.
        // No Foundation and no dependency: runxl-init links it into a fully static binary.
        .target(name: "JSON", swiftSettings: strictSettings),
        // runtime-spec and image-spec types.
        .target(name: "OCI", dependencies: ["JSON", "RunxlBase"], swiftSettings: strictSettings),
        // The hypervisor protocol and its value types: no C here.
        .target(name: "Hypervisor", dependencies: ["RunxlBase"], swiftSettings: strictSettings),
        // A hypervisor double whose domains live in files, so separate runxl processes share them.
        .target(name: "FakeHypervisor", dependencies: ["GuestProtocol", "Hypervisor", "JSON", "RunxlBase"], swiftSettings: strictSettings),
        // The only code that calls libxl.
        .target(name: "XenLight", dependencies: ["CXenLight", "Hypervisor", "RunxlBase"], swiftSettings: strictSettings),
        // The only code that calls libarchive.
        .target(name: "Archive", dependencies: ["CArchive", "RunxlBase"], swiftSettings: strictSettings),
        // What runxl-init and the host agree on: xenstore keys, the console framing, the process file.
        // No Foundation: runxl-init links it into a fully static binary.
        .target(name: "GuestProtocol", dependencies: ["JSON", "RunxlBase"], swiftSettings: strictSettings),
        // The only code that calls libcurl: OCI distribution (registry) requests, streamed.
        .target(name: "Registry", dependencies: ["CCurl", "JSON", "OCI", "RunxlBase"], swiftSettings: strictSettings),
        // Content-addressed blobs and references, imports, pulls and the safe layer unpack.
        .target(
            name: "ImageStore", dependencies: ["Archive", "Registry", "JSON", "OCI", "RunxlBase"],
            swiftSettings: strictSettings),
        // From a rootfs and a process to a bootable guest: initramfs, kernel, DomainSpec.
        .target(
            name: "GuestBuild", dependencies: ["Archive", "JSON", "OCI", "Hypervisor", "GuestProtocol", "RunxlBase"],
            swiftSettings: strictSettings),
        // State store, OCI state machine, lifecycle.
        .target(
            name: "Runtime", dependencies: ["JSON", "OCI", "Hypervisor", "GuestProtocol", "RunxlBase"],
            swiftSettings: strictSettings),
        // The CLI: one file per verb over a small parser of its own (CommandLine.swift says why).
        .target(
            name: "RunxlCommands",
            dependencies: [
                "Runtime", "JSON", "OCI", "Hypervisor", "XenLight", "GuestBuild", "ImageStore",
                "RunxlBase", "CSeccompHost",
            ],
            swiftSettings: strictSettings),
        .executableTarget(name: "runxl", dependencies: ["RunxlCommands"], swiftSettings: strictSettings),
        // runxl with its test seams on (the fake hypervisor, kill injection, the confinement
        // override): what the CLI tests and the lab's failure checks run; never shipped.
        .executableTarget(
            name: "runxl-testing", dependencies: ["RunxlCommands", "FakeHypervisor", "Runtime", "RunxlBase"],
            path: "Sources/RunxlTesting", swiftSettings: strictSettings),
        // PID 1 inside Linux guests; built fully static, no Foundation.
        .executableTarget(
            name: "runxl-init", dependencies: ["GuestProtocol", "CSeccomp", "RunxlBase"], path: "Sources/RunxlInit",
            swiftSettings: strictSettings),

        .testTarget(name: "JSONTests", dependencies: ["JSON"], swiftSettings: strictSettings),
        .testTarget(name: "OCITests", dependencies: ["JSON", "OCI", "RunxlBase", "TestSupport"], swiftSettings: strictSettings),
        .testTarget(
            name: "RuntimeTests",
            dependencies: ["Runtime", "FakeHypervisor", "Hypervisor", "OCI", "RunxlBase"],
            swiftSettings: strictSettings),
        .testTarget(name: "GuestProtocolTests", dependencies: ["GuestProtocol", "TestSupport"], swiftSettings: strictSettings),
        // What several test targets share (a scratch directory, ...).
        .target(name: "TestSupport", dependencies: ["RunxlBase"], path: "Tests/TestSupport", swiftSettings: strictSettings),
        .testTarget(
            name: "GuestBuildTests", dependencies: ["GuestBuild", "Archive", "OCI", "Hypervisor", "RunxlBase", "TestSupport"],
            swiftSettings: strictSettings),
        .testTarget(name: "ArchiveTests", dependencies: ["Archive", "RunxlBase", "TestSupport"], swiftSettings: strictSettings),
        .testTarget(
            name: "ImageStoreTests",
            // GuestBuild and GuestProtocol: StreamConvertTests compares the streamed initramfs with the unpack path's.
            dependencies: ["ImageStore", "Registry", "Archive", "OCI", "RunxlBase", "GuestBuild", "GuestProtocol", "TestSupport"],
            swiftSettings: strictSettings),
        .testTarget(name: "RunxlBaseTests", dependencies: ["RunxlBase"], swiftSettings: strictSettings),
        .testTarget(name: "RegistryTests", dependencies: ["Registry", "RunxlBase"], swiftSettings: strictSettings),
        .testTarget(name: "XenLightTests", dependencies: ["XenLight", "Hypervisor", "RunxlBase"], swiftSettings: strictSettings),
        // Run inside the nested Xen lab (Scripts/xenlab); skipped where this host is not a dom0.
        .testTarget(
            name: "LabTests", dependencies: ["XenLight", "Hypervisor", "GuestBuild", "GuestProtocol", "Runtime", "OCI", "RunxlBase"],
            swiftSettings: strictSettings),
        .testTarget(
            name: "CLITests", dependencies: ["RunxlCommands", "RunxlBase", "OCI"],
            swiftSettings: strictSettings),
    ],
    swiftLanguageModes: [.v6]
)
