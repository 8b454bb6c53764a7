import OCI

/// `--type`, `--memory`, `--vcpus` and `--kernel`, which `launch` and `image convert` both take:
/// each overrides the runxl annotation of the same meaning, so a flag and an annotation in
/// config.json go through one resolution (GuestSettings).
enum GuestFlags {
    static func annotations(_ arguments: ParsedArguments) -> [String: String] {
        var annotations: [String: String] = [:]
        annotations[RunxlAnnotations.guestType] = arguments.value("type")
        annotations[RunxlAnnotations.memory] = arguments.value("memory")
        annotations[RunxlAnnotations.vcpus] = arguments.value("vcpus")
        annotations[RunxlAnnotations.kernel] = arguments.value("kernel")
        return annotations
    }
}
