internal import CArchive
import RunxlBase

/// libarchive and liblz4 are opened on first use rather than linked: libarchive drags in libxml2,
/// ICU and half a dozen compressors, which the dynamic loader would otherwise map at every start
/// of runxl, also for verbs such as `state` that never build a guest.
enum ArchiveLibraries {
    /// Opens the libraries once per process (cheap afterwards); every entry point of this module
    /// calls it before its first `rx_` call.
    static func load() throws(RunxlError) {
        guard let failure = runxl_archive_load() else { return }
        throw RunxlError(
            .io,
            "cannot load libarchive (\(String(cString: failure))): install libarchive13 and liblz4-1 "
                + "(libarchive-dev and liblz4-dev to build runxl)")
    }
}
