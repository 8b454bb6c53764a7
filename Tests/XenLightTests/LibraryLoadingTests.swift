import RunxlBase
import Testing

@testable import XenLight

/// libxenlight is opened at run time; these hold the loader to what the rest of the module assumes.
@Suite struct LibraryLoadingTests {
    /// The build host has libxen-dev, so every function in CXenLight.h's lists must resolve; a
    /// missing one would otherwise only show on the first libxl call of a real run.
    @Test func everyListedFunctionResolvesAndLoadingTwiceIsHarmless() throws {
        try XenLightLibraries.load()
        try XenLightLibraries.load()
        #expect(LibxlErrorTable.libraryName(of: -21) == "ERROR_DOMAIN_NOTFOUND")
    }
}
