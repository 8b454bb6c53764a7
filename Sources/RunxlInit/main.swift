import Glibc
import GuestProtocol

// runxl-init: PID 1 of a runxl Linux guest. See InitMain for the two modes.
InitMain(isGuest: getpid() == 1).run()
