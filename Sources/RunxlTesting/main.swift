import FakeHypervisor
import RunxlBase
import Runtime
import RunxlCommands

#if canImport(Glibc)
import Glibc
#endif

// runxl with its test seams (RunxlCommands' TestSeams): the binary the CLI tests, the lab's
// failure checks and the fake-backend benchmark run. Never installed: Scripts/package-deb and
// Scripts/install build the `runxl` product only. The variables below are read here and nowhere
// else, so the shipped binary does not know their names.
//
// - RUNXL_HYPERVISOR=fake: the file-backed double instead of Xen, its files under RUNXL_FAKE_DIR
//   (default /tmp/runxl-fake); with RUNXL_FAKE_CONSOLE=1 each domain gets a console, held by a
//   `FakeGuest` that this binary runs as `runxl-testing fake-guest DIRECTORY DOMAIN`;
// - RUNXL_SUPERVISOR_SECCOMP=0 or =log: the supervisor's confinement off, or logging only;
// - RUNXL_INJECT_KILL=<point>: SIGKILL at that step of create or delete (KillPoint).

func environment(_ name: String) -> String? { getenv(name).map { String(cString: $0) } }

let arguments = Array(CommandLine.arguments.dropFirst())
if arguments.first == "fake-guest" { exit(FakeGuest.main(Array(arguments.dropFirst()))) }

var seams = TestSeams()
if environment("RUNXL_HYPERVISOR") == "fake" {
    let directory = environment("RUNXL_FAKE_DIR") ?? "/tmp/runxl-fake"
    let guestProgram = environment("RUNXL_FAKE_CONSOLE") == "1" ? [try? Processes.currentExecutable(), "fake-guest"].compactMap { $0 } : nil
    seams.fakeHypervisor = { () throws(RunxlError) in
        try FakeHypervisor(directory: directory, guestProgram: guestProgram?.count == 2 ? guestProgram : nil)
    }
}
switch environment("RUNXL_SUPERVISOR_SECCOMP") {
case "0": seams.supervisorConfinement = .off
case "log": seams.supervisorConfinement = .log
default: break
}
KillInjection.arm(at: environment("RUNXL_INJECT_KILL"))
RunxlMain.main(arguments, seams: seams)
