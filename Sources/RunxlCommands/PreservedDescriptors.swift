import RunxlBase

/// runc's `--preserve-fds N` (create, run, exec) hands descriptors 3 to 3+N-1 of the runtime's
/// own process to the container's process: systemd socket activation and podman's
/// `--preserve-fds` rely on it. A runxl container's process runs in a Xen guest, under another
/// kernel that cannot hold a descriptor of the host's, so there is nothing to hand over. Starting
/// the process without the sockets it was promised would let it run listening on nothing, so any
/// N above 0 is refused, naming the flag; 0 (what podman and conmon pass by default) is accepted.
enum PreservedDescriptors {
    static func refuseAny(_ arguments: ParsedArguments) throws(RunxlError) {
        let count = try arguments.integer("preserve-fds", default: 0)
        guard count >= 0 else {
            throw RunxlError(.usage, "\(arguments.verb): --preserve-fds takes a count of 0 or more, not \(count)")
        }
        guard count == 0 else {
            throw RunxlError(
                .unsupported,
                "\(arguments.verb): --preserve-fds \(count) cannot be honoured: the process runs in a Xen guest, "
                    + "whose kernel cannot hold the host's file descriptors; pass data through a mount or the "
                    + "network instead, or give --preserve-fds 0")
        }
    }
}
