/// At start-up, before `main`, the Swift runtime's crash backtracer asks for the path of its helper
/// program (`swift-backtrace`, next to the runtime). In a static executable that lookup reads
/// /proc/self/exe, and PID 1 starts before anything is mounted on /proc: the runtime aborts with
/// "Unable to obtain Swift runtime path" and the kernel panics. Scripts/build-init links with
/// `--wrap=swift_copyAuxiliaryExecutablePath`, which sends that lookup here; finding nothing turns
/// the backtracer off, which a guest could not use anyway (there is no helper in the initramfs).
@_cdecl("__wrap_swift_copyAuxiliaryExecutablePath")
func noAuxiliaryExecutable(_ name: UnsafePointer<CChar>?) -> UnsafeMutablePointer<CChar>? {
    nil
}
