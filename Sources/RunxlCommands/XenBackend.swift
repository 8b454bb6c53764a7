import Hypervisor
import Runtime
import RunxlBase
import XenLight

/// The real backend: libxl through XenLight, guests built by GuestBuild.
enum XenBackend {
    static func open(logger: Logger) throws(RunxlError) -> any Hypervisor {
        try XenLightHypervisor(logLevel: logger.debug ? .debug : .error) { line in logger.info("libxl: \(line)") }
    }

    static func preparer(logger: Logger) throws(RunxlError) -> any GuestPreparing {
        ValidatingGuestPreparer()
    }
}
