internal import CXenLight
import Glibc
public import Hypervisor
public import RunxlBase

extension XenLightHypervisor {
    public func createDomain(_ spec: DomainSpec, paused: Bool) throws(RunxlError) -> DomainID {
        try makeDomain(spec, paused: paused, savedImage: nil)
    }

    public func restoreDomain(_ spec: DomainSpec, from path: String, paused: Bool) throws(RunxlError) -> DomainID {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let err = errno
            throw RunxlError(.io, "cannot open the saved guest \(path) to restore domain '\(spec.name)'", cause: SystemCallError("open", errno: err))
        }
        defer { close(fd) }
        return try makeDomain(spec, paused: paused, savedImage: fd)
    }

    /// Suspends the guest into `path` through libxl's save stream, then destroys the domain, as
    /// `xl save` does. The file is made here, never overwritten; on failure it is removed and the
    /// domain is left as it was (suspended or running).
    public func saveDomain(_ domain: DomainID, to path: String) throws(RunxlError) {
        try refuseDom0(domain, "save")
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            let err = errno
            throw RunxlError(.io, "cannot create \(path) to save domain \(domain) into", cause: SystemCallError("open", errno: err))
        }
        do throws(RunxlError) {
            try call("libxl_domain_suspend", "cannot save domain \(domain) to \(path)", domain: domain) {
                rx_libxl_domain_suspend(context, domain.rawValue, fd, 0, nil)
            }
            guard fsync(fd) == 0 else {
                let err = errno
                throw RunxlError(.io, "cannot write the saved guest \(path)", cause: SystemCallError("fsync", errno: err))
            }
        } catch {
            close(fd)
            unlink(path)
            throw error
        }
        close(fd)
        try destroy(domain)
    }

    /// A new domain from `spec`: built from its kernel (`savedImage` nil) or restored from a
    /// saved image's descriptor, whose guest then meets `spec`'s devices.
    private func makeDomain(_ spec: DomainSpec, paused: Bool, savedImage: Int32?) throws(RunxlError) -> DomainID {
        let plan = try DomainPlan(spec)
        try checkFiles(plan)
        if let existing = try domainID(named: plan.name) {
            throw RunxlError(
                .invalidDomainConfig, "a domain named '\(plan.name)' already exists (domain \(existing))")
        }

        var config = libxl_domain_config()
        rx_libxl_domain_config_init(&config)
        defer { rx_libxl_domain_config_dispose(&config) }
        try fill(&config, from: plan)
        try checkFreeMemory(&config, plan: plan)

        var domid = runxl_invalid_domid()
        let function = savedImage == nil ? "libxl_domain_create_new" : "libxl_domain_create_restore"
        let (rc, records) = libxlCall { () -> Int32 in
            guard let savedImage else { return rx_libxl_domain_create_new(context, &config, &domid, nil, nil) }
            var parameters = libxl_domain_restore_params()
            rx_libxl_domain_restore_params_init(&parameters)
            defer { rx_libxl_domain_restore_params_dispose(&parameters) }
            // What libxl_domain_suspend writes (LIBXL_HAVE_SRM_V2), with no COLO checkpoints.
            parameters.stream_version = 2
            return rx_libxl_domain_create_restore(context, &config, &domid, savedImage, -1, &parameters, nil, nil)
        }
        guard rc == 0 else {
            let error = Self.error(
                rc, function: function,
                failure: savedImage == nil ? "cannot create domain '\(plan.name)'" : "cannot restore domain '\(plan.name)' from its template",
                records: records)
            // libxl destroys a domain whose build failed, but ERROR_ABORTED and a failing clean-up can
            // leave one behind: the protocol promises nothing is left.
            if domid != runxl_invalid_domid() { removeLeftover(DomainID(domid)) }
            throw error
        }
        let domain = DomainID(domid)
        if !paused {
            do {
                try unpause(domain)
            } catch {
                removeLeftover(domain)
                throw error
            }
        }
        return domain
    }

    /// Destroys a domain that a failed create left behind; the original error is what the caller
    /// needs to see, so a failure here is only logged.
    private func removeLeftover(_ domain: DomainID) {
        guard exists(domain) else { return }
        let (rc, _) = libxlCall { rx_libxl_domain_destroy(context, domain.rawValue, nil) }
        if rc != 0 && exists(domain) {
            log.receive(
                level: Int32(XenLightLogLevel.error.rawValue), errno: -1, context: "runxl",
                message: "domain \(domain) was left behind by a failed create and could not be destroyed "
                    + "(libxl \(LibxlError(function: "libxl_domain_destroy", number: Int(rc)).name)); "
                    + "destroy it with `xl destroy \(domain)`")
        }
    }

    /// Checks the files libxl will open, so a typo is reported with its path rather than as libxl's
    /// ERROR_FAIL from deep inside the domain builder.
    private func checkFiles(_ plan: DomainPlan) throws(RunxlError) {
        if access(plan.kernel, R_OK) != 0 {
            let err = errno
            throw RunxlError(
                .invalidKernel, "cannot read the kernel '\(plan.kernel)' of domain '\(plan.name)'",
                cause: SystemCallError("access", errno: err))
        }
        if let ramdisk = plan.ramdisk, access(ramdisk, R_OK) != 0 {
            let err = errno
            throw RunxlError(
                .invalidDomainConfig, "cannot read the ramdisk '\(ramdisk)' of domain '\(plan.name)'",
                cause: SystemCallError("access", errno: err))
        }
        if !plan.shares.isEmpty && access(Self.qemuBackend, X_OK) != 0 {
            let err = errno
            throw RunxlError(
                .sharesUnavailable,
                "domain '\(plan.name)' shares files over Xen 9pfs, whose backend is QEMU's \(Self.qemuBackend): "
                    + "install Debian's qemu-system-xen package in dom0",
                cause: SystemCallError("access", errno: err))
        }
        for share in plan.shares where !FileSystem.exists(share.path) {
            throw RunxlError(.invalidDomainConfig, "the 9pfs share path '\(share.path)' of domain '\(plan.name)' does not exist")
        }
        for disk in plan.disks where access(disk.path, disk.readWrite ? R_OK | W_OK : R_OK) != 0 {
            let err = errno
            throw RunxlError(
                .invalidDomainConfig, "cannot open the disk '\(disk.path)' of domain '\(plan.name)'",
                cause: SystemCallError("access", errno: err))
        }
    }

    /// The device model Debian's libxl runs for a PV guest's 9pfs shares (`libxl__need_xenpv_qemu`);
    /// libxl itself only logs "Please install the qemu-system-xen package" and fails the create.
    static let qemuBackend = "/usr/libexec/xen-qemu-system-i386"

    /// Refuses a guest Xen has no room for before libxl starts building it: libxl would fail
    /// halfway with ERROR_FAIL and a page-allocation message. runxl does not balloon dom0 down.
    private func checkFreeMemory(_ config: inout libxl_domain_config, plan: DomainPlan) throws(RunxlError) {
        var needKiB: UInt64 = 0
        var freeKiB: UInt64 = 0
        try call("libxl_domain_need_memory", "cannot compute the memory domain '\(plan.name)' needs") {
            rx_libxl_domain_need_memory(context, &config, runxl_invalid_domid(), &needKiB)
        }
        try call("libxl_get_free_memory", "cannot read Xen's free memory") {
            rx_libxl_get_free_memory(context, &freeKiB)
        }
        guard needKiB <= freeKiB else {
            throw RunxlError(
                .outOfMemory,
                "domain '\(plan.name)' needs \(needKiB / 1024) MiB (\(plan.memoryKiB / 1024) MiB of guest memory "
                    + "plus Xen's overhead) but Xen has \(freeKiB / 1024) MiB free; give the container less "
                    + "memory or stop other guests")
        }
    }

    /// Copies the plan into libxl's structures; every string is malloc'ed because
    /// `libxl_domain_config_dispose` frees them.
    private func fill(_ config: inout libxl_domain_config, from plan: DomainPlan) throws(RunxlError) {
        let type = plan.kind == .pv ? LIBXL_DOMAIN_TYPE_PV : LIBXL_DOMAIN_TYPE_PVH
        config.c_info.type = type
        config.c_info.name = try duplicate(plan.name)
        rx_libxl_domain_build_info_init_type(&config.b_info, type)
        // A ceiling above the boot size costs Xen nothing until the balloon grows into it.
        config.b_info.max_memkb = plan.maxMemoryKiB
        config.b_info.target_memkb = plan.memoryKiB
        config.b_info.max_vcpus = Int32(plan.maxVcpus)
        try fillVcpuMap(&config.b_info.avail_vcpus, size: plan.maxVcpus, available: plan.vcpus, of: "domain '\(plan.name)'")
        // The type-independent kernel fields (Xen >= 4.10) serve PV and PVH alike.
        config.b_info.kernel = try duplicate(plan.kernel)
        config.b_info.cmdline = try duplicate(plan.cmdline)
        if let ramdisk = plan.ramdisk { config.b_info.ramdisk = try duplicate(ramdisk) }

        config.on_poweroff = Self.action(plan.onPoweroff)
        config.on_reboot = Self.action(plan.onReboot)
        config.on_crash = Self.action(plan.onCrash)
        config.on_watchdog = LIBXL_ACTION_ON_SHUTDOWN_DESTROY
        config.on_soft_reset = LIBXL_ACTION_ON_SHUTDOWN_DESTROY

        for disk in plan.disks {
            guard let device = runxl_config_add_disk(&config) else { throw Self.outOfMemory(plan) }
            device.pointee.pdev_path = try duplicate(disk.path)
            device.pointee.vdev = try duplicate(disk.virtualDevice)
            device.pointee.format = disk.format == .raw ? LIBXL_DISK_FORMAT_RAW : LIBXL_DISK_FORMAT_QCOW2
            device.pointee.readwrite = disk.readWrite ? 1 : 0
            // libxl picks the backend from the path and format: blkback (phy) for raw files and
            // block devices, qdisk for qcow2.
            device.pointee.backend = LIBXL_DISK_BACKEND_UNKNOWN
        }
        for nic in plan.nics {
            guard let device = runxl_config_add_nic(&config) else { throw Self.outOfMemory(plan) }
            if let mac = nic.mac { runxl_nic_set_mac(device, mac) }
            if let bridge = nic.bridge { device.pointee.bridge = try duplicate(bridge) }
            if let name = nic.backendName { device.pointee.ifname = try duplicate(name) }
            if let script = nic.script { device.pointee.script = try duplicate(script) }
        }
        for share in plan.shares {
            guard let device = runxl_config_add_p9(&config) else { throw Self.outOfMemory(plan) }
            device.pointee.tag = try duplicate(share.tag)
            device.pointee.path = try duplicate(share.path)
            device.pointee.security_model = try duplicate(ShareSpec.securityModel)
        }
    }

    private static func action(_ action: DomainPlan.Action) -> libxl_action_on_shutdown {
        switch action {
        case .destroy: LIBXL_ACTION_ON_SHUTDOWN_DESTROY
        case .restart: LIBXL_ACTION_ON_SHUTDOWN_RESTART
        case .preserve: LIBXL_ACTION_ON_SHUTDOWN_PRESERVE
        }
    }

    private func duplicate(_ text: String) throws(RunxlError) -> UnsafeMutablePointer<CChar> {
        guard let copy = strdup(text) else {
            throw RunxlError(.io, "out of memory while building a libxl domain configuration")
        }
        return copy
    }

    private static func outOfMemory(_ plan: DomainPlan) -> RunxlError {
        RunxlError(.io, "out of memory while building the libxl configuration of domain '\(plan.name)'")
    }
}
