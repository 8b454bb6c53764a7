import FakeHypervisor
import RunxlBase
import Runtime
import RunxlCommands

// runxl with its test seams (RunxlCommands' TestSeams): the binary the CLI tests, the lab's
// failure checks and the fake-backend benchmark run. Never installed: Scripts/package-deb and
// Scripts/install build the `runxl` product only.
KillInjection.arm()
RunxlMain.main(
    Array(CommandLine.arguments.dropFirst()),
    seams: TestSeams(
        makeHypervisor: { directory throws(RunxlError) in try FakeHypervisor(directory: directory) },
        supervisorConfinementOverride: true))
