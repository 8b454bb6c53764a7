internal import CXenLight
import RunxlBase

/// libxenlight, libxenstore and libxentoollog are opened on first use rather than linked:
/// `runxl state` and the other verbs that never talk to Xen then start without the loader
/// mapping a dozen Xen libraries, which cost more than the rest of such a run.
enum XenLightLibraries {
    /// Opens the libraries once per process; every `rx_` call must come after a successful one.
    /// - Throws: `.notXenHost` when they are missing or lack a function runxl calls.
    static func load() throws(RunxlError) {
        guard let failure = runxl_xenlight_load() else { return }
        throw RunxlError(
            .notXenHost,
            "cannot load libxenlight (\(String(cString: failure))): this host has no usable Xen toolstack; "
                + "install xen-utils-4.17 (runtime) or libxen-dev (build), or run runxl in the dom0 of a Xen host")
    }
}
